//! Backbones as ordered lists of named blocks, with a source head (kept from pretraining, the
//! raw material of forgetting) and a target head (new for fine-tuning), and block freezing.

pub mod blocks;
mod own;
pub mod predict;
pub mod text;
pub mod tokenizer;
pub mod weights;
pub mod zoo;

pub use predict::{imagenet_labels, predict, Prediction};
pub use tokenizer::TextTokenizer;

use crate::spec::{BackboneKind, InputNorm, Modality, Pooling, TrialSpec};
use anyhow::{bail, Context, Result};
use blocks::Block;
use std::path::Path;
use tch::nn::{self, Module};
use tch::{Device, Tensor};

/// Name of the source head's variables in checkpoints.
const SOURCE_HEAD: &str = "source_head";
/// Name of the target head's variables in checkpoints.
const TARGET_HEAD: &str = "target_head";

/// Which classifier sits on the backbone's features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// The head trained with the backbone on the source task.
    Source,
    /// The new head for the target task.
    Target,
}

/// A backbone plus heads, all variables in one `VarStore`.
///
/// Optimizer parameter group `i` holds block `i`; group `n_blocks` holds the target head.
#[derive(Debug)]
pub struct Network {
    /// The variables (parameters and BatchNorm statistics) of every part.
    pub vs: nn::VarStore,
    /// The architecture.
    pub kind: BackboneKind,
    blocks: Vec<Box<dyn Block>>,
    /// Trainable parameters of each block, in block order.
    block_params: Vec<Vec<Tensor>>,
    /// Names of every variable of each block (parameters and BatchNorm statistics).
    block_vars: Vec<Vec<String>>,
    source_head: Option<nn::Linear>,
    target_head: Option<nn::Linear>,
    /// Side length `prepare_input` resizes images to (`None` = keep the data's size).
    input_size: Option<i64>,
    /// Channels the first convolution takes.
    in_channels: i64,
    /// How a text backbone's token states become features.
    pooling: Pooling,
}

/// Weights of R, G and B in the luma a 1-channel network sees of an RGB image (ITU-R BT.709,
/// as the image decoder's grayscale conversion uses).
pub const LUMA: [f32; 3] = [0.2126, 0.7152, 0.0722];

impl Network {
    /// Builds a freshly initialised network on `device` with the heads asked for (class counts),
    /// taking the backbone's default input channels (1 for thaw's own, 3 for ImageNet-style).
    /// Initialisation draws from torch's global generator: seed it first for repeatable runs.
    pub fn new(
        kind: BackboneKind,
        device: Device,
        source_classes: Option<usize>,
        target_classes: Option<usize>,
    ) -> Network {
        let channels = kind.profile().in_channels as usize;
        Network::with_channels(kind, device, source_classes, target_classes, channels)
    }

    /// [`Network::new`] whose first convolution takes `in_channels` (1 or 3) when the backbone
    /// is one of thaw's own (`cnn4`, `resnet8`); ImageNet-style backbones always take 3.
    pub fn with_channels(
        kind: BackboneKind,
        device: Device,
        source_classes: Option<usize>,
        target_classes: Option<usize>,
        in_channels: usize,
    ) -> Network {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let bb = &root / "backbone";
        let mut blocks: Vec<Box<dyn Block>> = Vec::new();
        let mut block_params = Vec::new();
        let profile = kind.profile();
        let mut before = 0;
        let on_block = |i: usize, block: Box<dyn Block>| {
            debug_assert_eq!(i, blocks.len());
            let mut vars = vs.trainable_variables();
            let n = vars.len();
            block_params.push(vars.split_off(before));
            before = n;
            blocks.push(block);
        };
        let in_channels = match profile.classifier {
            Some(_) => {
                zoo::build(kind, &bb, on_block);
                profile.in_channels
            }
            None => {
                own::build(kind, &bb, in_channels as i64, on_block);
                in_channels as i64
            }
        };
        let head_group = blocks.len();
        let head = |name: &str, classes: usize| {
            nn::linear(
                (&root / name).set_group(head_group),
                profile.feature_dim,
                classes as i64,
                Default::default(),
            )
        };
        let source_head = source_classes.map(|c| head(SOURCE_HEAD, c));
        let target_head = target_classes.map(|c| head(TARGET_HEAD, c));
        let block_vars = block_variable_names(&vs, &block_params);
        Network {
            vs,
            kind,
            blocks,
            block_params,
            source_head,
            target_head,
            input_size: profile.default_input_size.map(|s| s as i64),
            in_channels,
            block_vars,
            pooling: kind.default_pooling(),
        }
    }

    /// The network a trial trains: [`Network::with_channels`] at the trial's `input_size` (if
    /// set); `in_channels` are those of the data it is first trained on (the source's when it
    /// is pretrained there).
    pub fn for_trial(
        spec: &TrialSpec,
        device: Device,
        source_classes: Option<usize>,
        target_classes: Option<usize>,
        in_channels: usize,
    ) -> Network {
        let mut net = Network::with_channels(
            spec.backbone,
            device,
            source_classes,
            target_classes,
            in_channels,
        );
        if let Some(s) = spec.input_size {
            net.set_input_size(s);
        }
        if let Some(p) = spec.pooling {
            net.pooling = p;
        }
        net
    }

    /// Makes `prepare_input` resize images to `size × size` (ImageNet-style backbones only;
    /// thaw's own small backbones take the data's size as it is).
    pub fn set_input_size(&mut self, size: usize) {
        if self.kind.profile().default_input_size.is_some() {
            self.input_size = Some(size as i64);
        }
    }

    /// The side length images are resized to, if any.
    pub fn input_size(&self) -> Option<usize> {
        self.input_size.map(|s| s as usize)
    }

    /// The channels the first convolution takes.
    pub fn in_channels(&self) -> usize {
        self.in_channels as usize
    }

    /// Turns a u8 image batch `[N, C, H, W]` (C = 1 or 3) into the network's input on the same
    /// device: resized (bilinear, on the device) to the input size, grayscale repeated to 3
    /// channels for a 3-channel network and RGB turned to luma ([`LUMA`]) for a 1-channel one,
    /// normalised as the backbone's weights expect.
    ///
    /// A text backbone takes token ids as they are.
    pub fn prepare_input(&self, images: &Tensor) -> Tensor {
        let profile = self.kind.profile();
        if self.reads_text() {
            return images.shallow_clone();
        }
        let mut x = images.to_kind(tch::Kind::Float);
        let size = x.size();
        if size[1] == 3 && self.in_channels == 1 {
            let w = Tensor::from_slice(&LUMA)
                .to_device(x.device())
                .view([1, 3, 1, 1]);
            x = (x * w).sum_dim_intlist(1, true, tch::Kind::Float);
        }
        if let InputNorm::Symmetric = profile.norm {
            return x / 127.5 - 1.0;
        }
        if let Some(s) = self.input_size {
            if size[2] != s || size[3] != s {
                x = x.upsample_bilinear2d([s, s], false, None, None);
            }
        }
        if size[1] == 1 && self.in_channels != 1 {
            x = x.expand([size[0], self.in_channels, -1, -1], false);
        }
        match profile.norm {
            InputNorm::Symmetric => unreachable!(),
            InputNorm::Lite => (x - 127.0) / 128.0,
            InputNorm::ImageNet { mean, std } => {
                let opts = (tch::Kind::Float, x.device());
                let m = Tensor::from_slice(&mean).to_kind(opts.0).to_device(opts.1);
                let sd = Tensor::from_slice(&std).to_kind(opts.0).to_device(opts.1);
                let scale = (sd * 255.0).reciprocal().view([1, 3, 1, 1]);
                (x * &scale) - (m.view([1, 3, 1, 1]) * scale * 255.0)
            }
        }
    }

    /// Whether the backbone reads token ids rather than images.
    pub fn reads_text(&self) -> bool {
        self.kind.profile().modality == Modality::Text
    }

    /// How a text backbone pools its token states.
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// Number of backbone blocks.
    pub fn n_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// Pooled backbone features. Blocks before `trainable_from` run without gradient and with
    /// fixed BatchNorm statistics; the others run in training mode when `train` is set.
    pub fn features(&self, x: &Tensor, trainable_from: usize, train: bool) -> Tensor {
        self.features_from(x, 0, trainable_from, train)
    }

    /// [`Network::features`] for `h`, the output of the first `start` blocks (see
    /// [`Network::prefix`]).
    pub fn features_from(
        &self,
        h: &Tensor,
        start: usize,
        trainable_from: usize,
        train: bool,
    ) -> Tensor {
        self.pool(&self.last_block_output(h, start, trainable_from, train))
    }

    /// The last block's output for `h`, the output of the first `start` blocks (text: the token
    /// states `[N, L, H + 1]` of a batch cut to its longest example, before pooling). Blocks
    /// before `trainable_from` run without gradient as in [`Network::features_from`].
    pub fn last_block_output(
        &self,
        h: &Tensor,
        start: usize,
        trainable_from: usize,
        train: bool,
    ) -> Tensor {
        let split = trainable_from.clamp(start, self.blocks.len());
        let h = if self.reads_text() {
            text::trim(h)
        } else {
            h.shallow_clone()
        };
        let mut h = tch::no_grad(|| {
            self.blocks[start..split]
                .iter()
                .fold(h, |h, b| b.forward(&h, false))
        });
        for b in &self.blocks[split..] {
            h = b.forward(&h, train);
        }
        h
    }

    /// One feature vector per example from a block's output.
    fn pool(&self, h: &Tensor) -> Tensor {
        if self.reads_text() {
            text::pool(h, self.pooling)
        } else {
            h.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
        }
    }

    /// The output of the first `k` blocks for `x`, in inference mode without gradient: what a
    /// frozen prefix computes, the same in every epoch. Text keeps the batch's length: the
    /// blocks run on the tokens, and the padding is added back (mask 0) so that outputs of
    /// batches of one set can be joined.
    pub fn prefix(&self, x: &Tensor, k: usize) -> Tensor {
        let run = |x: Tensor| {
            tch::no_grad(|| self.blocks[..k].iter().fold(x, |h, b| b.forward(&h, false)))
        };
        if !self.reads_text() || k == 0 {
            return run(x.shallow_clone());
        }
        let h = run(text::trim(x));
        let missing = x.size()[1] - h.size()[1];
        if missing == 0 {
            h
        } else {
            h.constant_pad_nd([0, 0, 0, missing])
        }
    }

    /// Every variable of the first `k` blocks (parameters and BatchNorm statistics), by name:
    /// with the architecture and input size, what [`Network::prefix`] depends on.
    pub fn prefix_variables(&self, k: usize) -> Vec<(String, Tensor)> {
        let vars = self.vs.variables();
        self.block_vars[..k]
            .iter()
            .flatten()
            .map(|name| (name.clone(), vars[name].shallow_clone()))
            .collect()
    }

    /// The output of every block for `x`, all in inference mode, without gradient (text cut to
    /// its longest example: token states `[N, L, H + 1]`).
    pub fn block_states(&self, x: &Tensor) -> Vec<Tensor> {
        tch::no_grad(|| {
            let mut h = if self.reads_text() {
                text::trim(x)
            } else {
                x.shallow_clone()
            };
            self.blocks
                .iter()
                .map(|b| {
                    h = b.forward(&h, false);
                    h.shallow_clone()
                })
                .collect()
        })
    }

    /// [`Network::block_states`] as representations of the examples (for representation
    /// drift): a text backbone's token states mean-pooled per example (padding left out).
    pub fn block_outputs(&self, x: &Tensor) -> Vec<Tensor> {
        let states = self.block_states(x);
        if !self.reads_text() {
            return states;
        }
        tch::no_grad(|| {
            states
                .iter()
                .map(|h| text::pool(h, Pooling::Mean))
                .collect()
        })
    }

    /// Logits of `head`. Panics if the network was built without that head (a caller bug).
    pub fn logits(&self, features: &Tensor, head: Head) -> Tensor {
        let h = match head {
            Head::Source => &self.source_head,
            Head::Target => &self.target_head,
        };
        h.as_ref()
            .unwrap_or_else(|| panic!("network built without a {head:?} head"))
            .forward(features)
    }

    /// Whether the network carries a source head (pretrained networks do).
    pub fn has_source_head(&self) -> bool {
        self.source_head.is_some()
    }

    /// Makes blocks `trainable_from..` and the target head trainable, everything else frozen
    /// (no gradient). The source head is never trained during fine-tuning.
    pub fn set_trainable_from(&self, trainable_from: usize) {
        for (i, params) in self.block_params.iter().enumerate() {
            for p in params {
                let _ = p.set_requires_grad(i >= trainable_from);
            }
        }
        if let Some(h) = &self.source_head {
            let _ = h.ws.set_requires_grad(false);
            if let Some(b) = &h.bs {
                let _ = b.set_requires_grad(false);
            }
        }
    }

    /// Makes the source head trainable (pretraining trains backbone and source head).
    pub fn set_source_head_trainable(&self) {
        if let Some(h) = &self.source_head {
            let _ = h.ws.set_requires_grad(true);
            if let Some(b) = &h.bs {
                let _ = b.set_requires_grad(true);
            }
        }
    }

    /// Every variable but the source head's, by name: the network that classifies the target
    /// task (what an exported model holds).
    pub fn target_variables(&self) -> Vec<(String, Tensor)> {
        let prefix = format!("{SOURCE_HEAD}.");
        let mut vars: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .filter(|(name, _)| !name.starts_with(&prefix))
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        vars
    }

    /// Saves every variable to a safetensors file, atomically (write then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the folder {}", dir.display()))?;
        }
        // The extension tells VarStore::save to write safetensors.
        let tmp = path.with_extension(format!("{}.partial.safetensors", std::process::id()));
        self.vs
            .save(&tmp)
            .with_context(|| format!("cannot write checkpoint {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot move checkpoint into place at {}", path.display()))
    }

    /// Loads a pretrained checkpoint (backbone and source head). Only the target head may be
    /// absent from the file; any other missing or misshapen tensor is an error naming it.
    pub fn load_pretrained(&mut self, path: &Path) -> Result<()> {
        let missing = self.vs.load_partial(path).with_context(|| {
            format!(
                "cannot load checkpoint {} (corrupt or from another architecture); delete it and rerun to pretrain again",
                path.display()
            )
        })?;
        let missing: Vec<_> = missing
            .into_iter()
            .filter(|n| !n.starts_with(TARGET_HEAD))
            .collect();
        if !missing.is_empty() {
            bail!(
                "checkpoint {} lacks {}; delete it and rerun to pretrain again",
                path.display(),
                missing.join(", ")
            );
        }
        Ok(())
    }

    /// Optimizer parameter groups: one per block, then the parameters of `head`.
    pub fn param_groups(&self, head: Head) -> Vec<Vec<Tensor>> {
        let h = match head {
            Head::Source => &self.source_head,
            Head::Target => &self.target_head,
        };
        let head_params = h
            .iter()
            .flat_map(|l| std::iter::once(&l.ws).chain(l.bs.as_ref()))
            .map(Tensor::shallow_clone)
            .collect();
        self.block_params
            .iter()
            .map(|b| b.iter().map(Tensor::shallow_clone).collect())
            .chain(std::iter::once(head_params))
            .collect()
    }

    /// Parameters that train when the blocks from `trainable_from` on train, with `head`.
    pub fn trainable_parameters(&self, trainable_from: usize, head: Head) -> usize {
        let groups = self.param_groups(head);
        let head_group = groups.len() - 1;
        (groups.iter().enumerate())
            .filter(|(i, _)| *i >= trainable_from || *i == head_group)
            .flat_map(|(_, g)| g)
            .map(Tensor::numel)
            .sum()
    }

    /// Names of every variable of block `i`, BatchNorm statistics included.
    pub fn block_variables(&self, i: usize) -> &[String] {
        &self.block_vars[i]
    }

    /// Trainable parameters of block `i` (for tests and drift measurements).
    pub fn block_params(&self, i: usize) -> &[Tensor] {
        &self.block_params[i]
    }
}

/// Names of each block's variables: a BatchNorm statistic belongs to the block whose
/// parameters share its module path (`x.running_mean` goes with `x.weight`).
fn block_variable_names(vs: &nn::VarStore, block_params: &[Vec<Tensor>]) -> Vec<Vec<String>> {
    let vars = vs.variables();
    let module_of = |name: &str| {
        name.rsplit_once('.')
            .map_or(String::new(), |(m, _)| m.to_string())
    };
    let mut owner = std::collections::HashMap::new();
    for (i, params) in block_params.iter().enumerate() {
        for p in params {
            if let Some((name, _)) = vars.iter().find(|(_, t)| t.data_ptr() == p.data_ptr()) {
                owner.insert(module_of(name), i);
            }
        }
    }
    let mut out = vec![Vec::new(); block_params.len()];
    for name in vars.keys() {
        if let Some(&i) = owner.get(&module_of(name)) {
            out[i].push(name.clone());
        }
    }
    for names in &mut out {
        names.sort();
    }
    out
}
