//! Runner identity and liveness: which process holds a trial, whether it is still alive, and
//! the heartbeat that tells other runners so.

use crate::track::Db;
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often a running trial's heartbeat is refreshed.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// This machine's host name (`localhost` when it does not say).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}

/// This process's runner id: `host:pid:nonce`.
pub fn runner_id() -> String {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}:{}:{nonce:08x}", hostname(), std::process::id())
}

/// Whether `runner` names a process on this host that no longer exists. Runners on other hosts
/// are never known dead; their heartbeat going stale tells instead.
pub fn is_dead(runner: &str) -> bool {
    let mut parts = runner.split(':');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<i32>() else {
        return false;
    };
    if host != hostname() || pid as u32 == std::process::id() {
        return false;
    }
    // SAFETY: signal 0 only checks whether the process exists; nothing is delivered.
    let alive = unsafe { libc::kill(pid, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    !alive
}

/// Refreshes a trial's heartbeat from a background thread until dropped.
pub struct Heartbeat {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    /// Starts beating for `trial_id` held by `runner`, on its own connection to `db_path`.
    pub fn start(db_path: &Path, trial_id: i64, runner: &str) -> Heartbeat {
        let (tx, rx) = mpsc::channel::<()>();
        let (path, runner) = (db_path.to_path_buf(), runner.to_string());
        let thread = std::thread::spawn(move || {
            let Ok(db) = Db::open(&path) else { return };
            while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(HEARTBEAT_EVERY) {
                // A missed beat only makes the trial look stale sooner; training goes on.
                let _ = db.heartbeat(trial_id, &runner);
            }
        });
        Heartbeat {
            stop: Some(tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_child_is_dead() {
        assert!(!is_dead(&runner_id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(is_dead(&format!("{}:{pid}:0", hostname())));
        assert!(!is_dead(&format!("elsewhere:{pid}:0")));
        assert!(!is_dead("garbage"));
    }
}
