//! Comparisons of sweeps: the page, its axes, charts and matched table, the index's links, and
//! the errors.

use super::*;
use crate::metrics::statements::{two_sample, Direction};
use crate::report::{compare_dir_name, render_compare};

/// Final test accuracies set by hand: (sweep, freeze, examples per class, seed, accuracy).
/// `alpha` fine-tunes everything, `beta` freezes everything: freeze differs; the sizes 10 and
/// 100 are common (beta also has 1000, which has no counterpart).
const ACCURACIES: [(&str, &str, i64, i64, f64); 13] = [
    ("alpha", "0", 10, 0, 0.60),
    ("alpha", "0", 10, 1, 0.62),
    ("alpha", "0", 10, 2, 0.64),
    ("alpha", "0", 100, 0, 0.80),
    ("alpha", "0", 100, 1, 0.81),
    ("alpha", "0", 100, 2, 0.82),
    ("beta", "all", 10, 0, 0.70),
    ("beta", "all", 10, 1, 0.71),
    ("beta", "all", 10, 2, 0.75),
    ("beta", "all", 100, 0, 0.80),
    ("beta", "all", 100, 1, 0.82),
    ("beta", "all", 100, 2, 0.81),
    ("beta", "all", 1000, 0, 0.90),
];

/// The database of [`ACCURACIES`], the trials written as a runner writes them and their final
/// test accuracy then set to the value above.
fn two_sweeps(dir: &Path) -> PathBuf {
    let path = dir.join("thaw.sqlite");
    let db = create_db(&path);
    let mut ids: Vec<(&str, i64)> = Vec::new();
    for (pos, &(sweep, freeze, n, seed, acc)) in ACCURACIES.iter().enumerate() {
        let sid = match ids.iter().find(|(s, _)| *s == sweep) {
            Some(&(_, id)) => id,
            None => {
                let id = insert_sweep(&db, sweep, &format!("name: {sweep}\n"));
                ids.push((sweep, id));
                id
            }
        };
        let fixture = TrialFixture {
            status: "completed",
            pretrained: true,
            freeze,
            train_per_class: n,
            shift: "none",
            seed,
            error: None,
            cosine: false,
        };
        insert_trial(&db, sid, pos as i64, &fixture);
        db.connection()
            .execute(
                "UPDATE metrics SET value = ?1 WHERE name = 'test_acc' AND epoch = ?2
                 AND trial_id = (SELECT id FROM trials WHERE sweep_id = ?3 AND key = ?4)",
                rusqlite::params![acc, EPOCHS, sid, format!("k{sid}-{pos:03}")],
            )
            .unwrap();
    }
    path
}

fn accuracies(sweep: &str, n: i64) -> Vec<f64> {
    ACCURACIES
        .iter()
        .filter(|a| a.0 == sweep && a.2 == n)
        .map(|a| a.4)
        .collect()
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_comparison_puts_two_sweeps_side_by_side_and_the_index_links_it() {
    let tmp = tempfile::tempdir().unwrap();
    let db = two_sweeps(tmp.path());
    let out = tmp.path().join("reports");
    render_sweep(&db, "alpha", &out).unwrap();
    let path = render_compare(&db, &names(&["alpha", "beta"]), &out, None).unwrap();
    assert_eq!(path, out.join("compare/alpha--beta/index.html"));
    let html = std::fs::read_to_string(&path).unwrap();
    // For looking at the page: THAW_REPORT_DEMO=/some/dir cargo test --lib report
    if let Some(dir) = std::env::var_os("THAW_REPORT_DEMO") {
        std::fs::write(Path::new(&dir).join("compare.html"), &html).unwrap();
    }

    // The sweeps, linked to the reports that exist, the first named the reference.
    assert!(html.contains("<title>alpha vs beta — thaw comparison</title>"));
    let link = |href: &str| format!("<a href=\"{}\">", escaped(href));
    assert!(html.contains(&format!("{}alpha</a>", link("../../alpha/index.html"))));
    assert!(
        !html.contains(&link("../../beta/index.html")),
        "beta has no report yet"
    );
    assert!(html.contains("The first, <strong>alpha</strong>, is the reference"));

    // Axes: freeze differs, the sizes are common, the rest is the same.
    assert!(html.contains(
        "Common axes (trials are matched on the values every sweep has): train_per_class."
    ));
    assert!(html.contains("(no value in every sweep; each sweep is pooled over its own): freeze."));
    assert!(html.contains("<td>10, 100, 1000</td>"));

    // One chart, accuracy against the common size axis, with a series per sweep, drawn from
    // the matched trials only (3 + 3 per size and sweep, not beta's 1000).
    assert_eq!(html.matches("<svg").count(), 1);
    let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap()];
    for label in ["sweep", "alpha", "beta"] {
        assert!(
            svg.contains(&format!(">{label}<")) || svg.contains(&format!(">\n{label}\n<")),
            "legend {label}"
        );
    }
    assert!(html.contains("Final test accuracy by training examples per class"));
    assert!(html.contains("ts.train_per_class IN (10, 100)"));
    assert!(
        !html.contains("frozen blocks (freeze)"),
        "freeze differs: no chart"
    );

    // The matched table: each sweep's mean and n, and beta − alpha with Welch's interval.
    let at10 = two_sample(
        "",
        &accuracies("alpha", 10),
        &accuracies("beta", 10),
        Direction::Up,
    );
    assert!((at10.estimate - 0.10).abs() < 1e-12, "{}", at10.estimate);
    let row10 = format!(
        "<td>10</td><td class=\"num\">0.6200</td><td class=\"num\">3</td>\
         <td class=\"num\">0.7200</td><td class=\"num\">3</td><td class=\"num\">+0.1000</td>\
         <td class=\"num\">[{:+.4}, {:+.4}]</td>\
         <td class=\"verdict-supported\">beta higher</td>",
        at10.low, at10.high
    );
    assert!(html.contains(&row10), "{row10}");
    assert!(at10.low > 0.0);
    // At 100/class the means are equal: the interval spans 0, so no side is named.
    assert!(html.contains("0.0000</td><td class=\"num\">[-0.0"));
    assert!(html.contains("<td class=\"verdict-inconclusive\">inconclusive</td>"));
    // Over both configurations: two differences give no interval, so no verdict.
    assert!(
        html.contains("beta has higher test accuracy than alpha over the matched configurations")
    );
    assert!(html.contains("needs at least 3 matched configurations"));

    // The index links the comparison, and re-rendering a sweep keeps the link.
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    let to_page = link("compare/alpha--beta/index.html");
    assert!(
        index.contains(&format!("{to_page}alpha vs beta</a>")),
        "{index}"
    );
    render_sweep(&db, "beta", &out).unwrap();
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains(&to_page));
    assert!(!index.contains("no longer in the database"));
}

#[test]
fn a_comparison_needs_two_existing_distinct_sweeps() {
    let tmp = tempfile::tempdir().unwrap();
    let db = two_sweeps(tmp.path());
    let out = tmp.path().join("reports");
    let err = |sweeps: &[&str]| {
        format!(
            "{:#}",
            render_compare(&db, &names(sweeps), &out, None).unwrap_err()
        )
    };
    assert!(err(&["alpha"]).contains("a comparison needs at least two sweeps, got 1"));
    let e = err(&["alpha", "nope"]);
    assert!(
        e.contains("no sweep named \"nope\"; the sweeps are: alpha, beta"),
        "{e}"
    );
    assert!(err(&["alpha", "alpha"]).contains("sweep \"alpha\" is named twice"));
    assert!(!out.join("compare").exists(), "nothing written");
}

#[test]
fn comparison_folders_are_safe_names_and_long_lists_are_hashed() {
    assert_eq!(
        compare_dir_name(&names(&["a b", "c/d"])).unwrap(),
        "a_b--c_d"
    );
    let long: Vec<String> = (0..20).map(|i| format!("sweep-number-{i}")).collect();
    let name = compare_dir_name(&long).unwrap();
    assert_eq!(name.len(), 120);
    assert!(name.starts_with("sweep-number-0--sweep-number-1--"));
    assert_ne!(name, compare_dir_name(&long[1..]).unwrap());
    assert!(compare_dir_name(&names(&["a", ".."])).is_err());
}
