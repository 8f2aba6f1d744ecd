//! Grids of text backbones: language-model sources, `max_length`, `pooling`, and backbones
//! that do not read the data they are given.

use super::tests::{err, find, grid, BASE};
use super::*;

/// A `gpt_tiny` grid pretrained as a language model on the movie snippets, fine-tuned on
/// tweets, with `extra` top-level lines.
fn lm_grid(extra: &str) -> String {
    format!(
        "name: t
source:
  task: language_model
  corpus: vader_movies
target:
  dataset: vader_tweets
  classes: [negative, positive]
  train_per_class: 10
backbone: gpt_tiny
schedule: {{kind: constant, lr: 0.001}}
epochs: 2
{extra}"
    )
}

#[test]
fn a_language_model_source_reads_its_corpus_and_keeps_classification_keys_as_they_were() {
    let g = grid(&lm_grid(""));
    let t = &g.trials[0];
    assert_eq!(t.source.task, SourceObjective::LanguageModel);
    assert!(t.source.classes.is_empty() && !t.source.is_unused());
    assert!(t.pretrains_on_source());
    assert_eq!(t.source.lr, 0.001, "AdamW's default, not SGD's 0.05");
    assert!(t.config_json().contains(r#""task":"language_model""#));
    assert_eq!(t.pooling, None);
    assert_eq!(t.backbone.default_pooling(), Pooling::Last);
    // A classification source serialises without `task`, as before it existed.
    let g = grid(BASE);
    assert!(!g.trials[0].config_json().contains("task"));
}

#[test]
fn a_language_model_source_needs_a_text_corpus_and_a_causal_backbone() {
    let e = err(&lm_grid("").replace("corpus:", "dataset:"));
    assert!(
        find(&e, "source.dataset").message.contains("corpus:"),
        "{e}"
    );
    let e = err(&lm_grid("").replace("corpus: vader_movies", "corpus: mnist10k"));
    assert!(
        find(&e, "source.corpus").message.contains("must be text"),
        "{e}"
    );
    let e = err(&lm_grid("").replace("backbone: gpt_tiny", "backbone: minilm_l6"));
    assert!(
        find(&e, "backbone").message.contains("causal decoder"),
        "{e}"
    );
}

#[test]
fn a_backbone_must_read_what_the_datasets_hold() {
    let e = err(&lm_grid("").replace("backbone: gpt_tiny", "backbone: cnn4"));
    let m = &find(&e, "backbone").message;
    assert!(
        m.contains("reads images") && m.contains("holds text"),
        "{e}"
    );
    let e = err(&BASE.replace("backbone: cnn4", "backbone: gpt_tiny"));
    let m = &find(&e, "backbone").message;
    assert!(
        m.contains("reads text") && m.contains("holds images"),
        "{e}"
    );
}

#[test]
fn max_length_is_an_axis_of_text_backbones_and_pooling_a_setting() {
    let g = grid(&lm_grid("max_length: [32, 64]\npooling: mean\n"));
    assert_eq!(g.trials.len(), 2);
    let lengths: Vec<_> = g.trials.iter().map(|t| t.max_length).collect();
    assert_eq!(lengths, [Some(32), Some(64)]);
    assert_eq!(g.trials[0].input_extent(), 32);
    assert_eq!(g.trials[0].pooling, Some(Pooling::Mean));
    // Unset, a text trial reads 128 tokens and its key does not mention either setting.
    let t = &grid(&lm_grid("")).trials[0];
    assert_eq!(
        (t.max_length, t.text_max_length()),
        (None, DEFAULT_MAX_LENGTH)
    );
    assert!(!t.config_json().contains("max_length") && !t.config_json().contains("pooling"));

    let e = err(&format!("{BASE}max_length: 64\n"));
    assert!(
        find(&e, "max_length").message.contains("text backbones"),
        "{e}"
    );
    let e = err(&format!("{BASE}pooling: cls\n"));
    assert!(
        find(&e, "pooling").message.contains("text backbones"),
        "{e}"
    );
    let e = err(&lm_grid("max_length: 1024\n"));
    assert!(
        find(&e, "max_length").message.contains("between 8 and 512"),
        "{e}"
    );
    let e = err(&lm_grid("pooling: first\n"));
    assert!(
        find(&e, "pooling").message.contains("unknown pooling"),
        "{e}"
    );
}
