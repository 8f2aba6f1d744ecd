//! Stop requests: Ctrl-C (SIGINT), SIGTERM (Slurm's time limit, `scancel` and preemption,
//! `kill`, docker, systemd) and SIGUSR1 (Slurm's early warning, `--signal=B:USR1@SECONDS`) all
//! ask the sweep to stop after the current epoch, which is recorded and checkpointed; the trial
//! becomes `interrupted` and a later run resumes it. A second Ctrl-C exits at once; repeated
//! SIGTERM or SIGUSR1 only repeat the request (a scheduler may send both). SQLite's journal keeps
//! the database whole either way.

use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
use std::sync::atomic::{AtomicI32, Ordering};

/// The first stop signal received (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The signal that asked the run to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT: Ctrl-C.
    Interrupt,
    /// SIGTERM: a scheduler, `kill`, docker or systemd.
    Terminate,
    /// SIGUSR1: Slurm's warning ahead of the time limit.
    TimeLimitWarning,
}

impl StopSignal {
    fn from_number(signal: i32) -> Option<StopSignal> {
        match signal {
            SIGINT => Some(StopSignal::Interrupt),
            SIGTERM => Some(StopSignal::Terminate),
            SIGUSR1 => Some(StopSignal::TimeLimitWarning),
            _ => None,
        }
    }

    /// The signal's number.
    pub fn number(self) -> i32 {
        match self {
            StopSignal::Interrupt => SIGINT,
            StopSignal::Terminate => SIGTERM,
            StopSignal::TimeLimitWarning => SIGUSR1,
        }
    }

    /// The exit status of a run it stopped: 128 + the signal number, as shells report a
    /// process killed by that signal (130, 143, 138).
    pub fn exit_code(self) -> u8 {
        128 + self.number() as u8
    }

    /// The signal's name, e.g. `SIGINT`.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::TimeLimitWarning => "SIGUSR1",
        }
    }

    /// What the user sees, e.g. `Ctrl-C`.
    pub fn describe(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "Ctrl-C",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::TimeLimitWarning => "SIGUSR1 (time-limit warning)",
        }
    }
}

/// Listens for SIGINT, SIGTERM and SIGUSR1 on a background thread. Call once, before the sweep
/// starts.
pub fn install() -> anyhow::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGUSR1])?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            let Some(stop) = StopSignal::from_number(signal) else {
                continue;
            };
            match SIGNAL.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => eprintln!(
                    "\n{}: finishing the current epoch, then stopping{}",
                    stop.describe(),
                    if stop == StopSignal::Interrupt {
                        " (press again to exit now)"
                    } else {
                        ""
                    }
                ),
                Err(_) if stop == StopSignal::Interrupt => {
                    eprintln!("\nsecond Ctrl-C: exiting now; rerun the same `thaw run` to resume");
                    std::process::exit(StopSignal::Interrupt.exit_code().into());
                }
                Err(_) => {}
            }
        }
    });
    Ok(())
}

/// Whether a stop was requested.
pub fn requested() -> bool {
    SIGNAL.load(Ordering::SeqCst) != 0
}

/// The signal that requested the stop, if any.
pub fn stop_signal() -> Option<StopSignal> {
    StopSignal::from_number(SIGNAL.load(Ordering::SeqCst))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal() {
        assert_eq!(StopSignal::Interrupt.exit_code(), 130);
        assert_eq!(StopSignal::Terminate.exit_code(), 143);
        assert_eq!(StopSignal::TimeLimitWarning.exit_code(), 138);
        for s in [
            StopSignal::Interrupt,
            StopSignal::Terminate,
            StopSignal::TimeLimitWarning,
        ] {
            assert_eq!(StopSignal::from_number(s.number()), Some(s));
        }
    }
}
