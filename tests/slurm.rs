//! `thaw slurm` on a real single-node Slurm (Debian's slurmctld, slurmd and munge, started by
//! `scripts/slurm-cluster.sh` in a temporary folder): a prepare job, a job array of 4 shard
//! tasks and a merge job give one database equal to a one-machine run; a task killed with
//! SIGKILL and one stopped with SIGTERM, both requeued, resume their trials and the merge is
//! complete with nothing run twice.
//!
//! Needs root and the Slurm packages (`make test` installs them). `THAW_SKIP_SLURM=1` skips it
//! on a machine where neither is possible; CI never sets it.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// The cluster of one test, stopped when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    conf: PathBuf,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-cluster.sh")
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("slurm")
            .tempdir_in("/tmp")
            .unwrap();
        let out = Command::new(script())
            // Ended jobs stay known (to requeue them) for the whole test.
            .env("SLURM_TEST_MIN_JOB_AGE", "1800")
            .arg("start")
            .arg(dir.path().join("c"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cannot start Slurm (needs root and `scripts/slurm-cluster.sh install`):\n{}",
            text(&out)
        );
        let conf = dir.path().join("c/slurm.conf");
        assert!(conf.exists());
        Cluster { dir, conf }
    }

    /// A Slurm client command with this cluster's configuration.
    fn cmd(&self, program: &str, args: &[&str]) -> Output {
        Command::new(program)
            .args(args)
            .env("SLURM_CONF", &self.conf)
            .output()
            .unwrap()
    }

    /// Whether any of the jobs is still pending, running or completing.
    fn busy(&self, jobs: &[&str]) -> bool {
        jobs.iter().any(|job| !self.state(job).is_empty())
    }

    fn state(&self, job: &str) -> String {
        let out = self.cmd("squeue", &["-h", "-r", "-j", job, "-o", "%T"]);
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string()
    }

    fn logs(&self) -> String {
        text(
            &Command::new(script())
                .arg("logs")
                .arg(self.dir.path().join("c"))
                .output()
                .unwrap(),
        )
    }

    /// Requeues an ended array task and lets it start again within seconds (a requeued job
    /// otherwise waits about two minutes for its begin time; set right away, the new start
    /// time is ignored or can fall in the second of the kill, which Slurm refuses).
    fn requeue(&self, task: &str) {
        let out = self.cmd("scontrol", &["requeue", task]);
        assert!(out.status.success(), "requeue {task}: {}", text(&out));
        wait_until(&format!("{task} pending"), Duration::from_secs(60), || {
            self.state(task) == "PENDING"
        });
        let out = self.cmd(
            "scontrol",
            &["update", &format!("JobId={task}"), "StartTime=now+2"],
        );
        assert!(out.status.success(), "update {task}: {}", text(&out));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path().join("c"))
            .output();
    }
}

/// Job ids of a submission, from its `jobs.json`.
struct Jobs {
    prepare: String,
    trials: String,
    merge: String,
}

/// `thaw slurm GRID` from `dir` with everything under it; returns the submission's folder and
/// job ids.
fn submit(cluster: &Cluster, dir: &Path, grid: &Path, more: &[&str]) -> (PathBuf, Jobs) {
    let mut args = vec![
        "slurm",
        grid.to_str().unwrap(),
        "--tasks",
        "4",
        "--device",
        "cpu",
    ];
    args.extend_from_slice(more);
    let out = thaw_cmd(dir, &args)
        .env("SLURM_CONF", &cluster.conf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("submitted: prepare job"),
        "{}",
        text(&out)
    );
    let name = grid.file_stem().unwrap().to_str().unwrap();
    let folder = dir.join("slurm").join(name);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("jobs.json")).unwrap()).unwrap();
    let id = |k: &str| json[k].as_str().unwrap().to_string();
    let jobs = Jobs {
        prepare: id("prepare"),
        trials: id("trials"),
        merge: id("merge"),
    };
    (folder, jobs)
}

fn wait_for_all(cluster: &Cluster, jobs: &Jobs, limit: Duration) {
    let ids = [jobs.prepare.as_str(), &jobs.trials, &jobs.merge];
    let start = std::time::Instant::now();
    while cluster.busy(&ids) {
        assert!(
            start.elapsed() < limit,
            "the jobs did not end within {limit:?}:\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The pid of the `thaw run` of array task `task` (its `--shard task/4` into `shards`).
fn task_pid(shards: &Path, task: usize) -> Option<i32> {
    let db = format!("{}/task-{task}.sqlite", shards.display());
    std::fs::read_dir("/proc").ok()?.find_map(|e| {
        let e = e.ok()?;
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        let is_run = args.get(1) == Some(&b"run".as_slice());
        let ours = args.iter().any(|a| a.ends_with(db.as_bytes()))
            || args
                .windows(2)
                .any(|w| w[0] == b"--db" && w[1] == db.as_bytes());
        (is_run && ours).then_some(pid)
    })
}

/// What a failing fault scenario needs to be understood: each shard's trial counts, the tail of
/// each task's log and Slurm's view of the array.
fn diagnose(cluster: &Cluster, folder: &Path, trials: &str) -> String {
    let mut out = String::new();
    for task in 0..4 {
        let db = folder.join(format!("shards/task-{task}.sqlite"));
        if db.exists() {
            let counts = scalar(
                &db,
                "SELECT group_concat(status || '=' || n) FROM \
                 (SELECT status, COUNT(*) AS n FROM trials GROUP BY status)",
            );
            out += &format!("task {task} shard: {counts}\n");
        }
        let log = std::fs::read_to_string(folder.join(format!("logs/task-{task}.out")))
            .unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        out += &format!("task {task} log tail:\n");
        for line in tail.into_iter().rev() {
            out += &format!("    {line}\n");
        }
    }
    out += &text(&cluster.cmd("scontrol", &["show", "job", trials]));
    out += &cluster.logs();
    out
}

fn skip() -> bool {
    std::env::var_os("THAW_SKIP_SLURM").is_some_and(|v| v == "1")
}

#[test]
fn a_grid_as_a_slurm_array_merges_to_one_database_even_after_a_sigkill_and_a_sigterm() {
    if skip() {
        eprintln!("THAW_SKIP_SLURM=1: the Slurm test is skipped");
        return;
    }
    let cluster = Cluster::start();

    // The reference: the grid on one machine.
    let whole = tempfile::tempdir().unwrap();
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/quickstart.yaml");
    let out = thaw(
        whole.path(),
        &["run", quickstart.to_str().unwrap(), "--device", "cpu"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let reference = metrics(&whole.path().join("thaw.sqlite"));

    // 1. The quickstart as prepare + an array of 4 tasks + merge.
    let d = tempfile::tempdir().unwrap();
    let grid = d.path().join("quickstart.yaml");
    std::fs::copy(&quickstart, &grid).unwrap();
    let (folder, jobs) = submit(&cluster, d.path(), &grid, &[]);
    for script in ["prepare.sbatch", "trials.sbatch", "merge.sbatch"] {
        assert!(folder.join(script).exists(), "{script}");
    }
    wait_for_all(&cluster, &jobs, Duration::from_secs(900));
    let db = d.path().join("thaw.sqlite");
    assert!(db.exists(), "no merged database:\n{}", cluster.logs());
    let trials = reference
        .keys()
        .map(|k| &k.0)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM trials"),
        trials.to_string()
    );
    assert_eq!(
        scalar(&db, "SELECT COUNT(DISTINCT key) FROM trials"),
        trials.to_string()
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM trials WHERE status = 'completed'"
        ),
        trials.to_string()
    );
    assert!(
        metrics(&db) == reference,
        "the merged metrics differ from the one-machine run"
    );
    assert!(d.path().join("reports/quickstart/index.html").exists());
    let shard_files = std::fs::read_dir(folder.join("shards")).unwrap().count();
    assert!(shard_files >= 5, "4 task shards and the prepare job's");
    let merge_log = std::fs::read_to_string(folder.join("logs/merge.out")).unwrap();
    assert!(merge_log.contains("merged 5 shards"), "{merge_log}");
    let status = thaw_cmd(d.path(), &["slurm", "status", "quickstart"])
        .env("SLURM_CONF", &cluster.conf)
        .output()
        .unwrap();
    assert!(text(&status).contains("task-3.sqlite"), "{}", text(&status));
    assert!(text(&status).contains("completed"), "{}", text(&status));

    // 2. Faults: one task's thaw is SIGKILLed mid-trial, another gets SIGTERM through its batch
    // shell (as `scancel --signal=TERM --batch` or a time limit delivers it); both are
    // requeued. The merge is held until then.
    let f = tempfile::tempdir().unwrap();
    // Longer trials than the small grid's, so that a task is still mid-trial when signalled.
    let faults = small_grid("faults").replace("epochs: 4", "epochs: 16");
    let grid = write_grid(f.path(), "faults.yaml", &faults);
    let (folder, jobs) = submit(&cluster, f.path(), &grid, &["--requeue"]);
    let out = cluster.cmd("scontrol", &["hold", &jobs.merge]);
    assert!(out.status.success(), "{}", text(&out));
    let status = thaw_cmd(f.path(), &["slurm", "status", "faults"])
        .env("SLURM_CONF", &cluster.conf)
        .output()
        .unwrap();
    let held = text(&status)
        .lines()
        .any(|l| l.trim_start().starts_with(&jobs.merge) && l.contains("PENDING"));
    assert!(
        held,
        "the held merge job in the queue table:\n{}",
        text(&status)
    );
    let shards = folder.join("shards");
    let mut hit = Vec::new();
    wait_until("two tasks mid-trial", Duration::from_secs(600), || {
        for task in 0..4 {
            if hit.len() == 2 {
                break;
            }
            let db = shards.join(format!("task-{task}.sqlite"));
            if !hit.iter().any(|&(t, _)| t == task) && db.exists() && early_in_trial(&db, 6) {
                if let Some(pid) = task_pid(&shards, task) {
                    let id = format!("{}_{task}", jobs.trials);
                    let signal = if hit.is_empty() {
                        // SAFETY: kills the thaw process of a job this test submitted.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                        libc::SIGKILL
                    } else {
                        // scancel can report an error and still deliver the signal, so the
                        // task counts as hit either way; it has epochs to go, so it cannot
                        // have ended in between.
                        let out = cluster.cmd("scancel", &["--signal=TERM", "--batch", &id]);
                        eprintln!("scancel {id}: {:?} {}", out.status.code(), text(&out));
                        libc::SIGTERM
                    };
                    hit.push((task, signal));
                }
            }
        }
        hit.len() == 2
    });
    let task_id = |task: usize| format!("{}_{task}", jobs.trials);
    for &(task, _) in &hit {
        wait_until(
            &format!("task {task} ended"),
            Duration::from_secs(120),
            || !cluster.busy(&[&task_id(task)]),
        );
    }
    let (killed, termed) = (hit[0].0, hit[1].0);
    let termed_db = shards.join(format!("task-{termed}.sqlite"));
    assert_eq!(
        scalar(
            &termed_db,
            "SELECT COUNT(*) FROM trials WHERE status = 'interrupted'"
        ),
        "1",
        "SIGTERM marks the trial in flight interrupted:\n{}",
        std::fs::read_to_string(folder.join(format!("logs/task-{termed}.out"))).unwrap_or_default()
    );
    let killed_db = shards.join(format!("task-{killed}.sqlite"));
    assert_eq!(
        scalar(
            &killed_db,
            "SELECT COUNT(*) FROM trials WHERE status = 'running'"
        ),
        "1"
    );
    for &(task, _) in &hit {
        cluster.requeue(&task_id(task));
    }
    wait_until("the array's tasks ended", Duration::from_secs(600), || {
        !cluster.busy(&[&jobs.trials, &jobs.prepare])
    });
    let out = cluster.cmd("scontrol", &["release", &jobs.merge]);
    assert!(out.status.success(), "{}", text(&out));
    wait_for_all(&cluster, &jobs, Duration::from_secs(300));

    let db = f.path().join("thaw.sqlite");
    let n = SMALL_GRID_TRIALS.to_string();
    assert_eq!(scalar(&db, "PRAGMA integrity_check"), "ok");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM trials"), n);
    assert_eq!(scalar(&db, "SELECT COUNT(DISTINCT key) FROM trials"), n);
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM trials WHERE status = 'completed'"
        ),
        n,
        "killed task {killed}, stopped task {termed}\n{}",
        diagnose(&cluster, &folder, &jobs.trials)
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM trials WHERE resumed_from_epoch >= 1"
        ),
        "2",
        "the killed and the stopped trial resumed from their checkpoints"
    );
    for shard in [&killed_db, &termed_db] {
        assert_eq!(scalar(shard, "PRAGMA integrity_check"), "ok");
    }
    // Resumed trials end exactly as uninterrupted ones: compare with a one-machine run.
    let one = tempfile::tempdir().unwrap();
    let g = write_grid(one.path(), "faults.yaml", &faults);
    assert_eq!(
        thaw(one.path(), &["run", g.to_str().unwrap(), "--device", "cpu"])
            .status
            .code(),
        Some(0)
    );
    assert!(
        metrics(&db) == metrics(&one.path().join("thaw.sqlite")),
        "the merged metrics differ from the one-machine run"
    );
}
