//! BERT-family text encoders (all-MiniLM-L6-v2): an embeddings block and one block per
//! encoder layer, in the tensor names of a `BertModel` checkpoint (`embeddings.*`,
//! `encoder.layer.{i}.*`) under `backbone.`.
//!
//! Block 0 takes int64 token ids `[N, L]` (padding id 0 after each example's tokens); every
//! block returns hidden states `[N, L, H + 1]` whose last feature is the attention mask (1 for
//! a token, 0 for padding), which the later blocks read and carry on unchanged. Pooling is left
//! to the network ([`crate::model::text::pool`]: sentence-transformers' mean, or `[CLS]`).

use super::at;
use crate::model::blocks::Block;
use crate::model::text::{embedding_inputs, join, split};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// Hyperparameters of a BERT encoder.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BertConfig {
    /// Width of the hidden states.
    pub hidden: i64,
    /// Attention heads per layer.
    pub heads: i64,
    /// Encoder layers.
    pub layers: usize,
    /// Width of the feed-forward layer.
    pub intermediate: i64,
    /// WordPiece vocabulary size.
    pub vocab: i64,
    /// Longest sequence the position embeddings cover.
    pub max_positions: i64,
    /// Token types (segments); thaw feeds type 0 only.
    pub type_vocab: i64,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// Dropout on hidden states and attention probabilities in training.
    pub dropout: f64,
    /// Id of the padding token (never a real token).
    pub pad_id: i64,
}

/// all-MiniLM-L6-v2 (`nreimers/MiniLM-L6-H384-uncased` fine-tuned by sentence-transformers).
pub const MINILM_L6: BertConfig = BertConfig {
    hidden: 384,
    heads: 12,
    layers: 6,
    intermediate: 1536,
    vocab: 30522,
    max_positions: 512,
    type_vocab: 2,
    layer_norm_eps: 1e-12,
    dropout: 0.1,
    pad_id: 0,
};

/// Subtracted from the attention scores of padding keys: large enough that softmax gives them
/// exactly 0 weight, finite in bf16 too.
const MASK_PENALTY: f64 = 1e9;

fn layer_norm(p: nn::Path, c: &BertConfig) -> nn::LayerNorm {
    let cfg = nn::LayerNormConfig {
        eps: c.layer_norm_eps,
        ..Default::default()
    };
    nn::layer_norm(p, vec![c.hidden], cfg)
}

fn linear(p: nn::Path, d_in: i64, d_out: i64) -> nn::Linear {
    nn::linear(p, d_in, d_out, Default::default())
}

/// Word + absolute position + token type 0 embeddings, LayerNorm, dropout.
#[derive(Debug)]
pub struct Embeddings {
    word: nn::Embedding,
    position: nn::Embedding,
    token_type: nn::Embedding,
    norm: nn::LayerNorm,
    cfg: BertConfig,
}

impl Embeddings {
    /// The embeddings under `p` (the checkpoint's `embeddings`).
    pub fn new(p: &nn::Path, cfg: BertConfig) -> Self {
        let emb = |name: &str, n: i64| nn::embedding(p / name, n, cfg.hidden, Default::default());
        Embeddings {
            word: emb("word_embeddings", cfg.vocab),
            position: emb("position_embeddings", cfg.max_positions),
            token_type: emb("token_type_embeddings", cfg.type_vocab),
            norm: layer_norm(p / "LayerNorm", &cfg),
            cfg,
        }
    }
}

impl Block for Embeddings {
    /// `x`: token ids `[N, L]`; panics if `L` exceeds the position embeddings (512): callers
    /// cap the tokenizer's `max_length`.
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let (ids, mask, positions) = embedding_inputs(x, self.cfg.pad_id, self.cfg.max_positions);
        let e = self.word.forward(&ids)
            + self.position.forward(&positions).unsqueeze(0)
            + self.token_type.ws.get(0);
        let h = self.norm.forward(&e).dropout(self.cfg.dropout, train);
        join(&h, &mask)
    }
}

/// One encoder layer: multi-head self-attention over the real tokens, then the feed-forward
/// (exact erf GELU), each followed by dropout, a residual connection and LayerNorm.
#[derive(Debug)]
pub struct EncoderLayer {
    query: nn::Linear,
    key: nn::Linear,
    value: nn::Linear,
    attn_out: nn::Linear,
    attn_norm: nn::LayerNorm,
    inter: nn::Linear,
    out: nn::Linear,
    out_norm: nn::LayerNorm,
    cfg: BertConfig,
}

impl EncoderLayer {
    /// The layer under `p` (the checkpoint's `encoder.layer.{i}`).
    pub fn new(p: &nn::Path, cfg: BertConfig) -> Self {
        let (h, i) = (cfg.hidden, cfg.intermediate);
        EncoderLayer {
            query: linear(at(p, "attention.self.query"), h, h),
            key: linear(at(p, "attention.self.key"), h, h),
            value: linear(at(p, "attention.self.value"), h, h),
            attn_out: linear(at(p, "attention.output.dense"), h, h),
            attn_norm: layer_norm(at(p, "attention.output.LayerNorm"), &cfg),
            inter: linear(at(p, "intermediate.dense"), h, i),
            out: linear(at(p, "output.dense"), i, h),
            out_norm: layer_norm(at(p, "output.LayerNorm"), &cfg),
            cfg,
        }
    }

    /// `[N, L, H]` → `[N, heads, L, H / heads]`.
    fn heads(&self, t: &Tensor) -> Tensor {
        let s = t.size();
        t.view([s[0], s[1], self.cfg.heads, -1])
            .permute([0, 2, 1, 3])
    }
}

impl Block for EncoderLayer {
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let (h, mask) = split(x);
        let (n, len) = (h.size()[0], h.size()[1]);
        let head_dim = self.cfg.hidden / self.cfg.heads;
        let q = self.heads(&self.query.forward(&h));
        let k = self.heads(&self.key.forward(&h));
        let v = self.heads(&self.value.forward(&h));
        // Padding keys get a large negative bias: no query attends to them.
        let bias = ((mask.to_kind(Kind::Float) - 1.0) * MASK_PENALTY).view([n, 1, 1, len]);
        let scores = q.matmul(&k.transpose(-1, -2)) / (head_dim as f64).sqrt() + bias;
        let probs = scores
            .softmax(-1, Kind::Float)
            .dropout(self.cfg.dropout, train);
        let ctx = probs
            .to_kind(v.kind())
            .matmul(&v)
            .permute([0, 2, 1, 3])
            .contiguous()
            .view([n, len, self.cfg.hidden]);
        let a = self
            .attn_norm
            .forward(&(self.attn_out.forward(&ctx).dropout(self.cfg.dropout, train) + &h));
        let f = self.inter.forward(&a).gelu("none");
        let y = self
            .out_norm
            .forward(&(self.out.forward(&f).dropout(self.cfg.dropout, train) + &a));
        join(&y, &mask)
    }
}

/// Builds the embeddings block (group 0) and one block per encoder layer (group `i + 1`)
/// under `bb`, calling `on_block` as each is complete.
pub(super) fn build(
    cfg: BertConfig,
    bb: &nn::Path,
    on_block: &mut dyn FnMut(usize, Box<dyn Block>),
) {
    let g = bb.set_group(0);
    on_block(0, Box::new(Embeddings::new(&(&g / "embeddings"), cfg)));
    for i in 0..cfg.layers {
        let g = bb.set_group(i + 1);
        let layer = EncoderLayer::new(&at(&g, &format!("encoder.layer.{i}")), cfg);
        on_block(i + 1, Box::new(layer));
    }
}
