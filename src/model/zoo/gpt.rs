//! `gpt_tiny`: a small GPT-2-style decoder (pre-LayerNorm blocks, causal self-attention,
//! learned absolute positions) over UTF-8 bytes, sized for a CPU, that thaw pretrains itself
//! as a language model on the source corpus (`source: {task: language_model}`).
//!
//! Block 0 (`embeddings`) takes token ids `[N, L]` (padding id 0 after each example's tokens);
//! every block returns hidden states `[N, L, H + 1]` whose last feature is the attention mask,
//! as every text backbone does ([`crate::spec::Modality::Text`]). The last layer applies the
//! final LayerNorm, so its output is what the heads read.

use crate::model::blocks::Block;
use crate::model::text::{embedding_inputs, join, split};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// Hyperparameters of a GPT decoder.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GptConfig {
    /// Width of the hidden states.
    pub hidden: i64,
    /// Attention heads per layer.
    pub heads: i64,
    /// Decoder layers.
    pub layers: usize,
    /// Width of the feed-forward layer.
    pub intermediate: i64,
    /// Vocabulary: padding 0, the 256 byte values as 1..=256, end of text 257.
    pub vocab: i64,
    /// Longest sequence the position embeddings cover.
    pub max_positions: i64,
    /// Dropout on embeddings, attention probabilities and residual branches in training.
    pub dropout: f64,
}

/// thaw's own small decoder: 4 layers of width 128 (about 0.9 M parameters).
pub const GPT_TINY: GptConfig = GptConfig {
    hidden: 128,
    heads: 4,
    layers: 4,
    intermediate: 512,
    vocab: 258,
    max_positions: 512,
    dropout: 0.1,
};

/// Subtracted from the attention scores of keys a query may not see (later tokens, padding).
const MASK_PENALTY: f64 = 1e9;

fn layer_norm(p: nn::Path) -> nn::LayerNorm {
    nn::layer_norm(p, vec![GPT_TINY.hidden], Default::default())
}

/// GPT-2's initialisation: weights N(0, 0.02), biases 0.
fn linear(p: nn::Path, d_in: i64, d_out: i64) -> nn::Linear {
    let cfg = nn::LinearConfig {
        ws_init: nn::Init::Randn {
            mean: 0.0,
            stdev: 0.02,
        },
        bs_init: Some(nn::Init::Const(0.0)),
        bias: true,
    };
    nn::linear(p, d_in, d_out, cfg)
}

fn embedding(p: nn::Path, n: i64, dim: i64) -> nn::Embedding {
    let cfg = nn::EmbeddingConfig {
        ws_init: nn::Init::Randn {
            mean: 0.0,
            stdev: 0.02,
        },
        ..Default::default()
    };
    nn::embedding(p, n, dim, cfg)
}

/// Token and position embeddings, dropout.
#[derive(Debug)]
pub struct Embeddings {
    token: nn::Embedding,
    position: nn::Embedding,
    cfg: GptConfig,
}

impl Embeddings {
    /// The embeddings under `p`.
    pub fn new(p: nn::Path, cfg: GptConfig) -> Self {
        Embeddings {
            token: embedding(&p / "token", cfg.vocab, cfg.hidden),
            position: embedding(&p / "position", cfg.max_positions, cfg.hidden),
            cfg,
        }
    }
}

impl Block for Embeddings {
    /// `x`: token ids `[N, L]`; panics beyond the position table (callers cap `max_length`).
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let (ids, mask, positions) = embedding_inputs(x, 0, self.cfg.max_positions);
        let e = self.token.forward(&ids) + self.position.forward(&positions).unsqueeze(0);
        join(&e.dropout(self.cfg.dropout, train), &mask)
    }
}

/// One pre-LayerNorm decoder layer: `x + attn(ln(x))`, then `+ mlp(ln(·))` (GELU); the last
/// layer also applies the final LayerNorm.
#[derive(Debug)]
pub struct DecoderLayer {
    attn_norm: nn::LayerNorm,
    qkv: nn::Linear,
    attn_out: nn::Linear,
    mlp_norm: nn::LayerNorm,
    up: nn::Linear,
    down: nn::Linear,
    final_norm: Option<nn::LayerNorm>,
    cfg: GptConfig,
}

impl DecoderLayer {
    /// The layer under `p`; `last` adds the final LayerNorm.
    pub fn new(p: nn::Path, cfg: GptConfig, last: bool) -> Self {
        let (h, i) = (cfg.hidden, cfg.intermediate);
        DecoderLayer {
            attn_norm: layer_norm(&p / "attn_norm"),
            qkv: linear(&p / "qkv", h, 3 * h),
            attn_out: linear(&p / "attn_out", h, h),
            mlp_norm: layer_norm(&p / "mlp_norm"),
            up: linear(&p / "up", h, i),
            down: linear(&p / "down", i, h),
            final_norm: last.then(|| layer_norm(&p / "final_norm")),
            cfg,
        }
    }

    /// Causal self-attention of `x` `[N, L, H]` with padding keys `mask` `[N, L]` left out.
    fn attention(&self, x: &Tensor, mask: &Tensor, train: bool) -> Tensor {
        let (n, len) = (x.size()[0], x.size()[1]);
        let heads = self.cfg.heads;
        let qkv = self
            .qkv
            .forward(x)
            .view([n, len, 3, heads, -1])
            .permute([2, 0, 3, 1, 4]);
        let (q, k, v) = (qkv.get(0), qkv.get(1), qkv.get(2));
        let head_dim = (self.cfg.hidden / heads) as f64;
        let device = x.device();
        let later = Tensor::ones([len, len], (Kind::Float, device)).triu(1);
        let padding = (mask.to_kind(Kind::Float) * -1.0 + 1.0).view([n, 1, 1, len]);
        let blocked = (later.view([1, 1, len, len]) + padding).clamp_max(1.0);
        let scores = q.matmul(&k.transpose(-1, -2)) / head_dim.sqrt() - blocked * MASK_PENALTY;
        let probs = scores
            .softmax(-1, Kind::Float)
            .dropout(self.cfg.dropout, train);
        probs
            .to_kind(v.kind())
            .matmul(&v)
            .permute([0, 2, 1, 3])
            .contiguous()
            .view([n, len, self.cfg.hidden])
            .apply(&self.attn_out)
            .dropout(self.cfg.dropout, train)
    }
}

impl Block for DecoderLayer {
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let (h, mask) = split(x);
        let a = &h + self.attention(&self.attn_norm.forward(&h), &mask, train);
        let f = self
            .down
            .forward(&self.up.forward(&self.mlp_norm.forward(&a)).gelu("none"))
            .dropout(self.cfg.dropout, train);
        let mut y = a + f;
        if let Some(norm) = &self.final_norm {
            y = norm.forward(&y);
        }
        join(&y, &mask)
    }
}

/// The tokens of `gpt_tiny`: every UTF-8 byte `b` as `b + 1` (0 is padding), then the end of
/// text; longer texts keep their first `max_length - 1` bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct ByteTokenizer;

/// The end-of-text token, last in every example (its state has read the whole text).
pub const END_OF_TEXT: i64 = 257;

impl crate::data::Tokenize for ByteTokenizer {
    fn encode(&self, texts: &[&str], max_length: usize) -> anyhow::Result<Vec<Vec<i64>>> {
        anyhow::ensure!(
            max_length >= 2,
            "max_length {max_length} leaves no room for text"
        );
        Ok(texts
            .iter()
            .map(|t| {
                let bytes = &t.as_bytes()[..t.len().min(max_length - 1)];
                let mut ids: Vec<i64> = bytes.iter().map(|&b| i64::from(b) + 1).collect();
                ids.push(END_OF_TEXT);
                ids
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Tokenize;
    use crate::model::{text, Network};
    use crate::spec::BackboneKind;
    use tch::Device;

    #[test]
    fn bytes_are_shifted_by_one_and_end_with_the_end_of_text() {
        let ids = ByteTokenizer.encode(&["hé", "abcdef"], 4).unwrap();
        // 'h' = 104, 'é' = 0xC3 0xA9 in UTF-8.
        assert_eq!(ids[0], [105, 196, 170, END_OF_TEXT]);
        assert_eq!(ids[1], [98, 99, 100, END_OF_TEXT]);
        assert!(ByteTokenizer.encode(&["x"], 1).is_err());
    }

    /// Token states of `ids` through every block, in inference mode.
    fn states(net: &Network, ids: &[i64]) -> Tensor {
        let x = Tensor::from_slice(ids).view([1, -1]);
        let h = net.last_block_output(&x, 0, net.n_blocks(), false);
        text::split(&h).0.squeeze_dim(0)
    }

    #[test]
    fn attention_is_causal_and_ignores_padding() {
        tch::manual_seed(0);
        let net = Network::new(BackboneKind::GptTiny, Device::Cpu, None, Some(2));
        let a = states(&net, &[10, 20, 30, 40]);
        // Changing the last token leaves the states of the tokens before it unchanged.
        let b = states(&net, &[10, 20, 30, 99]);
        let diff = |x: &Tensor, y: &Tensor| f64::try_from((x - y).abs().max()).unwrap();
        assert_eq!(diff(&a.narrow(0, 0, 3), &b.narrow(0, 0, 3)), 0.0);
        assert!(diff(&a.get(3), &b.get(3)) > 1e-3);
        // Padding after the text changes none of its states.
        let padded = states(&net, &[10, 20, 30, 40, 0, 0]);
        assert!(diff(&a, &padded.narrow(0, 0, 4)) < 1e-5);
    }
}
