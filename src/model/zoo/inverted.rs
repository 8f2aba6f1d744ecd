//! Inverted-residual networks (MobileNetV2, EfficientNet-B0, EfficientNet-Lite0) as data: one
//! [`Family`] per network says its stages, activation, BatchNorm, padding and where each
//! tensor sits in its checkpoint; one builder makes them all.

use super::layers::{cfg, Act, Bn, ConvBn, ConvCfg, SqueezeExcite, Unit, TF_BN, TORCH_BN};
use super::{at, Stage};
use crate::model::blocks::Block;
use tch::nn;

/// Stage settings: (expand ratio, kernel, stride of the first unit, output channels, units).
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

/// Checkpoint paths of a convolution and its BatchNorm.
type ConvNames = (String, String);

/// Where one unit's tensors sit in a checkpoint.
pub(super) struct UnitNames {
    expand: Option<ConvNames>,
    depthwise: ConvNames,
    squeeze_excite: Option<String>,
    project: ConvNames,
}

/// One inverted-residual network.
pub(super) struct Family {
    stages: &'static [StageCfg],
    act: Act,
    bn: Bn,
    /// TensorFlow "same" padding (the Lite0 checkpoint was trained with it).
    tf_same: bool,
    stem: (&'static str, &'static str),
    top: (&'static str, &'static str),
    /// Names of unit `unit` of stage `stage`, the `index`-th unit of the network (from 0),
    /// with or without an expansion convolution.
    names: fn(stage: usize, unit: usize, index: usize, expands: bool) -> UnitNames,
}

pub(super) const MOBILENET_V2: Family = Family {
    stages: &MBV2_STAGES,
    act: Act::Relu6,
    bn: TORCH_BN,
    tf_same: false,
    stem: ("features.0.0", "features.0.1"),
    top: ("features.18.0", "features.18.1"),
    names: |_, _, index, expands| {
        let pre = format!("features.{}.conv", index + 1);
        let d = usize::from(expands);
        UnitNames {
            expand: expands.then(|| (format!("{pre}.0.0"), format!("{pre}.0.1"))),
            depthwise: (format!("{pre}.{d}.0"), format!("{pre}.{d}.1")),
            squeeze_excite: None,
            project: (format!("{pre}.{}", d + 1), format!("{pre}.{}", d + 2)),
        }
    },
};

pub(super) const EFFICIENTNET_B0: Family = Family {
    stages: &EFFICIENTNET_B0_STAGES,
    act: Act::Silu,
    bn: TORCH_BN,
    tf_same: false,
    stem: ("features.0.0", "features.0.1"),
    top: ("features.8.0", "features.8.1"),
    names: |stage, unit, _, expands| {
        let pre = format!("features.{}.{unit}.block", stage + 1);
        let d = usize::from(expands);
        UnitNames {
            expand: expands.then(|| (format!("{pre}.0.0"), format!("{pre}.0.1"))),
            depthwise: (format!("{pre}.{d}.0"), format!("{pre}.{d}.1")),
            squeeze_excite: Some(format!("{pre}.{}", d + 1)),
            project: (format!("{pre}.{}.0", d + 2), format!("{pre}.{}.1", d + 2)),
        }
    },
};

pub(super) const EFFICIENTNET_LITE0: Family = Family {
    stages: &EFFICIENTNET_B0_STAGES,
    act: Act::Relu6,
    bn: TF_BN,
    tf_same: true,
    stem: ("_conv_stem", "_bn0"),
    top: ("_conv_head", "_bn1"),
    names: |_, _, index, expands| {
        let p = |name: &str| format!("_blocks.{index}.{name}");
        UnitNames {
            expand: expands.then(|| (p("_expand_conv"), p("_bn0"))),
            depthwise: (p("_depthwise_conv"), p("_bn1")),
            squeeze_excite: None,
            project: (p("_project_conv"), p("_bn2")),
        }
    },
};

/// Builds `family` under `bb`: the stem as block 0, each stage as a block, the top convolution
/// as the last block.
pub(super) fn build(
    family: &Family,
    bb: &nn::Path,
    on_block: &mut dyn FnMut(usize, Box<dyn Block>),
) {
    let conv = |g: &nn::Path, (conv, bn): &ConvNames, c: ConvCfg| {
        ConvBn::new(at(g, conv), at(g, bn), c, family.bn, family.tf_same)
    };
    let single = |g: &nn::Path, (c, b): (&str, &str), shape: ConvCfg| Stage {
        units: vec![Unit::Conv(conv(g, &(c.into(), b.into()), shape))],
    };
    let act = family.act;
    on_block(
        0,
        Box::new(single(&bb.set_group(0), family.stem, cfg(3, 32, 3, 2, act))),
    );
    let mut c_in = 32;
    let mut index = 0;
    for (si, &(t, k, s, c, n)) in family.stages.iter().enumerate() {
        let g = bb.set_group(si + 1);
        let mut units = Vec::new();
        for ui in 0..n {
            let stride = if ui == 0 { s } else { 1 };
            let hidden = c_in * t;
            let names = (family.names)(si, ui, index, t != 1);
            let mut convs = Vec::new();
            if let Some(expand) = &names.expand {
                convs.push(conv(&g, expand, cfg(c_in, hidden, 1, 1, act)));
            }
            let depthwise = ConvCfg {
                groups: hidden,
                ..cfg(hidden, hidden, k, stride, act)
            };
            convs.push(conv(&g, &names.depthwise, depthwise));
            let se = names
                .squeeze_excite
                .map(|p| SqueezeExcite::new(at(&g, &p), hidden, (c_in / 4).max(1)));
            let project = conv(&g, &names.project, cfg(hidden, c, 1, 1, Act::None));
            units.push(Unit::Inverted {
                convs,
                se,
                project,
                residual: stride == 1 && c_in == c,
            });
            c_in = c;
            index += 1;
        }
        on_block(si + 1, Box::new(Stage { units }));
    }
    on_block(
        family.stages.len() + 1,
        Box::new(single(
            &bb.set_group(family.stages.len() + 1),
            family.top,
            cfg(c_in, 1280, 1, 1, act),
        )),
    );
}
