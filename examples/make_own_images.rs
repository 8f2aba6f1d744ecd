//! Writes a small image-folder dataset, the layout `{kind: folder, path: DIR}` expects, from the
//! bundled Fashion-MNIST: three classes, 60 PNG files each (28x28 grayscale), one sub-folder per
//! class. `experiments/own-images.yaml` fine-tunes on it.
//!
//! ```text
//! cargo run --release --example make_own_images [OUT_DIR] [DATA_DIR]
//! ```
//! OUT_DIR defaults to `data/own-images-example`, DATA_DIR (the bundled data) to `data`.

use anyhow::{Context, Result};
use std::path::PathBuf;
use thaw::data::load_dataset;
use thaw::spec::DatasetSource;

/// (Fashion-MNIST label, folder name).
const CLASSES: [(u32, &str); 3] = [(0, "tshirt"), (1, "trouser"), (7, "sneaker")];
const PER_CLASS: usize = 60;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "data/own-images-example".into()),
    );
    let data_dir = PathBuf::from(args.next().unwrap_or_else(|| "data".into()));
    let ds = load_dataset(
        &DatasetSource::Bundled {
            name: "fashion10k".into(),
        },
        &data_dir,
    )?;
    for (label, name) in CLASSES {
        let dir = out.join(name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        let picks = (0..ds.count)
            .filter(|&i| ds.labels[i] == label)
            .take(PER_CLASS);
        for (k, i) in picks.enumerate() {
            let img =
                image::GrayImage::from_raw(ds.width as u32, ds.height as u32, ds.image(i).to_vec())
                    .context("image buffer size")?;
            let p = dir.join(format!("{name}-{k:03}.png"));
            img.save(&p)
                .with_context(|| format!("{}: cannot write", p.display()))?;
        }
    }
    println!(
        "wrote {} PNG files in {} class folders under {}",
        PER_CLASS * CLASSES.len(),
        CLASSES.len(),
        out.display()
    );
    Ok(())
}
