//! ImageNet-style backbones (torchvision ResNet-18/34/50, MobileNetV2, EfficientNet-B0, and
//! EfficientNet-Lite0), built as ordered blocks whose variables carry the checkpoint's own
//! tensor names under `backbone.` (`backbone.layer1.0.conv1.weight` holds `layer1.0.conv1.weight`),
//! so loading a `state_dict` is a rename of one prefix.

use super::blocks::Block;
use crate::spec::BackboneKind;
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
struct Bn {
    eps: f64,
    momentum: f64,
}

const TORCH_BN: Bn = Bn {
    eps: 1e-5,
    momentum: 0.1,
};
const TF_BN: Bn = Bn {
    eps: 1e-3,
    momentum: 0.01,
};

/// Convolution (no bias) → BatchNorm → activation, with PyTorch's symmetric `(k-1)/2` padding
/// or TensorFlow's "same" padding (asymmetric for even inputs with stride 2).
#[derive(Debug)]
struct ConvBn {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
    act: Act,
    /// `(kernel, stride)` when padding is TF "same", computed from the input size.
    tf_same: Option<(i64, i64)>,
}

/// Shape of one [`ConvBn`].
#[derive(Clone, Copy)]
struct ConvCfg {
    c_in: i64,
    c_out: i64,
    k: i64,
    stride: i64,
    groups: i64,
    act: Act,
}

fn cfg(c_in: i64, c_out: i64, k: i64, stride: i64, act: Act) -> ConvCfg {
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
    fn new(conv_p: nn::Path, bn_p: nn::Path, c: ConvCfg, bn: Bn, tf_same: bool) -> ConvBn {
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

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
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
struct SqueezeExcite {
    fc1: nn::Conv2D,
    fc2: nn::Conv2D,
}

impl SqueezeExcite {
    fn new(p: nn::Path, channels: i64, squeeze: i64) -> Self {
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
enum Unit {
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
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
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

/// A block made of units applied in order.
#[derive(Debug)]
pub struct Stage {
    units: Vec<Unit>,
}

impl Block for Stage {
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        self.units
            .iter()
            .fold(x.shallow_clone(), |h, u| u.forward(&h, train))
    }
}

/// Builds the blocks of an ImageNet-style backbone under `bb` (the `backbone` path), block `i`
/// in optimizer group `i`. `on_block(i, block)` is called as soon as block `i` and all its
/// variables exist (the caller records which trainable variables each block added).
pub fn build(kind: BackboneKind, bb: &nn::Path, mut on_block: impl FnMut(usize, Box<dyn Block>)) {
    match kind {
        BackboneKind::Resnet18 => resnet(bb, &[2, 2, 2, 2], false, &mut on_block),
        BackboneKind::Resnet34 => resnet(bb, &[3, 4, 6, 3], false, &mut on_block),
        BackboneKind::Resnet50 => resnet(bb, &[3, 4, 6, 3], true, &mut on_block),
        BackboneKind::MobilenetV2 => mobilenet_v2(bb, &mut on_block),
        BackboneKind::EfficientnetB0 => efficientnet_b0(bb, &mut on_block),
        BackboneKind::EfficientnetLite0 => efficientnet_lite0(bb, &mut on_block),
        BackboneKind::Cnn4 | BackboneKind::Resnet8 => {
            unreachable!("{kind} is built by Network::new")
        }
    }
}

/// `p / "a" / "b" / "c"` for a dotted module path `a.b.c`.
fn at<'a>(p: &nn::Path<'a>, dotted: &str) -> nn::Path<'a> {
    let mut parts = dotted.split('.');
    let first = p.sub(parts.next().unwrap_or_default());
    parts.fold(first, |q, part| q.sub(part))
}

fn resnet(
    bb: &nn::Path,
    layers: &[usize],
    bottleneck: bool,
    on_block: &mut dyn FnMut(usize, Box<dyn Block>),
) {
    let b = TORCH_BN;
    let g = bb.set_group(0);
    let stem = Stage {
        units: vec![
            Unit::Conv(ConvBn::new(
                at(&g, "conv1"),
                at(&g, "bn1"),
                cfg(3, 64, 7, 2, Act::Relu),
                b,
                false,
            )),
            Unit::MaxPool,
        ],
    };
    on_block(0, Box::new(stem));
    let expansion = if bottleneck { 4 } else { 1 };
    let mut c_in = 64;
    for (li, &n) in layers.iter().enumerate() {
        let g = bb.set_group(li + 1);
        let planes = 64 << li;
        let mut units = Vec::new();
        for bi in 0..n {
            let stride = if bi == 0 && li > 0 { 2 } else { 1 };
            let pre = format!("layer{}.{bi}", li + 1);
            let c_out = planes * expansion;
            let conv = |name: &str, bn: &str, c: ConvCfg| {
                ConvBn::new(
                    at(&g, &format!("{pre}.{name}")),
                    at(&g, &format!("{pre}.{bn}")),
                    c,
                    b,
                    false,
                )
            };
            let convs = if bottleneck {
                vec![
                    conv("conv1", "bn1", cfg(c_in, planes, 1, 1, Act::Relu)),
                    conv("conv2", "bn2", cfg(planes, planes, 3, stride, Act::Relu)),
                    conv("conv3", "bn3", cfg(planes, c_out, 1, 1, Act::None)),
                ]
            } else {
                vec![
                    conv("conv1", "bn1", cfg(c_in, planes, 3, stride, Act::Relu)),
                    conv("conv2", "bn2", cfg(planes, planes, 3, 1, Act::None)),
                ]
            };
            let downsample = (stride != 1 || c_in != c_out).then(|| {
                conv(
                    "downsample.0",
                    "downsample.1",
                    cfg(c_in, c_out, 1, stride, Act::None),
                )
            });
            units.push(Unit::Residual { convs, downsample });
            c_in = c_out;
        }
        on_block(li + 1, Box::new(Stage { units }));
    }
}

/// Stage settings shared by MobileNetV2-like nets: (expand ratio, kernel, stride of the first
/// unit, output channels, units).
type StageCfg = (i64, i64, i64, i64, usize);

const MBV2_STAGES: [StageCfg; 7] = [
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 3, 2, 32, 3),
    (6, 3, 2, 64, 4),
    (6, 3, 1, 96, 3),
    (6, 3, 2, 160, 3),
    (6, 3, 1, 320, 1),
];

const EFFICIENTNET_B0_STAGES: [StageCfg; 7] = [
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
];

fn mobilenet_v2(bb: &nn::Path, on_block: &mut dyn FnMut(usize, Box<dyn Block>)) {
    let b = TORCH_BN;
    let g = bb.set_group(0);
    let stem = ConvBn::new(
        at(&g, "features.0.0"),
        at(&g, "features.0.1"),
        cfg(3, 32, 3, 2, Act::Relu6),
        b,
        false,
    );
    conv_stage(on_block, 0, stem);
    let mut c_in = 32;
    let mut feature = 1;
    for (si, &(t, k, s, c, n)) in MBV2_STAGES.iter().enumerate() {
        let g = bb.set_group(si + 1);
        let mut units = Vec::new();
        for ui in 0..n {
            let stride = if ui == 0 { s } else { 1 };
            let hidden = c_in * t;
            let pre = format!("features.{feature}.conv");
            let mut convs = Vec::new();
            let mut i = 0;
            let mut conv_bn = |c: ConvCfg| {
                let cb = ConvBn::new(
                    at(&g, &format!("{pre}.{i}.0")),
                    at(&g, &format!("{pre}.{i}.1")),
                    c,
                    b,
                    false,
                );
                i += 1;
                cb
            };
            if t != 1 {
                convs.push(conv_bn(cfg(c_in, hidden, 1, 1, Act::Relu6)));
            }
            convs.push(conv_bn(ConvCfg {
                groups: hidden,
                ..cfg(hidden, hidden, k, stride, Act::Relu6)
            }));
            let project = ConvBn::new(
                at(&g, &format!("{pre}.{i}")),
                at(&g, &format!("{pre}.{}", i + 1)),
                cfg(hidden, c, 1, 1, Act::None),
                b,
                false,
            );
            units.push(Unit::Inverted {
                convs,
                se: None,
                project,
                residual: stride == 1 && c_in == c,
            });
            c_in = c;
            feature += 1;
        }
        on_block(si + 1, Box::new(Stage { units }));
    }
    let g = bb.set_group(8);
    let top = ConvBn::new(
        at(&g, "features.18.0"),
        at(&g, "features.18.1"),
        cfg(320, 1280, 1, 1, Act::Relu6),
        b,
        false,
    );
    conv_stage(on_block, 8, top);
}

/// Reports a block made of one conv-BN unit (a stem or a top convolution).
fn conv_stage(on_block: &mut dyn FnMut(usize, Box<dyn Block>), index: usize, conv: ConvBn) {
    on_block(
        index,
        Box::new(Stage {
            units: vec![Unit::Conv(conv)],
        }),
    );
}

fn efficientnet_b0(bb: &nn::Path, on_block: &mut dyn FnMut(usize, Box<dyn Block>)) {
    let b = TORCH_BN;
    let g = bb.set_group(0);
    let stem = ConvBn::new(
        at(&g, "features.0.0"),
        at(&g, "features.0.1"),
        cfg(3, 32, 3, 2, Act::Silu),
        b,
        false,
    );
    conv_stage(on_block, 0, stem);
    let mut c_in = 32;
    for (si, &(t, k, s, c, n)) in EFFICIENTNET_B0_STAGES.iter().enumerate() {
        let g = bb.set_group(si + 1);
        let mut units = Vec::new();
        for ui in 0..n {
            let stride = if ui == 0 { s } else { 1 };
            let hidden = c_in * t;
            let pre = format!("features.{}.{ui}.block", si + 1);
            let mut i = 0;
            let mut convs = Vec::new();
            let mut conv_bn = |c: ConvCfg| {
                let cb = ConvBn::new(
                    at(&g, &format!("{pre}.{i}.0")),
                    at(&g, &format!("{pre}.{i}.1")),
                    c,
                    b,
                    false,
                );
                i += 1;
                cb
            };
            if t != 1 {
                convs.push(conv_bn(cfg(c_in, hidden, 1, 1, Act::Silu)));
            }
            convs.push(conv_bn(ConvCfg {
                groups: hidden,
                ..cfg(hidden, hidden, k, stride, Act::Silu)
            }));
            let se = SqueezeExcite::new(at(&g, &format!("{pre}.{i}")), hidden, (c_in / 4).max(1));
            let project = ConvBn::new(
                at(&g, &format!("{pre}.{}.0", i + 1)),
                at(&g, &format!("{pre}.{}.1", i + 1)),
                cfg(hidden, c, 1, 1, Act::None),
                b,
                false,
            );
            units.push(Unit::Inverted {
                convs,
                se: Some(se),
                project,
                residual: stride == 1 && c_in == c,
            });
            c_in = c;
        }
        on_block(si + 1, Box::new(Stage { units }));
    }
    let g = bb.set_group(8);
    let top = ConvBn::new(
        at(&g, "features.8.0"),
        at(&g, "features.8.1"),
        cfg(320, 1280, 1, 1, Act::Silu),
        b,
        false,
    );
    conv_stage(on_block, 8, top);
}

fn efficientnet_lite0(bb: &nn::Path, on_block: &mut dyn FnMut(usize, Box<dyn Block>)) {
    let b = TF_BN;
    let g = bb.set_group(0);
    let stem = ConvBn::new(
        at(&g, "_conv_stem"),
        at(&g, "_bn0"),
        cfg(3, 32, 3, 2, Act::Relu6),
        b,
        true,
    );
    conv_stage(on_block, 0, stem);
    let mut c_in = 32;
    let mut index = 0;
    for (si, &(t, k, s, c, n)) in EFFICIENTNET_B0_STAGES.iter().enumerate() {
        let g = bb.set_group(si + 1);
        let mut units = Vec::new();
        for ui in 0..n {
            let stride = if ui == 0 { s } else { 1 };
            let hidden = c_in * t;
            let pre = format!("_blocks.{index}");
            let p = |name: &str| at(&g, &format!("{pre}.{name}"));
            let mut convs = Vec::new();
            if t != 1 {
                convs.push(ConvBn::new(
                    p("_expand_conv"),
                    p("_bn0"),
                    cfg(c_in, hidden, 1, 1, Act::Relu6),
                    b,
                    true,
                ));
            }
            convs.push(ConvBn::new(
                p("_depthwise_conv"),
                p("_bn1"),
                ConvCfg {
                    groups: hidden,
                    ..cfg(hidden, hidden, k, stride, Act::Relu6)
                },
                b,
                true,
            ));
            let project = ConvBn::new(
                p("_project_conv"),
                p("_bn2"),
                cfg(hidden, c, 1, 1, Act::None),
                b,
                true,
            );
            units.push(Unit::Inverted {
                convs,
                se: None,
                project,
                residual: stride == 1 && c_in == c,
            });
            c_in = c;
            index += 1;
        }
        on_block(si + 1, Box::new(Stage { units }));
    }
    let g = bb.set_group(8);
    let top = ConvBn::new(
        at(&g, "_conv_head"),
        at(&g, "_bn1"),
        cfg(320, 1280, 1, 1, Act::Relu6),
        b,
        true,
    );
    conv_stage(on_block, 8, top);
}
