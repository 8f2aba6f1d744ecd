//! Ctrl-C: the first SIGINT asks the sweep to stop after the current epoch (recorded and
//! checkpointed); a second one exits at once. SQLite's journal keeps the database whole either
//! way.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the SIGINT handler. Call once, before the sweep starts.
pub fn install() -> anyhow::Result<()> {
    ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond Ctrl-C: exiting now; rerun the same `thaw run` to resume");
            std::process::exit(130);
        }
        eprintln!("\nCtrl-C: finishing the current epoch, then stopping (press again to exit now)");
    })?;
    Ok(())
}

/// Whether the user asked the sweep to stop.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
