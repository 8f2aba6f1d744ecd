//! Representation drift: linear CKA (Kornblith et al. 2019) and parameter distance.

use super::{matrix_f64, scalar};
use tch::{Kind, Tensor};

/// Linear CKA between representations `x` `[N, D1]` and `y` `[N, D2]` of the same N examples:
/// ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) on column-centred X, Y, in f64.
///
/// Trailing dimensions are flattened (`[N, C, H, W]` is read as `[N, C·H·W]`). The value lies in
/// [0, 1], is 1 for identical inputs and invariant to orthogonal transforms and isotropic scaling
/// of either input. It is NaN when a centred input is all zeros (a constant representation). When
/// N is small next to D1 and D2 the same value is computed from the N×N Gram matrices, using
/// ‖YᵀX‖²_F = ⟨XXᵀ, YYᵀ⟩_F and ‖XᵀX‖_F = ‖XXᵀ‖_F.
///
/// # Panics
/// If either input has fewer than 2 dimensions or the row counts differ.
pub fn linear_cka(x: &Tensor, y: &Tensor) -> f64 {
    let (x, y) = (matrix_f64(x, "linear_cka"), matrix_f64(y, "linear_cka"));
    let (n, d1, d2) = (x.size()[0], x.size()[1], y.size()[1]);
    assert_eq!(
        n,
        y.size()[0],
        "linear_cka: {n} rows vs {} rows",
        y.size()[0]
    );
    let gram = n * n * (d1 + d2) < n * (d1 * d2 + d1 * d1 + d2 * d2);
    cka_centred(&centre(&x), &centre(&y), gram)
}

/// Linear CKA of already column-centred f64 matrices, through the Gram (N×N) or the feature
/// (D×D) form.
pub(super) fn cka_centred(x: &Tensor, y: &Tensor, gram: bool) -> f64 {
    let sq = |t: &Tensor| scalar(&t.square().sum(Kind::Double));
    let (cross, xx, yy) = if gram {
        let (k, l) = (x.mm(&x.tr()), y.mm(&y.tr()));
        (scalar(&(&k * &l).sum(Kind::Double)), sq(&k), sq(&l))
    } else {
        (sq(&y.tr().mm(x)), sq(&x.tr().mm(x)), sq(&y.tr().mm(y)))
    };
    cross / (xx.sqrt() * yy.sqrt())
}

/// `x` minus its column means.
pub(super) fn centre(x: &Tensor) -> Tensor {
    x - x.mean_dim(0, true, Kind::Double)
}

/// L2 distance between two parameter lists, as if each were flattened and concatenated:
/// sqrt(Σ_i ‖a_i − b_i‖²), in f64. `b` may live on another device than `a`.
///
/// # Panics
/// If the lists differ in length or a pair of tensors differs in shape.
pub fn weight_distance(a: &[Tensor], b: &[Tensor]) -> f64 {
    assert_eq!(
        a.len(),
        b.len(),
        "weight_distance: {} vs {} tensors",
        a.len(),
        b.len()
    );
    a.iter()
        .zip(b)
        .map(|(a, b)| {
            assert_eq!(a.size(), b.size(), "weight_distance: shape mismatch");
            let a = a.detach().to_kind(Kind::Double);
            let b = b.detach().to_device(a.device()).to_kind(Kind::Double);
            scalar(&(a - b).square().sum(Kind::Double))
        })
        .sum::<f64>()
        .sqrt()
}
