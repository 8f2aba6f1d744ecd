//! Bilinear resizing with `align_corners=false` semantics (as torch's `F.interpolate`).

/// Source taps of one output coordinate: `v = w0 * src[i0] + w1 * src[i1]`.
#[derive(Clone, Copy, Debug)]
struct Tap {
    i0: usize,
    i1: usize,
    w0: f32,
    w1: f32,
}

fn taps(in_len: usize, out_len: usize) -> Vec<Tap> {
    let scale = in_len as f64 / out_len as f64;
    (0..out_len)
        .map(|o| {
            // align_corners=false: centres of pixels line up; negative sources clamp to 0.
            let src = ((o as f64 + 0.5) * scale - 0.5).max(0.0);
            let i0 = (src.floor() as usize).min(in_len - 1);
            let i1 = (i0 + 1).min(in_len - 1);
            let l = (src - i0 as f64).clamp(0.0, 1.0) as f32;
            Tap {
                i0,
                i1,
                w0: 1.0 - l,
                w1: l,
            }
        })
        .collect()
}

/// A reusable resizer from `in_h x in_w` to `out_h x out_w` (weights computed once).
pub(crate) struct Resizer {
    in_h: usize,
    in_w: usize,
    rows: Vec<Tap>,
    cols: Vec<Tap>,
}

impl Resizer {
    pub fn new(in_h: usize, in_w: usize, out_h: usize, out_w: usize) -> Self {
        Resizer {
            in_h,
            in_w,
            rows: taps(in_h, out_h),
            cols: taps(in_w, out_w),
        }
    }

    pub fn is_identity(&self) -> bool {
        self.rows.len() == self.in_h && self.cols.len() == self.in_w
    }

    /// Resizes one u8 image into `out` (values 0..=255 as f32, not rounded).
    pub fn run(&self, src: &[u8], out: &mut Vec<f32>) {
        out.clear();
        if self.is_identity() {
            out.extend(src.iter().map(|&v| v as f32));
            return;
        }
        let w = self.in_w;
        for r in &self.rows {
            let row0 = &src[r.i0 * w..(r.i0 + 1) * w];
            let row1 = &src[r.i1 * w..(r.i1 + 1) * w];
            for c in &self.cols {
                let top = c.w0 * row0[c.i0] as f32 + c.w1 * row0[c.i1] as f32;
                let bot = c.w0 * row1[c.i0] as f32 + c.w1 * row1[c.i1] as f32;
                out.push(r.w0 * top + r.w1 * bot);
            }
        }
    }
}

/// Resizes one `in_h x in_w` u8 image to `out_h x out_w` (bilinear, rounded).
pub fn resize_image(src: &[u8], in_h: usize, in_w: usize, out_h: usize, out_w: usize) -> Vec<u8> {
    let mut buf = Vec::with_capacity(out_h * out_w);
    Resizer::new(in_h, in_w, out_h, out_w).run(src, &mut buf);
    buf.into_iter().map(to_u8).collect()
}

/// Rounds a 0..=255 float to u8, clamping.
pub(crate) fn to_u8(v: f32) -> u8 {
    (v + 0.5).floor().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_image_stays_constant_and_shapes_are_right() {
        let src = vec![137u8; 64];
        let out = resize_image(&src, 8, 8, 28, 28);
        assert_eq!(out.len(), 28 * 28);
        assert!(out.iter().all(|&v| v == 137));
        let down = resize_image(&vec![9u8; 28 * 28], 28, 28, 8, 8);
        assert_eq!(down.len(), 64);
        assert!(down.iter().all(|&v| v == 9));
    }

    #[test]
    fn identity_when_sizes_match() {
        let src: Vec<u8> = (0..64).map(|v| (v * 3) as u8).collect();
        assert_eq!(resize_image(&src, 8, 8, 8, 8), src);
    }

    #[test]
    fn matches_torch_align_corners_false() {
        // F.interpolate(torch.tensor([[[[0., 100.]]]]), size=(1, 4), mode="bilinear",
        // align_corners=False) == [0, 25, 75, 100]
        let out = resize_image(&[0, 100], 1, 2, 1, 4);
        assert_eq!(out, vec![0, 25, 75, 100]);
        // Upsampling a horizontal ramp keeps it monotone.
        let src: Vec<u8> = (0..8)
            .flat_map(|_| (0..8).map(|x| (x * 30) as u8))
            .collect();
        let out = resize_image(&src, 8, 8, 28, 28);
        for row in out.chunks(28) {
            assert!(row.windows(2).all(|w| w[0] <= w[1]));
            assert_eq!(row[0], 0);
            assert_eq!(row[27], 210);
        }
    }
}
