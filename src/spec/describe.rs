//! The `--dry-run` listing of a grid's trials.

use super::search::sampled_cells;
use super::trial::*;
use super::Grid;

impl Optimizer {
    /// A short label such as `sgd m=0.9 wd=0.0005` or `adamw b=0.9/0.999 wd=0.01`.
    pub fn label(&self) -> String {
        match self {
            Optimizer::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => {
                let mut s = format!("sgd m={momentum}");
                if *nesterov {
                    s.push_str(" nesterov");
                }
                if *weight_decay != 0.0 {
                    s.push_str(&format!(" wd={weight_decay}"));
                }
                s
            }
            Optimizer::Adamw {
                beta1,
                beta2,
                weight_decay,
            } => format!("adamw b={beta1}/{beta2} wd={weight_decay}"),
        }
    }
}

impl TrialSpec {
    /// One line describing the trial, for progress output: `cnn4 pretrained freeze=2 n=10
    /// shift=none cosine lr=0.01 seed=0`.
    pub fn label(&self) -> String {
        format!("{} seed={}", self.config_label(), self.seed)
    }

    /// [`TrialSpec::label`] without the seed: the configuration the trial is a seed of.
    pub fn config_label(&self) -> String {
        format!(
            "{} {} freeze={} n={} shift={} {}",
            self.backbone,
            if self.pretrained {
                "pretrained"
            } else {
                "scratch"
            },
            self.freeze,
            self.target.train_per_class,
            self.target.shift,
            self.schedule.label()
        )
    }
}

/// The `--dry-run` listing: one line per trial (index, backbone, pretrained/scratch, freeze,
/// target size, shift, schedule, optimizer, seed, epochs, and precision when the grid mixes
/// them), columns aligned. A grid with `search:` starts with a line naming the method, samples
/// and distributions, and each trial ends with its sampled values (`lr=0.00123 freeze=2`).
pub fn describe_trials(grid: &Grid) -> String {
    let mixed = grid.trials.iter().any(|t| t.precision != Precision::Fp32);
    let rows: Vec<Vec<String>> = grid
        .trials
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut row = vec![
                format!("#{i}"),
                t.backbone.to_string(),
                if t.pretrained {
                    "pretrained"
                } else {
                    "scratch"
                }
                .to_string(),
                format!("freeze={}", t.freeze),
                format!("n={}/class", t.target.train_per_class),
                format!("shift={}", t.target.shift),
                t.schedule.label(),
                t.optimizer.label(),
                format!("seed={}", t.seed),
                format!("epochs={}", t.epochs),
            ];
            if mixed {
                row.push(t.precision.to_string());
            }
            if let Some(space) = &grid.search {
                row.extend(sampled_cells(space, t));
            }
            row
        })
        .collect();
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = grid
        .search
        .as_ref()
        .map_or(String::new(), |s| format!("{}\n", s.summary()));
    for r in &rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if c + 1 < r.len() {
                line.push_str(&" ".repeat(widths[c] - cell.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
