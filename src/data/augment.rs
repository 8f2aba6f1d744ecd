//! Training-time augmentation of a batch on its device: random crop with zero padding,
//! horizontal flip, small rotations, brightness and contrast jitter, and for RGB batches
//! saturation and hue jitter and random grayscale.
//!
//! The random draws (a handful of numbers per image) come from a ChaCha stream seeded by the
//! trial seed and the step, so a trial's augmentation is the same on every run and every device,
//! and independent of torch's global generator. Crop, flip and rotation are one affine resampling
//! per image (`grid_sample`, bilinear, zeros outside, `align_corners=false`); crop offsets are
//! whole pixels, so without rotation the pixels are copied exactly.
//!
//! The colour options act on 3-channel (R, G, B) batches and change nothing in 1-channel ones.
//! Saturation blends each pixel with its Rec. 709 luma ([`LUMA`]); hue is rotated about the gray
//! axis `(1, 1, 1)` of RGB space (see `rotate_hue`); grayscale replaces the three planes by the
//! luma. Each is a small per-image tensor operation on the device.

use crate::model::LUMA;
use crate::spec::trial::Augment;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

fn rng_for(seed: u64, step: u64) -> ChaCha8Rng {
    let mut h = blake3::Hasher::new();
    h.update(b"thaw-augment-v1");
    h.update(&seed.to_le_bytes());
    h.update(&step.to_le_bytes());
    ChaCha8Rng::from_seed(*h.finalize().as_bytes())
}

/// Randomly augments a batch `[B, C, H, W]` (C = 1 or 3; u8 on the 0..=255 scale, or float on
/// the 0..=1 scale) on the batch's device. Returns a float tensor on the input's scale (so a u8
/// batch gives floats in 0..=255, ready for the usual normalisation), clamped to that range. The
/// draws depend only on `(seed, step)` and the batch shape: pass the trial seed and a counter
/// that differs for every batch of the trial (e.g. the global step).
///
/// Per image: a shift by whole pixels in `[-crop_padding, crop_padding]` in each direction
/// (what padding by `crop_padding` zeros and cropping at a random offset does), a left-right
/// mirror with probability 1/2, a rotation by a uniform angle in `[-rotate, rotate]` degrees
/// about the centre, then `x' = mean + c (x - mean) + b` with `c` uniform in
/// `[1 - contrast, 1 + contrast]`, `mean` the image's mean, and `b` uniform in
/// `[-brightness, brightness]` times the scale's maximum. Then, for 3-channel batches only (the
/// draws are skipped for 1-channel ones, which the colour options leave as they are), each
/// clamped to the range: saturation scaled by a factor uniform in
/// `[1 - saturation, 1 + saturation]` (`saturate`), hue rotated by a uniform angle in
/// `[-hue, hue]` degrees (`rotate_hue`), and with probability `grayscale` the image replaced by
/// its luma in all three planes (`to_grayscale`).
pub fn augment(batch: &Tensor, aug: &Augment, seed: u64, step: u64) -> Tensor {
    let size = batch.size();
    assert!(
        size.len() == 4,
        "augment takes a batch [B, C, H, W], got shape {size:?}"
    );
    let (b, h, w) = (size[0], size[2], size[3]);
    let max = if batch.kind() == Kind::Uint8 {
        255.0
    } else {
        1.0
    };
    let device = batch.device();
    let mut x = batch.to_kind(Kind::Float);
    if b == 0 || !aug.is_active() {
        return x;
    }
    let mut rng = rng_for(seed, step);
    let geometric = aug.crop_padding > 0 || aug.hflip || aug.rotate != 0.0;
    if geometric {
        let p = aug.crop_padding as i64;
        let mut theta = Vec::with_capacity(b as usize * 6);
        for _ in 0..b {
            let dx = if p > 0 { rng.gen_range(-p..=p) } else { 0 };
            let dy = if p > 0 { rng.gen_range(-p..=p) } else { 0 };
            let flip = if aug.hflip && rng.gen_bool(0.5) {
                -1.0
            } else {
                1.0
            };
            let a = if aug.rotate != 0.0 {
                rng.gen_range(-aug.rotate.abs()..=aug.rotate.abs())
                    .to_radians()
            } else {
                0.0
            };
            let (sin, cos) = a.sin_cos();
            // Output pixel (x, y) samples input (R F (x, y) + t) in normalised coordinates; the
            // rotation acts on pixel units, hence the aspect factors for non-square images.
            let (rw, rh) = (w as f64, h as f64);
            theta.extend_from_slice(&[
                (cos * flip) as f32,
                (-sin * rh / rw) as f32,
                (2.0 * dx as f64 / rw) as f32,
                (sin * flip * rw / rh) as f32,
                cos as f32,
                (2.0 * dy as f64 / rh) as f32,
            ]);
        }
        let theta = Tensor::from_slice(&theta)
            .reshape([b, 2, 3])
            .to_device(device);
        let grid = Tensor::affine_grid_generator(&theta, size.as_slice(), false);
        // interpolation 0 = bilinear, padding 0 = zeros.
        x = x.grid_sampler(&grid, 0, 0, false);
    }
    if aug.brightness != 0.0 || aug.contrast != 0.0 {
        let mut gains = Vec::with_capacity(b as usize);
        let mut offsets = Vec::with_capacity(b as usize);
        for _ in 0..b {
            let c = if aug.contrast != 0.0 {
                1.0 + rng.gen_range(-aug.contrast.abs()..=aug.contrast.abs())
            } else {
                1.0
            };
            let o = if aug.brightness != 0.0 {
                rng.gen_range(-aug.brightness.abs()..=aug.brightness.abs()) * max
            } else {
                0.0
            };
            gains.push(c as f32);
            offsets.push(o as f32);
        }
        let gains = Tensor::from_slice(&gains)
            .reshape([b, 1, 1, 1])
            .to_device(device);
        let offsets = Tensor::from_slice(&offsets)
            .reshape([b, 1, 1, 1])
            .to_device(device);
        let mean = x.mean_dim([1i64, 2, 3].as_slice(), true, Kind::Float);
        x = (&x - &mean) * gains + mean + offsets;
    }
    if aug.is_colour() && size[1] == 3 {
        x = colour(x.clamp(0.0, max), aug, &mut rng, max);
    }
    x.clamp(0.0, max)
}

/// The colour options on a float RGB batch already in `[0, max]`: per image, the draws for
/// saturation, hue and grayscale (each only when its option is on), then the three steps in that
/// order, clamping after saturation and hue.
fn colour(mut x: Tensor, aug: &Augment, rng: &mut ChaCha8Rng, max: f64) -> Tensor {
    let b = x.size()[0] as usize;
    let device = x.device();
    let (mut factors, mut angles, mut gray) = (
        Vec::with_capacity(b),
        Vec::with_capacity(b),
        Vec::with_capacity(b),
    );
    for _ in 0..b {
        if aug.saturation != 0.0 {
            let s = aug.saturation.abs();
            factors.push((1.0 + rng.gen_range(-s..=s)) as f32);
        }
        if aug.hue != 0.0 {
            let h = aug.hue.abs();
            angles.push(rng.gen_range(-h..=h));
        }
        if aug.grayscale != 0.0 {
            gray.push(rng.gen_bool(aug.grayscale.clamp(0.0, 1.0)));
        }
    }
    if !factors.is_empty() {
        let f = Tensor::from_slice(&factors)
            .reshape([b as i64, 1, 1, 1])
            .to_device(device);
        x = saturate(&x, &f).clamp(0.0, max);
    }
    if !angles.is_empty() {
        x = rotate_hue(&x, &angles).clamp(0.0, max);
    }
    if !gray.is_empty() {
        let mask = Tensor::from_slice(&gray)
            .reshape([b as i64, 1, 1, 1])
            .to_device(device);
        x = to_grayscale(&x, &mask);
    }
    x
}

/// The Rec. 709 luma `[B, 1, H, W]` of a float RGB batch `[B, 3, H, W]`.
fn luma(x: &Tensor) -> Tensor {
    let w = Tensor::from_slice(&LUMA)
        .to_device(x.device())
        .view([1, 3, 1, 1]);
    (x * w).sum_dim_intlist(1, true, Kind::Float)
}

/// Saturation of a float RGB batch `[B, 3, H, W]` scaled per image: `luma + f (x - luma)` with
/// `f` `[B, 1, 1, 1]`, so 0 gives the luma in all three planes, 1 the image itself and above 1
/// more saturated colours (not clamped here).
fn saturate(x: &Tensor, f: &Tensor) -> Tensor {
    let y = luma(x);
    &y + f * (x - &y)
}

/// Hue of a float RGB batch `[B, 3, H, W]` rotated per image by `degrees` (one angle per image):
/// each pixel's colour vector is rotated about the gray axis `(1, 1, 1) / sqrt 3` (Rodrigues'
/// formula, `R = cos a I + (1 - cos a) / 3 J + sin a / sqrt 3 K`, with `J` all ones and `K` the
/// cross-product matrix of `(1, 1, 1)`). This is the usual linear approximation of a hue shift:
/// grays stay put, the mean of R, G and B and the distance from gray are kept, and a rotation by
/// 120° permutes the primaries (red to green, green to blue, blue to red); luma is not kept
/// exactly, and values may leave the range (not clamped here).
fn rotate_hue(x: &Tensor, degrees: &[f64]) -> Tensor {
    let size = x.size();
    let b = size[0];
    assert_eq!(degrees.len() as i64, b, "one hue angle per image");
    let mut m = Vec::with_capacity(degrees.len() * 9);
    for d in degrees {
        let (sin, cos) = d.to_radians().sin_cos();
        let (a, c, s) = (cos, (1.0 - cos) / 3.0, sin / 3f64.sqrt());
        m.extend(
            [
                a + c,
                c - s,
                c + s,
                c + s,
                a + c,
                c - s,
                c - s,
                c + s,
                a + c,
            ]
            .map(|v| v as f32),
        );
    }
    let m = Tensor::from_slice(&m)
        .reshape([b, 3, 3])
        .to_device(x.device());
    m.bmm(&x.reshape([b, 3, -1])).reshape(size.as_slice())
}

/// A float RGB batch `[B, 3, H, W]` with the images where `mask` (bool `[B, 1, 1, 1]`) is set
/// replaced by their luma in all three planes; the others are returned as they are.
fn to_grayscale(x: &Tensor, mask: &Tensor) -> Tensor {
    luma(x).expand_as(x).where_self(mask, x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Tensor {
        let v: Vec<u8> = (0..2 * 6 * 6).map(|i| (i * 7 % 256) as u8).collect();
        Tensor::from_slice(&v).reshape([2, 1, 6, 6])
    }

    #[test]
    fn inactive_is_identity_and_kind_is_float() {
        let x = batch();
        let y = augment(&x, &Augment::default(), 0, 0);
        assert_eq!(y.kind(), Kind::Float);
        assert_eq!(
            Vec::<f32>::try_from(y.flatten(0, -1)).unwrap(),
            Vec::<f32>::try_from(x.to_kind(Kind::Float).flatten(0, -1)).unwrap()
        );
    }

    #[test]
    fn flip_and_crop_copy_pixels_exactly() {
        let x = batch();
        let aug = Augment {
            hflip: true,
            crop_padding: 2,
            ..Augment::default()
        };
        let xf = x.to_kind(Kind::Float);
        let mut saw_change = false;
        for step in 0..20 {
            let y = augment(&x, &aug, 7, step);
            // Same draws for the same (seed, step).
            assert!(y.equal(&augment(&x, &aug, 7, step)));
            for i in 0..2 {
                let yi = y.get(i).get(0);
                let xi = xf.get(i).get(0);
                // Every output pixel equals some shifted (and maybe mirrored) input pixel or 0.
                let found = (-2i64..=2).any(|dy| {
                    (-2i64..=2).any(|dx| {
                        [false, true].iter().any(|&fl| {
                            let src = if fl { xi.flip([1]) } else { xi.shallow_clone() };
                            let want = Tensor::zeros([6, 6], (Kind::Float, tch::Device::Cpu));
                            for r in 0..6i64 {
                                for c in 0..6i64 {
                                    let (sr, sc) = (r + dy, c + dx);
                                    if (0..6).contains(&sr) && (0..6).contains(&sc) {
                                        let v = src.double_value(&[sr, sc]);
                                        let _ = want.get(r).get(c).fill_(v);
                                    }
                                }
                            }
                            (&yi - &want).abs().max().double_value(&[]) < 1e-3
                        })
                    })
                });
                assert!(
                    found,
                    "step {step} image {i} is not a shifted/mirrored copy"
                );
                if (&yi - &xi).abs().max().double_value(&[]) > 0.5 {
                    saw_change = true;
                }
            }
        }
        assert!(saw_change, "20 batches were never changed");
    }

    #[test]
    fn rotation_and_jitter_stay_in_range_and_depend_on_step() {
        let x = batch().to_kind(Kind::Float) / 255.0;
        let aug = Augment {
            rotate: 10.0,
            brightness: 0.2,
            contrast: 0.2,
            ..Augment::default()
        };
        let a = augment(&x, &aug, 1, 0);
        let b = augment(&x, &aug, 1, 1);
        assert!(a.min().double_value(&[]) >= 0.0 && a.max().double_value(&[]) <= 1.0);
        assert!(!a.equal(&b), "different steps must draw differently");
        assert!(a.equal(&augment(&x, &aug, 1, 0)));
        assert!(!a.equal(&augment(&x, &aug, 2, 0)), "the seed must matter");
    }

    /// A 3-channel u8 batch `[b, 3, 5, 5]` with varied colours.
    fn rgb(b: i64) -> Tensor {
        let v: Vec<u8> = (0..b * 3 * 25).map(|i| (i * 37 % 251) as u8).collect();
        Tensor::from_slice(&v).reshape([b, 3, 5, 5])
    }

    fn values(t: &Tensor) -> Vec<f32> {
        Vec::<f32>::try_from(t.to_kind(Kind::Float).flatten(0, -1)).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    /// The Rec. 709 luma of every pixel, computed here in f64 from the planes.
    fn luma_of(x: &Tensor) -> Vec<f64> {
        let x = x.to_kind(Kind::Double);
        let (r, g, b) = (x.select(1, 0), x.select(1, 1), x.select(1, 2));
        let v = |t: Tensor| Vec::<f64>::try_from(t.flatten(0, -1)).unwrap();
        let (r, g, b) = (v(r), v(g), v(b));
        (0..r.len())
            .map(|i| 0.2126 * r[i] + 0.7152 * g[i] + 0.0722 * b[i])
            .collect()
    }

    fn assert_close(got: &[f32], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((*g as f64 - w).abs() < tol, "element {i}: {g} vs {w}");
        }
    }

    #[test]
    fn grayscale_one_gives_three_equal_luma_planes() {
        let x = rgb(3);
        let aug = Augment {
            grayscale: 1.0,
            ..Augment::default()
        };
        let y = augment(&x, &aug, 5, 9);
        let want = luma_of(&x);
        let planes: Vec<Vec<f32>> = (0..3).map(|c| values(&y.select(1, c))).collect();
        assert_eq!(planes[0], planes[1]);
        assert_eq!(planes[0], planes[2]);
        assert_close(&planes[0], &want, 1e-3);
        // The input had colour, so something changed.
        assert!(max_diff(&y, &x.to_kind(Kind::Float)) > 10.0);
    }

    #[test]
    fn saturate_factor_zero_is_luma_and_one_is_identity() {
        let x = rgb(1).to_kind(Kind::Float);
        let two = Tensor::cat(&[&x, &x], 0);
        let f = Tensor::from_slice(&[0f32, 1.0]).reshape([2, 1, 1, 1]);
        let y = saturate(&two, &f);
        let want = luma_of(&x);
        for c in 0..3 {
            assert_close(&values(&y.get(0).select(0, c)), &want, 1e-3);
        }
        assert!(max_diff(&y.get(1), &x.get(0)) < 1e-3);
        // A factor of 2 doubles each pixel's distance from its luma.
        let y2 = saturate(&x, &Tensor::from_slice(&[2f32]).reshape([1, 1, 1, 1]));
        let l = Tensor::from_slice(&want)
            .to_kind(Kind::Float)
            .reshape([1, 1, 5, 5]);
        assert!(max_diff(&(&y2 - &l), &((&x - &l) * 2.0)) < 1e-3);
    }

    #[test]
    fn hue_rotation_by_zero_is_identity_and_by_120_turns_red_green() {
        // Image 0: varied colours; image 1: pure red (R = 200, G = B = 0); image 2: gray.
        let varied = rgb(1).to_kind(Kind::Float);
        let red = Tensor::zeros([1, 3, 5, 5], (Kind::Float, tch::Device::Cpu));
        let _ = red.select(1, 0).fill_(200.0);
        let gray = Tensor::full([1, 3, 5, 5], 90.0, (Kind::Float, tch::Device::Cpu));
        let x = Tensor::cat(&[&varied, &red, &gray], 0);
        let y = rotate_hue(&x, &[0.0, 0.0, 0.0]);
        assert!(max_diff(&y, &x) < 1e-4, "rotation by 0 changed the images");

        let y = rotate_hue(&x, &[120.0, 120.0, 120.0]);
        // Red becomes green: G is the largest channel of every pixel.
        let argmax = y.get(1).argmax(0, false);
        assert_eq!(
            Vec::<i64>::try_from(argmax.flatten(0, -1)).unwrap(),
            vec![1; 25]
        );
        assert!(y.get(1).select(0, 1).min().double_value(&[]) > 150.0);
        // Grays stay put; the mean of R, G and B is kept.
        assert!(max_diff(&y.get(2), &x.get(2)) < 1e-3);
        let mean = |t: &Tensor| t.mean_dim([1i64].as_slice(), false, Kind::Float);
        assert!(max_diff(&mean(&y), &mean(&x)) < 1e-3);
        // By 120° the primaries are permuted: (R, G, B) -> (B, R, G).
        let perm = x.index_select(1, &Tensor::from_slice(&[2i64, 0, 1]));
        assert!(max_diff(&y, &perm) < 1e-3);
    }

    #[test]
    fn colour_draws_are_reproducible_and_depend_on_step_and_seed() {
        let x = rgb(4);
        let aug = Augment {
            saturation: 0.5,
            hue: 30.0,
            grayscale: 0.5,
            ..Augment::default()
        };
        let a = augment(&x, &aug, 3, 0);
        assert!(a.equal(&augment(&x, &aug, 3, 0)));
        assert!(!a.equal(&augment(&x, &aug, 3, 1)), "the step must matter");
        assert!(!a.equal(&augment(&x, &aug, 4, 0)), "the seed must matter");
        assert!(a.min().double_value(&[]) >= 0.0 && a.max().double_value(&[]) <= 255.0);
        assert!(max_diff(&a, &x.to_kind(Kind::Float)) > 1.0);
    }

    #[test]
    fn colour_options_leave_one_channel_batches_and_geometric_draws_alone() {
        let colour = Augment {
            saturation: 0.8,
            hue: 90.0,
            grayscale: 1.0,
            ..Augment::default()
        };
        let x = batch();
        assert_eq!(values(&augment(&x, &colour, 1, 2)), values(&x));
        let geo = Augment {
            hflip: true,
            crop_padding: 2,
            ..Augment::default()
        };
        let both = Augment {
            saturation: 0.8,
            hue: 90.0,
            grayscale: 1.0,
            ..geo.clone()
        };
        assert!(augment(&x, &both, 1, 2).equal(&augment(&x, &geo, 1, 2)));
        // On RGB, the geometric draws come first and are the same with colour on: with
        // grayscale 1 the output is the luma of the geometric-only output.
        let x = rgb(3);
        let gray_too = Augment {
            grayscale: 1.0,
            ..geo.clone()
        };
        let y = augment(&x, &gray_too, 1, 2);
        let want = luma_of(&augment(&x, &geo, 1, 2));
        for c in 0..3 {
            assert_close(&values(&y.select(1, c)), &want, 1e-3);
        }
    }
}
