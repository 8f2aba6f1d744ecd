//! `gpt_tiny` pretrained by thaw as a language model on movie-review snippets, then fine-tuned
//! to tell negative from positive tweets, through the real binary: the language model learns
//! (its held-out next-token loss is far below a uniform guess), a frozen backbone keeps it
//! exactly, and fine-tuning every block raises it (forgetting), which the report states.

mod common;

use common::{scalar, text, thaw, vader_subset, write_grid};

const GRID: &str = r#"
name: lm
seeds: [0]
source:
  task: language_model
  corpus: {kind: text, path: movies.tsv, score_column: score}
  epochs: 4
target:
  dataset: {kind: text, path: tweets.tsv, score_column: score}
  classes: [negative, positive]
  train_per_class: [20]
backbone: gpt_tiny
max_length: 64
freeze: [0, all]
optimizer: adamw
schedule: {kind: constant, lr: 0.003}
epochs: 2
batch_size: 16
"#;

#[test]
fn a_language_model_learns_its_corpus_and_fine_tuning_makes_it_forget() {
    let dir = tempfile::tempdir().unwrap();
    let (movies, tweets) = (dir.path().join("movies.tsv"), dir.path().join("tweets.tsv"));
    vader_subset("movieReviewSnippets_GroundTruth.txt.gz", &movies, 200);
    vader_subset("tweets_GroundTruth.txt.gz", &tweets, 150);
    let g = write_grid(dir.path(), "lm.yaml", GRID);
    let out = thaw(dir.path(), &["run", g.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let db = dir.path().join("thaw.sqlite");
    let loss = |freeze: &str, epoch: &str| -> f64 {
        let v = scalar(
            &db,
            &format!(
                "SELECT m.value FROM metrics m JOIN trials t ON t.id = m.trial_id \
                 WHERE t.freeze = '{freeze}' AND m.name = 'source_lm_loss' AND m.epoch = {epoch}"
            ),
        );
        v.parse()
            .unwrap_or_else(|_| panic!("freeze {freeze}, epoch {epoch}: {v}"))
    };
    // Before fine-tuning: the pretrained model predicts held-out bytes far better than a
    // uniform guess over its 258 tokens (ln 258 = 5.55 nats).
    let before = loss("0", "0");
    assert!(before < 3.5, "held-out next-token loss {before}");
    assert_eq!(
        loss("all", "0"),
        before,
        "both trials start from one checkpoint"
    );
    // A frozen backbone and an untouched source head keep the language model exactly.
    assert_eq!(loss("all", "t.epochs"), before);
    // Fine-tuning every block for the tweets makes it forget.
    let after = loss("0", "t.epochs");
    assert!(after > before + 0.05, "loss {before} -> {after}");
    // The report says how forgetting is measured for a language model, and tests the rise.
    let finding = scalar(
        &db,
        "SELECT claim || ' | ' || n FROM findings WHERE claim LIKE '%language-model loss%'",
    );
    assert_eq!(
        finding,
        "Fine-tuning raises the source language-model loss (trials with trained blocks) | 1"
    );
    let page = std::fs::read_to_string(dir.path().join("reports/lm/index.html")).unwrap();
    assert!(page.contains("next-token accuracy on held-out source text"));
}
