//! Sweep progress: indicatif bars on a terminal, plain log lines otherwise.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Reports a sweep's progress: an overall bar (trials done/total, ETA) and a bar for the
/// running trial's epochs with its latest validation accuracy.
pub struct Progress {
    bars: Option<(MultiProgress, ProgressBar)>,
    trial: Option<ProgressBar>,
    total: usize,
    done: usize,
}

/// On a terminal, bars on stderr with the sweep's bar (trials done of `total`, elapsed, ETA)
/// on top; `None` otherwise.
pub fn sweep_bars(total: usize) -> Option<(MultiProgress, ProgressBar)> {
    std::io::stderr().is_terminal().then(|| {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(total as u64));
        overall.set_style(
            ProgressStyle::with_template(
                "trials {bar:30.cyan/blue} {pos}/{len}  elapsed {elapsed}  eta {eta}  {msg}",
            )
            .expect("valid template"),
        );
        (multi, overall)
    })
}

impl Progress {
    /// Starts reporting `total` trials; bars only when stderr is a terminal.
    pub fn new(total: usize) -> Progress {
        let bars = sweep_bars(total);
        Progress {
            bars,
            trial: None,
            total,
            done: 0,
        }
    }

    /// Prints a line above the bars (or to stderr).
    pub fn println(&self, line: &str) {
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// A trial starts: `label` describes it, it will run `epochs` epochs.
    pub fn start_trial(&mut self, label: &str, epochs: usize) {
        match &self.bars {
            Some((multi, _)) => {
                let bar = multi.add(ProgressBar::new(epochs as u64));
                bar.set_style(
                    ProgressStyle::with_template("  epoch {bar:20.green} {pos}/{len}  {msg}")
                        .expect("valid template"),
                );
                bar.set_message(label.to_string());
                self.trial = Some(bar);
            }
            None => eprintln!("[{}/{}] start {label}", self.done + 1, self.total),
        }
    }

    /// An epoch of the running trial finished.
    pub fn epoch(&self, epoch: usize, epochs: usize, val_acc: Option<f64>) {
        let acc = val_acc.map_or("-".to_string(), |a| format!("{:.3}", a));
        match &self.trial {
            Some(bar) => {
                bar.set_position(epoch as u64);
                bar.set_message(format!("val_acc {acc}"));
            }
            None => eprintln!("    epoch {epoch}/{epochs} val_acc {acc}"),
        }
    }

    /// The running trial ended with `outcome` (a short word and detail).
    pub fn finish_trial(&mut self, outcome: &str) {
        self.done += 1;
        if let Some(bar) = self.trial.take() {
            bar.finish_and_clear();
        }
        match &self.bars {
            Some((_, overall)) => {
                overall.set_position(self.done as u64);
                overall.set_message(outcome.to_string());
            }
            None => eprintln!("[{}/{}] {outcome}", self.done, self.total),
        }
    }

    /// Removes the bars.
    pub fn finish(&self) {
        if let Some((_, overall)) = &self.bars {
            overall.finish_and_clear();
        }
    }
}
