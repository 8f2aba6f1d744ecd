//! Domain shifts applied to images held channel-planar (CHW: `channels` planes of
//! `side x side` values, 1 = gray, 3 = R, G, B) on the 0..=255 scale, deterministic.
//!
//! Geometric and tone shifts act on every plane; the colour shifts that need colour (`hue`,
//! `saturation`, `color_cast`, `grayscale`, `channel_swap`) leave a 1-channel image unchanged,
//! while `brightness` and `jpeg` apply to gray images too.

use crate::spec::trial::{rgb_permutation, Shift};
use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, ImageFormat};
use rand::RngCore;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Fixed seed of the noise shift; mixed with the image's dataset index.
const NOISE_SEED: u64 = 0x7468_6177_6e6f_6973; // "thawnois"

/// ITU-R BT.601 luma weights of R, G and B.
const LUMA: [f64; 3] = [0.299, 0.587, 0.114];

/// Applies `shift` in place to one image of `channels` planes of `side x side` f32 values
/// (CHW, 0..=255 scale). `index` (the image's index in its dataset) seeds the noise, so every
/// run gives the same pixels. Colour shifts other than `brightness` and `jpeg` need 3 channels
/// and are the identity otherwise.
pub(crate) fn apply(shift: &Shift, img: &mut [f32], channels: usize, side: usize, index: usize) {
    let plane = side * side;
    debug_assert_eq!(
        img.len(),
        channels * plane,
        "{channels} planes of {side}x{side}"
    );
    if plane == 0 {
        return;
    }
    let rgb = channels == 3;
    match shift {
        Shift::None => {}
        Shift::Rotate { degrees } => img
            .chunks_mut(plane)
            .for_each(|p| rotate(p, side, *degrees)),
        // One stream over the planes in turn: independent noise per plane, plane 0 as for gray.
        Shift::Noise { sigma } => noise(img, *sigma, index),
        Shift::Invert { amount } => {
            let a = *amount as f32;
            for v in img.iter_mut() {
                *v = ((1.0 - a) * *v + a * (255.0 - *v)).clamp(0.0, 255.0);
            }
        }
        Shift::Blur { sigma } => img.chunks_mut(plane).for_each(|p| blur(p, side, *sigma)),
        Shift::Contrast { factor } => {
            let f = *factor as f32;
            for v in img.iter_mut() {
                *v = (255.0 * (0.5 + f * (*v / 255.0 - 0.5))).clamp(0.0, 255.0);
            }
        }
        Shift::Brightness { factor } => {
            if *factor != 1.0 {
                let f = *factor as f32;
                img.iter_mut().for_each(|v| *v = (*v * f).clamp(0.0, 255.0));
            }
        }
        Shift::Jpeg { quality } => jpeg(img, channels, side, *quality),
        Shift::Hue { degrees } if rgb => hue(img, plane, *degrees),
        Shift::Saturation { factor } if rgb => saturation(img, plane, *factor),
        Shift::ColorCast { gains } if rgb => {
            for (p, &g) in img.chunks_mut(plane).zip(gains) {
                if g != 1.0 {
                    let g = g as f32;
                    p.iter_mut().for_each(|v| *v = (*v * g).clamp(0.0, 255.0));
                }
            }
        }
        Shift::Grayscale if rgb => saturation(img, plane, 0.0),
        Shift::ChannelSwap { order } if rgb => {
            if let Some(perm) = rgb_permutation(order) {
                let src = img.to_vec();
                for (c, &from) in perm.iter().enumerate() {
                    img[c * plane..(c + 1) * plane]
                        .copy_from_slice(&src[from * plane..(from + 1) * plane]);
                }
            }
        }
        // Colour shifts on a gray image: nothing to change.
        Shift::Hue { .. }
        | Shift::Saturation { .. }
        | Shift::ColorCast { .. }
        | Shift::Grayscale
        | Shift::ChannelSwap { .. } => {}
        // Text shifts do not apply to images (grid validation rejects them on image datasets).
        Shift::Typos { .. } | Shift::Lowercase | Shift::Truncate { .. } => {}
    }
}

/// Applies `shift` to one u8 image of `channels` planes of `side x side` (CHW), e.g. for
/// previews in reports.
pub fn shift_image(
    shift: &Shift,
    img: &[u8],
    channels: usize,
    side: usize,
    index: usize,
) -> Vec<u8> {
    let mut buf: Vec<f32> = img.iter().map(|&v| v as f32).collect();
    apply(shift, &mut buf, channels, side, index);
    buf.into_iter().map(super::resize::to_u8).collect()
}

/// The three planes of a CHW RGB image, mutably.
fn planes(img: &mut [f32], plane: usize) -> (&mut [f32], &mut [f32], &mut [f32]) {
    let (r, rest) = img.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    (r, g, &mut b[..plane])
}

/// Hue rotation in HSV space by `degrees`; saturation and value are kept.
fn hue(img: &mut [f32], plane: usize, degrees: f64) {
    let turn = degrees.rem_euclid(360.0) / 60.0; // in sextants, 0..6
    if turn == 0.0 {
        return;
    }
    let (r, g, b) = planes(img, plane);
    for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
        let (x, y, z) = (*r as f64, *g as f64, *b as f64);
        let max = x.max(y).max(z);
        let delta = max - x.min(y).min(z);
        if delta <= 0.0 {
            continue; // a gray pixel has no hue
        }
        let h = if max == x {
            ((y - z) / delta).rem_euclid(6.0)
        } else if max == y {
            (z - x) / delta + 2.0
        } else {
            (x - y) / delta + 4.0
        };
        let h = (h + turn).rem_euclid(6.0);
        let (v, s) = (max, delta / max);
        let sector = (h.floor() as usize).min(5);
        let f = h - sector as f64;
        let p = v * (1.0 - s);
        let q = v * (1.0 - s * f);
        let t = v * (1.0 - s * (1.0 - f));
        let (nr, ng, nb) = match sector {
            0 => (v, t, p),
            1 => (q, v, p),
            2 => (p, v, t),
            3 => (p, q, v),
            4 => (t, p, v),
            _ => (v, p, q),
        };
        *r = nr.clamp(0.0, 255.0) as f32;
        *g = ng.clamp(0.0, 255.0) as f32;
        *b = nb.clamp(0.0, 255.0) as f32;
    }
}

/// Blend of every pixel with its BT.601 luma `y`: `x' = y + factor (x - y)`, clamped.
fn saturation(img: &mut [f32], plane: usize, factor: f64) {
    if factor == 1.0 {
        return;
    }
    let (r, g, b) = planes(img, plane);
    for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
        let y = LUMA[0] * *r as f64 + LUMA[1] * *g as f64 + LUMA[2] * *b as f64;
        for v in [r, g, b] {
            *v = (y + factor * (*v as f64 - y)).clamp(0.0, 255.0) as f32;
        }
    }
}

/// JPEG round trip at `quality` with the `image` crate: 3 channels as one RGB image, any other
/// count plane by plane as gray images.
fn jpeg(img: &mut [f32], channels: usize, side: usize, quality: u8) {
    let plane = side * side;
    let to_u8 = super::resize::to_u8;
    if channels == 3 {
        let rgb: Vec<u8> = (0..plane)
            .flat_map(|i| (0..3).map(move |c| c * plane + i))
            .map(|j| to_u8(img[j]))
            .collect();
        let out = jpeg_round_trip(&rgb, side, ExtendedColorType::Rgb8, quality);
        for (i, px) in out.chunks_exact(3).enumerate() {
            for (c, &v) in px.iter().enumerate() {
                img[c * plane + i] = v as f32;
            }
        }
    } else {
        for p in img.chunks_mut(plane) {
            let gray: Vec<u8> = p.iter().map(|&v| to_u8(v)).collect();
            let out = jpeg_round_trip(&gray, side, ExtendedColorType::L8, quality);
            p.iter_mut().zip(out).for_each(|(v, o)| *v = o as f32);
        }
    }
}

/// Encodes interleaved `pixels` (`L8` or `Rgb8`) as a JPEG of `quality` and decodes it again
/// (the encoder and zune-jpeg decoder are deterministic).
fn jpeg_round_trip(pixels: &[u8], side: usize, color: ExtendedColorType, quality: u8) -> Vec<u8> {
    let mut bytes = Vec::new();
    let s = side as u32;
    // In memory, with a valid colour type, matching buffer and side: encoding cannot fail
    // (image_size is far below JPEG's 65535-pixel limit).
    JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode(pixels, s, s, color)
        .expect("JPEG encoding of an in-memory image");
    let decoded = image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg)
        .expect("decoding the JPEG just encoded");
    match color {
        ExtendedColorType::Rgb8 => decoded.into_rgb8().into_raw(),
        _ => decoded.into_luma8().into_raw(),
    }
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
        let out = shift_image(&Shift::Rotate { degrees: 90.0 }, &img, 1, side, 0);
        for y in 0..side {
            for x in 0..side {
                // Counter-clockwise: out[y][x] = in[x][side - 1 - y].
                let want = img[x * side + (side - 1 - y)] as i32;
                let got = out[y * side + x] as i32;
                assert!((want - got).abs() <= 1, "({y},{x}): {got} vs {want}");
            }
        }
        // And 180 degrees is the point reflection.
        let out = shift_image(&Shift::Rotate { degrees: 180.0 }, &img, 1, side, 0);
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
            assert_eq!(shift_image(&s, &img, 1, 12, 3), img, "{s}");
        }
    }

    #[test]
    fn invert_and_contrast() {
        let img = vec![0u8, 255, 100, 128];
        let inv = shift_image(&Shift::Invert { amount: 1.0 }, &img, 1, 2, 0);
        assert_eq!(inv, vec![255, 0, 155, 127]);
        let half = shift_image(&Shift::Invert { amount: 0.5 }, &img, 1, 2, 0);
        assert!(half.iter().all(|&v| v == 127 || v == 128));
        let flat = shift_image(&Shift::Contrast { factor: 0.0 }, &img, 1, 2, 0);
        assert!(flat.iter().all(|&v| v == 128));
        let hi = shift_image(&Shift::Contrast { factor: 2.0 }, &img, 1, 2, 0);
        assert_eq!(hi[0], 0);
        assert_eq!(hi[1], 255);
    }

    #[test]
    fn noise_is_deterministic_per_index_and_has_the_right_scale() {
        let img = vec![128u8; 28 * 28];
        let s = Shift::Noise { sigma: 0.1 };
        let a = shift_image(&s, &img, 1, 28, 5);
        assert_eq!(a, shift_image(&s, &img, 1, 28, 5));
        assert_ne!(a, shift_image(&s, &img, 1, 28, 6));
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
            shift_image(&Shift::Blur { sigma: 1.5 }, &flat, 1, side, 0),
            flat
        );
        let mut dot = vec![0u8; side * side];
        dot[7 * side + 7] = 255;
        let out = shift_image(&Shift::Blur { sigma: 1.0 }, &dot, 1, side, 0);
        assert!(out[7 * side + 7] < 255 && out[7 * side + 8] > 0);
        assert_eq!(out[7 * side + 8], out[8 * side + 7]);
        let total: u32 = out.iter().map(|&v| v as u32).sum();
        assert!((total as i32 - 255).abs() < 20, "{total}");
    }

    /// A CHW image of `side x side` from per-plane pixel functions of `(y, x)`.
    fn chw(side: usize, f: [fn(usize, usize) -> u8; 3]) -> Vec<u8> {
        f.iter()
            .flat_map(|f| (0..side * side).map(move |i| f(i / side, i % side)))
            .collect()
    }

    /// A colourful 3-plane test image with every plane different.
    fn colourful(side: usize) -> Vec<u8> {
        chw(
            side,
            [
                |y, x| (y * 17 + x * 5) as u8,
                |y, x| (255 - y * 9 - x * 3) as u8,
                |y, x| ((x * 23 + y * y) % 256) as u8,
            ],
        )
    }

    fn plane(img: &[u8], side: usize, c: usize) -> &[u8] {
        &img[c * side * side..(c + 1) * side * side]
    }

    fn pixel(rgb: [u8; 3]) -> Vec<u8> {
        rgb.to_vec()
    }

    fn bt601(r: f64, g: f64, b: f64) -> f64 {
        0.299 * r + 0.587 * g + 0.114 * b
    }

    #[test]
    fn hue_rotates_primaries_in_hsv() {
        let hue =
            |d: f64, rgb: [u8; 3]| shift_image(&Shift::Hue { degrees: d }, &pixel(rgb), 3, 1, 0);
        assert_eq!(hue(120.0, [255, 0, 0]), vec![0, 255, 0]);
        assert_eq!(hue(240.0, [255, 0, 0]), vec![0, 0, 255]);
        assert_eq!(hue(-120.0, [255, 0, 0]), vec![0, 0, 255]);
        assert_eq!(hue(120.0, [0, 255, 0]), vec![0, 0, 255]);
        assert_eq!(hue(60.0, [255, 0, 0]), vec![255, 255, 0]);
        assert_eq!(hue(480.0, [200, 0, 0]), vec![0, 200, 0]);
        // Saturation and value are kept: a half-saturated orange stays half saturated.
        assert_eq!(hue(180.0, [200, 150, 100]), vec![100, 150, 200]);
        // Grays have no hue.
        assert_eq!(hue(90.0, [77, 77, 77]), vec![77, 77, 77]);
    }

    #[test]
    fn saturation_and_grayscale_use_bt601_luma() {
        let side = 6;
        let img = colourful(side);
        let n = side * side;
        for s in [Shift::Saturation { factor: 0.0 }, Shift::Grayscale] {
            let out = shift_image(&s, &img, 3, side, 0);
            for i in 0..n {
                let y = bt601(img[i] as f64, img[n + i] as f64, img[2 * n + i] as f64);
                let y = (y + 0.5).floor() as u8;
                assert_eq!(
                    [out[i], out[n + i], out[2 * n + i]],
                    [y, y, y],
                    "{s} at {i}"
                );
            }
        }
        // Half saturation is halfway to the luma; factor 2 doubles the distance (clamped).
        let px = pixel([200, 100, 50]);
        let y = bt601(200.0, 100.0, 50.0); // 124.2
        let half = shift_image(&Shift::Saturation { factor: 0.5 }, &px, 3, 1, 0);
        let want: Vec<u8> = [200.0, 100.0, 50.0]
            .iter()
            .map(|&v| (y + 0.5 * (v - y) + 0.5).floor() as u8)
            .collect();
        assert_eq!(half, want);
        let vivid = shift_image(&Shift::Saturation { factor: 2.0 }, &px, 3, 1, 0);
        assert_eq!(vivid, vec![255, 76, 0]);
    }

    #[test]
    fn channel_swap_permutes_planes() {
        let side = 5;
        let img = colourful(side);
        let swap = |o: &str| shift_image(&Shift::ChannelSwap { order: o.into() }, &img, 3, side, 0);
        let bgr = swap("bgr");
        assert_eq!(plane(&bgr, side, 0), plane(&img, side, 2));
        assert_eq!(plane(&bgr, side, 1), plane(&img, side, 1));
        assert_eq!(plane(&bgr, side, 2), plane(&img, side, 0));
        let gbr = swap("gbr");
        assert_eq!(plane(&gbr, side, 0), plane(&img, side, 1));
        assert_eq!(plane(&gbr, side, 1), plane(&img, side, 2));
        assert_eq!(plane(&gbr, side, 2), plane(&img, side, 0));
    }

    #[test]
    fn color_cast_and_brightness_scale_values() {
        let side = 4;
        let img = chw(
            side,
            [|_, _| 100, |_, _| 180, |y, x| (y * 40 + x * 20) as u8],
        );
        let out = shift_image(
            &Shift::ColorCast {
                gains: [1.0, 1.0, 0.5],
            },
            &img,
            3,
            side,
            0,
        );
        assert_eq!(plane(&out, side, 0), plane(&img, side, 0));
        assert_eq!(plane(&out, side, 1), plane(&img, side, 1));
        let halved: Vec<u8> = plane(&img, side, 2).iter().map(|&v| v / 2).collect();
        assert_eq!(plane(&out, side, 2), &halved[..]);
        let warm = shift_image(
            &Shift::ColorCast {
                gains: [2.0, 1.0, 0.0],
            },
            &img,
            3,
            side,
            0,
        );
        assert!(plane(&warm, side, 0).iter().all(|&v| v == 200));
        assert!(plane(&warm, side, 2).iter().all(|&v| v == 0));

        let dark = shift_image(&Shift::Brightness { factor: 0.5 }, &img, 3, side, 0);
        let want: Vec<u8> = img.iter().map(|&v| v / 2).collect();
        assert_eq!(dark, want);
        let bright = shift_image(&Shift::Brightness { factor: 2.0 }, &img, 3, side, 0);
        assert!(plane(&bright, side, 0).iter().all(|&v| v == 200));
        assert!(plane(&bright, side, 1).iter().all(|&v| v == 255), "clamped");
    }

    /// Mean absolute difference, in levels.
    fn mad(a: &[u8], b: &[u8]) -> f64 {
        assert_eq!(a.len(), b.len());
        let total: i64 = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| (x as i64 - y as i64).abs())
            .sum();
        total as f64 / a.len() as f64
    }

    #[test]
    fn jpeg_loses_more_at_low_quality_and_repeats() {
        let side = 32;
        // Smooth gradients in each plane.
        let img = chw(
            side,
            [
                |y, x| (40 + 4 * x + y) as u8,
                |y, _| (200 - 3 * y) as u8,
                |y, x| (60 + 2 * (x + y)) as u8,
            ],
        );
        let q = |quality: u8, im: &[u8], ch: usize| {
            shift_image(&Shift::Jpeg { quality }, im, ch, side, 0)
        };
        let best = q(100, &img, 3);
        let worst = q(5, &img, 3);
        let max_err = best
            .iter()
            .zip(&img)
            .map(|(&a, &b)| (a as i32 - b as i32).abs())
            .max()
            .unwrap();
        assert!(max_err <= 4, "quality 100 is off by up to {max_err} levels");
        assert!(mad(&best, &img) < 1.0, "{}", mad(&best, &img));
        assert!(
            mad(&worst, &img) > 3.0 && mad(&worst, &img) > 4.0 * mad(&best, &img),
            "quality 5: {} vs quality 100: {}",
            mad(&worst, &img),
            mad(&best, &img)
        );
        assert_eq!(worst, q(5, &img, 3), "deterministic");
        // A gray image is compressed as one gray plane.
        let gray = plane(&img, side, 0).to_vec();
        let g100 = q(100, &gray, 1);
        let g5 = q(5, &gray, 1);
        assert_eq!(g100.len(), gray.len());
        assert!(mad(&g100, &gray) < 1.0, "{}", mad(&g100, &gray));
        assert!(mad(&g5, &gray) > 3.0, "{}", mad(&g5, &gray));
    }

    #[test]
    fn colour_shifts_are_the_identity_at_their_neutral_value() {
        let side = 7;
        let img = colourful(side);
        for s in [
            Shift::None,
            Shift::Rotate { degrees: 0.0 },
            Shift::Blur { sigma: 0.0 },
            Shift::Contrast { factor: 1.0 },
            Shift::Invert { amount: 0.0 },
            Shift::Noise { sigma: 0.0 },
        ] {
            assert_eq!(shift_image(&s, &img, 3, side, 3), img, "{s}");
        }
        for s in [
            Shift::Hue { degrees: 0.0 },
            Shift::Hue { degrees: 360.0 },
            Shift::Saturation { factor: 1.0 },
            Shift::Brightness { factor: 1.0 },
            Shift::ColorCast {
                gains: [1.0, 1.0, 1.0],
            },
            Shift::ChannelSwap {
                order: "rgb".into(),
            },
        ] {
            assert_eq!(shift_image(&s, &img, 3, side, 3), img, "{s}");
            assert_eq!(s.magnitude(), 0.0, "{s}");
        }
        // Grayscale changes nothing on an image that is already gray in every plane.
        let gray3 = chw(side, [|y, x| (y * 30 + x) as u8; 3]);
        assert_eq!(shift_image(&Shift::Grayscale, &gray3, 3, side, 0), gray3);
    }

    #[test]
    fn colour_only_shifts_leave_gray_images_alone() {
        let side = 6;
        let img = asymmetric(side);
        for s in [
            Shift::Hue { degrees: 90.0 },
            Shift::Saturation { factor: 0.0 },
            Shift::ColorCast {
                gains: [2.0, 0.0, 0.5],
            },
            Shift::Grayscale,
            Shift::ChannelSwap {
                order: "bgr".into(),
            },
        ] {
            assert_eq!(shift_image(&s, &img, 1, side, 0), img, "{s}");
        }
        // Brightness and JPEG apply to the single plane.
        let dark = shift_image(&Shift::Brightness { factor: 0.5 }, &img, 1, side, 0);
        let halved: Vec<u8> = img
            .iter()
            .map(|&v| (v as f32 * 0.5 + 0.5).floor() as u8)
            .collect();
        assert_eq!(dark, halved);
        assert_ne!(
            shift_image(&Shift::Jpeg { quality: 5 }, &img, 1, side, 0),
            img
        );
    }

    #[test]
    fn noise_differs_between_planes_and_repeats_per_index() {
        let side = 9; // odd plane size: the Box-Muller pairs straddle the planes
        let img = vec![128u8; 3 * side * side];
        let s = Shift::Noise { sigma: 0.1 };
        let a = shift_image(&s, &img, 3, side, 4);
        assert_eq!(a, shift_image(&s, &img, 3, side, 4));
        assert_ne!(a, shift_image(&s, &img, 3, side, 5));
        assert_ne!(plane(&a, side, 0), plane(&a, side, 1));
        assert_ne!(plane(&a, side, 1), plane(&a, side, 2));
        assert_ne!(plane(&a, side, 0), plane(&a, side, 2));
        // The first plane gets the noise a gray image of the same index gets.
        let gray = shift_image(&s, &img[..side * side], 1, side, 4);
        assert_eq!(plane(&a, side, 0), &gray[..]);
    }

    #[test]
    fn geometric_shifts_act_on_each_plane_alone() {
        let side = 8;
        let img = colourful(side);
        for s in [
            Shift::Rotate { degrees: 30.0 },
            Shift::Blur { sigma: 1.0 },
            Shift::Invert { amount: 0.7 },
            Shift::Contrast { factor: 0.5 },
        ] {
            let out = shift_image(&s, &img, 3, side, 0);
            for c in 0..3 {
                let alone = shift_image(&s, plane(&img, side, c), 1, side, 0);
                assert_eq!(plane(&out, side, c), &alone[..], "{s}, plane {c}");
            }
        }
    }
}
