//! Reading text datasets: the formats, labels, splits, errors and the bundled VADER sets.

use crate::data::{class_names, load_dataset, split_manifest, train_pool_sizes, SplitName};
use crate::spec::trial::{DatasetSource, TextFormat, TextLabel, TextSource};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A text source for `path` with the default columns (`text`, `label`).
fn source(path: &Path) -> TextSource {
    TextSource {
        path: path.to_path_buf(),
        format: None,
        columns: None,
        text_column: "text".into(),
        label: TextLabel::Column("label".into()),
        split_column: None,
        id_column: None,
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn read(src: &TextSource) -> anyhow::Result<crate::data::Dataset> {
    super::read("t".into(), src)
}

fn error(src: &TextSource) -> String {
    match read(src) {
        Ok(d) => panic!("expected an error, read {} examples", d.count),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn csv_fields_may_hold_quoted_commas_quotes_and_line_breaks() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "text,label\r\n\
               \"good, really\",pos\r\n\
               \"two\r\nlines, \"\"quoted\"\"\",neg\r\n\
               \r\n\
               plain,pos\r\n";
    let ds = read(&source(&write(dir.path(), "r.csv", csv.as_bytes()))).unwrap();
    let texts = ds.text.as_ref().unwrap();
    assert_eq!(
        texts,
        &["good, really", "two\r\nlines, \"quoted\"", "plain"]
    );
    assert_eq!(ds.class_names.as_deref().unwrap(), ["neg", "pos"]);
    assert_eq!(ds.labels, [1, 0, 1]);
    // Each example is named by the line its row starts on.
    assert_eq!(
        ds.files.as_deref().unwrap(),
        ["r.csv:2", "r.csv:3", "r.csv:6"]
    );
    assert_eq!((ds.count, ds.channels, ds.height, ds.width), (3, 0, 0, 0));
    assert!(ds.pixels.is_empty() && ds.fixed_split.is_none() && ds.warnings.is_empty());
}

#[test]
fn tsv_jsonl_and_gzip_read_the_same_examples_with_the_same_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = "text\tlabel\nsay \"hi\", there\t1\nbye\t0\n";
    let jsonl = "{\"text\": \"say \\\"hi\\\", there\", \"label\": 1}\r\n\n{\"text\": \"bye\", \"label\": \"0\", \"extra\": [1]}\n";
    let from = |name: &str, bytes: &[u8]| read(&source(&write(dir.path(), name, bytes))).unwrap();
    let t = from("a.tsv", tsv.as_bytes());
    let tgz = from("a.TSV.gz", &gzip(tsv.as_bytes()));
    let j = from("a.jsonl", jsonl.as_bytes());
    for ds in [&t, &tgz, &j] {
        assert_eq!(ds.text.as_deref().unwrap(), ["say \"hi\", there", "bye"]);
        assert_eq!(ds.labels, [1, 0]);
        assert_eq!(ds.class_names.as_deref().unwrap(), ["0", "1"]);
    }
    assert_eq!(
        t.fingerprint, tgz.fingerprint,
        "compression does not change the examples"
    );
    assert_eq!(t.files.as_deref().unwrap(), ["a.tsv:2", "a.tsv:3"]);
    assert_eq!(j.files.as_deref().unwrap(), ["a.jsonl:1", "a.jsonl:3"]);
    // An explicit format reads a file of any name; another text column changes the fingerprint.
    let mut other = source(&write(dir.path(), "a.txt", tsv.as_bytes()));
    other.format = Some(TextFormat::Tsv);
    assert_eq!(read(&other).unwrap().fingerprint, t.fingerprint);
    other.text_column = "label".into();
    other.label = TextLabel::Column("text".into());
    assert_ne!(read(&other).unwrap().fingerprint, t.fingerprint);
}

#[test]
fn a_split_column_fixes_the_splits() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("text,label,split\n");
    for i in 0..16 {
        let split = ["train", "train", "VAL", "test"][i % 4];
        csv.push_str(&format!("text {i},{},{split}\n", ["a", "b"][i / 4 % 2]));
    }
    let src = source(&write(dir.path(), "s.csv", csv.as_bytes()));
    let ds = read(&src).unwrap();
    let fixed = ds.fixed_split.as_ref().unwrap();
    assert_eq!(
        &fixed[..4],
        [
            SplitName::Train,
            SplitName::Train,
            SplitName::Val,
            SplitName::Test
        ]
    );
    // Through the loader: pool sizes and the manifest name the examples by file and line.
    let ds = load_dataset(&DatasetSource::Text(src), Path::new(".")).unwrap();
    let pools = train_pool_sizes(&ds);
    assert_eq!(pools.values().sum::<usize>(), 8);
    let rows = split_manifest(&ds, &[0, 1], None, 0).unwrap();
    assert_eq!(rows.len(), 16);
    assert!(
        rows.iter()
            .any(|(s, f, l)| s == "val" && f == "s.csv:4" && *l == 0),
        "{rows:?}"
    );
}

#[test]
fn scores_are_labelled_by_sign_outside_the_neutral_band() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = "{\"t\": \"awful\", \"s\": -2.5}\n{\"t\": \"meh\", \"s\": -0.4}\n\
                 {\"t\": \"flat\", \"s\": 0}\n{\"t\": \"ok\", \"s\": 0.5}\n{\"t\": \"great\", \"s\": \"3\"}\n";
    let mut src = source(&write(dir.path(), "s.jsonl", jsonl.as_bytes()));
    src.text_column = "t".into();
    let labelled = |neutral: f64| {
        let mut s = src.clone();
        s.label = TextLabel::Score {
            column: "s".into(),
            neutral,
        };
        let ds = read(&s).unwrap();
        assert_eq!(ds.class_names.as_deref().unwrap(), ["negative", "positive"]);
        (ds.text.unwrap(), ds.labels)
    };
    let (texts, labels) = labelled(0.0);
    assert_eq!(
        texts,
        ["awful", "meh", "ok", "great"],
        "a score of 0 is left out"
    );
    assert_eq!(labels, [0, 0, 1, 1]);
    let (texts, labels) = labelled(0.5);
    assert_eq!(
        texts,
        ["awful", "great"],
        "the band is closed: 0.5 is neutral"
    );
    assert_eq!(labels, [0, 1]);
    let mut s = src.clone();
    s.label = TextLabel::Score {
        column: "s".into(),
        neutral: 5.0,
    };
    assert!(
        error(&s).contains("every score lies in [-5, 5]"),
        "{}",
        error(&s)
    );
}

#[test]
fn errors_name_the_file_the_line_and_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str, text: &str| source(&write(dir.path(), name, text.as_bytes()));
    let cases: [(TextSource, &str); 8] = [
        (
            at(
                "bad.jsonl",
                "{\"text\": \"a\", \"label\": 1}\n\n{\"text\": \"b\",}\n",
            ),
            "bad.jsonl: line 3: not valid JSON",
        ),
        (
            at("arr.jsonl", "[1, 2]\n"),
            "arr.jsonl: line 1: expected a JSON object",
        ),
        (
            at("cols.csv", "body,label\nx,1\n"),
            "cols.csv: no `text` column (text_column); the columns are: body, label",
        ),
        (
            at("empty.csv", "text,label\nx,1\n  ,0\n"),
            "empty.csv: line 3: empty text (column `text`)",
        ),
        (
            at("fields.tsv", "text\tlabel\na\tb\t1\n"),
            "fields.tsv: line 2: 3 fields, but the file has 2 columns (text, label)",
        ),
        (
            at("split.csv", "text,label,split\nx,1,dev\n"),
            "split.csv: line 2: split `dev` is not train, val or test",
        ),
        (
            at("ids.csv", "id,text,label\n7,x,1\n7,y,0\n"),
            "ids.csv: line 3: id `7` is used twice (also line 2)",
        ),
        (
            at("obj.jsonl", "{\"text\": {\"a\": 1}, \"label\": 1}\n"),
            "obj.jsonl: line 1: `text` holds an object",
        ),
    ];
    for (src, want) in cases {
        let e = error(&src);
        assert!(e.contains(want), "want {want:?} in {e:?}");
    }
    let mut score = at("score.csv", "text,score\r\nx,1.5\r\n\r\ny,n/a\r\n");
    score.label = TextLabel::Score {
        column: "score".into(),
        neutral: 0.0,
    };
    let e = error(&score);
    assert!(
        e.contains("score.csv: line 4: score `n/a` (column `score`) is not a number"),
        "{e}"
    );
    let mut nofmt = at("x.txt", "text,label\n");
    assert!(error(&nofmt).contains("cannot tell the format"));
    nofmt.format = Some(TextFormat::Csv);
    assert!(error(&nofmt).contains("no examples"));
    let e = error(&source(&write(
        dir.path(),
        "bin.csv",
        b"text,label\n\xff\xfe,1\n",
    )));
    assert!(e.contains("bin.csv: line 2: not UTF-8"), "{e}");
}

#[test]
fn the_vader_sets_load_with_their_documented_counts() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    // name, lines, negative, positive (scores of exactly 0 left out).
    let sets = [
        ("vader_movies", 10_605, 5_326, 5_242),
        ("vader_tweets", 4_200, 1_299, 2_897),
        ("vader_amazon", 3_708, 1_482, 2_128),
        ("vader_nyt", 5_190, 2_742, 2_204),
    ];
    for (name, lines, neg, pos) in sets {
        let src = DatasetSource::Bundled { name: name.into() };
        let ds = load_dataset(&src, &data).unwrap();
        let n0 = ds.labels.iter().filter(|&&l| l == 0).count();
        assert_eq!((n0, ds.count - n0), (neg, pos), "{name}");
        assert!(lines > ds.count, "{name}");
        assert_eq!(ds.files.as_ref().unwrap().len(), ds.count);
        assert_eq!(
            class_names(&src).unwrap().unwrap(),
            ["negative", "positive"]
        );
        // The whole file: every line is an example, neutral or not.
        let t = super::bundled_source(name, 0.0, &data).unwrap().unwrap();
        let text =
            crate::data::table::utf8(&t.path, &crate::data::table::read_bytes(&t.path).unwrap());
        assert_eq!(text.unwrap().lines().count(), lines, "{name}");
    }
    let banded = DatasetSource::BundledText {
        name: "vader_tweets".into(),
        neutral: 0.5,
    };
    let ds = load_dataset(&banded, &data).unwrap();
    assert_eq!(ds.count, 1_062 + 2_300, "the counts of data/README.md");
    assert_eq!(ds.files.as_ref().unwrap()[0], "1");
    assert!(ds.text.as_ref().unwrap()[0].starts_with("Somehow I was blessed"));
}
