//! Mixed precision: `precision: bf16` runs forward passes under libtorch's autocast in
//! bfloat16 (the switch is `csrc/autocast.cpp`, since tch only offers CUDA fp16 autocast).
//! Parameters, gradients and optimizer state stay float32, so no loss scaling is needed.

use crate::spec::Precision;
use std::os::raw::c_int;
use tch::Device;

extern "C" {
    fn thaw_autocast_enter(cuda: c_int) -> c_int;
    fn thaw_autocast_exit(cuda: c_int, was: c_int);
}

/// Runs `f` under bf16 autocast for `device` when `precision` is bf16, plainly otherwise.
pub fn autocast<T>(precision: Precision, device: Device, f: impl FnOnce() -> T) -> T {
    match precision {
        Precision::Fp32 => f(),
        Precision::Bf16 => {
            let _on = Autocast::enter(device);
            f()
        }
    }
}

/// Autocast switched on for one device type until dropped (also when `f` panics).
struct Autocast {
    cuda: c_int,
    was: c_int,
}

impl Autocast {
    fn enter(device: Device) -> Autocast {
        let cuda = c_int::from(device.is_cuda());
        // SAFETY: plain C functions over libtorch's thread-local autocast state.
        let was = unsafe { thaw_autocast_enter(cuda) };
        assert!(
            was >= 0,
            "libtorch could not turn on bf16 autocast for {device:?}"
        );
        Autocast { cuda, was }
    }
}

impl Drop for Autocast {
    fn drop(&mut self) {
        // SAFETY: as above; restores the state `enter` found.
        unsafe { thaw_autocast_exit(self.cuda, self.was) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    #[test]
    fn bf16_autocast_computes_matmul_in_bf16_and_switches_back_off() {
        let a = Tensor::ones([4, 8], (Kind::Float, Device::Cpu));
        let b = Tensor::ones([8, 3], (Kind::Float, Device::Cpu));
        let inside = autocast(Precision::Bf16, Device::Cpu, || a.matmul(&b));
        assert_eq!(inside.kind(), Kind::BFloat16);
        assert_eq!(f64::try_from(inside.sum(Kind::Float)).unwrap(), 96.0);
        // Nested use restores the outer state, and the outermost exit turns it off.
        let (inner, after_inner) = autocast(Precision::Bf16, Device::Cpu, || {
            let inner = autocast(Precision::Bf16, Device::Cpu, || a.matmul(&b));
            (inner, a.matmul(&b))
        });
        assert_eq!(inner.kind(), Kind::BFloat16);
        assert_eq!(after_inner.kind(), Kind::BFloat16);
        assert_eq!(a.matmul(&b).kind(), Kind::Float);
        let fp32 = autocast(Precision::Fp32, Device::Cpu, || a.matmul(&b));
        assert_eq!(fp32.kind(), Kind::Float);
    }
}
