//! Loading framework checkpoints (a torchvision `state_dict`, or the EfficientNet-Lite0
//! checkpoint, saved as safetensors) into an ImageNet-style [`Network`].
//!
//! Checkpoint tensor `X` is thaw variable `backbone.X`; the checkpoint's classifier
//! (`fc.*`, `classifier.1.*`, `_fc.*`) becomes the source head when the network has one (as
//! in `thaw predict`), and is left out otherwise (fine-tuning puts a new target head there).
//! Every other variable must be in the file with its exact shape, and the file must hold
//! nothing else (`num_batches_tracked` counters and BERT's `embeddings.position_ids` buffer
//! aside): both are errors naming the tensors. For BERT checkpoints the "classifier" is the
//! pooler (`pooler.*`), which mean pooling does not use: it may be in the file or not.

use super::{Network, SOURCE_HEAD, TARGET_HEAD};
use crate::paths::{LITE0_IMAGENET_FILE, MINILM_DIR};
use crate::spec::{BackboneKind, Modality};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::Path;
use tch::Tensor;

/// Reads a safetensors file into a name → tensor map, with a hint when it is absent.
pub fn read_checkpoint(path: &Path) -> Result<BTreeMap<String, Tensor>> {
    if !path.exists() {
        let named = |p: Option<&Path>, n: &str| p.and_then(|p| p.file_name()) == Some(n.as_ref());
        let shipped = named(Some(path), LITE0_IMAGENET_FILE) || named(path.parent(), MINILM_DIR);
        let hint = if shipped {
            "; run `make weights` to fetch and convert it"
        } else {
            ""
        };
        bail!("weights file {} does not exist{hint}", path.display());
    }
    let tensors = Tensor::read_safetensors(path)
        .with_context(|| format!("cannot read weights file {} as safetensors", path.display()))?;
    Ok(tensors.into_iter().collect())
}

/// Class count of the checkpoint's classifier, if it has one (`None` when `kind` has no
/// checkpoint format, is a text encoder (whose pooler classifies nothing) or the file has no
/// classifier weight).
pub fn classifier_classes(kind: BackboneKind, path: &Path) -> Result<Option<usize>> {
    let profile = kind.profile();
    let Some(prefix) = profile
        .classifier
        .filter(|_| profile.modality == Modality::Image)
    else {
        return Ok(None);
    };
    let file = read_checkpoint(path)?;
    Ok(file
        .get(&format!("{prefix}.weight"))
        .map(|w| w.size()[0] as usize))
}

impl Network {
    /// Loads a framework checkpoint (see the module docs). The target head, if any, keeps its
    /// fresh initialisation.
    pub fn load_weights(&mut self, path: &Path) -> Result<()> {
        self.load_checkpoint(path, true)
    }

    /// Loads a framework checkpoint's backbone only: both heads keep their fresh
    /// initialisation (source pretraining from weights trains a new source head).
    pub fn load_backbone_weights(&mut self, path: &Path) -> Result<()> {
        self.load_checkpoint(path, false)
    }

    /// Loads `path`, its classifier into the source head when `source_head` is set.
    fn load_checkpoint(&mut self, path: &Path, source_head: bool) -> Result<()> {
        let kind = self.kind;
        let Some(classifier) = kind.profile().classifier else {
            bail!("backbone {kind} has no checkpoint format; it is pretrained by thaw on a source task");
        };
        let mut file = read_checkpoint(path)?;
        let mut missing = Vec::new();
        let mut misshapen = Vec::new();
        let mut to_copy = Vec::new();
        let mut vars: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, var) in vars {
            let file_name = if let Some(rest) = name.strip_prefix("backbone.") {
                rest.to_string()
            } else if let Some(rest) = name.strip_prefix(&format!("{SOURCE_HEAD}.")) {
                if !source_head {
                    continue;
                }
                format!("{classifier}.{rest}")
            } else if name.starts_with(TARGET_HEAD) {
                continue;
            } else {
                bail!("internal: variable {name} has no checkpoint name");
            };
            match file.remove(&file_name) {
                None => missing.push(file_name),
                Some(t) if t.size() != var.size() => misshapen.push(format!(
                    "{file_name} (file {:?}, {kind} needs {:?})",
                    t.size(),
                    var.size()
                )),
                Some(t) => to_copy.push((var, t)),
            }
        }
        if !missing.is_empty() {
            bail!(
                "weights file {} lacks {} tensor(s) {kind} needs: {}; is it a {kind} state_dict?",
                path.display(),
                missing.len(),
                list(&missing)
            );
        }
        if !misshapen.is_empty() {
            bail!(
                "weights file {} has tensors of the wrong shape for {kind}: {}",
                path.display(),
                list(&misshapen)
            );
        }
        let unexpected: Vec<String> = file
            .into_keys()
            .filter(|n| !n.ends_with("num_batches_tracked") && n != "embeddings.position_ids")
            .filter(|n| !n.starts_with(&format!("{classifier}.")))
            .collect();
        if !unexpected.is_empty() {
            bail!(
                "weights file {} holds tensor(s) {kind} does not have: {}; is it a {kind} state_dict?",
                path.display(),
                list(&unexpected)
            );
        }
        tch::no_grad(|| {
            for (mut var, t) in to_copy {
                var.copy_(&t.to_kind(var.kind()).to_device(var.device()));
            }
        });
        Ok(())
    }
}

/// The first few names of a list, then how many more.
fn list(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut s = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}
