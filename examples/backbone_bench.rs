//! Training throughput of a pretrained-style backbone in thaw, in examples (images or texts) per
//! second: the step thaw's fine-tuning loop takes (input batch → `prepare_input` → every block
//! trainable → new 10-class head → cross-entropy → backward → SGD with momentum 0.9 through
//! thaw's optimizer groups).
//!
//! - Image backbones: u8 batches of CHANNELS × SIDE × SIDE (default 1 × 28 × 28: grayscale),
//!   resized to SIZE × SIZE, made 3-channel and normalised by `prepare_input`; seeded random
//!   weights.
//! - Text backbones (`minilm_l6`, with its pretrained weights from `make weights`): int64 token
//!   ids `[BATCH, SIZE]`, uniform in 1000..30000 and every row SIZE tokens long (no padding),
//!   mean-pooled over the tokens; dropout 0.1 as in training. CHANNELS and SIDE are ignored.
//!
//! ```text
//! cargo run --release --example backbone_bench BACKBONE SIZE BATCH STEPS [cpu|cuda] [CHANNELS SIDE]
//! ```
//!
//! Prints one number. `bench/backbones.sh` runs it beside the same loop in PyTorch
//! (`scripts/backbones.py bench`) and prints the ratio.

use std::time::Instant;
use tch::{Device, Kind, Tensor};
use thaw::model::{Head, Network};
use thaw::spec::{BackboneKind, Optimizer};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() >= 5,
        "usage: backbone_bench BACKBONE SIZE BATCH STEPS [cpu|cuda] [CHANNELS SIDE]"
    );
    let kind = BackboneKind::ALL
        .into_iter()
        .find(|k| k.name() == args[1])
        .ok_or_else(|| anyhow::anyhow!("unknown backbone {}", args[1]))?;
    let size: usize = args[2].parse()?;
    let batch: i64 = args[3].parse()?;
    let steps: usize = args[4].parse()?;
    let device = match args.get(5).map(String::as_str) {
        Some("cuda") => Device::Cuda(0),
        _ => Device::Cpu,
    };
    let channels: i64 = args.get(6).map_or(Ok(1), |a| a.parse())?;
    let side: i64 = args.get(7).map_or(Ok(28), |a| a.parse())?;
    tch::manual_seed(0);
    let mut net = Network::new(kind, device, None, Some(10));
    net.set_input_size(size);
    if kind == BackboneKind::MinilmL6 {
        net.load_weights(&thaw::paths::minilm_dir().join("model.safetensors"))?;
    }
    net.set_trainable_from(0);
    let sgd = Optimizer::Sgd {
        momentum: 0.9,
        nesterov: false,
        weight_decay: 0.0,
    };
    let mut opt = thaw::train::build_optimizer(&net, &sgd, Head::Target);
    for g in 0..=net.n_blocks() {
        opt.set_lr(g, 0.01);
    }
    // Two batches, alternated: token ids for text, u8 pixels for images.
    let inputs = if net.reads_text() {
        Tensor::randint_low(1000, 30000, [batch * 2, size as i64], (Kind::Int64, device))
    } else {
        Tensor::randint(
            256,
            [batch * 2, channels, side, side],
            (Kind::Uint8, device),
        )
    };
    let labels = Tensor::randint(10, [batch * 2], (Kind::Int64, device));
    let mut loss_sum = Tensor::zeros([], (Kind::Float, device));
    let mut step = |i: usize| {
        let idx = Tensor::arange(batch, (Kind::Int64, device)) + (i as i64 % 2) * batch;
        opt.zero_grad();
        let x = net.prepare_input(&inputs.index_select(0, &idx));
        let logits = net.logits(&net.features(&x, 0, true), Head::Target);
        let loss = logits.cross_entropy_for_logits(&labels.index_select(0, &idx));
        loss.backward();
        opt.step();
        loss_sum += loss.detach();
    };
    step(0);
    let started = Instant::now();
    for i in 0..steps {
        step(i);
    }
    let _ = f64::try_from(&loss_sum)?;
    if device.is_cuda() {
        tch::Cuda::synchronize(0);
    }
    println!(
        "{:.2}",
        (steps as f64 * batch as f64) / started.elapsed().as_secs_f64()
    );
    Ok(())
}
