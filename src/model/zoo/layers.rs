//! The parts the ImageNet-style backbones are made of: convolution + BatchNorm units,
//! squeeze-excitation, and the residual units built from them.

use tch::nn::{self, ModuleT};
use tch::Tensor;

/// The activation after a convolution + BatchNorm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    None,
    Relu,
    Relu6,
    Silu,
}

impl Act {
    fn apply(self, x: Tensor) -> Tensor {
        match self {
            Act::None => x,
            Act::Relu => x.relu(),
            Act::Relu6 => x.clamp(0.0, 6.0),
            Act::Silu => x.silu(),
        }
    }
}

/// BatchNorm settings of a family (torchvision: eps 1e-5, momentum 0.1; TF: eps 1e-3, 0.01).
#[derive(Clone, Copy, Debug)]
pub(super) struct Bn {
    eps: f64,
    momentum: f64,
}

pub(super) const TORCH_BN: Bn = Bn {
    eps: 1e-5,
    momentum: 0.1,
};
pub(super) const TF_BN: Bn = Bn {
    eps: 1e-3,
    momentum: 0.01,
};

/// Convolution (no bias) → BatchNorm → activation, with PyTorch's symmetric `(k-1)/2` padding
/// or TensorFlow's "same" padding (asymmetric for even inputs with stride 2).
#[derive(Debug)]
pub(super) struct ConvBn {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
    act: Act,
    /// `(kernel, stride)` when padding is TF "same", computed from the input size.
    tf_same: Option<(i64, i64)>,
}

/// Shape of one [`ConvBn`].
#[derive(Clone, Copy)]
pub(super) struct ConvCfg {
    pub(super) c_in: i64,
    pub(super) c_out: i64,
    pub(super) k: i64,
    pub(super) stride: i64,
    pub(super) groups: i64,
    pub(super) act: Act,
}

pub(super) fn cfg(c_in: i64, c_out: i64, k: i64, stride: i64, act: Act) -> ConvCfg {
    ConvCfg {
        c_in,
        c_out,
        k,
        stride,
        groups: 1,
        act,
    }
}

impl ConvBn {
    pub(super) fn new(
        conv_p: nn::Path,
        bn_p: nn::Path,
        c: ConvCfg,
        bn: Bn,
        tf_same: bool,
    ) -> ConvBn {
        let conv_cfg = nn::ConvConfig {
            stride: c.stride,
            padding: if tf_same { 0 } else { (c.k - 1) / 2 },
            groups: c.groups,
            bias: false,
            ..Default::default()
        };
        let bn_cfg = nn::BatchNormConfig {
            eps: bn.eps,
            momentum: bn.momentum,
            ..Default::default()
        };
        ConvBn {
            conv: nn::conv2d(conv_p, c.c_in, c.c_out, c.k, conv_cfg),
            bn: nn::batch_norm2d(bn_p, c.c_out, bn_cfg),
            act: c.act,
            tf_same: tf_same.then_some((c.k, c.stride)),
        }
    }

    pub(super) fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let y = match self.tf_same {
            Some((k, s)) => {
                let size = x.size();
                let pad = |n: i64| (((n + s - 1) / s - 1) * s + k - n).max(0);
                let (ph, pw) = (pad(size[2]), pad(size[3]));
                if ph > 0 || pw > 0 {
                    x.constant_pad_nd([pw / 2, pw - pw / 2, ph / 2, ph - ph / 2])
                        .apply(&self.conv)
                } else {
                    x.apply(&self.conv)
                }
            }
            None => x.apply(&self.conv),
        };
        self.act.apply(self.bn.forward_t(&y, train))
    }
}

/// Squeeze-excitation with 1×1 convolutions (torchvision's `SqueezeExcitation`, SiLU inside).
#[derive(Debug)]
pub(super) struct SqueezeExcite {
    fc1: nn::Conv2D,
    fc2: nn::Conv2D,
}

impl SqueezeExcite {
    pub(super) fn new(p: nn::Path, channels: i64, squeeze: i64) -> Self {
        SqueezeExcite {
            fc1: nn::conv2d(&p / "fc1", channels, squeeze, 1, Default::default()),
            fc2: nn::conv2d(&p / "fc2", squeeze, channels, 1, Default::default()),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let s = x
            .adaptive_avg_pool2d([1, 1])
            .apply(&self.fc1)
            .silu()
            .apply(&self.fc2)
            .sigmoid();
        x * s
    }
}

/// One unit inside a block (built once per network, so variant sizes do not matter).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(super) enum Unit {
    Conv(ConvBn),
    /// 3×3 max-pooling, stride 2, padding 1 (the ResNet stem).
    MaxPool,
    /// ResNet basic or bottleneck block: convs (last one without activation), optional
    /// projection shortcut, then ReLU of the sum.
    Residual {
        convs: Vec<ConvBn>,
        downsample: Option<ConvBn>,
    },
    /// Inverted residual / MBConv: expansion and depthwise convs, optional squeeze-excitation,
    /// linear projection, identity shortcut when the shape is kept (stochastic depth is the
    /// identity at inference and is not applied in training either).
    Inverted {
        convs: Vec<ConvBn>,
        se: Option<SqueezeExcite>,
        project: ConvBn,
        residual: bool,
    },
}

impl Unit {
    pub(super) fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            Unit::Conv(c) => c.forward(x, train),
            Unit::MaxPool => x.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false),
            Unit::Residual { convs, downsample } => {
                let y = convs
                    .iter()
                    .fold(x.shallow_clone(), |h, c| c.forward(&h, train));
                let skip = match downsample {
                    Some(d) => d.forward(x, train),
                    None => x.shallow_clone(),
                };
                (y + skip).relu()
            }
            Unit::Inverted {
                convs,
                se,
                project,
                residual,
            } => {
                let mut h = convs
                    .iter()
                    .fold(x.shallow_clone(), |h, c| c.forward(&h, train));
                if let Some(se) = se {
                    h = se.forward(&h);
                }
                let y = project.forward(&h, train);
                if *residual {
                    y + x
                } else {
                    y
                }
            }
        }
    }
}
