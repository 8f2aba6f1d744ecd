//! The text backbone minilm_l6 (all-MiniLM-L6-v2) against a plain PyTorch BertModel
//! (scripts/text_reference.py) on the same weights and token ids: mean-pooled and [CLS]
//! embeddings of a padded batch, padding that changes nothing, the mask channel every block
//! carries, and the sentence-embedding property the weights were trained for.
//!
//! Needs the files `make weights` extracts into the weights folder, and for the parity test the
//! cache venv's python with torch. Without them each test prints why and passes (CI runs
//! `make test`, which depends on `make weights`).

mod common;

use common::minilm_dir;
use std::path::{Path, PathBuf};
use std::process::Command;
use tch::{Device, Kind, Tensor};
use thaw::model::text::pool;
use thaw::model::tokenizer::TextTokenizer;
use thaw::model::Network;
use thaw::spec::Pooling;
use thaw::spec::{BackboneKind, Precision};
use thaw::train::precision::autocast;

/// Sentences of different lengths (3 to 20 word pieces).
const SENTENCES: [&str; 5] = [
    "The movie was surprisingly good!",
    "Hello.",
    "A man is playing a guitar on the stage while the crowd sings along with every word.",
    "Transfer learning reuses representations learned on one task for another.",
    "Cats sleep.",
];

/// Python with torch, or why not.
fn reference_python() -> Result<PathBuf, String> {
    common::python_with("torch", "make libtorch")
}

/// minilm_l6 with its pretrained weights, and its tokenizer.
fn load(dir: &Path) -> (Network, TextTokenizer) {
    let mut net = Network::new(BackboneKind::MinilmL6, Device::Cpu, None, None);
    net.load_weights(&dir.join("model.safetensors")).unwrap();
    (net, TextTokenizer::from_dir(dir).unwrap())
}

/// Token ids `[N, L]`, each example padded with 0 to the longest.
fn batch(ids: &[Vec<i64>]) -> Tensor {
    let len = ids.iter().map(Vec::len).max().unwrap();
    let rows: Vec<Tensor> = ids
        .iter()
        .map(|e| {
            let mut row = e.clone();
            row.resize(len, 0);
            Tensor::from_slice(&row)
        })
        .collect();
    Tensor::stack(&rows, 0)
}

/// The last block's output for `ids` (inference mode).
fn encode(net: &Network, ids: &[Vec<i64>]) -> Tensor {
    net.block_states(&batch(ids)).pop().unwrap()
}

fn matrix(v: &serde_json::Value) -> Tensor {
    let rows: Vec<Tensor> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let r: Vec<f32> = r
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            Tensor::from_slice(&r)
        })
        .collect();
    Tensor::stack(&rows, 0)
}

/// max |a - b| / max |b|.
fn rel_err(a: &Tensor, b: &Tensor) -> f64 {
    let diff = (a - b).abs().max().double_value(&[]);
    diff / b.abs().max().double_value(&[])
}

fn cosine(a: &Tensor, b: &Tensor) -> f64 {
    let dot = (a * b).sum(Kind::Float).double_value(&[]);
    dot / (a.norm().double_value(&[]) * b.norm().double_value(&[]))
}

#[test]
fn mean_pooled_and_cls_embeddings_match_a_plain_pytorch_bert() {
    let dir = require!(minilm_dir());
    let py = require!(reference_python());
    let (net, tok) = load(&dir);
    let ids = tok.encode(&SENTENCES, 128).unwrap();
    let lens: Vec<usize> = ids.iter().map(Vec::len).collect();
    assert!(lens.iter().min() < lens.iter().max(), "{lens:?}");
    let h = encode(&net, &ids);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/text_reference.py");
    let input = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(input.path(), serde_json::to_string(&ids).unwrap()).unwrap();
    let out = Command::new(py)
        .arg(script)
        .arg(&dir)
        .arg(input.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reference script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mean = masked_mean(&h);
    assert_eq!(mean.size(), [SENTENCES.len() as i64, 384]);
    let e = rel_err(&mean, &matrix(&reference["mean"]));
    eprintln!("mean pooling: relative error {e:.1e}");
    assert!(e <= 1e-4, "mean pooling: relative error {e}");
    let e = rel_err(&cls(&h), &matrix(&reference["cls"]));
    eprintln!("[CLS]: relative error {e:.1e}");
    assert!(e <= 1e-4, "[CLS]: relative error {e}");
}

#[test]
fn padding_changes_no_embedding_and_every_block_carries_the_mask() {
    let dir = require!(minilm_dir());
    let (net, tok) = load(&dir);
    assert_eq!(net.n_blocks(), 7);
    assert_eq!(
        BackboneKind::MinilmL6.block_names(),
        [
            "embeddings",
            "layer1",
            "layer2",
            "layer3",
            "layer4",
            "layer5",
            "layer6"
        ]
    );
    for i in 0..net.n_blocks() {
        assert!(
            !net.block_params(i).is_empty(),
            "block {i} has no parameters"
        );
    }
    let ids = tok.encode(&SENTENCES, 128).unwrap();
    let padded = batch(&ids);
    let mask = padded.ne(0).to_kind(Kind::Float);
    for (i, out) in net.block_states(&padded).iter().enumerate() {
        assert_eq!(out.size(), [padded.size()[0], padded.size()[1], 385]);
        assert!(out.select(2, 384).equal(&mask), "block {i} lost the mask");
    }
    let together = masked_mean(&encode(&net, &ids));
    let mut worst: f64 = 0.0;
    for (i, one) in ids.iter().enumerate() {
        let alone = masked_mean(&encode(&net, std::slice::from_ref(one)));
        let e = rel_err(&together.get(i as i64).unsqueeze(0), &alone);
        assert!(
            e <= 1e-5,
            "sentence {i}: padding moved its embedding by {e}"
        );
        worst = worst.max(e);
    }
    eprintln!("padding: largest relative change {worst:.1e}");
    let too_long = Tensor::ones([1, 513], (Kind::Int64, Device::Cpu));
    let panic =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| net.block_states(&too_long)))
            .unwrap_err();
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("513 tokens") && msg.contains("512"), "{msg}");
}

#[test]
fn paraphrases_are_closer_than_unrelated_sentences() {
    let dir = require!(minilm_dir());
    let (net, tok) = load(&dir);
    let texts = [
        "A man is playing a guitar.",
        "Someone is strumming a guitar.",
        "The stock market fell sharply this morning.",
        "How do I reset my password?",
        "I forgot my password, how can I change it?",
    ];
    let e = masked_mean(&encode(&net, &tok.encode(&texts, 128).unwrap()));
    let c = |i: i64, j: i64| cosine(&e.get(i), &e.get(j));
    eprintln!(
        "guitar/strumming {:.3}, guitar/market {:.3}, password pair {:.3}, password/market {:.3}",
        c(0, 1),
        c(0, 2),
        c(3, 4),
        c(3, 2)
    );
    assert!(c(0, 1) > c(0, 2) + 0.3, "{} vs {}", c(0, 1), c(0, 2));
    assert!(c(3, 4) > c(3, 2) + 0.3, "{} vs {}", c(3, 4), c(3, 2));
    assert!(c(3, 4) > c(3, 0), "{} vs {}", c(3, 4), c(3, 0));
}

#[test]
fn the_checkpoint_loads_under_backbone_names_without_its_pooler() {
    let dir = require!(minilm_dir());
    let net = Network::new(BackboneKind::MinilmL6, Device::Cpu, None, None);
    let vars = net.vs.variables();
    assert!(vars.contains_key("backbone.embeddings.word_embeddings.weight"));
    assert!(vars.contains_key("backbone.encoder.layer.5.output.LayerNorm.bias"));
    assert!(!vars
        .keys()
        .any(|n| n.contains("pooler") || n.contains("position_ids")));
    // 104 checkpoint tensors less the pooler (2) and the position_ids buffer.
    assert_eq!(vars.len(), 101);
    let file = BackboneKind::MinilmL6.pretrained_weights().unwrap();
    assert_eq!(file, dir.join("model.safetensors"));
    let mut net = net;
    net.load_weights(&file).unwrap();
    let missing = dir.join("nope").join("model.safetensors");
    let err = format!("{}", net.load_weights(&missing).unwrap_err());
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn under_bf16_autocast_the_mask_stays_exact_and_the_embeddings_close() {
    let dir = require!(minilm_dir());
    let (net, tok) = load(&dir);
    let ids = tok.encode(&SENTENCES, 128).unwrap();
    let padded = batch(&ids);
    let mask = padded.ne(0).to_kind(Kind::Float);
    let outs = autocast(Precision::Bf16, Device::Cpu, || net.block_states(&padded));
    for (i, out) in outs.iter().enumerate() {
        let m = out.select(2, 384).to_kind(Kind::Float);
        assert!(m.equal(&mask), "block {i} lost the mask under bf16");
    }
    let bf16 = masked_mean(&outs[outs.len() - 1]).to_kind(Kind::Float);
    let fp32 = masked_mean(&encode(&net, &ids));
    for i in 0..SENTENCES.len() as i64 {
        let c = cosine(&bf16.get(i), &fp32.get(i));
        assert!(c > 0.99, "sentence {i}: bf16 vs fp32 cosine {c}");
    }
}

#[test]
fn dropout_acts_in_training_only_and_gradients_reach_the_embeddings() {
    // Random weights: no files needed.
    tch::manual_seed(0);
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let mut blocks = Vec::new();
    thaw::model::zoo::build(BackboneKind::MinilmL6, &(vs.root() / "backbone"), |_, b| {
        blocks.push(b)
    });
    assert_eq!(blocks.len(), 7);
    let ids = batch(&[vec![101, 7592, 2088, 102], vec![101, 7592, 102]]);
    let run = |train: bool| {
        blocks
            .iter()
            .fold(ids.shallow_clone(), |h, b| b.forward(&h, train))
    };
    assert!(run(false).equal(&run(false)), "inference is deterministic");
    let (a, b) = (run(true), run(true));
    assert!(!a.equal(&b), "dropout is active in training");
    assert!(a.select(2, 384).equal(&ids.ne(0).to_kind(Kind::Float)));
    masked_mean(&a).sum(Kind::Float).backward();
    let grad = vs.variables()["backbone.embeddings.word_embeddings.weight"].grad();
    assert!(grad.abs().sum(Kind::Float).double_value(&[]) > 0.0);
}

/// Mean pooling over the real tokens, as sentence-transformers pools.
fn masked_mean(h: &Tensor) -> Tensor {
    pool(h, Pooling::Mean)
}

/// The `[CLS]` token's state.
fn cls(h: &Tensor) -> Tensor {
    pool(h, Pooling::Cls)
}
