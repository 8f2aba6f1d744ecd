//! One progress view of every worker of `thaw run --jobs N`, read from the database (the one
//! place every worker records to): on a terminal, a bar for the sweep and a line per worker
//! with its trial's epoch and validation accuracy; otherwise a log line per finished trial.
//! It also passes stop signals on to the workers.

use super::interrupt::{self, StopSignal};
use super::pool::Pool;
use super::PlannedSweep;
use crate::track::TrialStatus;
use anyhow::Result;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use rusqlite::Connection;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

/// How often the database is read.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// A trial as the database shows it.
struct TrialState {
    status: TrialStatus,
    /// Process id of the runner holding or last holding it.
    pid: Option<u32>,
    epochs: u64,
    /// Last epoch recorded and its validation accuracy, while it runs.
    epoch: Option<u64>,
    val_acc: Option<f64>,
}

/// Watches `pool` until every worker has exited, showing the progress of the trials of
/// `sweeps` recorded in `db`, and sends each worker a stop signal when this process gets one.
pub fn watch(pool: &mut Pool, db: &Path, sweeps: &[PlannedSweep]) -> Result<()> {
    let conn = crate::track::query::open_readonly(db)?;
    let labels: HashMap<(String, String), String> = sweeps
        .iter()
        .flat_map(|p| {
            p.trials
                .iter()
                .map(|t| ((p.grid.name.clone(), t.key.clone()), t.spec.label()))
        })
        .collect();
    let view = View::new(pool, labels.len());
    let mut previous: HashMap<(String, String), TrialStatus> = HashMap::new();
    let mut forwarded = false;
    // Trials finished, counted as they are seen finishing.
    let mut done = 0;
    let mut stood_in_counted = false;
    loop {
        if let (Some(signal), false) = (interrupt::stop_signal(), forwarded) {
            // Ctrl-C reaches the workers from the terminal already; a second SIGINT would make
            // them exit at once, so they are asked with SIGTERM.
            pool.signal(match signal {
                StopSignal::Interrupt => libc::SIGTERM,
                other => other.number(),
            });
            forwarded = true;
        }
        let all_exited = pool.poll()?;
        let states = read_states(&conn, sweeps)?;
        let ours = |id: &(String, String)| labels.contains_key(id);
        let first = previous.is_empty();
        if !stood_in_counted {
            stood_in_counted = true;
            // A trial with no row of its own is stood in for by an outdated record of its
            // configuration (see `Db::register_grid`): it is done.
            let rows: HashSet<&(String, String)> = states.iter().map(|(id, _)| id).collect();
            done += labels.keys().filter(|id| !rows.contains(id)).count();
        }
        for (id, state) in states.iter().filter(|(id, _)| ours(id)) {
            let before = previous.insert(id.clone(), state.status);
            let newly = before.is_none_or(|b| !is_finished(b));
            if is_finished(state.status) && (first || newly) {
                done += 1;
                if !first {
                    let worker = state
                        .pid
                        .and_then(|pid| pool.workers.iter().find(|w| w.pid() == pid));
                    view.trial_finished(done, state.status, &labels[id], worker.map(|w| w.index));
                }
            }
        }
        view.update(pool, &states, &labels, done);
        if all_exited {
            break;
        }
        std::thread::sleep(POLL_EVERY);
    }
    view.finish();
    Ok(())
}

fn is_finished(status: TrialStatus) -> bool {
    matches!(
        status,
        TrialStatus::Completed | TrialStatus::Pruned | TrialStatus::Failed | TrialStatus::Diverged
    )
}

/// Every trial of `sweeps`' current grids, by (sweep, key).
fn read_states(
    conn: &Connection,
    sweeps: &[PlannedSweep],
) -> Result<Vec<((String, String), TrialState)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.key, t.status, t.runner, t.epochs,
             CASE WHEN t.status = 'running' THEN (SELECT MAX(epoch) FROM metrics m
                 WHERE m.trial_id = t.id AND m.name = 'train_loss') END,
             CASE WHEN t.status = 'running' THEN (SELECT value FROM metrics m
                 WHERE m.trial_id = t.id AND m.name = 'val_acc' ORDER BY epoch DESC LIMIT 1) END
         FROM trials t JOIN sweeps s ON s.id = t.sweep_id
         WHERE s.name = ?1 AND t.superseded_in IS NULL",
    )?;
    let mut out = Vec::new();
    for p in sweeps {
        let rows = stmt.query_map([&p.grid.name], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<f64>>(5)?,
            ))
        })?;
        for row in rows {
            let (key, status, runner, epochs, epoch, val_acc) = row?;
            let pid = runner.and_then(|r| r.split(':').nth(1).and_then(|p| p.parse().ok()));
            out.push((
                (p.grid.name.clone(), key),
                TrialState {
                    status: status.parse()?,
                    pid,
                    epochs: epochs.max(0) as u64,
                    epoch: epoch.map(|e| e.max(0) as u64),
                    val_acc,
                },
            ));
        }
    }
    Ok(out)
}

/// Bars on a terminal, log lines otherwise.
struct View {
    bars: Option<(MultiProgress, ProgressBar, Vec<ProgressBar>)>,
    total: usize,
}

impl View {
    fn new(pool: &Pool, total: usize) -> View {
        eprintln!(
            "{} workers; their output is in {}",
            pool.workers.len(),
            pool.log_dir.display()
        );
        let bars = super::progress::sweep_bars(total).map(|(multi, overall)| {
            let workers = pool
                .workers
                .iter()
                .map(|w| {
                    let bar = multi.add(ProgressBar::new(1));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "  {prefix} {bar:20.green} {pos}/{len}  {msg}",
                        )
                        .expect("valid template"),
                    );
                    bar.set_prefix(format!(
                        "worker {} {:<7}",
                        w.index,
                        super::device_name(w.device)
                    ));
                    bar
                })
                .collect();
            (multi, overall, workers)
        });
        View { bars, total }
    }

    fn trial_finished(&self, done: usize, status: TrialStatus, label: &str, worker: Option<usize>) {
        let by = worker.map_or(String::new(), |w| format!(" (worker {w})"));
        let line = format!("[{done}/{}] {status}: {label}{by}", self.total);
        match &self.bars {
            Some((multi, _, _)) => {
                let _ = multi.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    fn update(
        &self,
        pool: &Pool,
        states: &[((String, String), TrialState)],
        labels: &HashMap<(String, String), String>,
        done: usize,
    ) {
        let Some((_, overall, bars)) = &self.bars else {
            return;
        };
        overall.set_position(done as u64);
        for (w, bar) in pool.workers.iter().zip(bars) {
            let running = states
                .iter()
                .find(|(_, s)| s.status == TrialStatus::Running && s.pid == Some(w.pid()));
            match (w.exit, running) {
                (Some(status), _) => {
                    bar.set_length(1);
                    bar.set_position(1);
                    bar.set_message(format!("exited ({status})"));
                }
                (None, Some((id, s))) => {
                    bar.set_length(s.epochs.max(1));
                    bar.set_position(s.epoch.unwrap_or(0));
                    let acc = s.val_acc.map_or("-".to_string(), |a| format!("{a:.3}"));
                    let label = labels.get(id).map_or("", String::as_str);
                    bar.set_message(format!("val_acc {acc}  {label}"));
                }
                (None, None) => {
                    bar.set_position(0);
                    bar.set_message("preparing (data, pretraining)");
                }
            }
        }
    }

    fn finish(&self) {
        if let Some((_, overall, bars)) = &self.bars {
            for bar in bars {
                bar.finish_and_clear();
            }
            overall.finish_and_clear();
        }
    }
}
