//! The commands that need libtorch (the `train` feature): prepare, doctor, predict, and the
//! `--device` parsing they share with `thaw run`.

use super::{PredictArgs, PrepareArgs};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use tch::Device;
use thaw::exec;

/// A `--device` value as a libtorch device, checked against the CUDA devices visible.
pub fn parse_device(text: &str) -> Result<Device> {
    let cuda_count = tch::Cuda::device_count();
    let device = match text {
        "auto" => Device::cuda_if_available(),
        "cpu" => Device::Cpu,
        "cuda" => Device::Cuda(0),
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(i)) => Device::Cuda(i),
            _ => bail!("--device {other}: expected auto, cpu, cuda or cuda:N"),
        },
    };
    if let Device::Cuda(i) = device {
        if i as i64 >= cuda_count {
            bail!(
                "--device {text}: this machine has {cuda_count} CUDA device(s) visible to libtorch; run `thaw doctor` to see why, or use --device cpu"
            );
        }
    }
    Ok(device)
}

/// `thaw prepare GRID...`.
pub fn prepare(args: PrepareArgs) -> Result<()> {
    let cache_dir = args
        .cache_dir
        .unwrap_or_else(|| super::run::default_cache_dir(&args.db.db));
    let device = parse_device(&args.device)?;
    let planned = exec::grid_files(&args.grids)?
        .iter()
        .map(|g| exec::plan(g, &args.data_dir, &cache_dir, usize::MAX))
        .collect::<Result<Vec<_>>>()?;
    let made = exec::prepare::prepare(&planned, &args.db.db, &args.data_dir, &cache_dir, device)?;
    let names: Vec<&str> = planned.iter().map(|p| p.grid.name.as_str()).collect();
    println!(
        "prepared {}: {made} source checkpoints pretrained now, any others were already in {}",
        names.join(", "),
        cache_dir.display()
    );
    Ok(())
}

/// `thaw doctor [--json]`.
pub fn doctor(json: bool) {
    if json {
        println!("{}", thaw::doctor::json());
    } else {
        println!("{}", thaw::doctor::report());
    }
}

/// `thaw predict --model DIR INPUT...` or `thaw predict --backbone B --weights W IMAGE...`.
pub fn predict(args: PredictArgs) -> Result<()> {
    let device = parse_device(&args.device)?;
    let (Some(backbone), Some(weights)) = (&args.backbone, &args.weights) else {
        let dir = args
            .model
            .as_deref()
            .context("give --model DIR or --backbone and --weights")?;
        return predict_exported(dir, &args.images, args.top, device);
    };
    let kind = thaw::spec::BackboneKind::ALL
        .into_iter()
        .find(|k| {
            k.name() == backbone
                && k.takes_weights()
                && k.profile().modality == thaw::spec::Modality::Image
        })
        .with_context(|| format!("--backbone {backbone}: expected one of resnet18, resnet34, resnet50, mobilenet_v2, efficientnet_b0, efficientnet_lite0"))?;
    let file = match weights.as_str() {
        "imagenet" => kind.imagenet_weights()?,
        path => PathBuf::from(path),
    };
    let results = thaw::model::predict(kind, &file, &args.images, args.input_size, device)?;
    for (image, top) in args.images.iter().zip(results) {
        println!("{}", image.display());
        for (i, label, p) in top {
            println!("  {i:>4}  {p:.4}  {label}");
        }
    }
    Ok(())
}

/// `thaw predict --model DIR INPUT...`: the top classes of each image file (or text) by name.
fn predict_exported(dir: &Path, inputs: &[PathBuf], top: usize, device: Device) -> Result<()> {
    let model = thaw::exported::classify::Model::load(dir, device)?;
    let (names, results) = if model.reads_text() {
        let texts: Vec<String> = inputs
            .iter()
            .map(|t| t.to_string_lossy().into_owned())
            .collect();
        let results = model.classify_texts(&texts, top)?;
        (texts, results)
    } else {
        let names = inputs.iter().map(|p| p.display().to_string()).collect();
        (names, model.classify_images(inputs, top)?)
    };
    for (name, ranked) in names.iter().zip(results) {
        println!("{name}");
        for (class, p) in ranked {
            println!("  {p:.4}  {class}");
        }
    }
    Ok(())
}
