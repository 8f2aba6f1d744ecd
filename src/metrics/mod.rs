//! The evaluation metrics, as exact functions over tensors and numbers (the tensor ones need the
//! `train` feature).
//!
//! Tensor inputs may be f32 (or any float kind) on the CPU or CUDA; everything is computed in f64,
//! on the input's device for the matrix work and on the CPU for the scalar loops, and returned as
//! `f64`. Results are deterministic on the CPU. Shape mismatches and too-small samples are caller
//! bugs and panic (each function lists its preconditions); mathematically undefined values (e.g.
//! CKA of a constant representation) come back as NaN.
//!
//! - [`calibration`]: ECE with equal-width confidence bins (Guo et al. 2017), temperature scaling.
//! - [`cka`]: linear CKA (Kornblith et al. 2019), L2 distance between parameter sets.
//! - [`domain`]: unbiased MMD² at the median bandwidth, proxy A-distance, Fréchet distance.
//! - [`confusion`]: confusion counts and per-class accuracies.
//! - [`aggregate`]: mean with a Student-t 95% interval, log-odds mean of accuracies.
//! - [`statements`]: the claims of the report with their tests and three-way verdicts.

pub mod aggregate;
#[cfg(feature = "train")]
pub mod calibration;
#[cfg(feature = "train")]
pub mod cka;
pub mod confusion;
#[cfg(feature = "train")]
pub mod domain;
pub mod names;
pub mod statements;

pub use aggregate::{logit_mean, mean_ci95, student_t_quantile, MeanCi};
#[cfg(feature = "train")]
pub use calibration::{ece, ece_after_temperature, fit_temperature, nll, ECE_BINS};
#[cfg(feature = "train")]
pub use cka::{linear_cka, weight_distance};
pub use confusion::Confusion;
#[cfg(feature = "train")]
pub use domain::{frechet_distance, mmd2_unbiased_rbf, proxy_a_distance};

#[cfg(feature = "train")]
use tch::{Device, Kind, Tensor};

/// `t` as an f64 matrix `[rows, features]` on its own device: trailing dimensions are flattened.
#[cfg(feature = "train")]
fn matrix_f64(t: &Tensor, what: &str) -> Tensor {
    assert!(
        t.dim() >= 2,
        "{what}: expected [N, D...], got shape {:?}",
        t.size()
    );
    t.detach().to_kind(Kind::Double).flatten(1, -1)
}

/// All elements of `t`, row-major, as f64 on the CPU.
#[cfg(feature = "train")]
fn to_vec_f64(t: &Tensor) -> Vec<f64> {
    let flat = t
        .detach()
        .to_device(Device::Cpu)
        .to_kind(Kind::Double)
        .contiguous()
        .view([-1]);
    Vec::<f64>::try_from(&flat).expect("f64 tensor converts to Vec<f64>")
}

/// All elements of an integer tensor, as i64 on the CPU.
#[cfg(feature = "train")]
fn to_vec_i64(t: &Tensor) -> Vec<i64> {
    let flat = t
        .detach()
        .to_device(Device::Cpu)
        .to_kind(Kind::Int64)
        .contiguous()
        .view([-1]);
    Vec::<i64>::try_from(&flat).expect("i64 tensor converts to Vec<i64>")
}

/// A 0-dimensional (or one-element) tensor as f64.
#[cfg(feature = "train")]
fn scalar(t: &Tensor) -> f64 {
    f64::try_from(t).expect("one-element tensor converts to f64")
}

#[cfg(all(test, feature = "train"))]
mod tests;
