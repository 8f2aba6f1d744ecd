//! The quickstart, end to end (about a minute on two CPU cores): its report's findings name the
//! linear probe's negative transfer, and the same statements are in the `findings` view.

mod common;

use common::{text, thaw};
use rusqlite::Connection;
use std::path::Path;

#[test]
fn the_quickstart_report_names_the_linear_probes_negative_transfer() {
    let dir = tempfile::tempdir().unwrap();
    let grid = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/quickstart.yaml");
    let out = thaw(dir.path(), &["run", grid.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));

    // The stored findings: freeze all (the linear probe) is contradicted at 10 examples per
    // class, with its interval below 0, and named as negative transfer.
    let conn = Connection::open(dir.path().join("thaw.sqlite")).unwrap();
    let (claim, high, detail): (String, f64, String) = conn
        .query_row(
            "SELECT claim, high, detail FROM findings
             WHERE sweep = 'quickstart' AND verdict = 'contradicted'
               AND claim LIKE 'freeze all: pretraining helps%'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert!(high < 0.0, "{claim}: {high}");
    assert!(
        detail.starts_with("negative transfer at 10/class"),
        "{detail}"
    );
    let stored: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM findings WHERE sweep = 'quickstart'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(stored >= 10, "{stored} findings stored");

    // The page: the summary in the first cell lists it among the contradicted findings, and
    // the transfer-gain cell says where transfer is negative.
    let html = std::fs::read_to_string(dir.path().join("reports/quickstart/index.html")).unwrap();
    let summary = html
        .split("Contradicted:")
        .nth(1)
        .and_then(|rest| rest.split("Supported:").next())
        .expect("the summary lists contradicted findings");
    assert!(
        summary.contains("freeze all: pretraining helps at every size (gain &gt; 0): contradicted"),
        "{summary}"
    );
    assert!(
        summary.contains("negative transfer at 10&#x2f;class"),
        "{summary}"
    );
    let note = html
        .split("Negative transfer (the 95% CI of the gain lies entirely below 0): ")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .expect("the transfer-gain cell names the negative transfer");
    assert!(
        note.contains("freeze all at 10&#x2f;class (mean -0."),
        "{note}"
    );
}
