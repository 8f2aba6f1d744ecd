//! The built-in sections, one file each: its SQL, its chart, its written findings and their
//! unit tests. Every section is one function `fn(&Ctx) -> Result<Option<Cell>>`; it returns
//! `None` when its axis does not vary in the sweep. Adding a section is one new file here and
//! one line in [`SECTIONS`]. Every chart shows the SQL it was drawn from, and that query returns
//! exactly the rows the chart plots (aggregation over seeds, where needed, is done in Rust over
//! those rows).

pub(crate) mod calibration;
pub(crate) mod cost;
pub(crate) mod data_efficiency;
pub(crate) mod domain_distance;
pub(crate) mod domain_gap;
pub(crate) mod forgetting;
pub(crate) mod forgetting_by_schedule;
pub(crate) mod forgetting_vs_gain;
pub(crate) mod forgetting_vs_lr;
pub(crate) mod grid;
pub(crate) mod heatmap;
pub(crate) mod intro;
pub(crate) mod notes;
pub(crate) mod overfitting;
pub(crate) mod per_class;
pub(crate) mod precision;
pub(crate) mod provenance;
pub(crate) mod representation_drift;
pub(crate) mod schedules;
pub(crate) mod search;
pub(crate) mod summary;
pub(crate) mod transfer_gain;
pub(crate) mod trial_table;

use super::context::Ctx;
use super::page::Cell;
use anyhow::Result;

/// A report section: builds its cell, or `None` when it does not apply to the sweep.
pub type Section = fn(&Ctx) -> Result<Option<Cell>>;

/// The built-in sections, in page order.
pub const SECTIONS: &[Section] = &[
    intro::intro,
    notes::notes,
    grid::grid,
    search::search,
    overfitting::overfitting,
    forgetting::forgetting,
    forgetting_by_schedule::forgetting_by_schedule,
    forgetting_vs_lr::forgetting_vs_lr,
    forgetting_vs_gain::forgetting_vs_gain,
    domain_gap::domain_gap,
    domain_distance::domain_distance,
    data_efficiency::data_efficiency,
    transfer_gain::transfer_gain,
    representation_drift::representation_drift,
    calibration::calibration,
    per_class::per_class,
    precision::precision,
    cost::cost,
    schedules::schedules,
    heatmap::heatmap,
    trial_table::trial_table,
    provenance::provenance,
];

/// Builds every built-in cell that applies to the sweep, with the summary of their findings
/// added to the first (intro) cell, then the grid's own `report:` cells.
pub fn build(ctx: &Ctx) -> Result<Vec<Cell>> {
    let mut cells = Vec::new();
    for section in SECTIONS {
        if let Some(cell) = section(ctx)? {
            cells.push(cell);
        }
    }
    if let Some(out) = summary::summary(&cells) {
        if let Some(first) = cells.first_mut() {
            first.outputs.push(out);
        }
    }
    cells.extend(super::user::cells(ctx));
    Ok(cells)
}
