//! Tests of image-file datasets on generated PNG and JPEG files.

use super::*;
use crate::spec::trial::Shift;
use crate::spec::trial::{Channels, ImageOptions};
use std::collections::BTreeSet;
use tch::Device;

/// Grey level of image `i` of class `c`: distinct per class and image, exact in PNG.
pub(crate) fn level(c: usize, i: usize) -> u8 {
    (20 + 60 * c + 3 * i) as u8
}

/// Writes `per_class` images for every class name under `dir/<class>/`, 12x12 RGB of a constant
/// grey level with a white top-left pixel. Even images are PNG, odd ones JPEG (quality 95).
/// Returns the relative paths written, in sorted order.
pub(crate) fn write_classes(dir: &Path, classes: &[&str], per_class: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (c, name) in classes.iter().enumerate() {
        let cdir = dir.join(name);
        std::fs::create_dir_all(&cdir).unwrap();
        for i in 0..per_class {
            let v = level(c, i);
            let mut img = image::RgbImage::from_pixel(12, 12, image::Rgb([v, v, v]));
            img.put_pixel(0, 0, image::Rgb([255, 255, 255]));
            let ext = if i % 2 == 0 { "png" } else { "jpg" };
            let file = format!("{i:03}.{ext}");
            let p = cdir.join(&file);
            if ext == "png" {
                img.save(&p).unwrap();
            } else {
                let f = std::fs::File::create(&p).unwrap();
                let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(f, 95);
                enc.encode_image(&img).unwrap();
            }
            out.push(format!("{name}/{file}"));
        }
    }
    out.sort();
    out
}

fn folder(path: &Path, side: usize, on_bad_file: OnBadFile) -> DatasetSource {
    DatasetSource::Folder {
        path: path.to_path_buf(),
        images: ImageOptions {
            decode_size: Some(side),
            channels: Channels::Auto,
            on_bad_file,
            augment: None,
        },
    }
}

fn read(src: &DatasetSource, cache: Option<&Path>) -> (Dataset, LoadStats) {
    read_images(src, cache).unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn folder_loads_labels_names_and_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_classes(dir.path(), &["cat", "ant", "bee"], 8);
    std::fs::write(dir.path().join("README.txt"), "not an image").unwrap();
    let (ds, stats) = read(&folder(dir.path(), 12, OnBadFile::Error), None);
    assert_eq!(stats.decoded, 24);
    assert_eq!((ds.count, ds.height, ds.width), (24, 12, 12));
    assert_eq!(ds.pixels.len(), 24 * 144);
    // Classes sorted by name: ant=0, bee=1, cat=2.
    assert_eq!(
        ds.class_names.as_deref().unwrap(),
        ["ant".to_string(), "bee".into(), "cat".into()]
    );
    assert_eq!(ds.files.as_deref().unwrap(), files.as_slice());
    for (i, f) in files.iter().enumerate() {
        let want = match &f[..3] {
            "ant" => 0,
            "bee" => 1,
            _ => 2,
        };
        assert_eq!(ds.labels[i], want, "{f}");
        // The generator's class index (cat=0, ant=1, bee=2) and image index give the grey level.
        let gen_class = ["cat", "ant", "bee"].iter().position(|c| f.starts_with(c));
        let n: usize = f[4..7].parse().unwrap();
        let v = level(gen_class.unwrap(), n) as i32;
        let img = ds.image(i);
        if f.ends_with(".png") {
            assert_eq!(img[0], 255, "{f}: top-left pixel");
            assert!(img[1..].iter().all(|&p| p as i32 == v), "{f}");
        } else {
            assert!(img[0] > 200, "{f}: top-left pixel {}", img[0]);
            // JPEG is lossy: near the level away from the white corner.
            assert!((img[143] as i32 - v).abs() <= 3, "{f}: {} vs {v}", img[143]);
        }
    }
    assert!(ds.fixed_split.is_none());
    assert!(
        ds.warnings.iter().any(|w| w.contains("README.txt")),
        "{:?}",
        ds.warnings
    );
    assert_eq!(ds.class_display(1), "1 (bee)");
}

#[test]
fn folder_resizes_to_decode_size_with_triangle_filter() {
    let dir = tempfile::tempdir().unwrap();
    write_classes(dir.path(), &["a", "b"], 2);
    let (ds, _) = read(&folder(dir.path(), 6, OnBadFile::Error), None);
    assert_eq!((ds.height, ds.width), (6, 6));
    // PNG a/000: level 20 everywhere but a 255 corner; the 2x shrink averages the corner
    // 2x2 block (one 255, three 20s) into the top-left output pixel.
    let img = ds.image(0);
    assert!(img[0] > 20 && img[0] < 255, "{}", img[0]);
    assert!(img[35] == 20, "{}", img[35]);
}

#[test]
fn corrupt_files_are_all_named_or_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    write_classes(dir.path(), &["a", "b"], 6);
    std::fs::write(dir.path().join("a/broken.png"), b"this is not a png").unwrap();
    // A real PNG cut short.
    let good = std::fs::read(dir.path().join("b/000.png")).unwrap();
    std::fs::write(dir.path().join("b/truncated.png"), &good[..good.len() / 2]).unwrap();
    std::fs::write(dir.path().join("b/empty.jpg"), b"").unwrap();

    let err = read_images(&folder(dir.path(), 8, OnBadFile::Error), None)
        .expect_err("corrupt files must fail by default");
    let msg = format!("{err:#}");
    for name in ["a/broken.png", "b/truncated.png", "b/empty.jpg"] {
        assert!(msg.contains(name), "{name} missing from:\n{msg}");
    }
    assert!(
        msg.contains("3 image files") && msg.contains("on_bad_file: skip"),
        "{msg}"
    );

    let (ds, _) = read(&folder(dir.path(), 8, OnBadFile::Skip), None);
    assert_eq!(ds.count, 12);
    let files: BTreeSet<&str> = ds
        .files
        .as_ref()
        .unwrap()
        .iter()
        .map(|s| s.as_str())
        .collect();
    for name in ["a/broken.png", "b/truncated.png", "b/empty.jpg"] {
        assert!(!files.contains(name));
        assert!(
            ds.warnings.iter().any(|w| w.contains(name)),
            "{:?}",
            ds.warnings
        );
    }
    assert_eq!(ds.labels.iter().filter(|&&l| l == 0).count(), 6);
}

#[test]
fn drawn_split_is_stratified_deterministic_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    write_classes(dir.path(), &["x", "y", "z"], 20);
    let src = folder(dir.path(), 8, OnBadFile::Error);
    let (ds, _) = read(&src, None);
    let (ds2, _) = read(&src, None);
    assert_eq!(ds.fingerprint, ds2.fingerprint);
    let s1 = split_task(&ds, &[0, 1, 2], None, 0).unwrap();
    let s2 = split_task(&ds2, &[0, 1, 2], None, 0).unwrap();
    assert_eq!(s1, s2, "the split must not change between loads");
    for c in 0..3u32 {
        let count = |v: &[usize]| v.iter().filter(|&&i| ds.labels[i] == c).count();
        // 20 per class: 15% test, 10% validation, the rest training pool.
        assert_eq!(
            (count(&s1.test), count(&s1.val), count(&s1.train)),
            (3, 2, 15)
        );
    }
    let all: BTreeSet<usize> = s1
        .train
        .iter()
        .chain(&s1.val)
        .chain(&s1.test)
        .copied()
        .collect();
    assert_eq!(all.len(), 60, "splits must be disjoint and cover the data");

    // The manifest names exactly the files of the split, with labels matching their folders.
    let m = split_manifest(&ds, &[2, 0], Some(5), 3).unwrap();
    let s = split_task(&ds, &[2, 0], Some(5), 3).unwrap();
    assert_eq!(m.len(), s.train.len() + s.val.len() + s.test.len());
    assert_eq!(m.len(), 2 * (5 + 2 + 3));
    for (row, &i) in m.iter().zip(s.train.iter().chain(&s.val).chain(&s.test)) {
        assert_eq!(row.1, ds.files.as_ref().unwrap()[i]);
        assert_eq!(row.2, ds.labels[i]);
        let folder = ["x", "y", "z"][row.2 as usize];
        assert!(row.1.starts_with(&format!("{folder}/")), "{row:?}");
    }
    assert_eq!(m.iter().filter(|r| r.0 == "train").count(), 10);
    assert_eq!(m.iter().filter(|r| r.0 == "val").count(), 4);
    assert_eq!(m.iter().filter(|r| r.0 == "test").count(), 6);
    assert_eq!(m, split_manifest(&ds2, &[2, 0], Some(5), 3).unwrap());
    // Another seed draws other training files but the same validation and test files.
    let other = split_manifest(&ds, &[2, 0], Some(5), 4).unwrap();
    let pick = |m: &[(String, String, u32)], s: &str| -> BTreeSet<String> {
        m.iter().filter(|r| r.0 == s).map(|r| r.1.clone()).collect()
    };
    assert_eq!(pick(&m, "test"), pick(&other, "test"));
    assert_eq!(pick(&m, "val"), pick(&other, "val"));
    assert_ne!(pick(&m, "train"), pick(&other, "train"));

    let pos = train_pool_sizes(&ds);
    assert_eq!(pos.values().copied().collect::<Vec<_>>(), vec![15, 15, 15]);
}

#[test]
fn decode_cache_hits_and_invalidates_only_changed_files() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_classes(dir.path(), &["a", "b"], 10);
    let src = folder(dir.path(), 8, OnBadFile::Error);
    let before = decode_count();
    let (first, s1) = read(&src, Some(cache.path()));
    assert_eq!(
        s1,
        LoadStats {
            decoded: 20,
            reused: 0
        }
    );
    assert!(decode_count() >= before + 20);
    let (second, s2) = read(&src, Some(cache.path()));
    assert_eq!(
        s2,
        LoadStats {
            decoded: 0,
            reused: 20
        },
        "second load must decode nothing"
    );
    assert_eq!(first.pixels, second.pixels);
    assert_eq!(first.fingerprint, second.fingerprint);
    let cache_files: Vec<_> = std::fs::read_dir(cache.path()).unwrap().collect();
    assert_eq!(cache_files.len(), 1, "one cache file per dataset");

    // Change one file (other content and size), add one file.
    let img = image::GrayImage::from_pixel(12, 12, image::Luma([200]));
    img.save(dir.path().join("a/000.png")).unwrap();
    let extra = image::GrayImage::from_pixel(5, 5, image::Luma([99]));
    extra.save(dir.path().join("b/new.png")).unwrap();
    let (third, s3) = read(&src, Some(cache.path()));
    assert_eq!(
        s3,
        LoadStats {
            decoded: 2,
            reused: 19
        }
    );
    assert_eq!(third.count, 21);
    let i = third
        .files
        .as_ref()
        .unwrap()
        .iter()
        .position(|f| f == "a/000.png")
        .unwrap();
    assert!(third.image(i).iter().all(|&p| p == 200));
    assert_ne!(third.fingerprint, first.fingerprint);
    // A different decode size is a different cache.
    let (_, s4) = read(&folder(dir.path(), 6, OnBadFile::Error), Some(cache.path()));
    assert_eq!(s4.decoded, 21);
    let (_, s5) = read(&src, Some(cache.path()));
    assert_eq!(s5.decoded, 0);

    // Bad files are cached as bad: reported again without decoding again.
    std::fs::write(dir.path().join("a/bad.png"), b"nope").unwrap();
    let skip = folder(dir.path(), 8, OnBadFile::Skip);
    let (d6, s6) = read(&skip, Some(cache.path()));
    assert_eq!(s6.decoded, 1);
    let (d7, s7) = read(&skip, Some(cache.path()));
    assert_eq!(s7.decoded, 0);
    assert_eq!(d6.count, 21);
    assert!(d7.warnings.iter().any(|w| w.contains("a/bad.png")));
    // A damaged cache file is ignored, not trusted.
    let cf = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("-8px-"))
        .unwrap();
    let bytes = std::fs::read(&cf).unwrap();
    std::fs::write(&cf, &bytes[..bytes.len() / 2]).unwrap();
    let (d8, s8) = read(&skip, Some(cache.path()));
    assert_eq!(s8.decoded, 22);
    assert_eq!(d8.pixels, d7.pixels);
}

#[test]
fn csv_list_gives_the_same_tensors_as_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_classes(dir.path(), &["dog", "cat"], 6);
    let (fds, _) = read(&folder(dir.path(), 8, OnBadFile::Error), None);
    let mut csv = String::from("file,species\n");
    for f in &files {
        let class = f.split('/').next().unwrap();
        csv.push_str(&format!("\"{f}\",{class}\n"));
    }
    std::fs::write(dir.path().join("list.csv"), &csv).unwrap();
    let list = |csv: &str| DatasetSource::CsvList {
        path: dir.path().join(csv),
        image_column: "file".into(),
        label_column: "species".into(),
        split_column: None,
        images: ImageOptions {
            decode_size: Some(8),
            ..ImageOptions::default()
        },
    };
    let (cds, _) = read(&list("list.csv"), None);
    assert_eq!(cds.pixels, fds.pixels);
    assert_eq!(cds.labels, fds.labels);
    assert_eq!(cds.class_names, fds.class_names);
    assert_eq!(cds.files, fds.files);
    assert_eq!(cds.fingerprint, fds.fingerprint);
    let dev = Device::Cpu;
    let a = prepare_task(&fds, &[0, 1], Some(2), 0, &Shift::None, 8, dev).unwrap();
    let b = prepare_task(&cds, &[0, 1], Some(2), 0, &Shift::None, 8, dev).unwrap();
    assert!(a.train.images.equal(&b.train.images) && a.test.images.equal(&b.test.images));
    assert!(a.train.labels.equal(&b.train.labels));

    // Rows in another order, in a sub-folder: paths relative to the CSV; same image per file.
    std::fs::create_dir_all(dir.path().join("lists")).unwrap();
    let mut rows: Vec<&String> = files.iter().collect();
    rows.reverse();
    let mut csv = String::from("species,file\n");
    for f in rows {
        csv.push_str(&format!("{},../{f}\n", f.split('/').next().unwrap()));
    }
    std::fs::write(dir.path().join("lists/rev.csv"), &csv).unwrap();
    let (rds, _) = read(&list("lists/rev.csv"), None);
    assert_eq!(rds.count, fds.count);
    for (i, f) in rds.files.as_ref().unwrap().iter().enumerate() {
        let j = files.iter().position(|g| format!("../{g}") == *f).unwrap();
        assert_eq!(rds.image(i), fds.image(j));
        assert_eq!(rds.labels[i], fds.labels[j]);
    }
    // Missing column: the error names the column and the header.
    let bad = DatasetSource::CsvList {
        path: dir.path().join("list.csv"),
        image_column: "path".into(),
        label_column: "species".into(),
        split_column: None,
        images: ImageOptions::default(),
    };
    let e = format!("{:#}", read_images(&bad, None).err().unwrap());
    assert!(
        e.contains("no `path` column") && e.contains("file, species"),
        "{e}"
    );
}

#[test]
fn csv_split_column_fixes_the_split() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_classes(dir.path(), &["a", "b"], 6);
    let mut csv = String::from("path,label,split\n");
    for (i, f) in files.iter().enumerate() {
        let split = ["train", "train", "train", "train", "val", "test"][i % 6];
        csv.push_str(&format!("{f},{},{split}\n", &f[..1]));
    }
    std::fs::write(dir.path().join("l.csv"), &csv).unwrap();
    let src = DatasetSource::CsvList {
        path: dir.path().join("l.csv"),
        image_column: "path".into(),
        label_column: "label".into(),
        split_column: None, // found by its name `split`
        images: ImageOptions {
            decode_size: Some(8),
            ..ImageOptions::default()
        },
    };
    let (ds, _) = read(&src, None);
    assert!(ds.fixed_split.is_some());
    let m = split_manifest(&ds, &[0, 1], None, 0).unwrap();
    for (split, path, _) in &m {
        let i = files.iter().position(|f| f == path).unwrap();
        assert_eq!(
            split,
            ["train", "train", "train", "train", "val", "test"][i % 6]
        );
    }
    assert_eq!(m.len(), 12);
}

#[test]
fn train_val_test_folders_define_the_splits() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_classes(&root.join("train"), &["a", "b"], 10);
    write_classes(&root.join("val"), &["a", "b"], 3);
    write_classes(&root.join("test"), &["b", "a"], 4);
    let (ds, _) = read(&folder(root, 8, OnBadFile::Error), None);
    assert_eq!(ds.count, 34);
    assert_eq!(
        ds.class_names.as_deref().unwrap(),
        ["a".to_string(), "b".into()]
    );
    let files = ds.files.clone().unwrap();
    let s = split_task(&ds, &[0, 1], None, 0).unwrap();
    fn under(files: &[String], idx: &[usize], dir: &str) -> bool {
        idx.iter().all(|&i| files[i].starts_with(dir))
    }
    assert!(under(&files, &s.train, "train/") && s.train.len() == 20);
    assert!(under(&files, &s.val, "val/") && s.val.len() == 6);
    assert!(under(&files, &s.test, "test/") && s.test.len() == 8);
    for &i in s.train.iter().chain(&s.val).chain(&s.test) {
        let class = files[i].split('/').nth(1).unwrap();
        assert_eq!(
            ds.class_names.as_ref().unwrap()[ds.labels[i] as usize],
            class
        );
    }
    let s5 = split_task(&ds, &[1, 0], Some(5), 9).unwrap();
    assert!(under(&files, &s5.train, "train/") && s5.train.len() == 10);
    assert_eq!(
        train_pool_sizes(&ds).values().copied().collect::<Vec<_>>(),
        vec![10, 10]
    );

    // Without val/: the validation split is drawn from train/ (10%, at least 1), test kept.
    std::fs::remove_dir_all(root.join("val")).unwrap();
    let (ds, _) = read(&folder(root, 8, OnBadFile::Error), None);
    let files = ds.files.clone().unwrap();
    let s = split_task(&ds, &[0, 1], None, 0).unwrap();
    assert!(under(&files, &s.val, "train/") && s.val.len() == 2);
    assert!(under(&files, &s.test, "test/") && s.test.len() == 8);
    assert_eq!(s.train.len(), 18);
    assert_eq!(s, split_task(&ds, &[0, 1], None, 0).unwrap());

    // A class missing from test/ is an error that names it.
    std::fs::remove_dir_all(root.join("test/b")).unwrap();
    let (ds, _) = read(&folder(root, 8, OnBadFile::Error), None);
    let e = split_task(&ds, &[0, 1], None, 0).err().unwrap().to_string();
    assert!(e.contains("1 (b)") && e.contains("test"), "{e}");

    // Split folders mixed with class folders are refused.
    write_classes(&root.join("extra"), &["c"], 1);
    std::fs::create_dir_all(root.join("stray")).unwrap();
    let e = format!(
        "{:#}",
        read_images(&folder(root, 8, OnBadFile::Error), None)
            .err()
            .unwrap()
    );
    assert!(e.contains("mix") && e.contains("stray"), "{e}");
}

#[test]
fn load_dataset_reads_folders_and_class_names_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    write_classes(dir.path(), &["b", "a"], 4);
    let src = folder(dir.path(), 10, OnBadFile::Error);
    let ds = load_dataset(&src, Path::new("unused")).unwrap();
    assert_eq!((ds.count, ds.height), (8, 10));
    assert_eq!(
        class_names(&src).unwrap().unwrap(),
        vec!["a".to_string(), "b".into()]
    );
    let missing = folder(&dir.path().join("nope"), 10, OnBadFile::Error);
    let e = format!(
        "{:#}",
        load_dataset(&missing, Path::new(".")).err().unwrap()
    );
    assert!(e.contains("nope") && e.contains("not found"), "{e}");
}

#[test]
fn bmp_tiff_webp_and_16_bit_png_decode() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("only");
    std::fs::create_dir_all(&c).unwrap();
    let img = image::RgbImage::from_pixel(10, 10, image::Rgb([90, 90, 90]));
    img.save(c.join("a.bmp")).unwrap();
    img.save(c.join("b.tiff")).unwrap();
    let f = std::fs::File::create(c.join("c.webp")).unwrap();
    image::codecs::webp::WebPEncoder::new_lossless(f)
        .encode(img.as_raw(), 10, 10, image::ExtendedColorType::Rgb8)
        .unwrap();
    // 16-bit grey 90 * 257 is 8-bit 90.
    let deep =
        image::ImageBuffer::<image::Luma<u16>, _>::from_pixel(10, 10, image::Luma([90 * 257]));
    deep.save(c.join("d.png")).unwrap();
    // RGB pixel with Rec. 709 luma: 0.2126 * 255 = 54.2.
    image::RgbImage::from_pixel(10, 10, image::Rgb([255, 0, 0]))
        .save(c.join("e.png"))
        .unwrap();
    // `auto`: the red image makes the dataset RGB; grey images have three equal planes.
    let src = folder(dir.path(), 10, OnBadFile::Error);
    let (ds, _) = read(&src, None);
    assert_eq!((ds.count, ds.channels), (5, 3));
    for i in 0..4 {
        assert!(
            ds.image(i).iter().all(|&p| p == 90),
            "{}",
            ds.files.as_ref().unwrap()[i]
        );
    }
    let red: Vec<u8> = [255u8, 0, 0].iter().flat_map(|&v| [v; 100]).collect();
    assert_eq!(ds.image(4), &red[..]);
    // `channels: 1`: luma.
    let mut gray = src.clone();
    if let DatasetSource::Folder { images, .. } = &mut gray {
        images.channels = Channels::One;
    }
    let (ds, _) = read(&gray, None);
    assert_eq!(ds.channels, 1);
    for i in 0..4 {
        assert!(ds.image(i).iter().all(|&p| p == 90));
    }
    assert!(
        ds.image(4).iter().all(|&p| p == 54),
        "{:?}",
        &ds.image(4)[..3]
    );
}
