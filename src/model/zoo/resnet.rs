//! torchvision's ResNet-18/34/50: a stem and four stages of basic or bottleneck units.

use super::layers::{cfg, Act, ConvBn, ConvCfg, Unit, TORCH_BN};
use super::{at, Stage};
use crate::model::blocks::Block;
use tch::nn;

/// ResNet with `layers[i]` units in stage `i + 1` (bottleneck units for ResNet-50).
pub(super) fn build(
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
