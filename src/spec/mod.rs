//! The grid: YAML schema, validation, expansion into trials, trial keys.

pub mod trial;

pub use trial::*;
