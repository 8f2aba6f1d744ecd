//! Tests of `thaw query` (read-only, one statement) and its output formats.

use super::*;

fn populated() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thaw.db");
    let db = Db::open(&path).unwrap();
    let sid = db.upsert_sweep("s", "", "g.yaml", "").unwrap();
    let s1 = spec(1);
    db.register_trials(sid, &[(0, "k1", &s1)]).unwrap();
    (dir, path)
}

fn assert_refused(path: &Path, sql: &str) {
    let err = format!(
        "{:#}",
        query_readonly(path, sql)
            .err()
            .unwrap_or_else(|| panic!("{sql} ran"))
    );
    assert!(
        err.contains("read-only") || err.contains("readonly") || err.contains("one SQL statement"),
        "{sql}: {err}"
    );
}

#[test]
fn query_refuses_writes() {
    let (_d, path) = populated();
    assert_refused(&path, "INSERT INTO sweeps (name, spec_path, spec_yaml, created_at, updated_at) VALUES ('x','','','','')");
    assert_refused(&path, "DROP TABLE metrics");
    assert_refused(&path, "UPDATE trials SET status = 'pending'");
    assert_refused(&path, "DELETE FROM trials");
    assert_refused(&path, "PRAGMA user_version=5");
    assert_refused(&path, "PRAGMA user_version = 5;");
    assert_refused(&path, "PRAGMA journal_mode=DELETE");
    assert_refused(&path, "SELECT 1; DELETE FROM trials");
    assert_refused(&path, "CREATE TABLE x (a)");
    assert_refused(&path, "VACUUM");
    let db = Db::open(&path).unwrap();
    assert_eq!(
        scalar(&db, "PRAGMA user_version"),
        Value::Integer(SCHEMA_VERSION)
    );
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM trials WHERE status='pending'"),
        Value::Integer(1)
    );
    assert_eq!(
        scalar(&db, "PRAGMA journal_mode"),
        Value::Text("wal".into())
    );
}

#[test]
fn query_returns_rows() {
    let (_d, path) = populated();
    let r = query_readonly(&path, "SELECT key, seed, lr, device FROM trial_summary;").unwrap();
    assert_eq!(r.columns, vec!["key", "seed", "lr", "device"]);
    assert_eq!(
        r.rows,
        vec![vec![
            Value::Text("k1".into()),
            Value::Integer(1),
            Value::Real(0.01),
            Value::Null
        ]]
    );
    let r = query_readonly(&path, "PRAGMA user_version").unwrap();
    assert_eq!(r.rows, vec![vec![Value::Integer(SCHEMA_VERSION)]]);
    assert!(query_readonly(&path, "  ").is_err());
    let err = format!(
        "{:#}",
        query_readonly(&path, "SELECT nope FROM trials").unwrap_err()
    );
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn query_on_missing_database_says_run_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    let err = format!("{:#}", query_readonly(&path, "SELECT 1").unwrap_err());
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("thaw run"), "{err}");
    assert!(!path.exists());
}

fn small_result() -> QueryResult {
    QueryResult {
        columns: vec!["name".into(), "n".into(), "acc".into(), "note".into()],
        rows: vec![
            vec![
                Value::Text("a,b".into()),
                Value::Integer(3),
                Value::Real(0.912345),
                Value::Null,
            ],
            vec![
                Value::Text("say \"hi\"".into()),
                Value::Integer(-12),
                Value::Real(1.5),
                Value::Text("x".into()),
            ],
        ],
    }
}

#[test]
fn table_format() {
    let t = format_result(&small_result(), OutputFormat::Table);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines[0], "name        n     acc  note");
    assert_eq!(lines[1], "--------  ---  ------  ----");
    assert_eq!(lines[2], "a,b         3  0.9123");
    assert_eq!(lines[3], "say \"hi\"  -12     1.5  x");
    assert_eq!(lines[4], "(2 rows)");
}

#[test]
fn csv_format() {
    let c = format_result(&small_result(), OutputFormat::Csv);
    assert_eq!(
        c,
        "name,n,acc,note\n\"a,b\",3,0.912345,\n\"say \"\"hi\"\"\",-12,1.5,x\n"
    );
}

#[test]
fn json_format() {
    let j = format_result(&small_result(), OutputFormat::Json);
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(
        v,
        serde_json::json!([
            {"name": "a,b", "n": 3, "acc": 0.912345, "note": null},
            {"name": "say \"hi\"", "n": -12, "acc": 1.5, "note": "x"}
        ])
    );
    // Column order is kept.
    assert!(j.find("\"name\"").unwrap() < j.find("\"acc\"").unwrap());
    let empty = QueryResult {
        columns: vec!["a".into()],
        rows: vec![],
    };
    assert_eq!(format_result(&empty, OutputFormat::Json).trim(), "[]");
}
