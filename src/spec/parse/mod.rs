//! From YAML text to typed axes: every key, type and range is checked here, with errors
//! collected in a [`Diag`] rather than stopping at the first one.

use super::error::{idx, key, Diag, Seg};
use super::trial::*;
use super::words::{describe, did_you_mean, key_text};
use serde_norway::{Mapping, Value};
use std::path::{Component, Path, PathBuf};

mod axes;
mod combine;
mod dataset;
mod grid;
mod schedule;
mod task;
mod values;

pub(crate) use axes::*;

pub(crate) const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "seeds",
    "source",
    "target",
    "backbone",
    "freeze",
    "baselines",
    "schedule",
    "optimizer",
    "epochs",
    "batch_size",
    "precision",
    "image_size",
    "weights",
    "input_size",
    "zip",
    "exclude",
    "report",
];
const SOURCE_KEYS: &[&str] = &["dataset", "classes", "train_per_class", "epochs", "lr"];
const TARGET_KEYS: &[&str] = &["dataset", "classes", "train_per_class", "shift"];
pub(crate) const BUNDLED: &[&str] = &["mnist10k", "fashion10k", "digits8x8"];
const SHIFT_KINDS: &[&str] = &["rotate", "noise", "invert", "blur", "contrast"];
const SCHEDULE_KINDS: &[&str] = &["constant", "step", "cosine", "stlr"];
const SCHEDULE_COMMON: &[&str] = &[
    "kind",
    "lr",
    "layer_decay",
    "gradual_unfreeze",
    "probe_epochs",
];
const OPTIMIZER_KINDS: &[&str] = &["sgd", "adamw"];

fn schedule_kind_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "step" => &["step_epochs", "gamma"],
        "cosine" => &["warmup_epochs"],
        "stlr" => &["cut_frac", "ratio"],
        _ => &[],
    }
}

fn optimizer_kind_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "sgd" => &["kind", "momentum", "nesterov", "weight_decay"],
        "adamw" => &["kind", "beta1", "beta2", "weight_decay"],
        _ => &["kind"],
    }
}

/// Joins a relative path to the grid file's directory and removes `.`/`..` lexically.
pub(crate) fn resolve_path(base_dir: &Path, p: &str) -> PathBuf {
    let joined = if Path::new(p).is_absolute() {
        PathBuf::from(p)
    } else {
        base_dir.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                let last_normal =
                    matches!(out.components().next_back(), Some(Component::Normal(_)));
                if last_normal {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

pub(crate) struct Parser<'d> {
    pub diag: &'d mut Diag,
    pub base_dir: PathBuf,
}

impl Parser<'_> {
    // ---------- generic helpers ----------

    fn mapping<'v>(&mut self, v: &'v Value, path: &[Seg], example: &str) -> Option<&'v Mapping> {
        match v {
            Value::Mapping(m) => Some(m),
            other => {
                self.diag.err(
                    path,
                    format!(
                        "expected a mapping such as {example}, got {}",
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    /// Reports keys of `m` not in `valid`; `misplaced` may explain a known-but-wrong key.
    fn check_keys(
        &mut self,
        m: &Mapping,
        path: &[Seg],
        valid: &[&str],
        misplaced: &dyn Fn(&str) -> Option<String>,
    ) {
        for k in m.keys() {
            let Some(text) = key_text(k) else {
                self.diag.err(
                    path,
                    format!(
                        "keys must be plain names, got {}; valid keys: {}",
                        describe(k),
                        valid.join(", ")
                    ),
                );
                continue;
            };
            if valid.contains(&text.as_str()) {
                continue;
            }
            let msg = match misplaced(&text) {
                Some(m) => m,
                None => format!(
                    "unknown key{}Valid keys: {}",
                    did_you_mean(&text, valid),
                    valid.join(", ")
                ),
            };
            self.diag.key_err(&key(path, &text), msg);
        }
    }

    fn uint(&mut self, v: &Value, path: &[Seg], min: u64, what: &str) -> Option<u64> {
        let got = match v {
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    if u >= min {
                        return Some(u);
                    }
                    format!("{u}")
                } else if let Some(i) = n.as_i64() {
                    format!("{i}")
                } else {
                    self.diag.err(
                        path,
                        format!("expected a whole number ({what}), got `{n}`; drop the fraction"),
                    );
                    return None;
                }
            }
            other => {
                self.diag.err(
                    path,
                    format!("expected an integer ({what}), got {}", describe(other)),
                );
                return None;
            }
        };
        self.diag
            .err(path, format!("must be at least {min} ({what}), got {got}"));
        None
    }

    fn usize(&mut self, v: &Value, path: &[Seg], min: u64, what: &str) -> Option<usize> {
        self.uint(v, path, min, what).and_then(|u| {
            usize::try_from(u).ok().or_else(|| {
                self.diag.err(path, format!("{u} is too large"));
                None
            })
        })
    }

    fn float(&mut self, v: &Value, path: &[Seg]) -> Option<f64> {
        match v {
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.is_finite() => Some(f),
                _ => {
                    self.diag
                        .err(path, format!("expected a finite number, got `{n}`"));
                    None
                }
            },
            other => {
                self.diag
                    .err(path, format!("expected a number, got {}", describe(other)));
                None
            }
        }
    }

    /// A float that must satisfy `ok`; `range` describes the allowed range in the message.
    fn float_in(
        &mut self,
        v: &Value,
        path: &[Seg],
        ok: impl Fn(f64) -> bool,
        range: &str,
    ) -> Option<f64> {
        let f = self.float(v, path)?;
        if ok(f) {
            Some(f)
        } else {
            self.diag
                .err(path, format!("must be {range}, got {f}; change the value"));
            None
        }
    }

    /// Optional float field with a default.
    fn opt_float(
        &mut self,
        m: &Mapping,
        path: &[Seg],
        k: &str,
        default: f64,
        ok: impl Fn(f64) -> bool,
        range: &str,
    ) -> Option<f64> {
        match m.get(k) {
            None => Some(default),
            Some(v) => self.float_in(v, &key(path, k), ok, range),
        }
    }

    fn boolean(&mut self, v: &Value, path: &[Seg]) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            other => {
                self.diag.err(
                    path,
                    format!("expected true or false, got {}", describe(other)),
                );
                None
            }
        }
    }

    fn string<'v>(&mut self, v: &'v Value, path: &[Seg], what: &str) -> Option<&'v str> {
        match v {
            Value::String(s) => Some(s),
            other => {
                self.diag
                    .err(path, format!("expected {what}, got {}", describe(other)));
                None
            }
        }
    }

    fn required<'v>(
        &mut self,
        m: &'v Mapping,
        path: &[Seg],
        k: &str,
        hint: &str,
    ) -> Option<&'v Value> {
        let v = m.get(k);
        if v.is_none() {
            self.diag.err(
                &key(path, k),
                format!("required key is missing; add {hint}"),
            );
        }
        v
    }

    /// One value or a list of values (an axis). `None` when any element is invalid.
    fn axis<T>(
        &mut self,
        v: &Value,
        path: &[Seg],
        mut f: impl FnMut(&mut Self, &Value, &[Seg]) -> Option<T>,
    ) -> Option<Vec<Av<T>>> {
        match v {
            Value::Sequence(items) => {
                if items.is_empty() {
                    self.diag.err(
                        path,
                        "empty list; give at least one value (or remove the key to use the default)",
                    );
                    return None;
                }
                let mut out = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    let p = idx(path, i);
                    match f(self, item, &p) {
                        Some(value) => out.push(Av { value, path: p }),
                        None => ok = false,
                    }
                }
                ok.then_some(out)
            }
            single => f(self, single, path).map(|value| {
                vec![Av {
                    value,
                    path: path.to_vec(),
                }]
            }),
        }
    }

    /// An optional axis with a default value.
    fn axis_or<T>(
        &mut self,
        m: &Mapping,
        path: &[Seg],
        k: &str,
        default: T,
        f: impl FnMut(&mut Self, &Value, &[Seg]) -> Option<T>,
    ) -> Option<Vec<Av<T>>> {
        let p = key(path, k);
        match m.get(k) {
            None => Some(vec![Av {
                value: default,
                path: p,
            }]),
            Some(v) => self.axis(v, &p, f),
        }
    }

    /// A required axis.
    fn axis_req<T>(
        &mut self,
        m: &Mapping,
        path: &[Seg],
        k: &str,
        hint: &str,
        f: impl FnMut(&mut Self, &Value, &[Seg]) -> Option<T>,
    ) -> Option<Vec<Av<T>>> {
        let v = self.required(m, path, k, hint)?;
        self.axis(v, &key(path, k), f)
    }
}
