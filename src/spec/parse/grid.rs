//! The whole document: top-level keys, the target task, axes and defaults.

use super::*;

impl Parser<'_> {
    pub(super) fn name(&mut self, f: &Field) -> Option<String> {
        let p = vec![Seg::Key("name".into())];
        let v = self.required(
            f,
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

    fn check_top_keys(&mut self, keys: &Keys) {
        let tasks = [names::<RawSource>(), names::<RawTarget>()];
        keys.check(self.diag, &[], &|k| {
            if tasks.iter().any(|t| t.contains(&k)) {
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

    /// `source:`, required unless `weights:` is given (`None` then when absent: trials fine-tune
    /// the weights directly).
    fn source_unless_weights(&mut self, g: &RawGrid) -> Option<SourceTask> {
        let root: &[Seg] = &[];
        match (g.weights.given().is_some(), &g.source.0) {
            (true, None) => None,
            // The weights are trained on the source task first (a source head on them).
            (true, Some(v)) => self.source(v, &key(root, "source")),
            (false, _) => self
                .required(
                    &g.source,
                    root,
                    "source",
                    "a `source:` mapping (the pretraining task), or `weights:` to start from a \
                     checkpoint",
                )
                .and_then(|v| self.source(v, &key(root, "source"))),
        }
    }

    /// `target:`; `None` when it is missing or not a mapping.
    fn target(&mut self, g: &RawGrid) -> Option<TargetParts> {
        let tp = vec![Seg::Key("target".into())];
        let tv = self.required(
            &g.target,
            &[],
            "target",
            "a `target:` mapping (the fine-tuning task)",
        )?;
        let t: RawTarget = self.section(
            tv,
            &tp,
            "{dataset: mnist10k, classes: [5, 6, 7, 8, 9], train_per_class: 10}",
            &|k| {
                matches!(k, "epochs" | "lr").then(|| {
                    format!("the target task has no `{k}`; set `{k}` at the top level (or in `schedule:` for lr)")
                })
            },
        )?;
        let ds = self
            .required(&t.dataset, &tp, "dataset", "`dataset: mnist10k`")
            .and_then(|d| self.dataset(d, &key(&tp, "dataset")));
        let classes = self.classes(&t.classes, &tp, ds.as_ref());
        let tpc = self.axis_req(
            &t.train_per_class,
            &tp,
            "train_per_class",
            "`train_per_class: [10, 100]` (examples per class)",
            Self::train_per_class,
        );
        let shift = self.axis(&t.shift, &key(&tp, "shift"), Self::shift);
        if let (Some(ds), Some(shifts)) = (&ds, &shift) {
            self.shifts_fit(ds, shifts);
        }
        Some((ds, classes, tpc, shift))
    }

    /// Reports every shift that does not apply to the dataset's kind of examples: an image
    /// shift on a text dataset, a text shift on an image dataset.
    fn shifts_fit(&mut self, ds: &DatasetSource, shifts: &[Av<Shift>]) {
        let text = ds.is_text();
        for s in shifts {
            if s.value == Shift::None || s.value.is_text() == text {
                continue;
            }
            let (this, that, fits) = if text {
                ("an image", "text", "typos, lowercase, truncate")
            } else {
                (
                    "a text",
                    "images",
                    "rotate, noise, invert, blur, contrast, hue, saturation, brightness, \
                     color_cast, grayscale, channel_swap, jpeg",
                )
            };
            self.diag.err(
                &s.path,
                format!(
                    "`{}` is {this} shift, but the target dataset `{}` holds {that}; shifts for \
                     {that}: {fits}",
                    s.value.kind_name(),
                    ds.label()
                ),
            );
        }
    }

    /// The `seeds:` axis; a seed listed twice is an error.
    fn seeds(&mut self, v: &Value) -> Option<Vec<Av<u64>>> {
        let seeds = self.axis(v, &[Seg::Key("seeds".into())], Self::seed);
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

    fn image_size(&mut self, v: &Value) -> Option<usize> {
        let p = [Seg::Key("image_size".into())];
        let v = self.single(
            v,
            &p,
            "image_size is not an axis; give one number between 8 and 256",
        )?;
        self.usize_in(v, &p, (8, 256), "image side length in pixels", "")
    }

    fn baselines(&mut self, f: &Field) -> Option<Vec<Baseline>> {
        let Some(v) = f.given() else {
            return Some(Vec::new());
        };
        self.axis(
            v,
            &[Seg::Key("baselines".into())],
            |p: &mut Self, item, ip| {
                let expected = format!("a baseline name ({})", names::<Baseline>().join(", "));
                p.tag(item, ip, &expected, ("unknown baseline", "Baselines"))
            },
        )
        .map(|items| items.into_iter().map(|a| a.value).collect())
    }

    /// The axes of the cartesian product (the target's are read with the target).
    fn axes(
        &mut self,
        g: &RawGrid,
        train_per_class: Option<Vec<Av<usize>>>,
        shift: Option<Vec<Av<Shift>>>,
    ) -> (Option<Vec<Av<BackboneKind>>>, Option<Axes>) {
        let root: &[Seg] = &[];
        let at = |k: &str| key(root, k);
        let backbone = self.axis_req(
            &g.backbone,
            root,
            "backbone",
            "`backbone: cnn4` (or a list: [cnn4, resnet8])",
            Self::backbone,
        );
        let freeze = self.axis(&g.freeze, &at("freeze"), Self::freeze);
        let schedule = self.axis_req(
            &g.schedule,
            root,
            "schedule",
            "`schedule: {kind: cosine, lr: 0.01}`",
            Self::schedule,
        );
        let optimizer = self.axis(&g.optimizer, &at("optimizer"), Self::optimizer);
        let epochs = self.axis_req(&g.epochs, root, "epochs", "`epochs: 10`", Self::epochs);
        let batch_size = self.axis(&g.batch_size, &at("batch_size"), Self::batch_size);
        let precision = self.axis(&g.precision, &at("precision"), Self::precision);
        let max_length = match g.max_length.given() {
            None => Some(vec![Av {
                value: None,
                path: at("max_length"),
            }]),
            Some(v) => self.axis(v, &at("max_length"), Self::max_length),
        };
        let seed = self.seeds(&g.seeds);
        let axes = (|| {
            Some(Axes {
                backbone: backbone.clone()?,
                freeze: freeze?,
                train_per_class: train_per_class?,
                shift: shift?,
                schedule: schedule?,
                optimizer: optimizer?,
                epochs: epochs?,
                batch_size: batch_size?,
                precision: precision?,
                max_length: max_length?,
                seed: seed?,
            })
        })();
        (backbone, axes)
    }

    /// Validates the whole document. `None` when anything was wrong (see the diag).
    pub fn grid(&mut self, root: &Value) -> Option<Parsed> {
        let mut keys = Keys::new(self.root_mapping(root)?);
        let g: RawGrid = keys.read();
        self.check_top_keys(&keys);
        let root: &[Seg] = &[];
        let name = self.name(&g.name);
        let description = match g.description.given() {
            None => Some(String::new()),
            Some(v) => self
                .string(v, &key(root, "description"), "text")
                .map(str::to_string),
        };
        let source = self.source_unless_weights(&g);
        let (tds, tclasses, tpc, shift) = self.target(&g).unwrap_or((None, None, None, None));
        let (backbone, axes) = self.axes(&g, tpc, shift);
        let image_size = self.image_size(&g.image_size);
        let weights = match (g.weights.given(), &backbone) {
            (None, _) => Some(None),
            (Some(v), Some(bbs)) => self.weights(v, &key(root, "weights"), bbs).map(Some),
            (Some(_), None) => None,
        };
        let input_size = match (g.input_size.given(), &backbone) {
            (None, _) => Some(None),
            (Some(v), Some(bbs)) => self.input_size(v, &key(root, "input_size"), bbs).map(Some),
            (Some(_), None) => None,
        };
        let pooling = match (g.pooling.given(), &backbone) {
            (None, _) => Some(None),
            (Some(v), Some(bbs)) => self.pooling(v, &key(root, "pooling"), bbs).map(Some),
            (Some(_), None) => None,
        };
        let baselines = self.baselines(&g.baselines);
        let search = match g.search.given() {
            None => Some(None),
            Some(v) => self.search(v, &key(root, "search")).map(Some),
        };
        let eval = self.eval(&g.eval);
        if let Some(v) = g.report.given() {
            super::super::report::check_report(self.diag, v, &key(root, "report"));
        }
        let early_stop = match g.early_stop.given() {
            None => Some(None),
            Some(v) => self.early_stop(v, &key(root, "early_stop")).map(Some),
        };
        let zips = match g.zip.given() {
            None => Some(Vec::new()),
            Some(v) => self.zips(v, &key(root, "zip")),
        };
        let axes = axes?;
        let excludes_path = key(root, "exclude");
        let excludes = match g.exclude.given() {
            None => Some(Vec::new()),
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
        let baselines = baselines?;
        let early_stop = early_stop?;
        if let Some(es) = &early_stop {
            self.check_rungs(es, &axes.epochs, &key(root, "early_stop"));
        }
        Some(Parsed {
            name: name?,
            description: description?,
            source,
            target_dataset: tds,
            target_classes: tclasses?,
            axes,
            scratch: baselines.contains(&Baseline::Scratch),
            linear_probe: baselines.contains(&Baseline::LinearProbe),
            image_size,
            weights,
            input_size: input_size?,
            pooling: pooling?,
            zips: zips?,
            excludes: excludes?,
            excludes_path,
            search: search?,
            early_stop,
            eval: eval?,
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
