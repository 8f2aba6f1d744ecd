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

/// Whether `device` computes in bf16 natively: a CPU with `avx512_bf16` or `amx_bf16` among its
/// flags, a CUDA GPU of compute capability 8.0 or more (Ampere and newer, from `nvidia-smi`).
/// `None` when it cannot be told (no `/proc/cpuinfo`, no `nvidia-smi`).
pub fn native_bf16(device: Device) -> Option<bool> {
    match device {
        Device::Cuda(index) => {
            let out = std::process::Command::new("nvidia-smi")
                .args(["--query-gpu=compute_cap", "--format=csv,noheader"])
                .output()
                .ok()?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let cap: f64 = text
                .lines()
                .nth(index)
                .and_then(|l| l.trim().parse().ok())?;
            Some(cap >= 8.0)
        }
        Device::Cpu => {
            let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
            Some(cpu_flags_have_bf16(&cpuinfo))
        }
        _ => None,
    }
}

/// Whether the `flags` lines of a `/proc/cpuinfo` text name a bf16 unit (AVX-512 BF16 or AMX).
pub fn cpu_flags_have_bf16(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .flat_map(|l| l.split_whitespace())
        .any(|f| f == "avx512_bf16" || f == "amx_bf16")
}

/// The warning for `trials` bf16 trials about to run on `device`, which has no native bf16;
/// `None` when it has (or cannot be told).
pub fn slow_bf16_warning(device: Device, trials: usize) -> Option<String> {
    if trials == 0 || native_bf16(device)? {
        return None;
    }
    let what = match device {
        Device::Cpu => {
            "this CPU has no bf16 unit (neither avx512_bf16 nor amx_bf16 among its flags)"
        }
        _ => "this GPU has no bf16 tensor cores (compute capability below 8.0)",
    };
    Some(format!(
        "warning: {trials} trials run in bf16 (`precision: bf16`), but {what}: bf16 is emulated \
         there and much slower than fp32 (on a 2-core AMD EPYC with AVX2 only, a cnn4 trial with 2 \
         of 4 blocks frozen took 76 s in bf16 against 5.1 s in fp32, 15x); use `precision: fp32` \
         on this machine, or run the bf16 trials where bf16 is native"
    ))
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

    #[test]
    fn bf16_units_are_read_from_the_cpu_flags() {
        let avx2 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\nmodel name\t: EPYC\n";
        let sapphire = "flags\t\t: avx2 avx512f avx512_bf16 amx_tile amx_bf16\n";
        let only_amx = "flags : sse2 amx_bf16\n";
        let in_the_name = "model name : avx512_bf16 lookalike\nflags : avx2\n";
        assert!(!cpu_flags_have_bf16(avx2));
        assert!(cpu_flags_have_bf16(sapphire));
        assert!(cpu_flags_have_bf16(only_amx));
        assert!(
            !cpu_flags_have_bf16(in_the_name),
            "only the flags line counts"
        );
        assert!(!cpu_flags_have_bf16(""));
    }
}
