//! Grid parsing of text datasets, the bundled VADER sets and text shifts.

use super::tests::{err, find, grid, BASE};
use super::*;

/// BASE with a text backbone pretrained as a language model on `vader_movies`, the target
/// dataset (and classes) replaced and `extra` lines in the target.
fn target(dataset: &str, classes: &str, extra: &str) -> String {
    text_base().replacen(
        "  dataset: mnist10k\n  classes: [5, 6, 7, 8, 9]\n  train_per_class: 10\n",
        &format!("  dataset: {dataset}\n  classes: {classes}\n  train_per_class: 10\n{extra}"),
        1,
    )
}

/// BASE with `gpt_tiny` pretrained as a language model on the movie snippets.
fn text_base() -> String {
    BASE.replacen(
        "source:\n  dataset: mnist10k\n  classes: [0, 1, 2, 3, 4]\n",
        "source:\n  task: language_model\n  corpus: vader_movies\n",
        1,
    )
    .replacen("backbone: cnn4", "backbone: gpt_tiny", 1)
}

fn target_dataset(dataset: &str) -> DatasetSource {
    grid(&target(dataset, "[0, 1]", "")).trials[0]
        .target
        .dataset
        .clone()
}

#[test]
fn text_datasets_parse_with_defaults_and_options() {
    let d = target_dataset("{kind: text, path: ../data/r.csv.gz}");
    assert_eq!(
        d,
        DatasetSource::Text(TextSource {
            path: "data/r.csv.gz".into(),
            format: None,
            columns: None,
            text_column: "text".into(),
            label: TextLabel::Column("label".into()),
            split_column: None,
            id_column: None,
        })
    );
    assert!(d.is_text() && d.names_classes());
    let d = target_dataset(
        "{kind: text, path: r.txt, format: tsv, columns: [id, s, body], text_column: body, \
         score_column: s, neutral: 0.25, split_column: part, id_column: id}",
    );
    let DatasetSource::Text(t) = d else {
        panic!("{d:?}")
    };
    assert_eq!(t.format, Some(TextFormat::Tsv));
    assert_eq!(t.columns.as_deref().unwrap(), ["id", "s", "body"]);
    assert_eq!(
        t.label,
        TextLabel::Score {
            column: "s".into(),
            neutral: 0.25
        }
    );
    assert_eq!(
        (t.split_column.as_deref(), t.id_column.as_deref()),
        (Some("part"), Some("id"))
    );
}

#[test]
fn vader_names_parse_alone_and_with_a_neutral_band() {
    let plain = DatasetSource::Bundled {
        name: "vader_tweets".into(),
    };
    assert_eq!(target_dataset("vader_tweets"), plain);
    assert_eq!(
        target_dataset("{kind: bundled, name: vader_tweets, neutral: 0}"),
        plain,
        "neutral 0 is the plain name, so both share trial keys"
    );
    let banded = target_dataset("{kind: bundled, name: vader_nyt, neutral: 0.5}");
    assert_eq!(
        banded,
        DatasetSource::BundledText {
            name: "vader_nyt".into(),
            neutral: 0.5
        }
    );
    assert!(plain.is_text() && banded.is_text());
    assert_eq!(banded.label(), "vader_nyt (neutral 0.5)");
    // Class names of score labels need no file.
    let g = grid(&target("vader_amazon", "[negative, positive]", ""));
    assert_eq!(g.trials[0].target.classes, [0, 1]);
}

#[test]
fn text_dataset_errors_name_the_field() {
    let cases = [
        (
            "{kind: text, path: r.txt}",
            "target.dataset.path",
            "cannot tell the format",
        ),
        (
            "{kind: text, path: r.csv, format: xml}",
            "target.dataset.format",
            "unknown text format `xml`",
        ),
        (
            "{kind: text, path: r.csv, label_column: l, score_column: s}",
            "target.dataset.score_column",
            "not both",
        ),
        (
            "{kind: text, path: r.csv, neutral: 1}",
            "target.dataset.neutral",
            "add `score_column",
        ),
        (
            "{kind: text, path: r.csv, score_column: s, neutral: -1}",
            "target.dataset.neutral",
            "must be >= 0",
        ),
        (
            "{kind: text, path: r.jsonl, columns: [a, b]}",
            "target.dataset.columns",
            "JSON Lines objects name their own",
        ),
        (
            "{kind: text, path: r.csv, columns: [a, a]}",
            "target.dataset.columns[1]",
            "named twice",
        ),
        (
            "{kind: text, path: r.csv, text_colum: t}",
            "target.dataset.text_colum",
            "did you mean `text_column`",
        ),
        (
            "{kind: csv, path: r.csv, text_column: t}",
            "target.dataset.text_column",
            "write `kind: text`",
        ),
        (
            "{kind: bundled, name: mnist10k, neutral: 1}",
            "target.dataset.neutral",
            "applies to the bundled text datasets",
        ),
        (
            "vader_tweet",
            "target.dataset",
            "did you mean `vader_tweets`",
        ),
    ];
    for (dataset, field, want) in cases {
        let e = err(&target(dataset, "[0, 1]", ""));
        let p = find(&e, field);
        assert!(
            p.message.contains(want),
            "{dataset}: want {want:?} in {:?}",
            p.message
        );
    }
}

fn shifts(dataset: &str, shift: &str) -> Vec<Shift> {
    grid(&target(dataset, "[0, 1]", &format!("  shift: {shift}\n")))
        .trials
        .into_iter()
        .map(|t| t.target.shift)
        .collect()
}

#[test]
fn text_shifts_parse_in_both_styles() {
    let got = shifts(
        "vader_tweets",
        "[none, {typos: 0.05}, {typos: {rate: 0.1}}, lowercase, {lowercase: true}, \
         {truncate: 20}, {truncate: {words: 5}}]",
    );
    assert_eq!(
        got,
        [
            Shift::None,
            Shift::Typos { rate: 0.05 },
            Shift::Typos { rate: 0.1 },
            Shift::Lowercase,
            Shift::Truncate { words: 20 },
            Shift::Truncate { words: 5 },
        ]
    );
    let cases: [(Shift, &str, &str, f64); 3] = [
        (Shift::Typos { rate: 0.1 }, "typos 0.1", "typos", 0.1),
        (Shift::Lowercase, "lowercase", "lowercase", 1.0),
        (
            Shift::Truncate { words: 20 },
            "truncate 20",
            "truncate",
            20.0,
        ),
    ];
    for (s, text, kind, magnitude) in cases {
        assert_eq!((s.to_string().as_str(), s.kind_name()), (text, kind));
        assert_eq!(s.magnitude(), magnitude);
        assert!(s.is_text());
    }
    assert!(!Shift::None.is_text() && !Shift::Grayscale.is_text());
}

#[test]
fn shift_errors_and_mismatched_kinds() {
    let cases = [
        (
            "vader_tweets",
            "{typos: 1.5}",
            "target.shift.typos",
            "in [0, 1]",
        ),
        (
            "vader_tweets",
            "{typos: {rat: 0.1}}",
            "target.shift.typos.rat",
            "did you mean `rate`",
        ),
        (
            "vader_tweets",
            "{truncate: 0}",
            "target.shift.truncate",
            "at least 1",
        ),
        (
            "vader_tweets",
            "{truncate: {}}",
            "target.shift.truncate.words",
            "required key",
        ),
        (
            "vader_tweets",
            "{lowercase: false}",
            "target.shift.lowercase",
            "expected `true`",
        ),
        (
            "vader_tweets",
            "[none, {rotate: 30}]",
            "target.shift[1]",
            "`rotate` is an image shift, but the target dataset `vader_tweets` holds text",
        ),
        (
            "mnist10k",
            "{typos: 0.1}",
            "target.shift",
            "`typos` is a text shift, but the target dataset `mnist10k` holds images",
        ),
    ];
    for (dataset, shift, field, want) in cases {
        let e = err(&target(dataset, "[0, 1]", &format!("  shift: {shift}\n")));
        let p = find(&e, field);
        assert!(
            p.message.contains(want),
            "{shift}: want {want:?} in {:?}",
            p.message
        );
    }
}
