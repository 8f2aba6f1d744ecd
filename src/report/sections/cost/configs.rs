//! The configurations of the cost section: completed trials grouped by every setting but the
//! seed, each with its test accuracy aggregated over seeds and its mean costs.

use crate::report::context::{distinct, freeze_label, size_label, SCRATCH};
use crate::report::rows::{fmt_real, num, text};
use crate::report::series::SETTINGS;
use crate::report::stats::{ci, mean};
use rusqlite::types::Value;

/// The settings that make a configuration's group: accuracies of different groups are not
/// comparable (another target, another number of examples per class, another shift).
const GROUP_SETTINGS: [&str; 3] = ["target_dataset", "train_per_class", "shift"];

/// One completed trial: its settings, final test accuracy and the three costs.
#[derive(Clone, Debug)]
pub(crate) struct TrialCost {
    /// The values of [`SETTINGS`] as text, in that order (the seed included).
    pub settings: Vec<String>,
    /// Final test accuracy.
    pub acc: f64,
    /// Seconds its fine-tuning epochs spent training: their wall-clock time minus the time
    /// they spent evaluating the splits.
    pub seconds: f64,
    /// Parameters trained in its final epoch.
    pub params: f64,
    /// Training examples times epochs.
    pub images: f64,
    /// The device it ran on (`cpu`, `cuda:0`).
    pub device: String,
    /// The machine it ran on: host, CPU and GPU of its environment (empty when not recorded).
    pub machine: String,
}

impl TrialCost {
    /// A row of the section's query: `key`, the [`SETTINGS`], then `final_test_acc`,
    /// `training_seconds`, `trainable_params`, `images_seen`, `device`, `host`, `cpu_model`,
    /// `gpu_name`. `None` when a number is missing.
    pub(crate) fn from_row(r: &[Value]) -> Option<Self> {
        let n = SETTINGS.len();
        let at = |i: usize| r.get(n + i).and_then(num);
        let machine: Vec<String> = r
            .get(n + 6..n + 9)?
            .iter()
            .map(text)
            .filter(|s| !s.is_empty())
            .collect();
        Some(TrialCost {
            settings: r.get(1..=n)?.iter().map(text).collect(),
            acc: at(1)?,
            seconds: at(2)?,
            params: at(3)?,
            images: at(4)?,
            device: r.get(n + 5).map(text).unwrap_or_default(),
            machine: machine.join(", "),
        })
    }

    /// The value of setting `name` (one of [`SETTINGS`]).
    fn setting(&self, name: &str) -> &str {
        SETTINGS
            .iter()
            .position(|s| *s == name)
            .and_then(|i| self.settings.get(i))
            .map_or("", String::as_str)
    }

    /// Every setting but the seed: what makes the trial's configuration.
    fn config_key(&self) -> Vec<&str> {
        SETTINGS
            .iter()
            .filter(|s| **s != "seed")
            .map(|s| self.setting(s))
            .collect()
    }

    /// The model series: `freeze <k>` for a fine-tuned trial, `scratch` otherwise.
    fn model(&self) -> String {
        if self.setting("pretrained") == "1" {
            freeze_label(self.setting("freeze"))
        } else {
            SCRATCH.to_string()
        }
    }
}

/// How a setting reads in a configuration's label: `100/class`, `lr=0.01`.
fn setting_label(name: &str, value: &str) -> String {
    match name {
        "train_per_class" => value.parse().map_or(value.to_string(), size_label),
        "shift" if value == "none" => "no shift".to_string(),
        "backbone" | "target_dataset" | "shift" | "schedule" | "optimizer" | "precision" => {
            value.to_string()
        }
        "source_dataset" => format!("from {value}"),
        "epochs" => format!("{value} epochs"),
        "batch_size" => format!("batch {value}"),
        _ => format!("{name}={value}"),
    }
}

/// A configuration: the trials alike in every setting but the seed.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Config {
    /// The model, then every other setting that varies in the sweep: `freeze 2, 100/class`.
    pub label: String,
    /// The model series: `freeze <k>` or `scratch`.
    pub model: String,
    /// The comparable group: the target dataset, size and shift where they vary (empty when
    /// none does).
    pub group: String,
    /// Final test accuracy of each seed.
    pub accs: Vec<f64>,
    /// Mean test accuracy over the seeds.
    pub mean: f64,
    /// Half-width of its 95% interval (`None` where n = 1).
    pub half: Option<f64>,
    /// The seeds (trials) it has.
    pub n: usize,
    /// Mean training seconds over the seeds.
    pub seconds: f64,
    /// Mean trainable parameters.
    pub params: f64,
    /// Mean images seen.
    pub images: f64,
}

impl Config {
    /// A configuration of the given seeds' accuracies and mean (seconds, params, images).
    pub(crate) fn new(
        label: &str,
        model: &str,
        group: &str,
        accs: Vec<f64>,
        (seconds, params, images): (f64, f64, f64),
    ) -> Self {
        let (mean, half, n) = ci(&accs).unwrap_or((f64::NAN, None, 0));
        Config {
            label: label.to_string(),
            model: model.to_string(),
            group: group.to_string(),
            accs,
            mean,
            half,
            n,
            seconds,
            params,
            images,
        }
    }

    /// The standard error of the mean accuracy over seeds; `None` with fewer than 2 seeds.
    pub(crate) fn se(&self) -> Option<f64> {
        if self.n < 2 {
            return None;
        }
        let ss: f64 = self.accs.iter().map(|a| (a - self.mean).powi(2)).sum();
        Some((ss / (self.n - 1) as f64).sqrt() / (self.n as f64).sqrt())
    }

    /// "freeze 0 (mean 0.920, 95% CI [0.870, 0.970], n = 3, 12.0 s)"; "no interval" where n = 1.
    pub(crate) fn describe(&self) -> String {
        let interval = match self.half {
            Some(h) => format!("95% CI [{:.3}, {:.3}]", self.mean - h, self.mean + h),
            None => "no interval".to_string(),
        };
        format!(
            "{} (mean {:.3}, {interval}, n = {}, {} s)",
            self.label,
            self.mean,
            self.n,
            fmt_real(self.seconds)
        )
    }
}

/// The configurations of `trials`, in order of first appearance, each labelled by its model
/// and the other settings that vary among `trials`.
pub(crate) fn configurations(trials: &[TrialCost]) -> Vec<Config> {
    let varying: Vec<&str> = SETTINGS
        .iter()
        .copied()
        .filter(|s| !matches!(*s, "seed" | "pretrained" | "freeze"))
        .filter(|s| distinct(trials.iter().map(|t| t.setting(s))).len() > 1)
        .collect();
    let labels = |t: &TrialCost, names: &mut dyn Iterator<Item = &&str>| -> Vec<String> {
        names.map(|s| setting_label(s, t.setting(s))).collect()
    };
    distinct(trials.iter().map(TrialCost::config_key))
        .into_iter()
        .map(|key| {
            let of: Vec<&TrialCost> = trials.iter().filter(|t| t.config_key() == key).collect();
            let first = of[0];
            let model = first.model();
            let mut label = vec![model.clone()];
            label.extend(labels(first, &mut varying.iter()));
            let group = labels(
                first,
                &mut varying.iter().filter(|s| GROUP_SETTINGS.contains(*s)),
            );
            let mean_of =
                |f: fn(&TrialCost) -> f64| mean(&of.iter().map(|t| f(t)).collect::<Vec<_>>());
            Config::new(
                &label.join(", "),
                &model,
                &group.join(", "),
                of.iter().map(|t| t.acc).collect(),
                (
                    mean_of(|t| t.seconds),
                    mean_of(|t| t.params),
                    mean_of(|t| t.images),
                ),
            )
        })
        .collect()
}
