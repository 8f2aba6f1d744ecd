//! Colour end to end: two classes that differ only in hue (same shapes, same luma) are told
//! apart by a network that sees RGB (`channels: 3`) and not by one that sees grayscale
//! (`channels: 1`), through the real binary, the image decoder and its cache.

mod common;

use common::{scalar, text, thaw, write_grid};
use image::{Pixel, Rgb, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// Two colours of equal 8-bit luma (as the decoder computes it) but different hue.
fn equal_luma_colours() -> (Rgb<u8>, Rgb<u8>) {
    let a = Rgb([200u8, 90, 60]);
    let luma = a.to_luma()[0];
    let b = (0..=255u8)
        .map(|g| Rgb([40u8, g, 220]))
        .find(|c| c.to_luma()[0] == luma)
        .expect("a blue-green colour with the same luma");
    (a, b)
}

/// `dir/<class>/<n>.png`: 16×16 images, black with 1–3 random rectangles in the class colour.
fn write_hue_dataset(dir: &Path, per_class: usize) {
    let (a, b) = equal_luma_colours();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for (name, colour) in [("warm", a), ("cool", b)] {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        for n in 0..per_class {
            let mut img = RgbImage::new(16, 16);
            for _ in 0..rng.gen_range(1..=3) {
                let (x0, y0) = (rng.gen_range(0..12), rng.gen_range(0..12));
                let (w, h) = (rng.gen_range(3..=8), rng.gen_range(3..=8));
                for y in y0..(y0 + h).min(16) {
                    for x in x0..(x0 + w).min(16) {
                        img.put_pixel(x, y, colour);
                    }
                }
            }
            img.save(dir.join(name).join(format!("{n:03}.png")))
                .unwrap();
        }
    }
}

fn grid(name: &str, channels: u32) -> String {
    format!(
        r#"
name: {name}
seeds: [0]
source:
  dataset: mnist10k
  classes: [0, 1]
  train_per_class: 20
  epochs: 1
target:
  dataset: {{kind: folder, path: hues, channels: {channels}}}
  classes: [cool, warm]
  train_per_class: [60]
backbone: cnn4
freeze: [0]
baselines: [scratch]
schedule: {{kind: constant, lr: 0.05}}
epochs: 6
batch_size: 16
image_size: 16
"#
    )
}

#[test]
fn hue_alone_is_learned_in_rgb_and_not_in_grayscale() {
    let dir = tempfile::tempdir().unwrap();
    write_hue_dataset(&dir.path().join("hues"), 100);
    for (name, channels) in [("rgb", 3), ("gray", 1)] {
        let g = write_grid(dir.path(), &format!("{name}.yaml"), &grid(name, channels));
        let out = thaw(dir.path(), &["run", g.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
        // The MNIST-pretrained network takes 1 channel: the run says what it does with RGB.
        let note = "note: the network was pretrained on 1-channel images and the target has 3: \
                    its RGB images are turned into luma";
        assert_eq!(text(&out).contains(note), channels == 3, "{}", text(&out));
    }
    let db = dir.path().join("thaw.sqlite");
    let scratch_acc = |sweep: &str| -> f64 {
        scalar(
            &db,
            &format!(
                "SELECT final_test_acc FROM trial_summary WHERE sweep = '{sweep}' AND pretrained = 0"
            ),
        )
        .parse()
        .unwrap()
    };
    let (rgb, gray) = (scratch_acc("rgb"), scratch_acc("gray"));
    // 30 test images (15 % of 200): chance is 0.5 give or take 0.1.
    assert!(rgb >= 0.95, "RGB: {rgb}");
    assert!(gray <= 0.75, "grayscale: {gray}");
    // The decode cache keeps the grayscale and the RGB decodes of the folder apart.
    let cached: Vec<String> = std::fs::read_dir(dir.path().join(".thaw-cache/decoded"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("hues-"))
        .collect();
    assert_eq!(cached.len(), 2, "{cached:?}");
    assert!(cached.iter().any(|n| n.contains("-rgb-")), "{cached:?}");
}
