//! The whole document: top-level keys, the target task, axes and defaults.

use super::*;

impl Parser<'_> {
    pub(super) fn name(&mut self, m: &Mapping) -> Option<String> {
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

    /// The document's top-level mapping.
    fn root_mapping<'v>(&mut self, root: &'v Value) -> Option<&'v Mapping> {
        match root {
            Value::Mapping(m) => Some(m),
            Value::Null => {
                self.diag.err(
                    &[],
                    "the grid file is empty; it needs at least name, source, target, backbone, \
                     schedule and epochs",
                );
                None
            }
            other => {
                self.diag.err(
                    &[],
                    format!(
                        "a grid is a mapping of keys (name, source, target, ...), got {}",
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    fn check_top_keys(&mut self, m: &Mapping) {
        self.check_keys(m, &[], TOP_KEYS, &|k| {
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
    }

    /// `source:`, required unless `weights:` is given (then it must be absent: `None`).
    fn source_unless_weights(&mut self, m: &Mapping) -> Option<SourceTask> {
        let root: &[Seg] = &[];
        let has_weights = m.get("weights").is_some_and(|v| !v.is_null());
        match (has_weights, m.get("source")) {
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
        }
    }

    /// `target:`; `None` when it is missing or not a mapping.
    fn target(&mut self, m: &Mapping) -> Option<TargetParts> {
        let root: &[Seg] = &[];
        let tp = key(root, "target");
        let tv = self.required(
            m,
            root,
            "target",
            "a `target:` mapping (the fine-tuning task)",
        )?;
        let tm = self.mapping(
            tv,
            &tp,
            "{dataset: mnist10k, classes: [5, 6, 7, 8, 9], train_per_class: 10}",
        )?;
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
        Some((ds, classes, tpc, shift))
    }

    /// The `seeds:` axis; a seed listed twice is an error.
    fn seeds(&mut self, m: &Mapping) -> Option<Vec<Av<u64>>> {
        let seeds = self.axis_or(m, &[], "seeds", 0, Self::seed);
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
        seeds
    }

    fn image_size(&mut self, m: &Mapping) -> Option<usize> {
        let p = key(&[], "image_size");
        match m.get("image_size") {
            None => Some(28),
            Some(Value::Sequence(_)) => {
                self.diag.err(
                    &p,
                    "image_size is not an axis; give one number between 8 and 256",
                );
                None
            }
            Some(v) => self
                .usize(v, &p, 8, "image side length in pixels")
                .and_then(|s| {
                    if s > 256 {
                        self.diag
                            .err(&p, format!("must be between 8 and 256, got {s}"));
                        None
                    } else {
                        Some(s)
                    }
                }),
        }
    }

    fn baselines(&mut self, m: &Mapping) -> Option<Vec<String>> {
        const BASELINES: [&str; 2] = ["scratch", "linear_probe"];
        match m.get("baselines") {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(v) => {
                let bp = key(&[], "baselines");
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
        }
    }

    /// Parses the whole document. `None` when anything was wrong (see the diag).
    pub fn grid(&mut self, root: &Value) -> Option<Parsed> {
        let m = self.root_mapping(root)?;
        let root: &[Seg] = &[];
        self.check_top_keys(m);
        let name = self.name(m);
        let description = match m.get("description") {
            None | Some(Value::Null) => Some(String::new()),
            Some(v) => self
                .string(v, &[Seg::Key("description".into())], "text")
                .map(str::to_string),
        };
        let source = self.source_unless_weights(m);
        let target = self.target(m);
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
        let seeds = self.seeds(m);
        let image_size = self.image_size(m);
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
        let baselines = self.baselines(m);
        if let Some(v) = m.get("report") {
            super::super::report::check_report(self.diag, v, &key(root, "report"));
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
        let has = |b: &str| baselines.as_ref().is_some_and(|v| v.iter().any(|s| s == b));
        Some(Parsed {
            name: name?,
            description: description?,
            source,
            target_dataset: tds,
            target_classes: tclasses?,
            axes,
            scratch: has("scratch"),
            linear_probe: has("linear_probe"),
            image_size,
            weights,
            input_size: input_size?,
            zips: zips?,
            excludes: excludes?,
            excludes_path,
        })
    }
}

/// The target task's parts, each `None` where invalid: dataset, classes, train_per_class, shift.
type TargetParts = (
    Option<DatasetSource>,
    Option<Vec<u32>>,
    Option<Vec<Av<usize>>>,
    Option<Vec<Av<Shift>>>,
);
