//! Report rendering benchmark: a synthetic sweep of 1,000 trials × 50 epochs.
//!
//! ```text
//! cargo run --release --example report_bench [TRIALS] [EPOCHS]
//! ```
//!
//! Builds the database in a temporary folder (not timed), then times: the first render
//! (report, every trial page, index), a re-render with every trial unchanged (what the
//! executor does after each trial), and the three exports.

use rusqlite::{params, Connection};
use std::time::Instant;
use thaw::report::{export_sweep, render_sweep, ExportFormat};

const BLOCKS: [&str; 5] = [
    "lr/block0",
    "lr/block1",
    "lr/block2",
    "lr/block3",
    "lr/head",
];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let trials: usize = args.get(1).map_or(Ok(1000), |s| s.parse())?;
    let epochs: i64 = args.get(2).map_or(Ok(50), |s| s.parse())?;
    let tmp = std::env::temp_dir().join(format!("thaw-report-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let db = tmp.join("thaw.sqlite");

    let t = Instant::now();
    let rows = build(&db, trials, epochs)?;
    println!(
        "built {trials} trials x {epochs} epochs ({rows} metric rows) in {:.2?}",
        t.elapsed()
    );

    let out = tmp.join("reports");
    let t = Instant::now();
    let path = render_sweep(&db, "bench", &out)?;
    let cold = t.elapsed();
    println!(
        "first render (report + {trials} trial pages + index): {:.3} s",
        cold.as_secs_f64()
    );
    let t = Instant::now();
    render_sweep(&db, "bench", &out)?;
    println!(
        "re-render, trial pages unchanged:                 {:.3} s",
        t.elapsed().as_secs_f64()
    );
    println!(
        "report page: {} ({} KiB)",
        path.display(),
        std::fs::metadata(&path)?.len() / 1024
    );
    for f in [ExportFormat::Csv, ExportFormat::Json, ExportFormat::Ipynb] {
        let t = Instant::now();
        export_sweep(
            &db,
            "bench",
            f,
            &tmp.join(format!("bench.{}", f.extension())),
        )?;
        println!(
            "export {:5}: {:.3} s",
            f.extension(),
            t.elapsed().as_secs_f64()
        );
    }
    if std::env::var_os("THAW_BENCH_KEEP").is_none() {
        std::fs::remove_dir_all(&tmp)?;
    } else {
        println!("kept {}", tmp.display());
    }
    Ok(())
}

/// 1,000 trials = 5 models (freeze 0..3 and scratch) × 5 sizes × 4 shifts × 2 schedules ×
/// 5 seeds (cycled for other counts), every metric of a real trial at every epoch.
fn build(db: &std::path::Path, trials: usize, epochs: i64) -> anyhow::Result<usize> {
    let mut conn = Connection::open(db)?;
    thaw::track::schema::migrate(&mut conn, db)?;
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO sweeps (name, description, spec_path, spec_yaml, created_at, updated_at)
         VALUES ('bench', 'Synthetic benchmark sweep.', 'bench.yaml', ?1, 't', 't')",
        params!["name: bench\nreport:\n  - {title: By seed, sql: \"SELECT seed, AVG(final_test_acc) AS acc FROM trial_summary GROUP BY seed\", chart: bar, x: seed, y: acc}\n"],
    )?;
    let models = [
        (true, "0"),
        (true, "1"),
        (true, "2"),
        (true, "3"),
        (false, "0"),
    ];
    let sizes = [5, 10, 50, 250, 1000];
    let shifts = ["none", "rotate 45", "noise 0.3", "invert 1"];
    let schedules = [("constant lr=0.01", 0.01), ("cosine lr=0.1", 0.1)];
    let mut n_rows = 0;
    {
        let mut ins_trial = tx.prepare(
            "INSERT INTO trials (sweep_id, key, status, config_json, backbone, pretrained, freeze,
                frozen_blocks, source_dataset, target_dataset, train_per_class, shift, shift_kind,
                shift_magnitude, schedule, lr, optimizer, seed, epochs, batch_size, position,
                started_at, finished_at, device)
             VALUES (1, ?1, 'completed', ?2, 'cnn4', ?3, ?4, ?5, 'mnist10k', 'mnist10k', ?6, ?7,
                ?8, ?9, ?10, ?11, 'sgd', ?12, ?13, 64, ?14, 't0', 't1', 'cpu')",
        )?;
        let mut ins_metric = tx.prepare(
            "INSERT INTO metrics (trial_id, epoch, name, value) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for i in 0..trials {
            let (pretrained, freeze) = models[i % 5];
            let n = sizes[(i / 5) % 5];
            let shift = shifts[(i / 25) % 4];
            let (schedule, lr) = schedules[(i / 100) % 2];
            let seed = ((i / 200) % 5) as i64;
            let frozen: i64 = freeze.parse()?;
            let key = format!(
                "{:016x}",
                (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            );
            let config = format!(
                r#"{{"freeze":"{freeze}","train_per_class":{n},"shift":"{shift}","schedule":"{schedule}","seed":{seed}}}"#
            );
            ins_trial.execute(params![
                key,
                config,
                pretrained as i64,
                freeze,
                frozen,
                n,
                shift,
                shift.split(' ').next().unwrap_or("none"),
                shift
                    .split(' ')
                    .nth(1)
                    .map_or(0.0, |m| m.parse().unwrap_or(0.0)),
                schedule,
                lr,
                seed,
                epochs,
                i as i64,
            ])?;
            let id = tx.last_insert_rowid();
            let base = 0.3 + 0.1 * (n as f64).log10() + if pretrained { 0.1 } else { 0.0 };
            for e in 0..=epochs {
                let p = e as f64 / epochs as f64;
                let val = base + 0.2 * p + 0.003 * seed as f64;
                let mut m: Vec<(&str, f64)> = vec![
                    ("train_loss", 2.0 - 1.5 * p),
                    ("val_loss", 2.1 - 1.2 * p),
                    ("train_acc", (val + 0.1 * p).min(1.0)),
                    ("val_acc", val),
                    ("test_acc", val - 0.01),
                ];
                if pretrained {
                    m.push(("source_acc", 0.95 - 0.05 * p * (4 - frozen) as f64));
                }
                if e > 0 {
                    m.push(("epoch_seconds", 1.5));
                    for (b, name) in BLOCKS.iter().enumerate() {
                        let v = if (b as i64) < frozen && *name != "lr/head" {
                            0.0
                        } else {
                            lr * (1.0 - 0.5 * p)
                        };
                        m.push((name, v));
                    }
                }
                for (name, v) in m {
                    ins_metric.execute(params![id, e, name, v])?;
                    n_rows += 1;
                }
            }
        }
    }
    tx.commit()?;
    Ok(n_rows)
}
