//! thaw's own backbones, which no external checkpoint describes: `cnn4` and `resnet8` (images
//! of 1 or 3 channels) and `gpt_tiny` (text). Block `i` is built under `bb / <block name>` in
//! optimizer group `i`.

use super::blocks::{BasicBlock, Block, ConvBlock};
use super::zoo::gpt::{DecoderLayer, Embeddings, GPT_TINY};
use crate::spec::BackboneKind;
use tch::nn;

/// Builds the blocks of `kind` (one of thaw's own) under `bb`, the first convolution taking
/// `in_channels`, calling `on_block(i, block)` as soon as block `i` and its variables exist.
pub(super) fn build(
    kind: BackboneKind,
    bb: &nn::Path,
    in_channels: i64,
    mut on_block: impl FnMut(usize, Box<dyn Block>),
) {
    let names = kind.block_names();
    for (i, name) in names.iter().enumerate() {
        let p = (bb / *name).set_group(i);
        let block: Box<dyn Block> = match (kind, i) {
            (BackboneKind::Cnn4, _) => {
                let c_in = [in_channels, 32, 32, 64][i];
                let c_out = [32, 32, 64, 64][i];
                Box::new(ConvBlock::new(p, c_in, c_out, i > 0))
            }
            (BackboneKind::Resnet8, 0) => Box::new(ConvBlock::new(p, in_channels, 16, false)),
            (BackboneKind::Resnet8, _) => {
                let c_in = [16, 16, 32][i - 1];
                let c_out = [16, 32, 64][i - 1];
                let stride = if i == 1 { 1 } else { 2 };
                Box::new(BasicBlock::new(p, c_in, c_out, stride))
            }
            (BackboneKind::GptTiny, 0) => Box::new(Embeddings::new(p, GPT_TINY)),
            (BackboneKind::GptTiny, _) => {
                Box::new(DecoderLayer::new(p, GPT_TINY, i + 1 == names.len()))
            }
            (other, _) => unreachable!("{other} has a checkpoint format: built by zoo::build"),
        };
        on_block(i, block);
    }
}
