//! Tests of per-class results: what `record_classes` stores and `class_accuracy` reads back.

use super::*;
use crate::metrics::Confusion;

#[test]
fn class_accuracy_reads_the_recorded_confusion_and_a_restart_clears_it() {
    let (_d, db, _sid, t) = one_running_trial();
    let names = ["cat".to_string(), "dog".to_string(), "emu".to_string()];
    // Test: cat 2 of 3 right, dog 1 of 2, emu 3 of 3; validation: every example right.
    let test = Confusion::count(3, &[0, 0, 0, 1, 1, 2, 2, 2], &[0, 0, 2, 1, 0, 2, 2, 2]);
    let val = Confusion::count(3, &[0, 1, 2], &[0, 1, 2]);
    db.record_classes(t, &names, &[("val", &val), ("test", &test)])
        .unwrap();
    // Recording again replaces, never adds.
    db.record_classes(t, &names, &[("val", &val), ("test", &test)])
        .unwrap();
    let rows: Vec<(String, i64, i64, f64)> = db
        .connection()
        .prepare(
            "SELECT name, n, correct, accuracy FROM class_accuracy
             WHERE trial_id = ?1 AND split = 'test' ORDER BY class",
        )
        .unwrap()
        .query_map([t], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        [
            ("cat".to_string(), 3, 2, 2.0 / 3.0),
            ("dog".to_string(), 2, 1, 0.5),
            ("emu".to_string(), 3, 3, 1.0),
        ]
    );
    // Zero cells are not stored: 5 cells of the test matrix, 3 of validation.
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM confusion"),
        Value::Integer(8)
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT SUM(correct) * 1.0 / SUM(n) FROM class_accuracy WHERE split = 'test'"
        ),
        Value::Real(0.75)
    );
    // A mismatch of classes and names is refused.
    assert!(db
        .record_classes(t, &names[..2], &[("test", &test)])
        .is_err());
    // A trial started over loses its final-epoch results.
    db.truncate_metrics(t, None).unwrap();
    assert_eq!(
        scalar(
            &db,
            "SELECT (SELECT count(*) FROM confusion) + (SELECT count(*) FROM trial_classes)"
        ),
        Value::Integer(0)
    );
}

#[test]
fn class_accuracy_leaves_out_superseded_trials() {
    let (_d, db, _sid, t) = one_running_trial();
    let c = Confusion::count(2, &[0, 1], &[0, 0]);
    db.record_classes(t, &["a".into(), "b".into()], &[("test", &c)])
        .unwrap();
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM class_accuracy"),
        Value::Integer(2)
    );
    db.connection()
        .execute("UPDATE trials SET superseded_in = 2 WHERE id = ?1", [t])
        .unwrap();
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM class_accuracy"),
        Value::Integer(0)
    );
}
