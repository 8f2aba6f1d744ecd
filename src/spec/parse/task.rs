//! The `classes:` list and the `source:` task.

use super::*;

/// Default peak learning rate of source classification (SGD with momentum).
const CLASSIFIER_LR: f64 = 0.05;
/// Default peak learning rate of language-model pretraining (AdamW).
const LM_LR: f64 = 0.001;

impl Parser<'_> {
    /// The `classes:` list: dataset labels, or, for folder and CSV-list datasets, class names
    /// (`dataset` is `None` when the dataset itself was invalid).
    pub(super) fn classes(
        &mut self,
        f: &Field,
        path: &[Seg],
        dataset: Option<&DatasetSource>,
    ) -> Option<Vec<u32>> {
        let v = self.required(
            f,
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
                if !ds.names_classes() {
                    self.diag.err(
                        &ip,
                        format!(
                            "class names need a folder, CSV-list or text dataset; `{}` has \
                             numbered labels, so give the label number",
                            ds.label()
                        ),
                    );
                    ok = false;
                    continue;
                }
                let known = names.get_or_insert_with(|| {
                    self.catalog
                        .class_names(ds)
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

    pub(super) fn source(&mut self, v: &Value, path: &[Seg]) -> Option<SourceTask> {
        let s: RawSource = self.section(
            v,
            path,
            "{dataset: mnist10k, classes: [0, 1, 2, 3, 4]}",
            &|k| {
                (k == "shift").then(|| {
                    "the source task has no shift; shifts apply to the target (`target.shift`)"
                        .to_string()
                })
            },
        )?;
        let task = match s.task.given() {
            None => Some(SourceObjective::Classification),
            Some(v) => self.tag(
                v,
                &key(path, "task"),
                "a source task (classification, language_model)",
                ("unknown source task", "Tasks"),
            ),
        };
        let lm = task == Some(SourceObjective::LanguageModel);
        let (data_key, misplaced) = if lm {
            ("corpus", "dataset")
        } else {
            ("dataset", "corpus")
        };
        if s.corpus.given().is_some() && s.dataset.given().is_some() {
            self.diag.err(
                &key(path, misplaced),
                "give the source data once: `dataset:` for a classification source, `corpus:` \
                 for a language model",
            );
        } else if (if lm { &s.dataset } else { &s.corpus }).given().is_some() {
            let why = if lm {
                "a language-model source reads its texts from `corpus:`; rename `dataset:`"
            } else {
                "`corpus:` is the text of a `task: language_model` source; a classification \
                 source reads `dataset:`"
            };
            self.diag.err(&key(path, misplaced), why);
        }
        let hint = if lm {
            "`corpus: vader_movies` (a text dataset)"
        } else {
            "`dataset: mnist10k`"
        };
        let data_field = if lm { &s.corpus } else { &s.dataset };
        let dataset = self
            .required(data_field, path, data_key, hint)
            .and_then(|d| self.dataset(d, &key(path, data_key)));
        if let (true, Some(d)) = (lm, &dataset) {
            if !d.is_text() {
                self.diag.err(
                    &key(path, "corpus"),
                    "a language model's corpus must be text (a bundled text dataset or \
                     `{kind: text, path: FILE, ...}`)",
                );
            }
        }
        let classes = if lm && s.classes.given().is_none() {
            Some(Vec::new())
        } else {
            self.classes(&s.classes, path, dataset.as_ref())
        };
        let tpc_path = key(path, "train_per_class");
        let train_per_class = match &s.train_per_class.0 {
            None => Some(None),
            Some(t) => self
                .single(
                    t,
                    &tpc_path,
                    "the source task is not an axis; give one number (or omit it to use the whole training pool)",
                )
                .and_then(|t| self.train_per_class(t, &tpc_path))
                .map(Some),
        };
        let epochs = self.epochs(&s.epochs, &key(path, "epochs"));
        let lr_default = if lm { LM_LR } else { CLASSIFIER_LR };
        let lr_value = s.lr.given().cloned().unwrap_or(Value::from(lr_default));
        let lr = self.float_in(&lr_value, &key(path, "lr"), |x| x > 0.0, "> 0");
        Some(SourceTask {
            task: task?,
            dataset: dataset?,
            classes: classes?,
            train_per_class: train_per_class?,
            epochs: epochs?,
            lr: lr?,
        })
    }
}
