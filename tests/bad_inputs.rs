//! The bad-input corpus (`tests/bad_inputs/`): each case runs the real binary on a bad grid,
//! data file, database or command line, and must fail with a message naming the file (line,
//! column, field) and saying what to do, without changing the database. The cases and the
//! texts they must print are in `tests/bad_inputs/expected.txt`.

use rusqlite::{Connection, OpenFlags};
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The completed sweep every case's database starts from: 2 trials of 1 epoch on digits8x8.
const BASE: &str = r#"
name: base
seeds: [0, 1]
source:
  dataset: digits8x8
  classes: [0, 1, 2]
  train_per_class: 20
  epochs: 1
target:
  dataset: digits8x8
  classes: [5, 6, 7]
  train_per_class: 5
backbone: cnn4
freeze: [all]
schedule: {kind: constant, lr: 0.01}
epochs: 1
batch_size: 16
image_size: 8
"#;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs")
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

#[derive(Debug, Default)]
struct Case {
    name: String,
    args: Vec<String>,
    setup: Vec<(String, String)>,
    expect: Vec<String>,
}

impl Case {
    fn setup(&self, key: &str) -> Option<&str> {
        self.setup
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits on spaces, keeping "double-quoted" words together (without the quotes).
fn split_args(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quotes in `{line}`");
    if any {
        out.push(cur);
    }
    out
}

fn read_corpus() -> Vec<Case> {
    let text = std::fs::read_to_string(corpus_dir().join("expected.txt")).unwrap();
    let mut cases: Vec<Case> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("== ") {
            cases.push(Case {
                name: name.trim().to_string(),
                ..Case::default()
            });
            continue;
        }
        let case = cases
            .last_mut()
            .unwrap_or_else(|| panic!("expected.txt:{}: a line before the first `== NAME`", n + 1));
        let (key, value) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("expected.txt:{}: expected `key: value`", n + 1));
        match key {
            "args" => case.args = split_args(value),
            "expect" => case.expect.push(value.to_string()),
            "setup" => {
                let (k, v) = value
                    .split_once('=')
                    .unwrap_or_else(|| panic!("expected.txt:{}: setup KEY=VALUE", n + 1));
                case.setup.push((k.to_string(), v.to_string()));
            }
            other => panic!("expected.txt:{}: unknown key `{other}`", n + 1),
        }
    }
    cases
}

fn thaw(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_thaw"));
    cmd.args(args)
        .current_dir(dir)
        .env("THAW_DB", dir.join("thaw.sqlite"))
        .env("THAW_REPORTS", dir.join("reports"))
        .env("THAW_DATA", data_dir())
        .env_remove("THAW_CACHE");
    cmd
}

/// Every row of every table (sorted, as text) and the schema version: equal before and after
/// means nothing was written.
fn db_contents(path: &Path) -> String {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let mut out = format!("user_version {version}\n");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| {
                        r.get::<_, rusqlite::types::Value>(i)
                            .map(|v| format!("{v:?}"))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(|v| v.join("|"))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.sort();
        out.push_str(&format!(
            "table {t}: {} rows\n{}\n",
            rows.len(),
            rows.join("\n")
        ));
    }
    out
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn idx_header(magic: u32, dims: &[u32]) -> Vec<u8> {
    let mut b = magic.to_be_bytes().to_vec();
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b
}

/// Writes the data files a case's grid names (relative to the grid, i.e. the case folder).
fn write_fixture(dir: &Path, kind: &str) {
    let labels = || {
        let mut b = idx_header(0x801, &[10]);
        b.extend_from_slice(&[5, 6, 7, 5, 6, 7, 5, 6, 7, 5]);
        std::fs::write(dir.join("labels-idx1-ubyte.gz"), gz(&b)).unwrap();
    };
    match kind {
        "truncated-idx" => {
            labels();
            // The header promises 10 images of 28x28; the file holds 3.
            let mut b = idx_header(0x803, &[10, 28, 28]);
            b.extend(std::iter::repeat_n(0u8, 28 * 28 * 3));
            std::fs::write(dir.join("truncated-images-idx3-ubyte.gz"), gz(&b)).unwrap();
        }
        "corrupt-gzip" => {
            labels();
            let mut b = idx_header(0x803, &[10, 28, 28]);
            b.extend((0..28 * 28 * 10).map(|i| (i % 251) as u8));
            let mut z = gz(&b);
            for byte in &mut z[20..40] {
                *byte ^= 0xff;
            }
            std::fs::write(dir.join("corrupt-images-idx3-ubyte.gz"), z).unwrap();
        }
        "bad-cell-csv" => {
            std::fs::write(dir.join("bad-cell.csv"), "0,1,2,3,5\n4,5,x7,1,6\n").unwrap();
        }
        other => panic!("unknown fixture `{other}`"),
    }
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Makes root subject to file permissions in the child: drops CAP_DAC_OVERRIDE and
/// CAP_DAC_READ_SEARCH from the bounding set before exec, so the exec'd root process does not
/// get them. A no-op for other users.
fn respect_permissions(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches only this (forked) process.
    unsafe {
        cmd.pre_exec(|| {
            if libc::geteuid() == 0 {
                for cap in [1, 2] {
                    if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
            }
            Ok(())
        });
    }
}

/// Whether a 555 folder really refuses writes to the processes the test starts (root with its
/// capabilities dropped, or any other user); `Err(reason)` when the case cannot be checked.
fn read_only_folders_work(dir: &Path) -> Result<(), String> {
    let ro = dir.join("probe-ro");
    std::fs::create_dir(&ro).unwrap();
    set_mode(&ro, 0o555);
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg("echo x > probe-ro/file").current_dir(dir);
    respect_permissions(&mut cmd);
    let result = match cmd.output() {
        Err(e) => Err(format!("cannot start sh with dropped capabilities: {e}")),
        Ok(out) if out.status.success() => Err(
            "this process can write into a chmod 555 folder (root without droppable \
             CAP_DAC_OVERRIDE?)"
                .to_string(),
        ),
        Ok(_) => Ok(()),
    };
    set_mode(&ro, 0o755);
    result
}

fn base_database(dir: &Path) -> PathBuf {
    let base = dir.join("base");
    std::fs::create_dir(&base).unwrap();
    std::fs::write(base.join("base.yaml"), BASE).unwrap();
    let out = thaw(&base, &["run", "base.yaml", "--device", "cpu"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the base sweep failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = base.join("thaw.sqlite");
    // Fold the WAL into the file so that a byte copy is the whole database.
    Connection::open(&db)
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    db
}

/// Prepares the case folder; returns the database path to check.
fn prepare(case: &Case, dir: &Path, base_db: &Path) -> PathBuf {
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "yaml") {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::create_dir(dir.join("reports")).unwrap();
    let mut db = dir.join("thaw.sqlite");
    if let Some(v) = case.setup("env") {
        let (var, path) = v.split_once('=').unwrap();
        assert_eq!(var, "THAW_DB", "only THAW_DB can be set");
        db = dir.join(path);
        std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    }
    match case.setup("db").unwrap_or("base") {
        "none" => {}
        "base" => {
            std::fs::copy(base_db, &db).unwrap();
        }
        "not-sqlite" => {
            let bytes: Vec<u8> = (0..5000u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect();
            std::fs::write(&db, bytes).unwrap();
        }
        "other-program" => {
            Connection::open(&db)
                .unwrap()
                .execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);")
                .unwrap();
        }
        "newer-schema" => {
            std::fs::copy(base_db, &db).unwrap();
            Connection::open(&db)
                .unwrap()
                .execute_batch("PRAGMA user_version = 99")
                .unwrap();
        }
        other => panic!("{}: unknown setup db={other}", case.name),
    }
    if let Some(kind) = case.setup("fixture") {
        write_fixture(dir, kind);
    }
    if let Some(d) = case.setup("mkdir") {
        std::fs::create_dir(dir.join(d)).unwrap();
        std::fs::write(dir.join(d).join("notes.txt"), "not a grid").unwrap();
    }
    db
}

/// Removes the empty `-wal` and the `-shm` a read-only look at the database leaves behind, so
/// that the case starts from the database file alone.
fn remove_empty_wal(db: &Path) {
    let side = |suffix: &str| {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        PathBuf::from(p)
    };
    if std::fs::metadata(side("-wal")).is_ok_and(|m| m.len() == 0) {
        let _ = std::fs::remove_file(side("-wal"));
        let _ = std::fs::remove_file(side("-shm"));
    }
}

/// The database's state: its rows, or for a file that is not a thaw database its bytes.
fn snapshot(case: &Case, db: &Path) -> Option<String> {
    if !db.exists() {
        return None;
    }
    Some(match case.setup("db") {
        Some("not-sqlite") => format!("{:?}", std::fs::read(db).unwrap()),
        _ => db_contents(db),
    })
}

fn run_case(case: &Case, dir: &Path, db: &Path) -> Output {
    let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
    let mut cmd = thaw(dir, &args);
    cmd.env("THAW_DB", db);
    if case.setup("readonly").is_some() {
        respect_permissions(&mut cmd);
    }
    if let Some(limit) = case.setup("fsize") {
        let limit: libc::rlim_t = limit.parse().unwrap();
        // SAFETY: setrlimit and signal are async-signal-safe; they affect only the child.
        unsafe {
            cmd.pre_exec(move || {
                // A write past the limit then fails with EFBIG instead of killing the process,
                // as on a full disk.
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let lim = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    cmd.output().unwrap()
}

enum Outcome {
    Ok,
    Skipped(String),
    Failed(String),
}

fn check_case(
    case: &Case,
    root: &Path,
    base_db: &Path,
    read_only_ok: &Result<(), String>,
) -> Outcome {
    let dir = root.join(&case.name);
    std::fs::create_dir(&dir).unwrap();
    if case.setup("readonly").is_some() {
        if let Err(reason) = read_only_ok {
            return Outcome::Skipped(reason.clone());
        }
    }
    let db = prepare(case, &dir, base_db);
    let before = snapshot(case, &db);
    remove_empty_wal(&db);
    // Read-only only now: the snapshot above must not leave files the run could write through.
    if let Some(d) = case.setup("readonly") {
        set_mode(&dir.join(d), 0o555);
    }
    let out = run_case(case, &dir, &db);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut problems = Vec::new();
    if out.status.success() {
        problems.push("exited 0".to_string());
    }
    for e in &case.expect {
        if !stderr.contains(e.as_str()) {
            problems.push(format!("stderr lacks `{e}`"));
        }
    }
    // Permissions back, so that the checks below and the clean-up can read and delete.
    if let Some(d) = case.setup("readonly") {
        set_mode(&dir.join(d), 0o755);
    }
    match (&before, snapshot(case, &db)) {
        (None, Some(_)) => problems.push(format!("created a database at {}", db.display())),
        (Some(_), None) => problems.push("deleted the database".to_string()),
        (Some(b), Some(a)) if *b != a => problems.push("changed the database".to_string()),
        _ => {}
    }
    if before.is_none() {
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            if Path::new(&p).exists() {
                problems.push(format!("created {}", Path::new(&p).display()));
            }
        }
    }
    if problems.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Failed(format!(
            "{} (thaw {}): {}\n--- stderr:\n{stderr}",
            case.name,
            case.args.join(" "),
            problems.join("; ")
        ))
    }
}

#[test]
fn every_bad_input_fails_with_a_clear_message_and_writes_nothing() {
    let cases = read_corpus();
    assert!(cases.len() >= 25, "the corpus holds {} cases", cases.len());
    for c in &cases {
        assert!(!c.args.is_empty(), "{}: no args", c.name);
        assert!(!c.expect.is_empty(), "{}: no expect", c.name);
    }
    let root = tempfile::tempdir().unwrap();
    let base_db = base_database(root.path());
    let probe_dir = root.path().join("probe");
    std::fs::create_dir(&probe_dir).unwrap();
    let read_only_ok = read_only_folders_work(&probe_dir);

    // Each run mostly waits (libtorch loading), so the cases run a few at a time.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                let r = check_case(case, root.path(), &base_db, &read_only_ok);
                results.lock().unwrap().push((i, r));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    for (i, r) in results {
        match r {
            Outcome::Ok => {}
            Outcome::Skipped(reason) => skipped.push(format!("{}: {reason}", cases[i].name)),
            Outcome::Failed(text) => failures.push(text),
        }
    }
    for s in &skipped {
        eprintln!("skipped {s}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs misbehaved:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn query_refuses_to_delete_and_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("thaw.sqlite");
    {
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE trials (id INTEGER PRIMARY KEY, status TEXT);
             INSERT INTO trials (status) VALUES ('completed'), ('failed');",
        )
        .unwrap();
    }
    for sql in ["DELETE FROM trials", "DROP TABLE trials"] {
        let out = thaw(dir.path(), &["query", sql]).output().unwrap();
        assert!(!out.status.success(), "{sql} succeeded");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("thaw query is read-only"),
            "{sql}: {stderr}"
        );
        let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM trials", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2, "{sql} deleted rows");
    }
}

#[test]
fn query_reads_a_database_in_a_read_only_folder() {
    let dir = tempfile::tempdir().unwrap();
    if let Err(reason) = read_only_folders_work(dir.path()) {
        eprintln!("skipped: {reason}");
        return;
    }
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let db = ro.join("thaw.sqlite");
    {
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE sweeps (name TEXT); INSERT INTO sweeps VALUES ('a'), ('b');",
        )
        .unwrap();
    }
    set_mode(&ro, 0o555);
    let mut cmd = thaw(dir.path(), &["query", "SELECT COUNT(*) AS n FROM sweeps"]);
    cmd.env("THAW_DB", &db);
    respect_permissions(&mut cmd);
    let out = cmd.output().unwrap();
    set_mode(&ro, 0o755);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains('2'));
}
