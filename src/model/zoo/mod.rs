//! Backbones with external checkpoints: ImageNet-style ones (torchvision ResNet-18/34/50,
//! MobileNetV2, EfficientNet-B0, and EfficientNet-Lite0) and the BERT text encoder
//! all-MiniLM-L6-v2 ([`bert`]), built as ordered blocks whose variables carry the checkpoint's own
//! tensor names under `backbone.` (`backbone.layer1.0.conv1.weight` holds `layer1.0.conv1.weight`),
//! so loading a `state_dict` is a rename of one prefix.

pub mod bert;
pub mod gpt;
mod inverted;
mod layers;
mod resnet;

use super::blocks::Block;
use crate::spec::BackboneKind;
use layers::Unit;
use tch::nn;
use tch::Tensor;

pub use layers::Act;

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

/// Builds the blocks of a backbone with an external checkpoint under `bb` (the `backbone` path), block `i`
/// in optimizer group `i`. `on_block(i, block)` is called as soon as block `i` and all its
/// variables exist (the caller records which trainable variables each block added).
pub fn build(kind: BackboneKind, bb: &nn::Path, mut on_block: impl FnMut(usize, Box<dyn Block>)) {
    match kind {
        BackboneKind::Resnet18 => resnet::build(bb, &[2, 2, 2, 2], false, &mut on_block),
        BackboneKind::Resnet34 => resnet::build(bb, &[3, 4, 6, 3], false, &mut on_block),
        BackboneKind::Resnet50 => resnet::build(bb, &[3, 4, 6, 3], true, &mut on_block),
        BackboneKind::MobilenetV2 => inverted::build(&inverted::MOBILENET_V2, bb, &mut on_block),
        BackboneKind::EfficientnetB0 => {
            inverted::build(&inverted::EFFICIENTNET_B0, bb, &mut on_block)
        }
        BackboneKind::EfficientnetLite0 => {
            inverted::build(&inverted::EFFICIENTNET_LITE0, bb, &mut on_block)
        }
        BackboneKind::MinilmL6 => bert::build(bert::MINILM_L6, bb, &mut on_block),
        BackboneKind::Cnn4 | BackboneKind::Resnet8 | BackboneKind::GptTiny => {
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
