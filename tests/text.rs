//! Text end to end, through the real binary: all-MiniLM-L6-v2 trained on VADER movie-review
//! snippets (the source task), then fine-tuned on VADER tweets (the target) under three text
//! shifts, with two frozen depths and a from-scratch baseline. About a minute on two CPU cores.
//!
//! Needs the MiniLM files `make weights` extracts into the weights folder; without them the test
//! prints why and passes (CI runs `make test`, which depends on `make weights`).

mod common;

use common::{minilm_dir, text, thaw, vader_subset, write_grid};
use rusqlite::Connection;

/// Examples per class written for the source (movies) and the target (tweets).
const SOURCE_PER_CLASS: usize = 80;
const TARGET_PER_CLASS: usize = 70;

/// The fixed test split of a class of `n` examples (`data/split.rs`: 15 %, at least 1).
fn test_split(n: usize) -> usize {
    (n * 15 / 100).max(1)
}

const GRID: &str = r#"
name: text-e2e
seeds: [0]
source:
  dataset: {kind: text, path: movies.tsv, text_column: text, score_column: score}
  classes: [0, 1]
  epochs: 1
  lr: 0.01
target:
  dataset: {kind: text, path: tweets.tsv, text_column: text, score_column: score}
  classes: [0, 1]
  train_per_class: [24]
  shift: [none, {typos: 0.15}, lowercase]
backbone: minilm_l6
weights: pretrained
max_length: 32
freeze: [4, all]
baselines: [scratch]
schedule: {kind: constant, lr: 0.01}
epochs: 2
batch_size: 16
"#;

/// `sql`'s rows, every column as f64 (NULL as NaN) except the first, as text.
fn rows(conn: &Connection, sql: &str) -> Vec<(String, Vec<f64>)> {
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        let head = match r.get::<_, rusqlite::types::Value>(0)? {
            rusqlite::types::Value::Text(t) => t,
            v => format!("{v:?}"),
        };
        let rest = (1..n)
            .map(|i| r.get::<_, Option<f64>>(i).map(|v| v.unwrap_or(f64::NAN)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((head, rest))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn movies_to_tweets_with_minilm_through_the_binary() {
    if let Err(why) = minilm_dir() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    vader_subset(
        "movieReviewSnippets_GroundTruth.txt.gz",
        &dir.path().join("movies.tsv"),
        SOURCE_PER_CLASS,
    );
    vader_subset(
        "tweets_GroundTruth.txt.gz",
        &dir.path().join("tweets.tsv"),
        TARGET_PER_CLASS,
    );
    let grid = write_grid(dir.path(), "text.yaml", GRID);
    let out = thaw(dir.path(), &["run", grid.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let conn = Connection::open(dir.path().join("thaw.sqlite")).unwrap();

    // Every trial completed: 2 frozen depths × 3 shifts, plus 3 from scratch.
    let status = rows(
        &conn,
        "SELECT status, COUNT(*) FROM trials GROUP BY status ORDER BY status",
    );
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!(status[0].0, "completed", "{status:?}");
    assert_eq!(status[0].1, [9.0], "{status:?}");

    // The source accuracy is measured before fine-tuning (epoch 0) and after the last epoch, on
    // every pretrained trial; a frozen backbone with its source head untouched keeps it exactly.
    let source = rows(
        &conn,
        "SELECT t.freeze || ' ' || t.shift, MIN(m.epoch), MAX(m.epoch), COUNT(*),
                MIN(m.value), MAX(m.value), s.source_acc_pretrained, s.forgetting
         FROM trials t JOIN metrics m ON m.trial_id = t.id AND m.name = 'source_acc'
         JOIN trial_summary s ON s.trial_id = t.id
         WHERE t.pretrained = 1 GROUP BY t.id ORDER BY t.id",
    );
    assert_eq!(source.len(), 6, "{source:?}");
    for (trial, v) in &source {
        assert_eq!(&v[..3], [0.0, 2.0, 3.0], "{trial}: {v:?}");
        // The source head was trained on the movies first: better than chance on them.
        assert!(v[5] > 0.5 && v[5] <= 1.0, "{trial}: {v:?}");
        if trial.starts_with("all ") {
            assert_eq!(v[3], v[4], "{trial}: source accuracy moved: {v:?}");
            assert_eq!(v[3], v[5], "{trial}: {v:?}");
            assert_eq!(v[6], 0.0, "{trial}: forgetting {v:?}");
        }
    }
    // Scratch trials have no source task.
    let scratch_source: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM metrics m JOIN trials t ON t.id = m.trial_id
             WHERE t.pretrained = 0 AND m.name = 'source_acc'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(scratch_source, 0);

    // Domain distance, one row per shift, on the two test splits (movies vs shifted tweets).
    let dd = rows(
        &conn,
        "SELECT shift, proxy_a, mmd2, frechet, n_source, n_target FROM domain_distance
         ORDER BY shift",
    );
    let shifts: Vec<&str> = dd.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(shifts, ["lowercase", "none", "typos 0.15"], "{dd:?}");
    let (n_source, n_target) = (
        2 * test_split(SOURCE_PER_CLASS),
        2 * test_split(TARGET_PER_CLASS),
    );
    for (shift, v) in &dd {
        assert_eq!(
            (v[3], v[4]),
            (n_source as f64, n_target as f64),
            "{shift}: {v:?}"
        );
        assert!(v.iter().all(|x| x.is_finite()), "{shift}: {v:?}");
        assert!(v[2] > 0.0, "{shift}: {v:?}");
    }
    // The tokenizer lower-cases anyway: `lowercase` changes no token, so nothing it measures.
    assert_eq!(dd[0].1, dd[1].1, "lowercase vs none");
    // Typos do change the tokens.
    assert_ne!(&dd[2].1[..3], &dd[1].1[..3], "typos vs none");
    // Nor anything a trial learns: the same tokens, seed and batches give the same accuracies.
    let acc = rows(
        &conn,
        "SELECT freeze || ' ' || pretrained || ' ' || shift, final_test_acc, final_val_acc
         FROM trial_summary ORDER BY 1",
    );
    let acc_of = |what: &str| {
        acc.iter()
            .find(|r| r.0 == what)
            .unwrap_or_else(|| panic!("{what}: {acc:?}"))
            .1
            .clone()
    };
    for model in ["4 1", "all 1", "0 0"] {
        let (lower, none) = (
            acc_of(&format!("{model} lowercase")),
            acc_of(&format!("{model} none")),
        );
        assert_eq!(lower, none, "{model}: lowercase vs none");
    }
    // Every trial is linked to its shift's row.
    let unlinked: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM trial_summary WHERE pretrained = 1 AND mmd2 IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unlinked, 0);

    // Frozen blocks keep their weights: under freeze 4 those are embeddings, layer1..layer3.
    let drift = rows(
        &conn,
        "SELECT t.freeze || ' ' || m.name, MAX(m.value) FROM metrics m
         JOIN trials t ON t.id = m.trial_id
         WHERE t.pretrained = 1 AND m.name LIKE 'weight_dist/%' GROUP BY 1 ORDER BY 1",
    );
    let frozen4 = ["embeddings", "layer1", "layer2", "layer3"];
    for (what, v) in &drift {
        let (freeze, block) = what.split_once(" weight_dist/").unwrap();
        let frozen = freeze == "all" || frozen4.contains(&block);
        assert_eq!(v[0] == 0.0, frozen, "{what}: {v:?}");
    }
    assert_eq!(drift.len(), 14, "{drift:?}");

    // The report renders, names the backbone, and its findings are stored.
    let html = std::fs::read_to_string(dir.path().join("reports/text-e2e/index.html")).unwrap();
    assert!(html.contains("minilm_l6"));
    let findings = rows(
        &conn,
        "SELECT claim || ': ' || verdict, n FROM findings WHERE sweep = 'text-e2e'",
    );
    assert!(findings.len() >= 5, "{findings:?}");
    let frozen_finding = findings
        .iter()
        .find(|f| f.0.starts_with("Frozen blocks are left unchanged"))
        .expect("the drift section checks the frozen blocks");
    assert!(
        frozen_finding.0.ends_with(": supported"),
        "{frozen_finding:?}"
    );
    // The linear probe forgets nothing: stated from the two freeze-all trials.
    let probe = findings
        .iter()
        .find(|f| {
            f.0.starts_with("A frozen backbone (freeze all) forgets nothing")
        })
        .expect("the forgetting section checks the linear probe");
    assert_eq!(
        probe.0,
        "A frozen backbone (freeze all) forgets nothing: supported"
    );
    assert_eq!(probe.1, [3.0]);
}
