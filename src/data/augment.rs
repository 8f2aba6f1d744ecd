//! Training-time augmentation of a batch on its device: random crop with zero padding,
//! horizontal flip, small rotations, brightness and contrast jitter.
//!
//! The random draws (a handful of numbers per image) come from a ChaCha stream seeded by the
//! trial seed and the step, so a trial's augmentation is the same on every run and every device,
//! and independent of torch's global generator. Crop, flip and rotation are one affine resampling
//! per image (`grid_sample`, bilinear, zeros outside, `align_corners=false`); crop offsets are
//! whole pixels, so without rotation the pixels are copied exactly.

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

/// Randomly augments a batch `[B, 1, H, W]` (u8 on the 0..=255 scale, or float on the 0..=1
/// scale) on the batch's device. Returns a float tensor on the input's scale (so a u8 batch
/// gives floats in 0..=255, ready for the usual normalisation), clamped to that range. The
/// draws depend only on `(seed, step)` and the batch size: pass the trial seed and a counter
/// that differs for every batch of the trial (e.g. the global step).
///
/// Per image: a shift by whole pixels in `[-crop_padding, crop_padding]` in each direction
/// (what padding by `crop_padding` zeros and cropping at a random offset does), a left-right
/// mirror with probability 1/2, a rotation by a uniform angle in `[-rotate, rotate]` degrees
/// about the centre, then `x' = mean + c (x - mean) + b` with `c` uniform in
/// `[1 - contrast, 1 + contrast]`, `mean` the image's mean, and `b` uniform in
/// `[-brightness, brightness]` times the scale's maximum.
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
    x.clamp(0.0, max)
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
}
