//! The evaluation-science sections on the fixture: their findings, and a large demo sweep.

use super::*;

/// A larger sweep for looking at the charts by eye:
/// `THAW_REPORT_DEMO=/tmp/demo cargo test --lib report::tests::large_demo -- --ignored`
#[test]
#[ignore]
fn large_demo() {
    let dir = PathBuf::from(std::env::var_os("THAW_REPORT_DEMO").expect("set THAW_REPORT_DEMO"));
    let db = dir.join("large.sqlite");
    let _ = std::fs::remove_file(&db);
    let conn = create_db(&db);
    let sid = insert_sweep(&conn, "large-demo", YAML);
    let models = [
        (true, "0"),
        (true, "1"),
        (true, "2"),
        (true, "3"),
        (true, "all"),
        (false, "0"),
    ];
    let shifts = [
        "none",
        "rotate 45",
        "rotate 90",
        "contrast 0.25",
        "noise 0.3",
        "invert 1",
    ];
    let pos = insert_completed(&conn, sid, &models, &[5, 10, 50, 250, 1000], &shifts, 3);
    drop(conn);
    let t = std::time::Instant::now();
    let path = render_sweep(&db, "large-demo", &dir).unwrap();
    eprintln!(
        "rendered {} trials in {:?}: {}",
        pos,
        t.elapsed(),
        path.display()
    );
}

fn cell_text(cell: &Cell) -> String {
    cell.outputs
        .iter()
        .filter_map(|o| match o {
            Output::Text { text } => Some(text.clone()),
            Output::Findings(f) => Some(
                f.notes
                    .iter()
                    .cloned()
                    .chain(f.statements().map(|s| s.sentence()))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn first_table(cell: &Cell) -> &Table {
    cell.outputs
        .iter()
        .find_map(|o| match o {
            Output::Table(t) => Some(t),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no table in {}", cell.title))
}

fn find_cell<'a>(cells: &'a [Cell], prefix: &str) -> &'a Cell {
    cells
        .iter()
        .find(|c| c.title.starts_with(prefix))
        .unwrap_or_else(|| panic!("no cell {prefix}"))
}

#[test]
fn science_sections_state_their_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    let cells = build_cells(&db, "digits-test");
    let findings = [
        (
            "Forgetting: source",
            "Forgetting grows with the number of unfrozen blocks: supported (difference +0.200, \
             95% CI [+0.200, +0.200], n = 16; freeze all 0.000, freeze 0 0.200) [test: trend \
             over 2 levels: difference of two group means, Welch t 95% interval].",
        ),
        (
            "Forgetting: source",
            "A frozen backbone (freeze all) forgets nothing: supported (largest |forgetting| +0.000, exact, n = 8)",
        ),
        // Pretrained is +0.1 over scratch at every size and seed: no shrinking gain.
        (
            "Transfer gain",
            "freeze 0: pretraining helps at every size (gain > 0): supported (mean at 100/class \
             +0.100, 95% CI [+0.100, +0.100], n = 4; by size: 10/class +0.100 supported, \
             100/class +0.100 supported) [test: effect in every group (2 groups, 8 points)",
        ),
        (
            "Transfer gain",
            "Pretraining helps most when the target set is small (the gain shrinks as the \
             target grows): inconclusive (difference +0.000, 95% CI [+0.000, +0.000], n = 16;",
        ),
        (
            "Representation drift",
            "Frozen blocks are left unchanged (CKA 1, weight distance 0): supported (largest |1 \u{2212} CKA| +0.000, exact",
        ),
        (
            "Representation drift",
            "CKA falls with depth) with freeze 0: supported (Kendall \u{3c4} -1.000, 95% CI \
             [-1.000, -1.000], n = 32; block0 0.900, block1 0.800, block2 0.700, block3 0.600)",
        ),
        (
            "Representation drift",
            "rises with the frozen depth): supported (difference +0.400, 95% CI [+0.400, \
             +0.400], n = 16; freeze 0 0.600, freeze all 1.000)",
        ),
        (
            "Calibration",
            "Temperature scaling lowers the expected calibration error in every setting: \
             supported (mean at freeze all -0.040, 95% CI [-0.040, -0.040], n = 8; freeze 0 \
             0.080 \u{2192} 0.030, freeze all 0.060 \u{2192} 0.020, scratch 0.100 \u{2192} \
             0.040)",
        ),
        (
            "Calibration",
            "(fitted temperature above 1 in every setting): supported (mean at freeze all \
             +0.200, 95% CI [+0.200, +0.200], n = 8;",
        ),
        // The fixture's gap is exactly 0.133 at 10/class and 0.067 at 100/class.
        (
            "Overfitting",
            "The generalization gap shrinks as the target set grows: supported \
             (difference -0.067, 95% CI [-0.067, -0.067], n = 24; 10/class 0.133, 100/class \
             0.067)",
        ),
        (
            "Target accuracy vs measured",
            "proxy A-distance grows with the shift magnitude: supported (difference at rotate \
             +1.100, 95% CI [+1.070, +1.130], n = 4; none 0.1050, rotate 45 1.2050)",
        ),
        (
            "Target accuracy vs measured",
            "MMD\u{b2} grows with the shift magnitude: supported",
        ),
        // Two shifts: any correlation is \u{b1}1, so no verdict.
        (
            "Target accuracy vs measured",
            "Linear-probe (freeze all) accuracy falls as the measured distance grows: \
             inconclusive (Pearson r -1.000, no interval, n = 2; needs at least 5 points;",
        ),
        // Rotation costs 0.15 accuracy; 100/class is 0.1 above 10/class (fixture formula).
        // Each rotated trial is paired with its upright twin (same settings and seed).
        (
            "Domain gap",
            "Target accuracy is lower under every shift than without: supported (difference at \
             rotate 45 -0.150, 95% CI [-0.150, -0.150], n = 12;",
        ),
        (
            "Data efficiency",
            "Accuracy grows with the examples per class: supported (difference +0.100, 95% CI \
             [+0.022, +0.178], n = 24; 10/class 0.637, 100/class 0.737; pooled over models)",
        ),
        // Every setting has the same gain: no correlation to speak of.
        (
            "Forgetting vs transfer gain",
            "(a trade-off): inconclusive (Pearson r undefined, no interval, n = 8; a quantity \
             does not vary;",
        ),
        ("Forgetting vs transfer gain", "Largest mean gain: "),
        // The sweep-level summary in the first cell.
        (
            "Sweep",
            "Findings of this sweep: 0 contradicted, 15 supported, 6 inconclusive",
        ),
        (
            "Sweep",
            "\n- Forgetting grows with the learning rate: inconclusive",
        ),
    ];
    for (prefix, finding) in findings {
        let text = cell_text(find_cell(&cells, prefix));
        assert!(text.contains(finding), "{prefix}: {finding}\n{text}");
    }
    // Summary tables carry a 95% CI column.
    for prefix in [
        "Overfitting",
        "Forgetting: source",
        "Calibration",
        "Representation drift",
    ] {
        let table = first_table(find_cell(&cells, prefix));
        assert!(
            table.headers.iter().any(|h| h == "\u{b1} 95% CI"),
            "{prefix}"
        );
    }
    // The seed-aggregated gap table's CI: two seeds differ by 0.01 in val acc only at
    // a fixed size, so the half-width is t(0.975, n-1) s / sqrt(n) of the per-trial gaps.
    let t = first_table(find_cell(&cells, "Overfitting"));
    assert_eq!(t.rows.len(), 2);
    assert_eq!(t.rows[0][1].text, "12");
}
