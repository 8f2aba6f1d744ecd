//! Epoch checkpoints of a running trial: every variable of the network, the optimizer state
//! and the position in the run, in one safetensors file written atomically, so a killed sweep
//! resumes where it stopped and reaches the same final metrics.

use super::evaluation::BestSoFar;
use super::optim::Optim;
use crate::model::Network;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// Where a checkpoint left the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Epochs completed (1-based count).
    pub epoch: usize,
    /// Optimizer steps taken.
    pub step: usize,
}

const EPOCH: &str = "thaw.epoch";
const STEP: &str = "thaw.step";

const BEST_EPOCH: &str = "thaw.best_epoch";
const BEST_VAL_LOSS: &str = "thaw.best_val_loss";

/// Writes the checkpoint (temporary file, then rename: a reader sees the old or the new file).
pub fn save(path: &Path, net: &Network, optim: &Optim, at: Position) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> = net
        .vs
        .variables()
        .into_iter()
        .map(|(name, t)| (format!("model.{name}"), t))
        .collect();
    tensors.extend(optim.state_tensors());
    tensors.push((EPOCH.into(), Tensor::from(at.epoch as i64)));
    tensors.push((STEP.into(), Tensor::from(at.step as i64)));
    write(path, &tensors)
}

/// The file beside the checkpoint `path` that holds the best epoch so far and its snapshot.
pub fn best_path(path: &Path) -> PathBuf {
    path.with_extension("best.safetensors")
}

/// Writes the best epoch so far (and its snapshot, when it has one) beside the checkpoint
/// `path`.
pub fn save_best(path: &Path, best: &BestSoFar) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> = (best.weights.iter().flatten())
        .map(|(name, t)| (format!("model.{name}"), t.shallow_clone()))
        .collect();
    tensors.push((BEST_EPOCH.into(), Tensor::from(best.epoch as i64)));
    tensors.push((BEST_VAL_LOSS.into(), Tensor::from(best.val_loss)));
    write(&best_path(path), &tensors)
}

/// The best epoch saved beside the checkpoint `path`, when it is there, readable and not past
/// `epoch` (the checkpoint's own).
pub fn load_best(path: &Path, epoch: usize) -> Option<BestSoFar> {
    let best = best_path(path);
    let tensors = read(&best).ok()?;
    let at = i64::try_from(tensors.get(BEST_EPOCH)?).ok()? as usize;
    let val_loss = f64::try_from(tensors.get(BEST_VAL_LOSS)?).ok()?;
    let mut weights: Vec<(String, Tensor)> = (tensors.iter())
        .filter_map(|(name, t)| Some((name.strip_prefix("model.")?.to_string(), t.shallow_clone())))
        .collect();
    weights.sort_by(|a, b| a.0.cmp(&b.0));
    (at <= epoch).then_some(BestSoFar {
        epoch: at,
        val_loss,
        weights: (!weights.is_empty()).then_some(weights),
    })
}

/// Writes `tensors` to `path` through a temporary file.
fn write(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the checkpoint folder {}", dir.display()))?;
    }
    let tmp = path.with_extension(format!("{}.partial", std::process::id()));
    Tensor::write_safetensors(tensors, &tmp)
        .with_context(|| format!("cannot write checkpoint {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot move checkpoint into place at {}", path.display()))
}

fn read(path: &Path) -> Result<HashMap<String, Tensor>> {
    Ok(Tensor::read_safetensors(path)
        .with_context(|| format!("cannot read checkpoint {}", path.display()))?
        .into_iter()
        .collect())
}

fn position(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<Position> {
    let get = |name: &str| -> Result<usize> {
        let t = tensors
            .get(name)
            .with_context(|| format!("checkpoint {} has no {name}", path.display()))?;
        Ok(i64::try_from(t)? as usize)
    };
    Ok(Position {
        epoch: get(EPOCH)?,
        step: get(STEP)?,
    })
}

/// Where the checkpoint at `path` left its run; `None` when there is no usable checkpoint.
pub fn saved_position(path: &Path) -> Option<Position> {
    read(path).and_then(|t| position(&t, path)).ok()
}

/// Restores network variables and optimizer state; returns where the run stopped.
pub fn load(path: &Path, net: &Network, optim: &mut Optim) -> Result<Position> {
    let tensors = read(path)?;
    tch::no_grad(|| -> Result<()> {
        for (name, mut var) in net.vs.variables() {
            let saved = tensors
                .get(&format!("model.{name}"))
                .with_context(|| format!("checkpoint {} lacks {name}", path.display()))?;
            var.f_copy_(saved).with_context(|| {
                format!("checkpoint {}: {name} has another shape", path.display())
            })?;
        }
        Ok(())
    })?;
    optim.load_state(&tensors)?;
    position(&tensors, path)
}
