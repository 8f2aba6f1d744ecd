//! `thaw note` and `thaw tag`: notes and tags on a sweep or one of its trials.

use super::results::check_sweep;
use super::{NoteArgs, TagArgs};
use anyhow::{bail, Result};
use std::path::Path;
use thaw::track::notes::{notes, tags};
use thaw::track::query::open_readonly;
use thaw::track::Db;

/// `thaw note SWEEP [--trial KEY] TEXT...` or `thaw note SWEEP --list`.
pub fn note(args: NoteArgs) -> Result<()> {
    let (db, sweep) = (&args.db.db, args.sweep.as_str());
    existing(db, sweep)?;
    if args.list {
        let listed = notes(&open_readonly(db)?, sweep)?;
        if listed.is_empty() {
            println!("no notes on sweep {sweep} (add one: thaw note {sweep} \"TEXT\")");
        }
        let on = |k: &Option<String>| match k {
            Some(k) => format!("trial {k}"),
            None => "sweep".to_string(),
        };
        let width = listed.iter().map(|n| on(&n.trial_key).len()).max();
        for n in &listed {
            let indent = " ".repeat(n.created_at.len() + width.unwrap_or(0) + 4);
            let text = n
                .text
                .lines()
                .collect::<Vec<_>>()
                .join(&format!("\n{indent}"));
            println!(
                "{}  {:<w$}  {text}",
                n.created_at,
                on(&n.trial_key),
                w = width.unwrap_or(0)
            );
        }
        return Ok(());
    }
    Db::open(db)?.add_note(sweep, args.trial.as_deref(), &args.text.join(" "))?;
    println!("note added to {}", target(sweep, args.trial.as_deref()));
    Ok(())
}

/// `thaw tag SWEEP [--trial KEY] [--remove] TAG...` or `thaw tag SWEEP --list`.
pub fn tag(args: TagArgs) -> Result<()> {
    let (db, sweep) = (&args.db.db, args.sweep.as_str());
    existing(db, sweep)?;
    let trial = args.trial.as_deref();
    if args.list {
        let listed = tags(&open_readonly(db)?, sweep)?;
        if listed.is_empty() {
            println!("no tags on sweep {sweep} or its trials (add some: thaw tag {sweep} TAG...)");
        }
        let mut lines: Vec<(String, Vec<&str>)> = Vec::new();
        for t in &listed {
            let on = target(sweep, t.trial_key.as_deref());
            match lines.last_mut() {
                Some((last, same)) if *last == on => same.push(&t.tag),
                _ => lines.push((on, vec![&t.tag])),
            }
        }
        for (on, list) in lines {
            println!("{on}: {}", list.join(", "));
        }
        return Ok(());
    }
    let db = Db::open(db)?;
    if args.remove {
        db.remove_tags(sweep, trial, &args.tags)?;
        println!(
            "removed from {}: {}",
            target(sweep, trial),
            args.tags.join(", ")
        );
    } else {
        let added = db.add_tags(sweep, trial, &args.tags)?;
        println!(
            "tagged {}: {} ({added} new)",
            target(sweep, trial),
            args.tags.join(", ")
        );
    }
    Ok(())
}

/// Fails, saying what to do, when there is no database at `db` (instead of creating one) or
/// no such sweep in it (listing its sweeps).
fn existing(db: &Path, sweep: &str) -> Result<()> {
    if !db.exists() {
        bail!(
            "no database at {}; run `thaw run GRID` first or pass --db",
            db.display()
        );
    }
    check_sweep(db, sweep)
}

/// `sweep s` or `trial k of sweep s`.
fn target(sweep: &str, trial: Option<&str>) -> String {
    match trial {
        Some(k) => format!("trial {k} of sweep {sweep}"),
        None => format!("sweep {sweep}"),
    }
}
