//! How many trials at once by default (`--jobs`): one on the CPU; on CUDA, as many as a GPU's
//! free memory holds at the largest trial's estimated footprint. [`super::pool`] runs them.

use crate::model::Network;
use crate::spec::{BackboneKind, TrialSpec};
use std::collections::HashMap;
use std::process::{Command, Stdio};
use tch::{Device, Kind, Tensor};

/// Trials at once per CUDA device at most: beyond four, small trials measured no faster (the
/// processes time-slice one GPU), and each worker needs a CPU core to launch its kernels.
const MAX_JOBS_PER_GPU: usize = 4;

/// Device memory a worker needs besides its trial: the CUDA context, cuBLAS/cuDNN handles and
/// workspaces, and the frozen-feature cache's budget.
const WORKER_BASE_BYTES: u64 = (1 << 30) + crate::train::features::MEMORY_BUDGET_BYTES as u64;

/// Activation memory per example as a multiple of the blocks' output sizes: the tensors inside
/// each block kept for the backward pass, and their gradients.
const ACTIVATION_FACTOR: u64 = 8;

/// The default `--jobs` and why.
#[derive(Clone, Debug, PartialEq)]
pub struct JobsChoice {
    pub jobs: usize,
    /// One line for the user, e.g. `cuda:0: 70.1 GiB free, about 2.3 GiB per trial`.
    pub reason: String,
}

/// Default number of trials at once for `trials` on `devices`: 1 on the CPU (libtorch already
/// uses every core for one trial); per CUDA device, as many workers as its free memory holds at
/// the estimated footprint of the largest trial ([`footprint_bytes`]), at most
/// [`MAX_JOBS_PER_GPU`] and at most the CPU cores per device. Free memory comes from
/// `nvidia-smi`; without it the memory bound is not checked.
pub fn default_jobs(devices: &[Device], trials: &[&TrialSpec]) -> JobsChoice {
    let cuda: Vec<usize> = devices
        .iter()
        .filter_map(|d| match d {
            Device::Cuda(i) => Some(*i),
            _ => None,
        })
        .collect();
    let cpu_devices = devices.len() - cuda.len();
    if cuda.is_empty() {
        return JobsChoice {
            jobs: cpu_devices.max(1),
            reason: "CPU: one trial at a time, on every core".to_string(),
        };
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_device_cap = MAX_JOBS_PER_GPU.min((cores / cuda.len()).max(1));
    // The footprint depends on the architecture and the input and batch sizes only: measure
    // each architecture and input once, at its largest batch.
    let mut largest_batch: HashMap<(BackboneKind, Option<usize>, usize), usize> = HashMap::new();
    for t in trials {
        let batch = largest_batch
            .entry((t.backbone, t.input_size, t.input_extent()))
            .or_default();
        *batch = (*batch).max(t.batch_size);
    }
    let need = largest_batch
        .into_iter()
        .map(|((backbone, input_size, image_size), batch)| {
            footprint_bytes(backbone, input_size, image_size, batch)
        })
        .max()
        .unwrap_or(0)
        + WORKER_BASE_BYTES;
    let free = free_device_memory();
    let mut jobs = cpu_devices;
    let mut reasons = Vec::new();
    for i in cuda {
        let n = match free.as_ref().and_then(|f| f.get(&i)) {
            Some(&bytes) => {
                reasons.push(format!(
                    "cuda:{i}: {:.1} GiB free, about {:.1} GiB per trial",
                    gib(bytes),
                    gib(need)
                ));
                workers_fitting(bytes, need, per_device_cap)
            }
            None => {
                reasons.push(format!("cuda:{i}: free memory unknown (no nvidia-smi)"));
                per_device_cap
            }
        };
        jobs += n;
    }
    reasons.push(format!("at most {per_device_cap} per GPU"));
    JobsChoice {
        jobs,
        reason: reasons.join("; "),
    }
}

/// Workers of `need` bytes each that fit in 90% of `free` bytes, between 1 and `cap`.
fn workers_fitting(free: u64, need: u64, cap: usize) -> usize {
    ((free as f64 * 0.9 / need.max(1) as f64) as usize).clamp(1, cap)
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// Estimated device memory of training `backbone` (at `input_size`, if set) on `extent`-sized
/// examples (the image side, or a text's tokens: [`TrialSpec::input_extent`]) in batches of
/// `batch`: weights with their gradients and two optimizer states, and a batch's activations
/// (block outputs measured by one forward pass on the CPU, times [`ACTIVATION_FACTOR`]).
pub fn footprint_bytes(
    backbone: BackboneKind,
    input_size: Option<usize>,
    extent: usize,
    batch: usize,
) -> u64 {
    let mut net = Network::new(backbone, Device::Cpu, None, Some(2));
    if let Some(size) = input_size {
        net.set_input_size(size);
    }
    let params: u64 = net
        .vs
        .trainable_variables()
        .iter()
        .map(|t| t.numel() as u64)
        .sum();
    let side = extent as i64;
    // An image of `extent` pixels a side, or a text of `extent` tokens (none of them padding).
    let x = if net.reads_text() {
        Tensor::ones([1, side], (Kind::Int64, Device::Cpu))
    } else {
        Tensor::zeros([1, 1, side, side], (Kind::Uint8, Device::Cpu))
    };
    let activations: u64 = net
        .block_states(&net.prepare_input(&x))
        .iter()
        .map(|t| t.numel() as u64)
        .sum();
    4 * (4 * params + ACTIVATION_FACTOR * activations * batch as u64)
}

/// Free memory in bytes of each CUDA device as libtorch numbers them (after
/// `CUDA_VISIBLE_DEVICES`), from `nvidia-smi`; `None` when it cannot be run.
fn free_device_memory() -> Option<HashMap<usize, u64>> {
    let out = Command::new("nvidia-smi")
        .args([
            "--query-gpu=index,memory.free",
            "--format=csv,noheader,nounits",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let physical = parse_free_memory(&String::from_utf8_lossy(&out.stdout));
    let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
    Some(renumber_visible(&physical, visible.as_deref()))
}

/// `index, MiB free` lines of nvidia-smi as bytes by physical index.
fn parse_free_memory(text: &str) -> HashMap<usize, u64> {
    text.lines()
        .filter_map(|line| {
            let (i, mib) = line.split_once(',')?;
            Some((
                i.trim().parse().ok()?,
                mib.trim().parse::<u64>().ok()? << 20,
            ))
        })
        .collect()
}

/// Renumbers facts about physical devices as CUDA numbers the devices under
/// `CUDA_VISIBLE_DEVICES` (a list of physical indices; UUIDs are not resolved, so those
/// devices stay unknown).
pub(crate) fn renumber_visible<T: Clone>(
    physical: &HashMap<usize, T>,
    visible: Option<&str>,
) -> HashMap<usize, T> {
    match visible {
        None => physical.clone(),
        Some(list) => list
            .split(',')
            .enumerate()
            .filter_map(|(logical, id)| {
                Some((logical, physical.get(&id.trim().parse().ok()?)?.clone()))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvidia_smi_lines_are_renumbered_as_cuda_visible_devices_says() {
        let physical = parse_free_memory("0, 1000\n1, 80000\n2, 512\nbad line\n");
        assert_eq!(physical.len(), 3);
        assert_eq!(physical[&1], 80000 << 20);
        assert_eq!(renumber_visible(&physical, None), physical);
        let visible = renumber_visible(&physical, Some("2,0"));
        assert_eq!(visible.len(), 2);
        assert_eq!(visible[&0], 512 << 20);
        assert_eq!(visible[&1], 1000 << 20);
        assert!(renumber_visible(&physical, Some("GPU-1234")).is_empty());
    }

    #[test]
    fn gpu_workers_are_bounded_by_free_memory_and_the_cap() {
        let gib = 1u64 << 30;
        assert_eq!(workers_fitting(80 * gib, 2 * gib, 4), 4);
        assert_eq!(workers_fitting(5 * gib, 2 * gib, 4), 2);
        assert_eq!(workers_fitting(gib, 3 * gib, 4), 1, "at least one");
    }

    #[test]
    fn the_cpu_runs_one_trial_at_a_time() {
        let choice = default_jobs(&[Device::Cpu], &[]);
        assert_eq!(choice.jobs, 1);
    }

    #[test]
    fn footprints_grow_with_the_backbone_and_the_batch() {
        let grid = crate::spec::parse_grid(
            std::path::Path::new("x.yaml"),
            "name: f\nsource: {dataset: mnist10k, classes: [0, 1]}\n\
             target: {dataset: mnist10k, classes: [2, 3], train_per_class: 5}\n\
             backbone: [cnn4, resnet18]\nweights: null\nschedule: {kind: constant, lr: 0.1}\n\
             epochs: 1\nbatch_size: [32, 256]\n",
            &crate::data::Files,
        )
        .unwrap();
        let f: Vec<u64> = grid
            .trials
            .iter()
            .map(|t| footprint_bytes(t.backbone, t.input_size, t.input_extent(), t.batch_size))
            .collect();
        // Order: (cnn4, 32), (cnn4, 256), (resnet18, 32), (resnet18, 256).
        assert!(f[0] < f[1] && f[2] < f[3], "{f:?}");
        assert!(f[0] < f[2] && f[1] < f[3], "{f:?}");
        // resnet18's 11.2 M parameters with gradients and two optimizer states: ~180 MB.
        assert!(f[2] > 150 << 20, "{f:?}");
    }
}
