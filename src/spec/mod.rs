//! The grid: YAML schema, validation, expansion into trials, trial keys.
//!
//! [`load_grid`] reads a grid file, checks every key, type and range (collecting all problems
//! into one [`SpecError`] with `file:line:column: field: message` lines), then expands the axes
//! into [`TrialSpec`]s. [`check_data`] then checks the trials against the real datasets.

mod backbone;
mod check;
mod dataset;
mod describe;
pub mod early_stop;
mod error;
mod eval;
mod expand;
mod keys;
mod parse;
mod report;
mod schema;
pub mod search;
pub mod trial;
mod words;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_check;
#[cfg(test)]
mod tests_errors;
#[cfg(test)]
mod tests_images;
#[cfg(test)]
mod tests_search;
#[cfg(test)]
mod tests_shifts;
#[cfg(test)]
mod tests_text;
#[cfg(test)]
mod tests_text_models;
#[cfg(test)]
mod tests_weights;

pub use check::check_data;
pub use describe::describe_trials;
pub use error::{Problem, SpecError};
pub use eval::EvalSettings;
pub use search::{search_space, SearchSpace};
pub use trial::*;

use std::path::{Path, PathBuf};

/// A validated, expanded grid.
#[derive(Clone, Debug)]
pub struct Grid {
    /// `[A-Za-z0-9_.-]+`, used as a folder name.
    pub name: String,
    pub description: String,
    /// The grid file, as given.
    pub spec_path: PathBuf,
    /// The file's text.
    pub spec_yaml: String,
    /// Expanded, de-duplicated (by equal config) trials: the cartesian product in axis order
    /// backbone, freeze, train_per_class, shift, schedule, optimizer, epochs, batch_size, seed
    /// (seed innermost); with `search:`, that product for sample 0, then for sample 1, ...; then
    /// the baselines (if any) in the same order.
    pub trials: Vec<TrialSpec>,
    /// The grid's `search:`, if any.
    pub search: Option<SearchSpace>,
    /// `early_stop:`: stop hopeless trials at rungs (a run-level setting, not part of any
    /// trial's key).
    pub early_stop: Option<early_stop::EarlyStop>,
    /// `eval:`: how fine-tuning epochs are evaluated (the same for every trial; not part of
    /// their configurations or keys).
    pub eval: EvalSettings,
}

/// Reads, parses, validates and expands a grid file.
pub fn load_grid(path: &Path, catalog: &dyn ClassCatalog) -> Result<Grid, SpecError> {
    let yaml = std::fs::read_to_string(path).map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::NotFound => "grid file not found; check the path \
                 (relative to the current folder), or pass a folder of *.yaml grids"
                .to_string(),
            std::io::ErrorKind::InvalidData => {
                "the grid file is not UTF-8 text; save it as UTF-8".to_string()
            }
            _ => format!("cannot read the grid file: {e}; check its permissions"),
        };
        SpecError::whole_file(path, hint)
    })?;
    parse_grid(path, &yaml, catalog)
}

/// What validating a grid needs to read from a dataset's files: the class names of a folder or
/// CSV-list dataset (label 0 first; `None` for other datasets), so that a grid may name its
/// classes. The data module's `Files` reads them; the grid's own code never lists image folders.
pub trait ClassCatalog {
    /// The class names of `dataset`, or why they cannot be listed.
    fn class_names(&self, dataset: &DatasetSource) -> anyhow::Result<Option<Vec<String>>>;
}

/// Parses, validates and expands a grid from its text; `path` names the file in messages and
/// is the base for relative dataset paths; class names are looked up in `catalog`.
pub fn parse_grid(path: &Path, yaml: &str, catalog: &dyn ClassCatalog) -> Result<Grid, SpecError> {
    let mut diag = error::Diag::default();
    let root: serde_norway::Value = match serde_norway::from_str(yaml) {
        Ok(v) => v,
        Err(e) => {
            match e.location() {
                Some(l) => {
                    let (line, col) = error::duplicate_key_location(yaml, &e.to_string(), &l)
                        .unwrap_or((l.line(), l.column()));
                    diag.err_at(line, col, format!("invalid YAML: {e}{}", yaml_hint(&e)))
                }
                None => diag.err(&[], format!("invalid YAML: {e}{}", yaml_hint(&e))),
            }
            return Err(diag.into_error(path, yaml));
        }
    };
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let parsed = parse::Parser {
        diag: &mut diag,
        base_dir,
        catalog,
    }
    .grid(&root);
    let parsed = match parsed {
        Some(p) if diag.is_empty() => p,
        _ => return Err(diag.into_error(path, yaml)),
    };
    let trials = expand::expand(&parsed, &mut diag);
    if !diag.is_empty() {
        return Err(diag.into_error(path, yaml));
    }
    Ok(Grid {
        name: parsed.name,
        description: parsed.description,
        spec_path: path.to_path_buf(),
        spec_yaml: yaml.to_string(),
        trials,
        search: parsed.search,
        early_stop: parsed.early_stop,
        eval: parsed.eval,
    })
}

/// What to do about a YAML syntax error, for the common ones.
fn yaml_hint(e: &serde_norway::Error) -> &'static str {
    let text = e.to_string();
    if text.contains("tab character") {
        "; indent with spaces, not tabs"
    } else if text.contains("flow sequence") {
        "; close the list with `]` (and separate its items with `,`)"
    } else if text.contains("flow mapping") {
        "; close the mapping with `}` (and separate its entries with `,`)"
    } else if text.contains("duplicate entry") {
        "; remove one of the two keys"
    } else {
        "; fix the YAML syntax at this position"
    }
}
