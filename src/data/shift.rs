//! Domain shifts applied to single-channel images (0..=255 scale), deterministic.

use crate::spec::trial::Shift;
use rand::RngCore;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Fixed seed of the noise shift; mixed with the image's dataset index.
const NOISE_SEED: u64 = 0x7468_6177_6e6f_6973; // "thawnois"

/// Applies `shift` in place to one `side x side` image held as f32 values on the 0..=255 scale.
/// `index` (the image's index in its dataset) seeds the noise, so every run gives the same pixels.
pub(crate) fn apply(shift: &Shift, img: &mut [f32], side: usize, index: usize) {
    match *shift {
        Shift::None => {}
        Shift::Rotate { degrees } => rotate(img, side, degrees),
        Shift::Noise { sigma } => noise(img, sigma, index),
        Shift::Invert { amount } => {
            let a = amount as f32;
            for v in img.iter_mut() {
                *v = ((1.0 - a) * *v + a * (255.0 - *v)).clamp(0.0, 255.0);
            }
        }
        Shift::Blur { sigma } => blur(img, side, sigma),
        Shift::Contrast { factor } => {
            let f = factor as f32;
            for v in img.iter_mut() {
                *v = (255.0 * (0.5 + f * (*v / 255.0 - 0.5))).clamp(0.0, 255.0);
            }
        }
    }
}

/// Applies `shift` to one `side x side` u8 image (e.g. for previews in reports).
pub fn shift_image(shift: &Shift, img: &[u8], side: usize, index: usize) -> Vec<u8> {
    let mut buf: Vec<f32> = img.iter().map(|&v| v as f32).collect();
    apply(shift, &mut buf, side, index);
    buf.into_iter().map(super::resize::to_u8).collect()
}

/// Rotation by `degrees` counter-clockwise (as displayed) about the image centre; bilinear
/// sampling, zero fill outside the source.
fn rotate(img: &mut [f32], side: usize, degrees: f64) {
    if degrees.rem_euclid(360.0) == 0.0 {
        return;
    }
    let src = img.to_vec();
    let (s, c) = degrees.to_radians().sin_cos();
    let centre = (side as f64 - 1.0) / 2.0;
    let at = |y: isize, x: isize| -> f64 {
        if y < 0 || x < 0 || y >= side as isize || x >= side as isize {
            0.0
        } else {
            src[y as usize * side + x as usize] as f64
        }
    };
    for y in 0..side {
        let dy = y as f64 - centre;
        for x in 0..side {
            let dx = x as f64 - centre;
            // Inverse map of the output pixel into the source (y axis points down).
            let sx = c * dx - s * dy + centre;
            let sy = s * dx + c * dy + centre;
            let x0 = sx.floor();
            let y0 = sy.floor();
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            let v = (1.0 - fy) * ((1.0 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
                + fy * ((1.0 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
            img[y * side + x] = v as f32;
        }
    }
}

/// Additive gaussian noise, `sigma` on the 0..1 scale, clamped.
fn noise(img: &mut [f32], sigma: f64, index: usize) {
    if sigma == 0.0 {
        return;
    }
    let mut rng =
        ChaCha8Rng::seed_from_u64(NOISE_SEED ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let unit = |rng: &mut ChaCha8Rng| (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    let scale = sigma * 255.0;
    let mut i = 0;
    while i < img.len() {
        // Box-Muller: two standard normals per pair of uniforms.
        let u1 = 1.0 - unit(&mut rng); // (0, 1]
        let u2 = unit(&mut rng);
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f64::consts::TAU * u2;
        for z in [r * t.cos(), r * t.sin()] {
            if i < img.len() {
                img[i] = (img[i] as f64 + scale * z).clamp(0.0, 255.0) as f32;
                i += 1;
            }
        }
    }
}

/// Separable gaussian blur, kernel radius `ceil(3 sigma)`, edges replicated; sigma 0 = identity.
fn blur(img: &mut [f32], side: usize, sigma: f64) {
    if sigma <= 0.0 {
        return;
    }
    let radius = (3.0 * sigma).ceil() as isize;
    let mut kernel: Vec<f64> = (-radius..=radius)
        .map(|d| (-(d * d) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f64 = kernel.iter().sum();
    kernel.iter_mut().for_each(|k| *k /= sum);
    let clampi = |i: isize| i.clamp(0, side as isize - 1) as usize;
    let mut tmp = vec![0f32; img.len()];
    for y in 0..side {
        for x in 0..side {
            let mut acc = 0.0;
            for (k, w) in kernel.iter().enumerate() {
                acc += w * img[y * side + clampi(x as isize + k as isize - radius)] as f64;
            }
            tmp[y * side + x] = acc as f32;
        }
    }
    for y in 0..side {
        for x in 0..side {
            let mut acc = 0.0;
            for (k, w) in kernel.iter().enumerate() {
                acc += w * tmp[clampi(y as isize + k as isize - radius) * side + x] as f64;
            }
            img[y * side + x] = acc as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asymmetric(side: usize) -> Vec<u8> {
        (0..side * side)
            .map(|i| ((i / side) * 7 + (i % side) * 31 + (i * i) % 13) as u8)
            .collect()
    }

    #[test]
    fn rotate_90_is_transpose_then_flip() {
        let side = 9;
        let img = asymmetric(side);
        let out = shift_image(&Shift::Rotate { degrees: 90.0 }, &img, side, 0);
        for y in 0..side {
            for x in 0..side {
                // Counter-clockwise: out[y][x] = in[x][side - 1 - y].
                let want = img[x * side + (side - 1 - y)] as i32;
                let got = out[y * side + x] as i32;
                assert!((want - got).abs() <= 1, "({y},{x}): {got} vs {want}");
            }
        }
        // And 180 degrees is the point reflection.
        let out = shift_image(&Shift::Rotate { degrees: 180.0 }, &img, side, 0);
        let rev: Vec<u8> = img.iter().rev().copied().collect();
        for (a, b) in out.iter().zip(&rev) {
            assert!((*a as i32 - *b as i32).abs() <= 1);
        }
    }

    #[test]
    fn identities() {
        let img = asymmetric(12);
        for s in [
            Shift::None,
            Shift::Rotate { degrees: 0.0 },
            Shift::Rotate { degrees: 360.0 },
            Shift::Blur { sigma: 0.0 },
            Shift::Contrast { factor: 1.0 },
            Shift::Invert { amount: 0.0 },
            Shift::Noise { sigma: 0.0 },
        ] {
            assert_eq!(shift_image(&s, &img, 12, 3), img, "{s}");
        }
    }

    #[test]
    fn invert_and_contrast() {
        let img = vec![0u8, 255, 100, 128];
        let inv = shift_image(&Shift::Invert { amount: 1.0 }, &img, 2, 0);
        assert_eq!(inv, vec![255, 0, 155, 127]);
        let half = shift_image(&Shift::Invert { amount: 0.5 }, &img, 2, 0);
        assert!(half.iter().all(|&v| v == 127 || v == 128));
        let flat = shift_image(&Shift::Contrast { factor: 0.0 }, &img, 2, 0);
        assert!(flat.iter().all(|&v| v == 128));
        let hi = shift_image(&Shift::Contrast { factor: 2.0 }, &img, 2, 0);
        assert_eq!(hi[0], 0);
        assert_eq!(hi[1], 255);
    }

    #[test]
    fn noise_is_deterministic_per_index_and_has_the_right_scale() {
        let img = vec![128u8; 28 * 28];
        let s = Shift::Noise { sigma: 0.1 };
        let a = shift_image(&s, &img, 28, 5);
        assert_eq!(a, shift_image(&s, &img, 28, 5));
        assert_ne!(a, shift_image(&s, &img, 28, 6));
        let n = a.len() as f64;
        let mean = a.iter().map(|&v| v as f64).sum::<f64>() / n;
        let sd = (a.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!((mean - 128.0).abs() < 3.0, "{mean}");
        assert!((sd - 25.5).abs() < 3.0, "{sd}");
    }

    #[test]
    fn blur_preserves_mass_and_constants() {
        let side = 15;
        let flat = vec![77u8; side * side];
        assert_eq!(
            shift_image(&Shift::Blur { sigma: 1.5 }, &flat, side, 0),
            flat
        );
        let mut dot = vec![0u8; side * side];
        dot[7 * side + 7] = 255;
        let out = shift_image(&Shift::Blur { sigma: 1.0 }, &dot, side, 0);
        assert!(out[7 * side + 7] < 255 && out[7 * side + 8] > 0);
        assert_eq!(out[7 * side + 8], out[8 * side + 7]);
        let total: u32 = out.iter().map(|&v| v as u32).sum();
        assert!((total as i32 - 255).abs() < 20, "{total}");
    }
}
