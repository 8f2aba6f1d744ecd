//! `eval:`, the per-epoch evaluation's period and caps.

use super::super::eval::DEFAULT_MAX_PER_CLASS;
use super::super::EvalSettings;
use super::*;

impl Parser<'_> {
    /// `eval: {every: K, max_per_class: N | all}`; the defaults when absent.
    pub(super) fn eval(&mut self, f: &Field) -> Option<EvalSettings> {
        let Some(v) = f.given() else {
            return Some(EvalSettings::default());
        };
        let path = key(&[], "eval");
        let raw: RawEval = self.section(v, &path, "{every: 2, max_per_class: 50}", &|_| None)?;
        let every = match raw.every.given() {
            None => Some(1),
            Some(v) => {
                let p = key(&path, "every");
                self.single(v, &p, "`every` is not an axis; give one number of epochs")
                    .and_then(|v| self.usize(v, &p, 1, "evaluate every k-th epoch"))
            }
        };
        let max_per_class = match raw.max_per_class.given() {
            None => Some(Some(DEFAULT_MAX_PER_CLASS)),
            Some(v) => self.max_per_class(v, &key(&path, "max_per_class")),
        };
        Some(EvalSettings {
            every: every?,
            max_per_class: max_per_class?,
        })
    }

    /// `max_per_class:` a number of examples per class (at least 1) or `all`.
    fn max_per_class(&mut self, v: &Value, path: &[Seg]) -> Option<Option<usize>> {
        match v {
            Value::String(s) if s == "all" => Some(None),
            Value::Number(_) => self
                .usize(v, path, 1, "examples per class evaluated each epoch")
                .map(Some),
            other => {
                self.diag.err(
                    path,
                    format!(
                        "expected a number of examples per class evaluated each epoch (at least \
                         1) or `all` (the full splits every epoch), got {}",
                        describe(other)
                    ),
                );
                None
            }
        }
    }
}

/// The `eval:` setting of a grid file's text, as the run that recorded it read it (the
/// defaults where the text has none or cannot be read: a recorded grid was valid when it ran).
pub(crate) fn eval_of_yaml(yaml: &str) -> EvalSettings {
    struct NoCatalog;
    impl super::super::ClassCatalog for NoCatalog {
        fn class_names(&self, _: &DatasetSource) -> anyhow::Result<Option<Vec<String>>> {
            Ok(None)
        }
    }
    let Ok(Value::Mapping(root)) = serde_norway::from_str::<Value>(yaml) else {
        return EvalSettings::default();
    };
    let mut diag = Diag::default();
    let mut parser = Parser {
        diag: &mut diag,
        base_dir: PathBuf::new(),
        catalog: &NoCatalog,
    };
    let field = Field(root.get("eval").cloned());
    parser.eval(&field).unwrap_or_default()
}
