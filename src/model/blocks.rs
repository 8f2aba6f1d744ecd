//! The blocks backbones are made of. Each block maps a feature map to a feature map and takes a
//! `train` flag that selects batch statistics (and running-statistic updates) or the stored
//! running statistics, so a frozen block can run with its BatchNorm fixed.

use tch::nn::{self, ModuleT};
use tch::Tensor;

/// One block of a backbone: the unit that `freeze: k` counts.
pub trait Block: std::fmt::Debug + Send {
    /// Forward pass; `train = false` uses (and leaves untouched) the BatchNorm running statistics.
    fn forward(&self, x: &Tensor, train: bool) -> Tensor;
}

/// BatchNorm as PyTorch initialises it: weight 1, bias 0 (tch's default draws the weight from
/// U(0, 1)).
fn batch_norm(p: nn::Path, channels: i64) -> nn::BatchNorm {
    let cfg = nn::BatchNormConfig {
        ws_init: nn::Init::Const(1.0),
        ..Default::default()
    };
    nn::batch_norm2d(p, channels, cfg)
}

fn conv3x3(p: nn::Path, c_in: i64, c_out: i64, stride: i64) -> nn::Conv2D {
    let cfg = nn::ConvConfig {
        stride,
        padding: 1,
        bias: false,
        ..Default::default()
    };
    nn::conv2d(p, c_in, c_out, 3, cfg)
}

/// conv3x3 → BatchNorm → ReLU, optionally followed by 2×2 max-pooling.
#[derive(Debug)]
pub struct ConvBlock {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
    pool: bool,
}

impl ConvBlock {
    /// A block with `c_in` → `c_out` channels under `p`.
    pub fn new(p: nn::Path, c_in: i64, c_out: i64, pool: bool) -> Self {
        ConvBlock {
            conv: conv3x3(&p / "conv", c_in, c_out, 1),
            bn: batch_norm(&p / "bn", c_out),
            pool,
        }
    }
}

impl Block for ConvBlock {
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let y = self.bn.forward_t(&x.apply(&self.conv), train).relu();
        if self.pool {
            y.max_pool2d_default(2)
        } else {
            y
        }
    }
}

/// The two-convolution residual block of He et al. 2016, with a 1×1 projection shortcut when
/// the shape changes.
#[derive(Debug)]
pub struct BasicBlock {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    conv2: nn::Conv2D,
    bn2: nn::BatchNorm,
    shortcut: Option<(nn::Conv2D, nn::BatchNorm)>,
}

impl BasicBlock {
    /// A residual block `c_in` → `c_out` with the given stride under `p`.
    pub fn new(p: nn::Path, c_in: i64, c_out: i64, stride: i64) -> Self {
        let shortcut = (stride != 1 || c_in != c_out).then(|| {
            let cfg = nn::ConvConfig {
                stride,
                bias: false,
                ..Default::default()
            };
            (
                nn::conv2d(&p / "shortcut_conv", c_in, c_out, 1, cfg),
                batch_norm(&p / "shortcut_bn", c_out),
            )
        });
        BasicBlock {
            conv1: conv3x3(&p / "conv1", c_in, c_out, stride),
            bn1: batch_norm(&p / "bn1", c_out),
            conv2: conv3x3(&p / "conv2", c_out, c_out, 1),
            bn2: batch_norm(&p / "bn2", c_out),
            shortcut,
        }
    }
}

impl Block for BasicBlock {
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let y = self.bn1.forward_t(&x.apply(&self.conv1), train).relu();
        let y = self.bn2.forward_t(&y.apply(&self.conv2), train);
        let skip = match &self.shortcut {
            Some((conv, bn)) => bn.forward_t(&x.apply(conv), train),
            None => x.shallow_clone(),
        };
        (y + skip).relu()
    }
}
