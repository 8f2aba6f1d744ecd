//! The validation pass: from the schema structs ([`super::schema`]) to typed axes. Every
//! type, range and cross-field rule is checked here, with errors collected in a [`Diag`] rather
//! than stopping at the first one.

use super::error::{idx, key, Diag, Seg};
use super::keys::{kind_with_key, names, variant, Field, Keys};
use super::schema::*;
use super::trial::*;
use super::words::{describe, did_you_mean, key_text};
use serde_norway::{Mapping, Value};
use std::path::{Component, Path, PathBuf};

mod axes;
mod combine;
mod dataset;
mod early_stop;
mod eval;
mod grid;
mod schedule;
mod search;
mod task;
mod text;
mod values;

pub(crate) use axes::*;
pub(crate) use eval::eval_of_yaml;

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
    pub catalog: &'d dyn super::ClassCatalog,
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

    /// The mapping at `path` read as the schema struct `T`, its unknown keys reported (`misplaced`
    /// may explain a key that belongs elsewhere).
    fn section<T: serde::de::DeserializeOwned>(
        &mut self,
        v: &Value,
        path: &[Seg],
        example: &str,
        misplaced: &dyn Fn(&str) -> Option<String>,
    ) -> Option<T> {
        let mut keys = Keys::new(self.mapping(v, path, example)?);
        let raw = keys.read();
        keys.check(self.diag, path, misplaced);
        Some(raw)
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

    /// A whole number in `min..=max`; `unit` follows the range in the message (` pixels`).
    fn usize_in(
        &mut self,
        v: &Value,
        path: &[Seg],
        (min, max): (u64, usize),
        what: &str,
        unit: &str,
    ) -> Option<usize> {
        let n = self.usize(v, path, min, what)?;
        if n > max {
            self.diag.err(
                path,
                format!("must be between {min} and {max}{unit}, got {n}"),
            );
            return None;
        }
        Some(n)
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

    /// A `kind:`-like value: one of the names of the enum `T`. `expected` describes the type
    /// wanted; an unknown name is reported as "{unknown} `NAME`; did you mean ...? {list}: ...".
    fn tag<T: serde::de::DeserializeOwned>(
        &mut self,
        v: &Value,
        path: &[Seg],
        expected: &str,
        (unknown, list): (&str, &str),
    ) -> Option<T> {
        let s = self.string(v, path, expected)?;
        let t = variant(s);
        if t.is_none() {
            let all = names::<T>();
            self.diag.err(
                path,
                format!(
                    "{unknown} `{s}`{}{list}: {}",
                    did_you_mean(s, all),
                    all.join(", ")
                ),
            );
        }
        t
    }

    /// The value of a required key `k` of the mapping at `path`.
    fn required<'v>(
        &mut self,
        f: &'v Field,
        path: &[Seg],
        k: &str,
        hint: &str,
    ) -> Option<&'v Value> {
        if f.0.is_none() {
            self.diag.err(
                &key(path, k),
                format!("required key is missing; add {hint}"),
            );
        }
        f.0.as_ref()
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

    /// A required axis.
    fn axis_req<T>(
        &mut self,
        f: &Field,
        path: &[Seg],
        k: &str,
        hint: &str,
        parse: impl FnMut(&mut Self, &Value, &[Seg]) -> Option<T>,
    ) -> Option<Vec<Av<T>>> {
        let v = self.required(f, path, k, hint)?;
        self.axis(v, &key(path, k), parse)
    }

    /// A key that takes one value: a list is reported as `not_axis`.
    fn single<'v>(&mut self, v: &'v Value, path: &[Seg], not_axis: &str) -> Option<&'v Value> {
        if v.is_sequence() {
            self.diag.err(path, not_axis);
            return None;
        }
        Some(v)
    }
}
