//! The batch scripts of a submission: plain bash with `#SBATCH` lines, absolute paths, and a
//! comment saying what each does, so that a user can read, edit and resubmit them by hand.

use super::{Resources, SlurmPlan};
use std::fmt::Write;
use std::path::Path;

/// Which job a script is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    Prepare,
    Trials,
    Merge,
}

impl Job {
    /// Every job, in submission order.
    pub const ALL: [Job; 3] = [Job::Prepare, Job::Trials, Job::Merge];

    /// The job's name, also its script's file stem.
    pub fn name(self) -> &'static str {
        match self {
            Job::Prepare => "prepare",
            Job::Trials => "trials",
            Job::Merge => "merge",
        }
    }

    /// The script's file name inside the submission folder.
    pub fn file_name(self) -> String {
        format!("{}.sbatch", self.name())
    }
}

/// `text` quoted for bash (single quotes; a single quote inside becomes `'\''`).
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn q(path: &Path) -> String {
    quote(&path.to_string_lossy())
}

/// The script of `job` for `plan`.
pub fn render(plan: &SlurmPlan, job: Job) -> String {
    let mut s = String::from("#!/bin/bash\n");
    let _ = writeln!(s, "# {}", purpose(plan, job));
    let _ = writeln!(
        s,
        "# Written by `thaw slurm`; edit freely (see README, \"On a cluster\")."
    );
    let _ = writeln!(s, "#SBATCH --job-name=thaw-{}-{}", plan.name, job.name());
    let log = match job {
        Job::Trials => "task-%a.out".to_string(),
        other => format!("{}.out", other.name()),
    };
    let _ = writeln!(
        s,
        "#SBATCH --output={}",
        plan.dir.join("logs").join(log).display()
    );
    let _ = writeln!(s, "#SBATCH --open-mode=append");
    if job == Job::Trials {
        let limit = plan.max_running.map_or(String::new(), |k| format!("%{k}"));
        let _ = writeln!(s, "#SBATCH --array=0-{}{limit}", plan.tasks - 1);
    }
    if job != Job::Merge {
        let _ = writeln!(s, "#SBATCH --signal=B:USR1@{}", plan.signal_before);
        let requeue = if plan.requeue {
            "--requeue"
        } else {
            "--no-requeue"
        };
        let _ = writeln!(s, "#SBATCH {requeue}");
    }
    sbatch_resources(&mut s, &plan.resources, job != Job::Merge);
    s.push_str("\nset -u\n");
    let _ = writeln!(s, "cd {}", q(&plan.workdir));
    if let Some(setup) = &plan.setup {
        let _ = writeln!(s, "{setup}");
    }
    let _ = writeln!(s, "THAW={}", q(&plan.thaw));
    match job {
        Job::Prepare => prepare_body(&mut s, plan),
        Job::Trials => trials_body(&mut s, plan),
        Job::Merge => merge_body(&mut s, plan),
    }
    s
}

fn purpose(plan: &SlurmPlan, job: Job) -> String {
    match job {
        Job::Prepare => format!(
            "thaw {}: decode the datasets and pretrain every source checkpoint once, before the trials",
            plan.name
        ),
        Job::Trials => format!(
            "thaw {}: {} trials as a job array of {} tasks; task i runs its share (`--shard i/{}`) into its own database under shards/",
            plan.name, plan.trials, plan.tasks, plan.tasks
        ),
        Job::Merge => format!(
            "thaw {}: merge the shard databases into {} and render the report (runs after every task ended, whatever their state)",
            plan.name,
            plan.db.display()
        ),
    }
}

fn sbatch_resources(s: &mut String, r: &Resources, with_gres: bool) {
    let lines = [
        ("partition", &r.partition),
        ("account", &r.account),
        ("qos", &r.qos),
        ("time", &r.time),
        ("mem", &r.mem),
    ];
    for (flag, value) in lines {
        if let Some(v) = value {
            let _ = writeln!(s, "#SBATCH --{flag}={v}");
        }
    }
    if let Some(n) = r.cpus_per_task {
        let _ = writeln!(s, "#SBATCH --cpus-per-task={n}");
    }
    if let (Some(gres), true) = (&r.gres, with_gres) {
        let _ = writeln!(s, "#SBATCH --gres={gres}");
    }
    for line in &r.extra {
        let _ = writeln!(s, "#SBATCH {line}");
    }
}

/// The folder options every thaw command of the submission shares.
fn folders(plan: &SlurmPlan) -> String {
    format!(
        "--data-dir {} --cache-dir {}",
        q(&plan.data_dir),
        q(&plan.cache_dir)
    )
}

fn grids(plan: &SlurmPlan) -> String {
    let g: Vec<String> = plan.grids.iter().map(|g| q(g)).collect();
    g.join(" ")
}

/// Runs `command` in the background and passes the batch shell's signals on to it (Slurm's
/// `--signal=B:...` reaches only the batch shell), then leaves its exit status in `$rc`.
fn run_forwarding_signals(s: &mut String, command: &str) {
    let _ = writeln!(s, "{command} &");
    s.push_str(
        r#"pid=$!
trap 'kill -USR1 $pid 2>/dev/null' USR1
trap 'kill -TERM $pid 2>/dev/null' TERM INT
while kill -0 $pid 2>/dev/null; do wait $pid; done
wait $pid; rc=$?
"#,
    );
}

fn prepare_body(s: &mut String, plan: &SlurmPlan) {
    let command = format!(
        "\"$THAW\" prepare {} --db {} --device {} {}",
        grids(plan),
        q(&plan.shard_db(None)),
        quote(&plan.device),
        folders(plan)
    );
    run_forwarding_signals(s, &command);
    s.push_str("exit $rc\n");
}

fn trials_body(s: &mut String, plan: &SlurmPlan) {
    let shards = plan.dir.join("shards");
    let _ = writeln!(s, "task=$SLURM_ARRAY_TASK_ID");
    let _ = writeln!(
        s,
        "echo \"thaw: task $task of {} on $(hostname), job ${{SLURM_ARRAY_JOB_ID}}_$task, restart ${{SLURM_RESTART_COUNT:-0}}, $(date -u +%FT%TZ)\"",
        plan.tasks
    );
    let command = format!(
        "\"$THAW\" run {} --shard \"$task/{}\" --db {}/\"task-$task.sqlite\" --device {} --jobs {} {}",
        grids(plan),
        plan.tasks,
        q(&shards),
        quote(&plan.device),
        plan.jobs,
        folders(plan)
    );
    run_forwarding_signals(s, &command);
    if plan.requeue {
        s.push_str(
            r#"# 138 = stopped by SIGUSR1, the time-limit warning: the epoch in flight is recorded and
# the trial checkpointed; requeue this task so that it resumes.
if [ "$rc" -eq 138 ]; then
  echo "thaw: time limit near; requeueing ${SLURM_ARRAY_JOB_ID}_$task to resume its trials"
  scontrol requeue "${SLURM_ARRAY_JOB_ID}_$task"
fi
"#,
        );
    }
    s.push_str("exit $rc\n");
}

fn merge_body(s: &mut String, plan: &SlurmPlan) {
    let sweeps: Vec<String> = plan
        .sweeps
        .iter()
        .map(|n| format!("--sweep {}", quote(n)))
        .collect();
    let _ = writeln!(
        s,
        "exec \"$THAW\" merge {} --db {} {} --reports-dir {}",
        q(&plan.dir.join("shards")),
        q(&plan.db),
        sweeps.join(" "),
        q(&plan.reports_dir)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn plan() -> SlurmPlan {
        SlurmPlan {
            name: "qs".into(),
            dir: PathBuf::from("/shared/slurm/qs"),
            grids: vec![PathBuf::from("/shared/grids/it's.yaml")],
            sweeps: vec!["qs".into()],
            trials: 32,
            tasks: 4,
            max_running: Some(2),
            jobs: 1,
            requeue: true,
            signal_before: 120,
            setup: Some("module load cuda".into()),
            thaw: PathBuf::from("/opt/thaw"),
            workdir: PathBuf::from("/shared"),
            db: PathBuf::from("/shared/thaw.sqlite"),
            data_dir: PathBuf::from("/shared/data"),
            cache_dir: PathBuf::from("/shared/.thaw-cache"),
            reports_dir: PathBuf::from("/shared/reports"),
            device: "auto".into(),
            resources: Resources {
                partition: Some("gpu".into()),
                gres: Some("gpu:1".into()),
                time: Some("4:00:00".into()),
                extra: vec!["--constraint=a100".into()],
                ..Default::default()
            },
        }
    }

    #[test]
    fn the_array_script_shards_by_task_forwards_signals_and_requeues_on_the_warning() {
        let s = render(&plan(), Job::Trials);
        for line in [
            "#SBATCH --array=0-3%2",
            "#SBATCH --signal=B:USR1@120",
            "#SBATCH --requeue",
            "#SBATCH --gres=gpu:1",
            "#SBATCH --partition=gpu",
            "#SBATCH --constraint=a100",
            "#SBATCH --output=/shared/slurm/qs/logs/task-%a.out",
            "module load cuda",
            "--shard \"$task/4\" --db '/shared/slurm/qs/shards'/\"task-$task.sqlite\"",
            "'/shared/grids/it'\\''s.yaml'",
            "trap 'kill -USR1 $pid 2>/dev/null' USR1",
            "scontrol requeue",
        ] {
            assert!(s.contains(line), "missing {line:?} in\n{s}");
        }
    }

    #[test]
    fn the_merge_script_takes_no_gpu_and_names_its_sweeps() {
        let s = render(&plan(), Job::Merge);
        assert!(!s.contains("--gres"), "{s}");
        assert!(!s.contains("--array"), "{s}");
        assert!(
            s.contains("merge '/shared/slurm/qs/shards' --db '/shared/thaw.sqlite' --sweep 'qs'")
        );
        let mut p = plan();
        p.requeue = false;
        assert!(render(&p, Job::Trials).contains("#SBATCH --no-requeue"));
        assert!(!render(&p, Job::Trials).contains("scontrol requeue"));
    }

    #[test]
    fn the_forwarding_wrapper_returns_the_programs_exit_status_after_a_signal() {
        // The wrapper around a program that records USR1 and exits 138: bash passes the signal
        // on and reports the program's status, not its own.
        let mut s = String::from("set -u\n");
        run_forwarding_signals(
            &mut s,
            "bash -c 'trap \"exit 138\" USR1; for i in $(seq 100); do sleep 0.05; done; exit 9'",
        );
        s.push_str("exit $rc\n");
        let mut child = std::process::Command::new("bash")
            .args(["-c", &s])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        // SAFETY: signals the child bash we started.
        unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) };
        assert_eq!(child.wait().unwrap().code(), Some(138));
    }
}
