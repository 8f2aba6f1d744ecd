//! The grid file, the axes that vary, devices and times, the grid version and outdated trials.

use crate::metrics::names::EPOCH_SECONDS;
use crate::report::context::Ctx;
use crate::report::html::markdown_to_html;
use crate::report::page::{Cell, Input, Output};
use crate::spec::SEMANTICS;
use anyhow::Result;
use rusqlite::params;

/// [2] The grid file and the number of trials it expands to.
pub fn grid(ctx: &Ctx) -> Result<Option<Cell>> {
    let n = ctx.trials.len();
    let mut md = format!(
        "**{n} trial{}** from `{}`.",
        if n == 1 { "" } else { "s" },
        ctx.sweep.spec_path
    );
    let axes = ctx.varying_axes();
    if !axes.is_empty() {
        let list: Vec<String> = axes.iter().map(|(a, k)| format!("{a} ({k})")).collect();
        md.push_str(&format!(" Axes that vary: {}.", list.join(", ")));
    }
    // Devices, wall time and summed training time.
    let (devices, start, end, train): (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<f64>,
    ) = ctx.conn.query_row(
        "SELECT GROUP_CONCAT(DISTINCT t.device), MIN(t.started_at), MAX(t.finished_at),
                    (SELECT SUM(m.value) FROM metrics m JOIN trials t2 ON t2.id = m.trial_id
                     WHERE t2.sweep_id = s.id AND t2.superseded_in IS NULL AND m.name = ?2)
             FROM sweeps s LEFT JOIN trials t ON t.sweep_id = s.id AND t.superseded_in IS NULL
             WHERE s.name = ?1",
        params![ctx.sweep.name, EPOCH_SECONDS.name],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let mut facts = Vec::new();
    if let Some(d) = devices.filter(|d| !d.is_empty()) {
        facts.push(format!("- device: {}", d.replace(',', ", ")));
    }
    if let (Some(a), Some(b)) = (&start, &end) {
        let span = chrono::DateTime::parse_from_rfc3339(b)
            .ok()
            .zip(chrono::DateTime::parse_from_rfc3339(a).ok())
            .map(|(b, a)| (b - a).num_seconds());
        facts.push(match span {
            Some(sec) if sec >= 0 => format!(
                "- wall time: {} (first start {a}, last finish {b})",
                fmt_duration(sec as f64)
            ),
            _ => format!("- first start {a}, last finish {b}"),
        });
    }
    if let Some(t) = train.filter(|t| *t > 0.0) {
        facts.push(format!(
            "- training time, summed over trials: {}",
            fmt_duration(t)
        ));
    }
    if let Some(note) = crate::report::eval_note::sweep_note(ctx)? {
        facts.push(format!("- evaluation: {note}"));
    }
    facts.extend(version_facts(ctx)?);
    if !facts.is_empty() {
        md.push_str("\n\n");
        md.push_str(&facts.join("\n"));
    }
    Ok(Some(Cell {
        title: "Grid".to_string(),
        inputs: vec![Input {
            lang: "yaml",
            text: ctx.sweep.spec_yaml.clone(),
        }],
        outputs: vec![Output::Html {
            html: markdown_to_html(&md),
        }],
    }))
}

/// The grid version the report shows, the trials it carries over from earlier versions, the
/// trials that left the grid (not shown), and trials recorded under an older training
/// semantics (shown, marked outdated), so that the report never mixes these silently.
fn version_facts(ctx: &Ctx) -> Result<Vec<String>> {
    let (version, since, carried, superseded, outdated, semantics): (
        i64,
        Option<String>,
        i64,
        i64,
        i64,
        Option<String>,
    ) = ctx.conn.query_row(
        "SELECT s.version,
                (SELECT created_at FROM sweep_versions v
                 WHERE v.sweep_id = s.id AND v.version = s.version),
                (SELECT count(*) FROM trials t WHERE t.sweep_id = s.id
                 AND t.superseded_in IS NULL AND t.grid_version < s.version),
                (SELECT count(*) FROM trials t WHERE t.sweep_id = s.id
                 AND t.superseded_in IS NOT NULL),
                (SELECT count(*) FROM trials t WHERE t.sweep_id = s.id
                 AND t.superseded_in IS NULL AND t.semantics IS NOT ?2),
                (SELECT group_concat(DISTINCT coalesce(t.semantics, 'unrecorded')) FROM trials t
                 WHERE t.sweep_id = s.id AND t.superseded_in IS NULL AND t.semantics IS NOT ?2)
         FROM sweeps s WHERE s.name = ?1",
        params![ctx.sweep.name, SEMANTICS],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        },
    )?;
    let mut facts = Vec::new();
    if version > 1 {
        let since = since.map_or(String::new(), |t| format!(" (since {t})"));
        facts.push(format!(
            "- grid version {version}{since}: {carried} of its trials were kept from earlier \
             versions; {superseded} trials that left the grid are kept in the database but \
             not in this report (`thaw ls --all`)"
        ));
    }
    if outdated > 0 {
        facts.push(format!(
            "- **{outdated} trials are outdated**: recorded under training semantics {} \
             where this thaw's is {SEMANTICS}; their results may differ from a rerun \
             (`thaw run GRID --rerun-outdated`). Transfer gains pair only trials of the same \
             semantics.",
            semantics.unwrap_or_default()
        ));
    }
    Ok(facts)
}

/// "2 h 05 min", "3 min 20 s", "12.5 s".
fn fmt_duration(sec: f64) -> String {
    let s = sec.round() as i64;
    if s >= 3600 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{sec:.1} s")
    }
}
