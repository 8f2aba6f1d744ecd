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
    let mut pos = 0;
    let models = [
        (true, "0"),
        (true, "1"),
        (true, "2"),
        (true, "3"),
        (true, "all"),
        (false, "0"),
    ];
    for (pretrained, freeze) in models {
        for n in [5, 10, 50, 250, 1000] {
            for shift in [
                "none",
                "rotate 45",
                "rotate 90",
                "contrast 0.25",
                "noise 0.3",
                "invert 1",
            ] {
                for seed in [0, 1, 2] {
                    insert_trial(
                        &conn,
                        sid,
                        pos,
                        &TrialFixture {
                            status: "completed",
                            pretrained,
                            freeze,
                            train_per_class: n,
                            shift,
                            seed,
                            error: None,
                            cosine: seed == 1,
                        },
                    );
                    pos += 1;
                }
            }
        }
    }
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
            Output::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
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
    let forgetting = cell_text(find_cell(&cells, "Forgetting: source"));
    assert!(
        forgetting.contains(
            "Forgetting grows with the number of unfrozen blocks: yes (freeze all 0.000, \
             freeze 0 0.200)."
        ),
        "{forgetting}"
    );
    assert!(forgetting.contains("A frozen backbone (freeze all) forgets nothing: yes"));
    // Pretrained is +0.1 over scratch at every size and seed: no shrinking gain.
    let gain = cell_text(find_cell(&cells, "Transfer gain"));
    assert!(
        gain.contains(
            "freeze 0: pretraining is still helping at the largest size (100/class +0.100"
        ),
        "{gain}"
    );
    assert!(
        gain.contains("Pretraining helps most when the target set is small (the gain shrinks as the target grows): no"),
        "{gain}"
    );
    let drift = cell_text(find_cell(&cells, "Representation drift"));
    assert!(
        drift.contains("Frozen blocks are left unchanged (CKA 1, weight distance 0): yes"),
        "{drift}"
    );
    assert!(
        drift.contains("CKA falls with depth) with freeze 0: yes (block0 0.900, block1 0.800, block2 0.700, block3 0.600)"),
        "{drift}"
    );
    assert!(
        drift.contains("rises with the frozen depth): yes (freeze 0 0.600, freeze all 1.000)"),
        "{drift}"
    );
    let cal = cell_text(find_cell(&cells, "Calibration"));
    assert!(
        cal.contains("Temperature scaling lowers the expected calibration error: yes (freeze 0 0.080 \u{2192} 0.030, freeze all 0.060 \u{2192} 0.020, scratch 0.100 \u{2192} 0.040)"),
        "{cal}"
    );
    assert!(cal.contains("(fitted temperature above 1): yes"), "{cal}");
    let dist = cell_text(find_cell(&cells, "Target accuracy vs measured"));
    assert!(
        dist.contains("Measured domain distance grows with the shift magnitude: yes \u{2014} proxy A-distance yes (none 0.1050, rotate 45 1.2050)"),
        "{dist}"
    );
    assert!(
        dist.contains(
            "Linear-probe (freeze all) accuracy falls as the measured distance grows: yes"
        ),
        "{dist}"
    );
    // Rotation costs 0.15 accuracy; 100/class is 0.1 above 10/class (fixture formula).
    let gap = cell_text(find_cell(&cells, "Domain gap"));
    assert!(
        gap.contains("lower under every shift than without: yes (none "),
        "{gap}"
    );
    let eff = cell_text(find_cell(&cells, "Data efficiency"));
    assert!(
        eff.contains("accuracy grows with the examples per class: yes (10/class "),
        "{eff}"
    );
    let trade = cell_text(find_cell(&cells, "Forgetting vs transfer gain"));
    assert!(trade.contains("Largest gain: "), "{trade}");
    // Summary tables carry a 95% CI column.
    for prefix in [
        "Overfitting",
        "Forgetting: source",
        "Calibration",
        "Representation drift",
    ] {
        let cell = find_cell(&cells, prefix);
        let table = cell
            .outputs
            .iter()
            .find_map(|o| match o {
                Output::Table(t) => Some(t),
                _ => None,
            })
            .unwrap();
        assert!(
            table.headers.iter().any(|h| h == "\u{b1} 95% CI"),
            "{prefix}"
        );
    }
    // The seed-aggregated gap table's CI: two seeds differ by 0.01 in val acc only at
    // a fixed size, so the half-width is t(0.975, n-1) s / sqrt(n) of the per-trial gaps.
    let gap = find_cell(&cells, "Overfitting");
    let t = gap
        .outputs
        .iter()
        .find_map(|o| match o {
            Output::Table(t) => Some(t),
            _ => None,
        })
        .unwrap();
    assert_eq!(t.rows.len(), 2);
    assert_eq!(t.rows[0][1].text, "12");
}
