//! From YAML text to typed axes: every key, type and range is checked here, with errors
//! collected in a [`Diag`] rather than stopping at the first one.

use super::error::{idx, key, Diag, Seg};
use super::trial::*;
use serde_norway::{Mapping, Value};
use std::path::{Component, Path, PathBuf};

/// A value of an axis together with where it was written.
#[derive(Clone, Debug)]
pub(crate) struct Av<T> {
    pub value: T,
    pub path: Vec<Seg>,
}

/// The grid's axes, in the order of the cartesian product (seed innermost).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AxisId {
    Backbone,
    Freeze,
    TrainPerClass,
    Shift,
    Schedule,
    Optimizer,
    Epochs,
    BatchSize,
    Precision,
    Seed,
}

impl AxisId {
    pub const ALL: [AxisId; 10] = [
        AxisId::Backbone,
        AxisId::Freeze,
        AxisId::TrainPerClass,
        AxisId::Shift,
        AxisId::Schedule,
        AxisId::Optimizer,
        AxisId::Epochs,
        AxisId::BatchSize,
        AxisId::Precision,
        AxisId::Seed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AxisId::Backbone => "backbone",
            AxisId::Freeze => "freeze",
            AxisId::TrainPerClass => "train_per_class",
            AxisId::Shift => "shift",
            AxisId::Schedule => "schedule",
            AxisId::Optimizer => "optimizer",
            AxisId::Epochs => "epochs",
            AxisId::BatchSize => "batch_size",
            AxisId::Precision => "precision",
            AxisId::Seed => "seed",
        }
    }

    pub fn index(self) -> usize {
        AxisId::ALL.iter().position(|a| *a == self).unwrap()
    }

    fn from_name(s: &str) -> Option<AxisId> {
        AxisId::ALL.iter().copied().find(|a| a.name() == s)
    }

    fn names() -> Vec<&'static str> {
        AxisId::ALL.iter().map(|a| a.name()).collect()
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Axes {
    pub backbone: Vec<Av<BackboneKind>>,
    pub freeze: Vec<Av<Freeze>>,
    pub train_per_class: Vec<Av<usize>>,
    pub shift: Vec<Av<Shift>>,
    pub schedule: Vec<Av<Schedule>>,
    pub optimizer: Vec<Av<Optimizer>>,
    pub epochs: Vec<Av<usize>>,
    pub batch_size: Vec<Av<usize>>,
    pub precision: Vec<Av<Precision>>,
    pub seed: Vec<Av<u64>>,
}

impl Axes {
    pub fn len(&self, a: AxisId) -> usize {
        match a {
            AxisId::Backbone => self.backbone.len(),
            AxisId::Freeze => self.freeze.len(),
            AxisId::TrainPerClass => self.train_per_class.len(),
            AxisId::Shift => self.shift.len(),
            AxisId::Schedule => self.schedule.len(),
            AxisId::Optimizer => self.optimizer.len(),
            AxisId::Epochs => self.epochs.len(),
            AxisId::BatchSize => self.batch_size.len(),
            AxisId::Precision => self.precision.len(),
            AxisId::Seed => self.seed.len(),
        }
    }
}

/// A `zip:` group: axes iterated together.
#[derive(Clone, Debug)]
pub(crate) struct ZipGroup {
    pub axes: Vec<AxisId>,
    pub path: Vec<Seg>,
}

/// An `exclude:` rule: a combination is dropped when, for every listed axis, its value index
/// is one of the given indices.
#[derive(Clone, Debug)]
pub(crate) struct Exclude {
    pub conds: Vec<(AxisId, Vec<usize>)>,
}

#[derive(Clone, Debug)]
pub(crate) struct Parsed {
    pub name: String,
    pub description: String,
    pub source: SourceTask,
    pub target_dataset: DatasetSource,
    pub target_classes: Vec<u32>,
    pub axes: Axes,
    /// `baselines: [scratch]`: add every trial trained from scratch.
    pub scratch: bool,
    /// `baselines: [linear_probe]`: add every pretrained trial as a linear probe.
    pub linear_probe: bool,
    pub image_size: usize,
    /// `weights:` (then `source` is [`SourceTask::unused`]).
    pub weights: Option<Weights>,
    /// `input_size:`.
    pub input_size: Option<usize>,
    pub zips: Vec<ZipGroup>,
    pub excludes: Vec<Exclude>,
    pub excludes_path: Vec<Seg>,
}

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

/// The closest valid name, when one is close enough to be a likely typo.
pub(crate) fn closest<'a>(word: &str, valid: &[&'a str]) -> Option<&'a str> {
    valid
        .iter()
        .map(|v| {
            (
                *v,
                strsim::damerau_levenshtein(word, v),
                strsim::jaro_winkler(word, v),
            )
        })
        .filter(|(_, d, jw)| *d <= 2.max(word.len() / 3) || *jw >= 0.85)
        .min_by(|a, b| a.1.cmp(&b.1).then(b.2.total_cmp(&a.2)))
        .map(|(v, _, _)| v)
}

fn did_you_mean(word: &str, valid: &[&str]) -> String {
    match closest(word, valid) {
        Some(s) => format!("; did you mean `{s}`? "),
        None => ". ".to_string(),
    }
}

/// Short description of a YAML value for type errors.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing (null)".into(),
        Value::Bool(b) => format!("the boolean `{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) => format!("the string `{s}`"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged `{}`", t.tag),
    }
}

/// Text of a mapping key, as the locator matches it.
fn key_text(k: &Value) -> Option<String> {
    match k {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some("null".into()),
        _ => None,
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

    // ---------- value parsers ----------

    fn precision(&mut self, v: &Value, path: &[Seg]) -> Option<Precision> {
        let names: Vec<&str> = Precision::ALL.iter().map(|p| p.name()).collect();
        let s = self.string(v, path, &format!("a precision ({})", names.join(", ")))?;
        if let Some(p) = Precision::ALL.iter().find(|p| p.name() == s) {
            return Some(*p);
        }
        let hint = if s == "fp16" {
            ". fp16 needs loss scaling, which thaw does not do; bf16 has fp32's range and needs \
             none (GPUs from Ampere/Hopper on, and any CPU). "
                .to_string()
        } else {
            did_you_mean(s, &names)
        };
        self.diag.err(
            path,
            format!(
                "unknown precision `{s}`{hint}Precisions: {}",
                names.join(", ")
            ),
        );
        None
    }

    fn backbone(&mut self, v: &Value, path: &[Seg]) -> Option<BackboneKind> {
        let names: Vec<&str> = BackboneKind::ALL.iter().map(|b| b.name()).collect();
        let s = self.string(v, path, &format!("a backbone name ({})", names.join(", ")))?;
        match BackboneKind::ALL.iter().find(|b| b.name() == s) {
            Some(b) => Some(*b),
            None => {
                self.diag.err(
                    path,
                    format!(
                        "unknown backbone `{s}`{}Backbones: {}",
                        did_you_mean(s, &names),
                        names.join(", ")
                    ),
                );
                None
            }
        }
    }

    /// `weights: imagenet | FILE.safetensors`, checked against the backbone axis.
    fn weights(
        &mut self,
        v: &Value,
        path: &[Seg],
        backbones: &[Av<BackboneKind>],
    ) -> Option<Weights> {
        if let Value::Sequence(_) = v {
            self.diag.err(
                path,
                "weights is not an axis; give one value (`imagenet` or a .safetensors file) and \
                 one backbone",
            );
            return None;
        }
        let s = self.string(v, path, "`imagenet` or a .safetensors file of a state_dict")?;
        let mut ok = true;
        for b in backbones {
            if !b.value.takes_weights() {
                let loadable: Vec<&str> = BackboneKind::ALL
                    .iter()
                    .filter(|k| k.takes_weights())
                    .map(|k| k.name())
                    .collect();
                self.diag.err(
                    &b.path,
                    format!(
                        "backbone `{}` cannot load `weights:` (it is pretrained by thaw on a \
                         source task); backbones that load weights: {}",
                        b.value,
                        loadable.join(", ")
                    ),
                );
                ok = false;
            }
        }
        if s == "imagenet" {
            for b in backbones {
                if b.value.takes_weights() && b.value != BackboneKind::EfficientnetLite0 {
                    self.diag.err(
                        path,
                        format!(
                            "`imagenet` weights ship for efficientnet_lite0 only, not `{}`; give \
                             a .safetensors file of a torchvision state_dict (see the README)",
                            b.value
                        ),
                    );
                    ok = false;
                }
            }
            return ok.then_some(Weights::Imagenet);
        }
        if backbones.len() > 1 {
            self.diag.err(
                path,
                format!(
                    "a weights file fits one architecture, but the backbone axis lists {}; use \
                     one backbone per grid",
                    backbones.len()
                ),
            );
            ok = false;
        }
        if !s.ends_with(".safetensors") {
            self.diag.err(
                path,
                format!(
                    "weights `{s}` is not a .safetensors file; convert the checkpoint first (see \
                     the README), or use `imagenet`"
                ),
            );
            return None;
        }
        let file = resolve_path(&self.base_dir, s);
        if !file.is_file() {
            self.diag.err(
                path,
                format!("weights file {} does not exist", file.display()),
            );
            return None;
        }
        ok.then_some(Weights::File(file))
    }

    /// `input_size: N`, for backbones that resize their input.
    fn input_size(
        &mut self,
        v: &Value,
        path: &[Seg],
        backbones: &[Av<BackboneKind>],
    ) -> Option<usize> {
        if let Value::Sequence(_) = v {
            self.diag.err(
                path,
                "input_size is not an axis; give one number between 16 and 1024",
            );
            return None;
        }
        let n = self.usize(v, path, 16, "input side length in pixels")?;
        if n > 1024 {
            self.diag
                .err(path, format!("must be between 16 and 1024, got {n}"));
            return None;
        }
        let mut ok = true;
        for b in backbones {
            if b.value.profile().default_input_size.is_none() {
                self.diag.err(
                    path,
                    format!(
                        "input_size applies to ImageNet-style backbones; `{}` takes the data at \
                         `image_size`",
                        b.value
                    ),
                );
                ok = false;
            }
        }
        ok.then_some(n)
    }

    fn freeze(&mut self, v: &Value, path: &[Seg]) -> Option<Freeze> {
        match v {
            Value::String(s) if s == "all" => Some(Freeze::All),
            Value::Number(_) => self
                .usize(v, path, 0, "number of blocks frozen from the input side")
                .map(Freeze::Blocks),
            other => {
                self.diag.err(
                    path,
                    format!(
                        "expected a number of frozen blocks (0 = fine-tune everything) or `all` \
                         (linear probe), got {}",
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    fn train_per_class(&mut self, v: &Value, path: &[Seg]) -> Option<usize> {
        self.usize(v, path, 1, "training examples per class")
    }

    fn epochs(&mut self, v: &Value, path: &[Seg]) -> Option<usize> {
        self.usize(v, path, 1, "number of training epochs")
    }

    fn batch_size(&mut self, v: &Value, path: &[Seg]) -> Option<usize> {
        self.usize(v, path, 1, "examples per batch")
    }

    fn seed(&mut self, v: &Value, path: &[Seg]) -> Option<u64> {
        self.uint(v, path, 0, "a random seed")
    }

    fn shift(&mut self, v: &Value, path: &[Seg]) -> Option<Shift> {
        const FORMS: &str = "`none`, `invert`, or a mapping with one of rotate, noise, invert, \
                             blur, contrast, e.g. {rotate: 45}";
        match v {
            Value::String(s) => match s.as_str() {
                "none" => Some(Shift::None),
                "invert" => Some(Shift::Invert { amount: 1.0 }),
                other => {
                    let mut all = vec!["none"];
                    all.extend_from_slice(SHIFT_KINDS);
                    self.diag.err(
                        path,
                        format!(
                            "unknown shift `{other}`{}A shift is {FORMS}",
                            did_you_mean(other, &all)
                        ),
                    );
                    None
                }
            },
            Value::Null => Some(Shift::None),
            Value::Mapping(m) => {
                self.check_keys(m, path, SHIFT_KINDS, &|_| None);
                let present: Vec<&str> = SHIFT_KINDS
                    .iter()
                    .copied()
                    .filter(|k| m.get(*k).is_some())
                    .collect();
                if present.len() != 1 {
                    if m.len() == present.len() {
                        self.diag.err(
                            path,
                            format!(
                                "a shift has exactly one kind, got {}; write one shift per \
                                 list entry, e.g. [{{rotate: 45}}, {{noise: 0.2}}]",
                                if present.is_empty() {
                                    "none".to_string()
                                } else {
                                    present.join(" and ")
                                }
                            ),
                        );
                    }
                    return None;
                }
                let k = present[0];
                let p = key(path, k);
                let val = m.get(k).unwrap();
                match k {
                    "rotate" => self.float(val, &p).map(|degrees| Shift::Rotate { degrees }),
                    "noise" => self
                        .float_in(
                            val,
                            &p,
                            |x| x >= 0.0,
                            ">= 0 (standard deviation on the 0..1 pixel scale)",
                        )
                        .map(|sigma| Shift::Noise { sigma }),
                    "invert" => self
                        .float_in(
                            val,
                            &p,
                            |x| (0.0..=1.0).contains(&x),
                            "in [0, 1] (1 = full inversion)",
                        )
                        .map(|amount| Shift::Invert { amount }),
                    "blur" => self
                        .float_in(val, &p, |x| x >= 0.0, ">= 0 (blur sigma in pixels)")
                        .map(|sigma| Shift::Blur { sigma }),
                    _ => self
                        .float_in(
                            val,
                            &p,
                            |x| x > 0.0 && x <= 1.0,
                            "in (0, 1] (contrast factor)",
                        )
                        .map(|factor| Shift::Contrast { factor }),
                }
            }
            other => {
                self.diag.err(
                    path,
                    format!("expected a shift ({FORMS}), got {}", describe(other)),
                );
                None
            }
        }
    }

    fn schedule(&mut self, v: &Value, path: &[Seg]) -> Option<Schedule> {
        let m = self.mapping(v, path, "{kind: cosine, lr: 0.01}")?;
        let kind_v = self.required(
            m,
            path,
            "kind",
            &format!("`kind:` (one of {})", SCHEDULE_KINDS.join(", ")),
        );
        let kind = match kind_v {
            Some(kv) => {
                let s = self.string(kv, &key(path, "kind"), "a schedule kind")?;
                if !SCHEDULE_KINDS.contains(&s) {
                    self.diag.err(
                        &key(path, "kind"),
                        format!(
                            "unknown schedule kind `{s}`{}Kinds: {}",
                            did_you_mean(s, SCHEDULE_KINDS),
                            SCHEDULE_KINDS.join(", ")
                        ),
                    );
                    return None;
                }
                s
            }
            None => return None,
        };
        let mut valid: Vec<&str> = SCHEDULE_COMMON.to_vec();
        valid.extend_from_slice(schedule_kind_keys(kind));
        self.check_keys(m, path, &valid, &|k| {
            SCHEDULE_KINDS
                .iter()
                .find(|other| schedule_kind_keys(other).contains(&k))
                .map(|other| {
                    format!(
                        "`{k}` does not apply to a `{kind}` schedule (it belongs to `{other}`); \
                         remove it or use kind: {other}. Valid keys for {kind}: {}",
                        valid.join(", ")
                    )
                })
        });
        let lr = self
            .required(m, path, "lr", "`lr:` (the peak learning rate, e.g. 0.01)")
            .and_then(|lv| self.float_in(lv, &key(path, "lr"), |x| x > 0.0, "> 0"));
        let layer_decay = self.opt_float(
            m,
            path,
            "layer_decay",
            1.0,
            |x| x >= 1.0,
            ">= 1 (1 = same rate for every block)",
        );
        let gradual_unfreeze = match m.get("gradual_unfreeze") {
            None => Some(false),
            Some(b) => self.boolean(b, &key(path, "gradual_unfreeze")),
        };
        let probe_epochs = match m.get("probe_epochs") {
            None => Some(0),
            Some(v) => self.usize(
                v,
                &key(path, "probe_epochs"),
                0,
                "epochs of linear probing before fine-tuning (LP-FT)",
            ),
        };
        let sk = match kind {
            "constant" => Some(ScheduleKind::Constant),
            "cosine" => self
                .opt_float(m, path, "warmup_epochs", 0.0, |x| x >= 0.0, ">= 0")
                .map(|warmup_epochs| ScheduleKind::Cosine { warmup_epochs }),
            "step" => {
                let step_epochs = self
                    .required(
                        m,
                        path,
                        "step_epochs",
                        "`step_epochs:` (decay every N epochs, >= 1)",
                    )
                    .and_then(|sv| {
                        self.usize(sv, &key(path, "step_epochs"), 1, "epochs between decays")
                    });
                let gamma =
                    self.opt_float(m, path, "gamma", 0.1, |x| x > 0.0 && x <= 1.0, "in (0, 1]");
                match (step_epochs, gamma) {
                    (Some(step_epochs), Some(gamma)) => {
                        Some(ScheduleKind::Step { step_epochs, gamma })
                    }
                    _ => None,
                }
            }
            _ => {
                let cut_frac = self.opt_float(
                    m,
                    path,
                    "cut_frac",
                    0.1,
                    |x| x > 0.0 && x < 1.0,
                    "in (0, 1)",
                );
                let ratio = self.opt_float(m, path, "ratio", 32.0, |x| x >= 1.0, ">= 1");
                match (cut_frac, ratio) {
                    (Some(cut_frac), Some(ratio)) => Some(ScheduleKind::Stlr { cut_frac, ratio }),
                    _ => None,
                }
            }
        };
        Some(Schedule {
            kind: sk?,
            lr: lr?,
            layer_decay: layer_decay?,
            gradual_unfreeze: gradual_unfreeze?,
            probe_epochs: probe_epochs?,
        })
    }

    fn optimizer(&mut self, v: &Value, path: &[Seg]) -> Option<Optimizer> {
        let (kind, m): (&str, Option<&Mapping>) = match v {
            Value::String(s) => (s.as_str(), None),
            Value::Mapping(m) => {
                let kv = self.required(m, path, "kind", "`kind: sgd` or `kind: adamw`")?;
                (
                    self.string(kv, &key(path, "kind"), "an optimizer kind")?,
                    Some(m),
                )
            }
            other => {
                self.diag.err(
                    path,
                    format!(
                        "expected an optimizer such as {{kind: sgd, momentum: 0.9}} or \
                         {{kind: adamw}}, got {}",
                        describe(other)
                    ),
                );
                return None;
            }
        };
        if !OPTIMIZER_KINDS.contains(&kind) {
            let p = if m.is_some() {
                key(path, "kind")
            } else {
                path.to_vec()
            };
            self.diag.err(
                &p,
                format!(
                    "unknown optimizer `{kind}`{}Optimizers: sgd, adamw",
                    did_you_mean(kind, OPTIMIZER_KINDS)
                ),
            );
            return None;
        }
        let empty = Mapping::new();
        let m = m.unwrap_or(&empty);
        let valid = optimizer_kind_keys(kind);
        self.check_keys(m, path, valid, &|k| {
            OPTIMIZER_KINDS
                .iter()
                .find(|other| optimizer_kind_keys(other).contains(&k))
                .map(|other| {
                    format!(
                        "`{k}` does not apply to {kind} (it is an {other} setting); \
                         valid keys for {kind}: {}",
                        valid.join(", ")
                    )
                })
        });
        if kind == "sgd" {
            let momentum = self.opt_float(
                m,
                path,
                "momentum",
                0.9,
                |x| (0.0..1.0).contains(&x),
                "in [0, 1)",
            );
            let nesterov = match m.get("nesterov") {
                None => Some(false),
                Some(b) => self.boolean(b, &key(path, "nesterov")),
            };
            let weight_decay = self.opt_float(m, path, "weight_decay", 0.0, |x| x >= 0.0, ">= 0");
            let (momentum, nesterov, weight_decay) = (momentum?, nesterov?, weight_decay?);
            if nesterov && momentum <= 0.0 {
                self.diag.err(
                    &key(path, "nesterov"),
                    "Nesterov momentum needs momentum > 0; set momentum (e.g. 0.9) or nesterov: false",
                );
                return None;
            }
            Some(Optimizer::Sgd {
                momentum,
                nesterov,
                weight_decay,
            })
        } else {
            let beta1 = self.opt_float(
                m,
                path,
                "beta1",
                0.9,
                |x| (0.0..1.0).contains(&x),
                "in [0, 1)",
            );
            let beta2 = self.opt_float(
                m,
                path,
                "beta2",
                0.999,
                |x| (0.0..1.0).contains(&x),
                "in [0, 1)",
            );
            let weight_decay = self.opt_float(m, path, "weight_decay", 0.01, |x| x >= 0.0, ">= 0");
            Some(Optimizer::Adamw {
                beta1: beta1?,
                beta2: beta2?,
                weight_decay: weight_decay?,
            })
        }
    }

    fn path_field(&mut self, m: &Mapping, path: &[Seg], k: &str) -> Option<PathBuf> {
        let v = self.required(m, path, k, &format!("`{k}: PATH`"))?;
        let s = self.string(v, &key(path, k), "a file path")?;
        if s.is_empty() {
            self.diag.err(&key(path, k), "empty path; give a file path");
            return None;
        }
        Some(resolve_path(&self.base_dir, s))
    }

    fn dataset(&mut self, v: &Value, path: &[Seg]) -> Option<DatasetSource> {
        const FORMS: &str = "a bundled name (mnist10k, fashion10k, digits8x8), \
                             {kind: idx, images: PATH, labels: PATH}, \
                             {kind: csv, path: PATH, side: 8, max_value: 16} (pixel CSV), \
                             {kind: folder, path: DIR} (one sub-folder per class) or \
                             {kind: csv, path: FILE} (a list of image paths and labels)";
        match v {
            Value::String(s) => {
                if BUNDLED.contains(&s.as_str()) {
                    Some(DatasetSource::Bundled { name: s.clone() })
                } else {
                    self.diag.err(
                        path,
                        format!(
                            "unknown dataset `{s}`{}A dataset is {FORMS}",
                            did_you_mean(s, BUNDLED)
                        ),
                    );
                    None
                }
            }
            Value::Mapping(m) => {
                let kv = self.required(
                    m,
                    path,
                    "kind",
                    "`kind: folder`, `kind: csv` or `kind: idx`",
                )?;
                let kind = self.string(kv, &key(path, "kind"), "a dataset kind")?;
                let kinds = ["bundled", "idx", "csv", "folder"];
                let valid: &[&str] = match kind {
                    "bundled" => &["kind", "name"],
                    "idx" => &["kind", "images", "labels"],
                    "csv" => &[
                        "kind",
                        "path",
                        "side",
                        "max_value",
                        "image_column",
                        "label_column",
                        "split_column",
                        "decode_size",
                        "on_bad_file",
                        "augment",
                    ],
                    "folder" => &["kind", "path", "decode_size", "on_bad_file", "augment"],
                    other => {
                        self.diag.err(
                            &key(path, "kind"),
                            format!(
                                "unknown dataset kind `{other}`{}Kinds: folder, csv, idx, bundled",
                                did_you_mean(other, &kinds)
                            ),
                        );
                        return None;
                    }
                };
                self.check_keys(m, path, valid, &|_| None);
                match kind {
                    "bundled" => {
                        let nv = self.required(m, path, "name", "`name: mnist10k`")?;
                        self.dataset(nv, &key(path, "name"))
                    }
                    "idx" => {
                        let images = self.path_field(m, path, "images");
                        let labels = self.path_field(m, path, "labels");
                        Some(DatasetSource::Idx {
                            images: images?,
                            labels: labels?,
                        })
                    }
                    "folder" => {
                        let p = self.path_field(m, path, "path");
                        let images = self.image_options(m, path);
                        Some(DatasetSource::Folder {
                            path: p?,
                            images: images?,
                        })
                    }
                    _ if !m.contains_key("side") && !m.contains_key("max_value") => {
                        let p = self.path_field(m, path, "path");
                        let mut column = |k: &str, default: &str| -> Option<String> {
                            match m.get(k) {
                                None => Some(default.to_string()),
                                Some(v) => {
                                    let s = self.string(v, &key(path, k), "a column name")?;
                                    if s.is_empty() {
                                        self.diag.err(&key(path, k), "empty column name");
                                        return None;
                                    }
                                    Some(s.to_string())
                                }
                            }
                        };
                        let image_column = column("image_column", "path");
                        let label_column = column("label_column", "label");
                        let split_column = match m.get("split_column") {
                            None => Some(None),
                            Some(_) => column("split_column", "split").map(Some),
                        };
                        let images = self.image_options(m, path);
                        Some(DatasetSource::CsvList {
                            path: p?,
                            image_column: image_column?,
                            label_column: label_column?,
                            split_column: split_column?,
                            images: images?,
                        })
                    }
                    _ => {
                        for k in [
                            "image_column",
                            "label_column",
                            "split_column",
                            "decode_size",
                            "on_bad_file",
                            "augment",
                        ] {
                            if m.contains_key(k) {
                                self.diag.key_err(
                                    &key(path, k),
                                    format!(
                                        "`{k}` belongs to a CSV list of image files, but `side`/\
                                         `max_value` make this a pixel CSV; remove `{k}`, or \
                                         remove `side` and `max_value`"
                                    ),
                                );
                            }
                        }
                        let p = self.path_field(m, path, "path");
                        let side = self
                            .required(m, path, "side", "`side:` (image side length, e.g. 8)")
                            .and_then(|sv| {
                                self.usize(sv, &key(path, "side"), 1, "image side length")
                            });
                        let max_value = self
                            .required(
                                m,
                                path,
                                "max_value",
                                "`max_value:` (largest pixel value, e.g. 16 or 255)",
                            )
                            .and_then(|mv| {
                                self.float_in(mv, &key(path, "max_value"), |x| x > 0.0, "> 0")
                            });
                        Some(DatasetSource::Csv {
                            path: p?,
                            side: side?,
                            max_value: max_value?,
                        })
                    }
                }
            }
            other => {
                self.diag.err(
                    path,
                    format!("expected a dataset ({FORMS}), got {}", describe(other)),
                );
                None
            }
        }
    }

    /// `decode_size`, `on_bad_file` and `augment` of an image-file dataset mapping.
    fn image_options(&mut self, m: &Mapping, path: &[Seg]) -> Option<ImageOptions> {
        let decode_size = match m.get("decode_size") {
            None => Some(None),
            Some(v) => {
                let p = key(path, "decode_size");
                self.usize(v, &p, 4, "side length images are decoded to")
                    .and_then(|s| {
                        if s > 1024 {
                            self.diag
                                .err(&p, format!("must be between 4 and 1024, got {s}"));
                            None
                        } else {
                            Some(Some(s))
                        }
                    })
            }
        };
        let on_bad_file = match m.get("on_bad_file") {
            None => Some(OnBadFile::Error),
            Some(v) => {
                let p = key(path, "on_bad_file");
                match self.string(v, &p, "`error` or `skip`") {
                    Some("error") => Some(OnBadFile::Error),
                    Some("skip") => Some(OnBadFile::Skip),
                    Some(other) => {
                        self.diag.err(
                            &p,
                            format!(
                                "unknown choice `{other}`{}Choices: error (fail, listing every \
                                 file that cannot be decoded), skip (leave them out, with a \
                                 warning listing them)",
                                did_you_mean(other, &["error", "skip"])
                            ),
                        );
                        None
                    }
                    None => None,
                }
            }
        };
        let augment = match m.get("augment") {
            None | Some(Value::Null) => Some(None),
            Some(v) => self.augment(v, &key(path, "augment")).map(Some),
        };
        Some(ImageOptions {
            decode_size: decode_size?,
            on_bad_file: on_bad_file?,
            augment: augment?,
        })
    }

    fn augment(&mut self, v: &Value, path: &[Seg]) -> Option<Augment> {
        const KEYS: &[&str] = &["crop_padding", "hflip", "rotate", "brightness", "contrast"];
        let m = self.mapping(
            v,
            path,
            "{crop_padding: 2, hflip: true, rotate: 10, brightness: 0.1, contrast: 0.1}",
        )?;
        self.check_keys(m, path, KEYS, &|_| None);
        let crop_padding = match m.get("crop_padding") {
            None => Some(0),
            Some(v) => {
                let p = key(path, "crop_padding");
                self.usize(v, &p, 0, "pixels of padding").and_then(|n| {
                    if n > 64 {
                        self.diag
                            .err(&p, format!("must be between 0 and 64 pixels, got {n}"));
                        None
                    } else {
                        Some(n)
                    }
                })
            }
        };
        let hflip = match m.get("hflip") {
            None => Some(false),
            Some(v) => self.boolean(v, &key(path, "hflip")),
        };
        let rotate = self.opt_float(
            m,
            path,
            "rotate",
            0.0,
            |x| (0.0..=180.0).contains(&x),
            "between 0 and 180 degrees",
        );
        let brightness = self.opt_float(
            m,
            path,
            "brightness",
            0.0,
            |x| (0.0..=1.0).contains(&x),
            "between 0 and 1 (a fraction of the pixel range)",
        );
        let contrast = self.opt_float(
            m,
            path,
            "contrast",
            0.0,
            |x| (0.0..=1.0).contains(&x),
            "between 0 and 1",
        );
        Some(Augment {
            crop_padding: crop_padding?,
            hflip: hflip?,
            rotate: rotate?,
            brightness: brightness?,
            contrast: contrast?,
        })
    }

    /// The `classes:` list: dataset labels, or, for folder and CSV-list datasets, class names
    /// (`dataset` is `None` when the dataset itself was invalid).
    fn classes(
        &mut self,
        m: &Mapping,
        path: &[Seg],
        dataset: Option<&DatasetSource>,
    ) -> Option<Vec<u32>> {
        let v = self.required(
            m,
            path,
            "classes",
            "`classes: [0, 1, 2]` (dataset labels to use)",
        )?;
        let mut names: Option<Result<Vec<String>, String>> = None;
        let p = key(path, "classes");
        let Value::Sequence(items) = v else {
            self.diag.err(
                &p,
                format!(
                    "expected a list of dataset labels such as [0, 1, 2], got {}",
                    describe(v)
                ),
            );
            return None;
        };
        if items.len() < 2 {
            self.diag.err(
                &p,
                "a classification task needs at least 2 classes; list two or more labels",
            );
            return None;
        }
        let mut out: Vec<u32> = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let ip = idx(&p, i);
            if let Value::String(name) = item {
                let Some(ds) = dataset else {
                    ok = false;
                    continue;
                };
                if ds.image_options().is_none() {
                    self.diag.err(
                        &ip,
                        format!(
                            "class names need a folder or CSV-list dataset; `{}` has numbered \
                             labels, so give the label number",
                            ds.label()
                        ),
                    );
                    ok = false;
                    continue;
                }
                let known = names.get_or_insert_with(|| {
                    crate::data::class_names(ds)
                        .map(Option::unwrap_or_default)
                        .map_err(|e| format!("{e:#}"))
                });
                match known {
                    Err(e) => {
                        self.diag
                            .err(&ip, format!("cannot list the dataset's classes: {e}"));
                        ok = false;
                    }
                    Ok(list) => match list.iter().position(|n| n == name) {
                        Some(c) if out.contains(&(c as u32)) => {
                            self.diag.err(
                                &ip,
                                format!("class `{name}` is listed twice; remove the duplicate"),
                            );
                            ok = false;
                        }
                        Some(c) => out.push(c as u32),
                        None => {
                            let valid: Vec<&str> = list.iter().map(String::as_str).collect();
                            self.diag.err(
                                &ip,
                                format!(
                                    "no class `{name}` in dataset `{}`{}Classes (label 0 \
                                     first): {}",
                                    ds.label(),
                                    did_you_mean(name, &valid),
                                    valid.join(", ")
                                ),
                            );
                            ok = false;
                        }
                    },
                }
                continue;
            }
            match self.uint(item, &ip, 0, "a dataset label or class name") {
                Some(u) => match u32::try_from(u) {
                    Ok(c) if out.contains(&c) => {
                        self.diag.err(
                            &ip,
                            format!("label {c} is listed twice; remove the duplicate"),
                        );
                        ok = false;
                    }
                    Ok(c) => out.push(c),
                    Err(_) => {
                        self.diag.err(&ip, format!("label {u} is too large"));
                        ok = false;
                    }
                },
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn source(&mut self, v: &Value, path: &[Seg]) -> Option<SourceTask> {
        let m = self.mapping(v, path, "{dataset: mnist10k, classes: [0, 1, 2, 3, 4]}")?;
        self.check_keys(m, path, SOURCE_KEYS, &|k| {
            (k == "shift").then(|| {
                "the source task has no shift; shifts apply to the target (`target.shift`)"
                    .to_string()
            })
        });
        let dataset = self
            .required(m, path, "dataset", "`dataset: mnist10k`")
            .and_then(|d| self.dataset(d, &key(path, "dataset")));
        let classes = self.classes(m, path, dataset.as_ref());
        let train_per_class = match m.get("train_per_class") {
            None => Some(None),
            Some(Value::Sequence(_)) => {
                self.diag.err(
                    &key(path, "train_per_class"),
                    "the source task is not an axis; give one number (or omit it to use the whole training pool)",
                );
                None
            }
            Some(t) => self
                .train_per_class(t, &key(path, "train_per_class"))
                .map(Some),
        };
        let epochs = match m.get("epochs") {
            None => Some(3),
            Some(e) => self.epochs(e, &key(path, "epochs")),
        };
        let lr = self.opt_float(m, path, "lr", 0.05, |x| x > 0.0, "> 0");
        Some(SourceTask {
            dataset: dataset?,
            classes: classes?,
            train_per_class: train_per_class?,
            epochs: epochs?,
            lr: lr?,
        })
    }

    fn axis_names(&mut self, v: &Value, path: &[Seg]) -> Option<AxisId> {
        let s = self.string(v, path, "an axis name")?;
        match AxisId::from_name(s) {
            Some(a) => Some(a),
            None => {
                let names = AxisId::names();
                self.diag.err(
                    path,
                    format!(
                        "unknown axis `{s}`{}Axes: {}",
                        did_you_mean(s, &names),
                        names.join(", ")
                    ),
                );
                None
            }
        }
    }

    fn zips(&mut self, v: &Value, path: &[Seg]) -> Option<Vec<ZipGroup>> {
        let Value::Sequence(groups) = v else {
            self.diag.err(
                path,
                format!(
                    "expected a list of axis groups such as [[freeze, schedule]], got {}",
                    describe(v)
                ),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut seen: Vec<(AxisId, usize)> = Vec::new();
        let mut ok = true;
        for (gi, g) in groups.iter().enumerate() {
            let gp = idx(path, gi);
            let Value::Sequence(names) = g else {
                self.diag.err(
                    &gp,
                    format!(
                        "expected a list of axis names such as [freeze, schedule], got {}",
                        describe(g)
                    ),
                );
                ok = false;
                continue;
            };
            if names.len() < 2 {
                self.diag.err(
                    &gp,
                    "a zip group pairs at least two axes, e.g. [freeze, schedule]",
                );
                ok = false;
                continue;
            }
            let mut axes = Vec::new();
            for (ni, n) in names.iter().enumerate() {
                let np = idx(&gp, ni);
                let Some(a) = self.axis_names(n, &np) else {
                    ok = false;
                    continue;
                };
                if let Some((_, other)) = seen.iter().find(|(s, _)| *s == a) {
                    let msg = if *other == gi {
                        format!("axis `{}` appears twice in this group", a.name())
                    } else {
                        format!(
                            "axis `{}` is already zipped in zip[{other}]; an axis can be in one zip group only — merge the groups",
                            a.name()
                        )
                    };
                    self.diag.err(&np, msg);
                    ok = false;
                    continue;
                }
                seen.push((a, gi));
                axes.push(a);
            }
            out.push(ZipGroup { axes, path: gp });
        }
        ok.then_some(out)
    }

    fn match_in<T: PartialEq>(
        &mut self,
        axis: &[Av<T>],
        v: &Value,
        path: &[Seg],
        name: &str,
        parse: fn(&mut Self, &Value, &[Seg]) -> Option<T>,
        show: fn(&T) -> String,
    ) -> Option<Vec<usize>> {
        let cands = self.axis(v, path, parse)?;
        let mut out = Vec::new();
        let mut ok = true;
        for c in cands {
            let hits: Vec<usize> = axis
                .iter()
                .enumerate()
                .filter(|(_, a)| a.value == c.value)
                .map(|(i, _)| i)
                .collect();
            if hits.is_empty() {
                let vals: Vec<String> = axis.iter().map(|a| show(&a.value)).collect();
                self.diag.err(
                    &c.path,
                    format!(
                        "`{}` is not a value of the `{name}` axis, so this rule excludes nothing; values: {}",
                        show(&c.value),
                        vals.join(", ")
                    ),
                );
                ok = false;
            }
            out.extend(hits);
        }
        ok.then_some(out)
    }

    fn excludes(&mut self, v: &Value, path: &[Seg], axes: &Axes) -> Option<Vec<Exclude>> {
        let Value::Sequence(rules) = v else {
            self.diag.err(
                path,
                format!(
                    "expected a list of rules such as [{{freeze: all, train_per_class: 10}}], got {}",
                    describe(v)
                ),
            );
            return None;
        };
        let names = AxisId::names();
        let mut out = Vec::new();
        let mut ok = true;
        for (ri, r) in rules.iter().enumerate() {
            let rp = idx(path, ri);
            let Some(m) = self.mapping(r, &rp, "{freeze: all, train_per_class: 10}") else {
                ok = false;
                continue;
            };
            if m.is_empty() {
                self.diag.err(
                    &rp,
                    "an empty rule would exclude everything; name at least one axis value",
                );
                ok = false;
                continue;
            }
            let mut conds = Vec::new();
            for (k, val) in m {
                let Some(text) = key_text(k) else {
                    self.diag.err(&rp, "keys must be axis names");
                    ok = false;
                    continue;
                };
                let kp = key(&rp, &text);
                let Some(a) = AxisId::from_name(&text) else {
                    self.diag.key_err(
                        &kp,
                        format!(
                            "unknown axis{}Axes: {}",
                            did_you_mean(&text, &names),
                            names.join(", ")
                        ),
                    );
                    ok = false;
                    continue;
                };
                let n = a.name();
                let hits = match a {
                    AxisId::Backbone => {
                        self.match_in(&axes.backbone, val, &kp, n, Self::backbone, |x| {
                            x.to_string()
                        })
                    }
                    AxisId::Freeze => {
                        self.match_in(&axes.freeze, val, &kp, n, Self::freeze, |x| x.to_string())
                    }
                    AxisId::TrainPerClass => self.match_in(
                        &axes.train_per_class,
                        val,
                        &kp,
                        n,
                        Self::train_per_class,
                        |x| x.to_string(),
                    ),
                    AxisId::Shift => {
                        self.match_in(&axes.shift, val, &kp, n, Self::shift, |x| x.to_string())
                    }
                    AxisId::Schedule => {
                        self.match_in(&axes.schedule, val, &kp, n, Self::schedule, |x| x.label())
                    }
                    AxisId::Optimizer => {
                        self.match_in(&axes.optimizer, val, &kp, n, Self::optimizer, |x| x.label())
                    }
                    AxisId::Epochs => {
                        self.match_in(&axes.epochs, val, &kp, n, Self::epochs, |x| x.to_string())
                    }
                    AxisId::BatchSize => {
                        self.match_in(&axes.batch_size, val, &kp, n, Self::batch_size, |x| {
                            x.to_string()
                        })
                    }
                    AxisId::Precision => {
                        self.match_in(&axes.precision, val, &kp, n, Self::precision, |x| {
                            x.to_string()
                        })
                    }
                    AxisId::Seed => {
                        self.match_in(&axes.seed, val, &kp, n, Self::seed, |x| x.to_string())
                    }
                };
                match hits {
                    Some(h) => conds.push((a, h)),
                    None => ok = false,
                }
            }
            out.push(Exclude { conds });
        }
        ok.then_some(out)
    }

    fn name(&mut self, m: &Mapping) -> Option<String> {
        let p = vec![Seg::Key("name".into())];
        let v = self.required(
            m,
            &[],
            "name",
            "`name: my-experiment` (used as a folder name)",
        )?;
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                self.diag.err(
                    &p,
                    format!(
                        "expected one name such as `my-experiment` (used as a folder name), got {}",
                        describe(other)
                    ),
                );
                return None;
            }
        };
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if s.is_empty() || !ok_chars || s == "." || s == ".." {
            self.diag.err(
                &p,
                format!(
                    "`{s}` is not a valid name; it is used as a folder name, so use only letters, \
                     digits, `_`, `.` and `-` (e.g. digits-freeze-depth)"
                ),
            );
            return None;
        }
        Some(s)
    }

    /// Parses the whole document. `None` when anything was wrong (see the diag).
    pub fn grid(&mut self, root: &Value) -> Option<Parsed> {
        let m = match root {
            Value::Mapping(m) => m,
            Value::Null => {
                self.diag.err(
                    &[],
                    "the grid file is empty; it needs at least name, source, target, backbone, \
                     schedule and epochs",
                );
                return None;
            }
            other => {
                self.diag.err(
                    &[],
                    format!(
                        "a grid is a mapping of keys (name, source, target, ...), got {}",
                        describe(other)
                    ),
                );
                return None;
            }
        };
        let root: &[Seg] = &[];
        self.check_keys(m, root, TOP_KEYS, &|k| {
            if SOURCE_KEYS.contains(&k) || TARGET_KEYS.contains(&k) {
                Some(format!(
                    "`{k}` belongs inside `source:` or `target:`, not at the top level; move it there"
                ))
            } else if k == "seed" {
                Some("unknown key; did you mean `seeds`? (the axis is called `seed` in zip/exclude)".into())
            } else {
                None
            }
        });
        let name = self.name(m);
        let description = match m.get("description") {
            None | Some(Value::Null) => Some(String::new()),
            Some(v) => self
                .string(v, &[Seg::Key("description".into())], "text")
                .map(str::to_string),
        };
        let has_weights = m.get("weights").is_some_and(|v| !v.is_null());
        let source = match (has_weights, m.get("source")) {
            (true, None) => None,
            (true, Some(_)) => {
                self.diag.err(
                    &key(root, "source"),
                    "`source:` is not used when `weights:` is given (trials start from those \
                     weights instead of pretraining on a source task); remove it",
                );
                None
            }
            (false, _) => self
                .required(
                    m,
                    root,
                    "source",
                    "a `source:` mapping (the pretraining task), or `weights:` to start from a \
                     checkpoint",
                )
                .and_then(|v| self.source(v, &key(root, "source"))),
        };

        // target
        let tp = key(root, "target");
        let mut target = None;
        if let Some(tv) = self.required(
            m,
            root,
            "target",
            "a `target:` mapping (the fine-tuning task)",
        ) {
            if let Some(tm) = self.mapping(
                tv,
                &tp,
                "{dataset: mnist10k, classes: [5, 6, 7, 8, 9], train_per_class: 10}",
            ) {
                self.check_keys(tm, &tp, TARGET_KEYS, &|k| {
                    matches!(k, "epochs" | "lr").then(|| {
                        format!("the target task has no `{k}`; set `{k}` at the top level (or in `schedule:` for lr)")
                    })
                });
                let ds = self
                    .required(tm, &tp, "dataset", "`dataset: mnist10k`")
                    .and_then(|d| self.dataset(d, &key(&tp, "dataset")));
                let classes = self.classes(tm, &tp, ds.as_ref());
                let tpc = self.axis_req(
                    tm,
                    &tp,
                    "train_per_class",
                    "`train_per_class: [10, 100]` (examples per class)",
                    Self::train_per_class,
                );
                let shift = self.axis_or(tm, &tp, "shift", Shift::None, Self::shift);
                target = Some((ds, classes, tpc, shift));
            }
        }

        let backbone = self.axis_req(
            m,
            root,
            "backbone",
            "`backbone: cnn4` (or a list: [cnn4, resnet8])",
            Self::backbone,
        );
        let freeze = self.axis_or(m, root, "freeze", Freeze::Blocks(0), Self::freeze);
        let schedule = self.axis_req(
            m,
            root,
            "schedule",
            "`schedule: {kind: cosine, lr: 0.01}`",
            Self::schedule,
        );
        let optimizer = self.axis_or(
            m,
            root,
            "optimizer",
            Optimizer::Sgd {
                momentum: 0.9,
                nesterov: false,
                weight_decay: 0.0,
            },
            Self::optimizer,
        );
        let epochs = self.axis_req(m, root, "epochs", "`epochs: 10`", Self::epochs);
        let batch_size = self.axis_or(m, root, "batch_size", 64, Self::batch_size);
        let precision = self.axis_or(m, root, "precision", Precision::Fp32, Self::precision);
        let seeds = self.axis_or(m, root, "seeds", 0, Self::seed);
        if let Some(seeds) = &seeds {
            for (i, s) in seeds.iter().enumerate() {
                if let Some(j) = seeds[..i].iter().position(|o| o.value == s.value) {
                    self.diag.err(
                        &s.path,
                        format!(
                            "seed {} is listed twice (also seeds[{j}]); remove the duplicate",
                            s.value
                        ),
                    );
                }
            }
        }
        let image_size = match m.get("image_size") {
            None => Some(28),
            Some(Value::Sequence(_)) => {
                self.diag.err(
                    &key(root, "image_size"),
                    "image_size is not an axis; give one number between 8 and 256",
                );
                None
            }
            Some(v) => {
                let p = key(root, "image_size");
                self.usize(v, &p, 8, "image side length in pixels")
                    .and_then(|s| {
                        if s > 256 {
                            self.diag
                                .err(&p, format!("must be between 8 and 256, got {s}"));
                            None
                        } else {
                            Some(s)
                        }
                    })
            }
        };
        let weights = match (m.get("weights"), &backbone) {
            (None | Some(Value::Null), _) => Some(None),
            (Some(v), Some(bbs)) => self.weights(v, &key(root, "weights"), bbs).map(Some),
            (Some(_), None) => None,
        };
        let input_size = match (m.get("input_size"), &backbone) {
            (None | Some(Value::Null), _) => Some(None),
            (Some(v), Some(bbs)) => self.input_size(v, &key(root, "input_size"), bbs).map(Some),
            (Some(_), None) => None,
        };
        const BASELINES: [&str; 2] = ["scratch", "linear_probe"];
        let baselines: Option<Vec<String>> = match m.get("baselines") {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(v) => {
                let bp = key(root, "baselines");
                self.axis(v, &bp, |p: &mut Self, item, ip| {
                    let s = p.string(item, ip, "a baseline name (scratch, linear_probe)")?;
                    if BASELINES.contains(&s) {
                        Some(s.to_string())
                    } else {
                        p.diag.err(
                            ip,
                            format!(
                                "unknown baseline `{s}`{}Baselines: scratch, linear_probe",
                                did_you_mean(s, &BASELINES)
                            ),
                        );
                        None
                    }
                })
                .map(|items| items.into_iter().map(|a| a.value).collect())
            }
        };

        if let Some(v) = m.get("report") {
            super::report::check_report(self.diag, v, &key(root, "report"));
        }
        let zips = match m.get("zip") {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(v) => self.zips(v, &key(root, "zip")),
        };
        let (tds, tclasses, tpc, shift) = target?;
        let axes = Axes {
            backbone: backbone?,
            freeze: freeze?,
            train_per_class: tpc?,
            shift: shift?,
            schedule: schedule?,
            optimizer: optimizer?,
            epochs: epochs?,
            batch_size: batch_size?,
            precision: precision?,
            seed: seeds?,
        };
        let excludes_path = key(root, "exclude");
        let excludes = match m.get("exclude") {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(v) => self.excludes(v, &excludes_path, &axes),
        };
        // Image files are decoded straight to the grid's image size unless the dataset says
        // otherwise (one resize, with the antialiasing filter).
        let image_size = image_size?;
        let weights = weights?;
        let mut tds = tds?;
        let mut source = match (&weights, source) {
            (Some(_), None) => SourceTask::unused(tds.clone()),
            (_, s) => s?,
        };
        for d in [&mut source.dataset, &mut tds] {
            if let DatasetSource::Folder { images, .. } | DatasetSource::CsvList { images, .. } = d
            {
                images.decode_size.get_or_insert(image_size);
            }
        }
        Some(Parsed {
            name: name?,
            description: description?,
            source,
            target_dataset: tds,
            target_classes: tclasses?,
            axes,
            scratch: baselines
                .as_ref()
                .is_some_and(|b| b.iter().any(|s| s == "scratch")),
            linear_probe: baselines
                .as_ref()
                .is_some_and(|b| b.iter().any(|s| s == "linear_probe")),
            image_size,
            weights,
            input_size: input_size?,
            zips: zips?,
            excludes: excludes?,
            excludes_path,
        })
    }
}
