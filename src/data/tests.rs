use super::*;
use crate::spec::trial::Shift;
use flate2::write::GzEncoder;
use std::collections::BTreeSet;
use std::io::Write;
use tch::{Device, Kind, Tensor};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

fn mnist() -> Arc<Dataset> {
    load_dataset(
        &DatasetSource::Bundled {
            name: "mnist10k".into(),
        },
        &data_dir(),
    )
    .unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn small_pixels() -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..5 * 3 * 4).map(|i| (i * 7 % 256) as u8).collect();
    let labels = vec![3u8, 1, 4, 1, 5];
    (pixels, labels)
}

#[test]
fn idx_round_trip_raw_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let (pixels, labels) = small_pixels();
    let (img, lab) = idx::encode(5, 3, 4, &pixels, &labels);
    for gz in [false, true] {
        let ip = dir.path().join(format!("x{gz}-images"));
        let lp = dir.path().join(format!("x{gz}-labels"));
        let (i, l) = if gz {
            (gzip(&img), gzip(&lab))
        } else {
            (img.clone(), lab.clone())
        };
        std::fs::write(&ip, &i).unwrap();
        std::fs::write(&lp, &l).unwrap();
        let ds = load_dataset(
            &DatasetSource::Idx {
                images: ip,
                labels: lp,
            },
            &data_dir(),
        )
        .unwrap();
        assert_eq!((ds.count, ds.height, ds.width), (5, 3, 4));
        assert_eq!(ds.pixels, pixels);
        assert_eq!(ds.labels, vec![3, 1, 4, 1, 5]);
        let mut h = blake3::Hasher::new();
        h.update(&i);
        h.update(&l);
        assert_eq!(ds.fingerprint, h.finalize().to_hex().to_string());
    }
}

#[test]
fn idx_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (pixels, labels) = small_pixels();
    let (img, lab) = idx::encode(5, 3, 4, &pixels, &labels);
    let lp = dir.path().join("ok-labels");
    std::fs::write(&lp, &lab).unwrap();

    // Header says 10000 images of 28x28, the file holds only a few bytes.
    let mut trunc = img[..4].to_vec();
    for d in [10000u32, 28, 28] {
        trunc.extend_from_slice(&d.to_be_bytes());
    }
    trunc.extend_from_slice(&[0u8; 123]);
    let ip = dir.path().join("trunc-images.gz");
    std::fs::write(&ip, gzip(&trunc)).unwrap();
    let src = DatasetSource::Idx {
        images: ip.clone(),
        labels: lp.clone(),
    };
    let err = format!("{:#}", load_dataset(&src, &data_dir()).unwrap_err());
    assert!(err.contains(&ip.display().to_string()), "{err}");
    assert!(err.contains("truncated"), "{err}");
    assert!(
        err.contains("10000 images of 28x28 (7840000 bytes)"),
        "{err}"
    );
    assert!(err.contains("123 bytes"), "{err}");

    // Images and labels swapped.
    let ip2 = dir.path().join("ok-images");
    std::fs::write(&ip2, &img).unwrap();
    let src = DatasetSource::Idx {
        images: lp.clone(),
        labels: ip2.clone(),
    };
    let err = format!("{:#}", load_dataset(&src, &data_dir()).unwrap_err());
    assert!(
        err.contains("bad magic") && err.contains("swapped"),
        "{err}"
    );

    // Counts disagree.
    let (_, lab4) = idx::encode(5, 3, 4, &pixels, &labels[..4]);
    let lp4 = dir.path().join("four-labels");
    std::fs::write(&lp4, &lab4).unwrap();
    let src = DatasetSource::Idx {
        images: ip2,
        labels: lp4,
    };
    let err = format!("{:#}", load_dataset(&src, &data_dir()).unwrap_err());
    assert!(
        err.contains("5 images") && err.contains("4 labels"),
        "{err}"
    );
}

#[test]
fn a_bundled_dataset_absent_from_the_data_dir_comes_from_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let src = DatasetSource::Bundled {
        name: "mnist10k".into(),
    };
    let embedded = load_dataset(&src, dir.path()).unwrap();
    assert_eq!(embedded.fingerprint, mnist().fingerprint);
    assert_eq!(embedded.count, 10_000);
    let err = load_dataset(
        &DatasetSource::Bundled {
            name: "cifar".into(),
        },
        dir.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("cifar") && err.contains("mnist10k"), "{err}");
}

#[test]
fn bundled_mnist10k_loads_and_is_cached() {
    let ds = mnist();
    assert_eq!((ds.count, ds.height, ds.width), (10000, 28, 28));
    assert_eq!(ds.pixels.len(), 10000 * 784);
    assert_eq!(ds.fingerprint.len(), 64);
    let counts: Vec<usize> = split::class_indices(&ds)
        .values()
        .map(|v| v.len())
        .collect();
    assert_eq!(
        counts,
        vec![1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    );
    assert!(Arc::ptr_eq(&ds, &mnist()));
    let pools = train_pool_sizes(&ds);
    assert_eq!(pools.len(), 10);
    // 1001 examples: 150 test, 100 validation, 751 pool.
    assert_eq!(pools[&0], 751);
}

#[test]
fn bundled_fashion10k_loads() {
    let ds = load_dataset(
        &DatasetSource::Bundled {
            name: "fashion10k".into(),
        },
        &data_dir(),
    )
    .unwrap();
    assert_eq!((ds.count, ds.height, ds.width), (10000, 28, 28));
    assert!(split::class_indices(&ds).values().all(|v| v.len() == 1000));
}

#[test]
fn digits_csv_loads() {
    let ds = load_dataset(
        &DatasetSource::Bundled {
            name: "digits8x8".into(),
        },
        &data_dir(),
    )
    .unwrap();
    assert_eq!((ds.count, ds.height, ds.width), (1797, 8, 8));
    assert_eq!(ds.pixels.len(), 1797 * 64);
    assert_eq!(ds.pixels.iter().max(), Some(&255));
    assert_eq!(ds.pixels.iter().min(), Some(&0));
    // Every value is a multiple of 255/16, rounded.
    let allowed: BTreeSet<u8> = (0..=16)
        .map(|v| (v as f64 * 255.0 / 16.0).round() as u8)
        .collect();
    assert!(ds.pixels.iter().all(|v| allowed.contains(v)));
    assert_eq!(split::class_indices(&ds).len(), 10);
    assert!(ds.labels.iter().all(|&l| l < 10));
}

#[test]
fn splits_are_fixed_disjoint_and_seeded() {
    let ds = mnist();
    let classes = [3u32, 7, 1];
    let a = split_task(&ds, &classes, Some(20), 1).unwrap();
    assert_eq!(a, split_task(&ds, &classes, Some(20), 1).unwrap());
    let b = split_task(&ds, &classes, Some(20), 2).unwrap();
    assert_eq!(a.val, b.val);
    assert_eq!(a.test, b.test);
    assert_ne!(a.train, b.train);
    assert_eq!(a.train.len(), 60);
    for (k, &c) in classes.iter().enumerate() {
        assert!(a.train[k * 20..(k + 1) * 20]
            .iter()
            .all(|&i| ds.labels[i] == c));
    }
    let full = split_task(&ds, &classes, None, 1).unwrap();
    let pool: BTreeSet<usize> = full.train.iter().copied().collect();
    let val: BTreeSet<usize> = full.val.iter().copied().collect();
    let test: BTreeSet<usize> = full.test.iter().copied().collect();
    assert_eq!(pool.len(), full.train.len());
    assert!(pool.is_disjoint(&val) && pool.is_disjoint(&test) && val.is_disjoint(&test));
    let pools = train_pool_sizes(&ds);
    assert_eq!(pool.len(), classes.iter().map(|c| pools[c]).sum::<usize>());
    assert_eq!(
        pool.len() + val.len() + test.len(),
        ds.labels.iter().filter(|l| classes.contains(l)).count()
    );
    for s in [&a, &b] {
        assert!(s.train.iter().all(|i| pool.contains(i)));
        assert_eq!(s.val, full.val);
        assert_eq!(s.test, full.test);
    }
    // Class 3 has 1032 examples: 154 test, 103 validation.
    assert_eq!(
        full.test.iter().filter(|&&i| ds.labels[i] == 3).count(),
        154
    );
    assert_eq!(full.val.iter().filter(|&&i| ds.labels[i] == 3).count(), 103);
    // A smaller sample with the same seed is a subset of the larger one.
    let small = split_task(&ds, &classes, Some(5), 1).unwrap();
    assert_eq!(&small.train[..5], &a.train[..5]);
    // Class order does not change a class's splits.
    let rev = split_task(&ds, &[1, 7, 3], Some(20), 1).unwrap();
    assert_eq!(&rev.train[40..60], &a.train[..20]);
}

#[test]
fn split_errors() {
    let ds = mnist();
    let err = split_task(&ds, &[0, 11], Some(5), 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("class 11") && err.contains("absent"), "{err}");
    let err = split_task(&ds, &[0, 5], Some(800), 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("class 0") && err.contains("751"), "{err}");
    assert!(split_task(&ds, &[2, 2], Some(5), 0).is_err());
    assert!(split_task(&ds, &[], Some(5), 0).is_err());
}

#[test]
fn prepare_task_on_mnist10k() {
    let ds = mnist();
    let classes = [5u32, 6, 7, 8, 9];
    let t = prepare_task(&ds, &classes, Some(10), 7, &Shift::None, 28, Device::Cpu).unwrap();
    assert_eq!(t.num_classes, 5);
    assert_eq!(t.train.len, 50);
    assert_eq!(t.train.images.size(), vec![50, 1, 28, 28]);
    assert_eq!(t.train.images.kind(), Kind::Uint8);
    assert_eq!(t.train.labels.kind(), Kind::Int64);
    assert_eq!(t.train.labels.size(), vec![50]);
    for set in [&t.train, &t.val, &t.test] {
        assert_eq!(set.images.size()[0] as usize, set.len);
        assert_eq!(set.labels.size(), vec![set.len as i64]);
        let labels = Vec::<i64>::try_from(&set.labels).unwrap();
        assert!(labels.iter().all(|&l| (0..5).contains(&l)));
        assert_eq!(labels.iter().copied().collect::<BTreeSet<_>>().len(), 5);
    }
    // Identity resize and no shift: the pixels are the dataset's.
    let split = split_task(&ds, &classes, Some(10), 7).unwrap();
    let first = Vec::<u8>::try_from(&t.train.images.get(0).flatten(0, -1)).unwrap();
    assert_eq!(first, ds.image(split.train[0]));
    let labels = Vec::<i64>::try_from(&t.train.labels).unwrap();
    assert_eq!(labels[0], (ds.labels[split.train[0]] - 5) as i64);

    // Resized and shifted.
    let t = prepare_task(
        &ds,
        &[0, 1],
        Some(3),
        1,
        &Shift::Invert { amount: 1.0 },
        32,
        Device::Cpu,
    )
    .unwrap();
    assert_eq!(t.train.images.size(), vec![6, 1, 32, 32]);
    assert_eq!(t.test.images.size()[1..], [1, 32, 32]);
    // Inverted MNIST: the corners (background 0) become 255.
    let first = Vec::<u8>::try_from(&t.train.images.get(0).flatten(0, -1)).unwrap();
    assert_eq!(first[0], 255);
}

#[test]
fn digits_resized_to_28() {
    let ds = load_dataset(
        &DatasetSource::Bundled {
            name: "digits8x8".into(),
        },
        &data_dir(),
    )
    .unwrap();
    let t = prepare_task(&ds, &[0, 1, 2], None, 0, &Shift::None, 28, Device::Cpu).unwrap();
    assert_eq!(t.train.images.size()[1..], [1, 28, 28]);
    assert_eq!(
        t.train.len + t.val.len + t.test.len,
        ds.labels.iter().filter(|&&l| l < 3).count()
    );
}

#[test]
fn prepare_task_is_fast_enough() {
    let ds = mnist();
    let classes: Vec<u32> = (0..10).collect();
    let start = std::time::Instant::now();
    let t = prepare_task(
        &ds,
        &classes,
        None,
        0,
        &Shift::Rotate { degrees: 30.0 },
        32,
        Device::Cpu,
    )
    .unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(t.train.len + t.val.len + t.test.len, 10000);
    // Generous: debug builds are ~10-30x slower than release.
    assert!(secs < 30.0, "{secs}");
    eprintln!("prepare_task(mnist10k, rotate, 32x32): {secs:.3}s");
}

#[test]
fn resize_matches_libtorch_bilinear() {
    let ds = mnist();
    for (inp, out) in [(28usize, 32usize), (28, 8), (28, 13)] {
        let src = ds.image(17);
        let mine = resize_image(src, inp, inp, out, out);
        let t = Tensor::from_slice(src)
            .to_kind(Kind::Float)
            .reshape([1, 1, inp as i64, inp as i64])
            .upsample_bilinear2d([out as i64, out as i64], false, None, None)
            .round()
            .clamp(0.0, 255.0)
            .to_kind(Kind::Uint8)
            .flatten(0, -1);
        let theirs = Vec::<u8>::try_from(&t).unwrap();
        let worst = mine
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (*a as i32 - *b as i32).abs())
            .max()
            .unwrap();
        assert!(worst <= 1, "{inp}->{out}: max difference {worst}");
    }
    let digits = load_dataset(
        &DatasetSource::Bundled {
            name: "digits8x8".into(),
        },
        &data_dir(),
    )
    .unwrap();
    let src = digits.image(3);
    let mine = resize_image(src, 8, 8, 28, 28);
    let t = Tensor::from_slice(src)
        .to_kind(Kind::Float)
        .reshape([1, 1, 8, 8])
        .upsample_bilinear2d([28, 28], false, None, None)
        .round()
        .to_kind(Kind::Uint8)
        .flatten(0, -1);
    let theirs = Vec::<u8>::try_from(&t).unwrap();
    assert!(mine
        .iter()
        .zip(&theirs)
        .all(|(a, b)| (*a as i32 - *b as i32).abs() <= 1));
}
