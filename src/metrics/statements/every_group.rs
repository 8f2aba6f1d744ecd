//! An effect in every group: the conjunction of one statement per group (per shift, per
//! frozen depth), decided by its weakest group.

use super::verdict::{Direction, Verdict};
use super::Statement;

/// The claim that the effect holds in every one of `groups` (named statements in direction
/// `dir`). Supported when every group is supported; contradicted when some group is (the
/// effect is reversed there); inconclusive otherwise. The estimate, interval and test are the
/// deciding group's: a contradicted one, else the one whose interval reaches furthest towards
/// the other side, and so is `n` (the test names the points of all groups). No groups give an inconclusive
/// statement without an interval.
pub fn every_group(claim: &str, groups: &[(String, Statement)], dir: Direction) -> Statement {
    let against: Vec<&str> = groups
        .iter()
        .filter(|g| g.1.verdict == Verdict::Contradicted)
        .map(|g| g.0.as_str())
        .collect();
    // The weakest group: the lowest low bound for a rise, the highest high bound for a fall.
    let weakness = |s: &Statement| match dir {
        Direction::Up => -s.low,
        Direction::Down => s.high,
    };
    let decider = groups
        .iter()
        .find(|g| g.1.verdict == Verdict::Contradicted)
        .or_else(|| groups.iter().find(|g| g.1.verdict == Verdict::Inconclusive))
        .or_else(|| {
            groups
                .iter()
                .max_by(|a, b| weakness(&a.1).total_cmp(&weakness(&b.1)))
        });
    let total: usize = groups.iter().map(|g| g.1.n).sum();
    let Some((name, s)) = decider else {
        return Statement::new(
            claim,
            "estimate",
            (f64::NAN, f64::NAN, f64::NAN),
            0,
            "effect in every group: no groups".to_string(),
            dir,
        );
    };
    let mut out = Statement::new(
        claim,
        &format!("{} at {name}", s.measure),
        (s.estimate, s.low, s.high),
        s.n,
        format!(
            "effect in every group ({} group{}, {total} points), decided by the weakest; per \
             group: {}",
            groups.len(),
            if groups.len() == 1 { "" } else { "s" },
            s.test
        ),
        dir,
    )
    .with_needs(s.needs.clone());
    if !against.is_empty() {
        out.detail = Some(format!("reversed at {}", against.join(", ")));
    }
    out
}
