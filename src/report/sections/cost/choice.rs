//! What the cost section concludes: the Pareto front of training time against accuracy, and
//! the cheapest configuration whose accuracy is within one standard error of the best's (the
//! one-standard-error rule), stated with the test of what it gives up.

use super::configs::{Config, TrialCost};
use crate::metrics::statements::{two_sample, Direction, Statement};
use crate::report::context::distinct;
use crate::report::rows::fmt_real;

/// Whether each (cost, accuracy) point is on the Pareto front: no other point is at most as
/// costly and at least as accurate while strictly better in one of the two. Equal points
/// dominate none of each other, so all of them stay on the front.
pub(crate) fn pareto_front(points: &[(f64, f64)]) -> Vec<bool> {
    points
        .iter()
        .map(|&(cost, acc)| {
            !points
                .iter()
                .any(|&(c, a)| c <= cost && a >= acc && (c < cost || a > acc))
        })
        .collect()
}

/// Whether each configuration is on the Pareto front of mean training seconds against mean
/// test accuracy within its group.
pub(crate) fn fronts(configs: &[Config]) -> Vec<bool> {
    let mut on = vec![false; configs.len()];
    for group in distinct(configs.iter().map(|c| c.group.as_str())) {
        let members: Vec<usize> = (0..configs.len())
            .filter(|&i| configs[i].group == group)
            .collect();
        let points: Vec<(f64, f64)> = members
            .iter()
            .map(|&i| (configs[i].seconds, configs[i].mean))
            .collect();
        for (&i, front) in members.iter().zip(pareto_front(&points)) {
            on[i] = front;
        }
    }
    on
}

/// The one-standard-error choice among the configurations of one group.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Choice<'a> {
    /// The most accurate configuration has one seed: no standard error, no choice.
    OneSeed { best: &'a Config },
    /// No cheaper configuration comes within one standard error `se` of the most accurate.
    BestIsCheapest { best: &'a Config, se: f64 },
    /// `cheap` is the cheapest configuration within one standard error `se` of `best`.
    Cheaper {
        cheap: &'a Config,
        best: &'a Config,
        se: f64,
    },
}

/// The one-standard-error choice: the most accurate configuration by mean (the cheaper one
/// on a tie), then the cheapest by mean training seconds (the more accurate on a tie) of those
/// whose mean lies within one standard error of the best's mean (its SE over seeds). `None`
/// with fewer than 2 configurations.
pub(crate) fn choose<'a>(configs: &[&'a Config]) -> Option<Choice<'a>> {
    if configs.len() < 2 {
        return None;
    }
    let by = |a: f64, b: f64| a.total_cmp(&b);
    let best = *configs
        .iter()
        .max_by(|a, b| by(a.mean, b.mean).then(by(b.seconds, a.seconds)))?;
    let Some(se) = best.se() else {
        return Some(Choice::OneSeed { best });
    };
    let cheap = *configs
        .iter()
        .filter(|c| c.mean >= best.mean - se)
        .min_by(|a, b| by(a.seconds, b.seconds).then(by(b.mean, a.mean)))?;
    Some(if std::ptr::eq(cheap, best) {
        Choice::BestIsCheapest { best, se }
    } else {
        Choice::Cheaper { cheap, best, se }
    })
}

/// The findings of the section: per group of comparable configurations, the one-SE choice as
/// a statement (what the cheap configuration gives up against the best, Welch interval) or a
/// note (the best is the cheapest; one seed only). Returns (notes, statements).
pub(crate) fn cost_findings(configs: &[Config]) -> (Vec<String>, Vec<Statement>) {
    let (mut notes, mut statements) = (Vec::new(), Vec::new());
    for group in distinct(configs.iter().map(|c| c.group.as_str())) {
        let members: Vec<&Config> = configs.iter().filter(|c| c.group == group).collect();
        let at = if group.is_empty() {
            String::new()
        } else {
            format!("{group}: ")
        };
        match choose(&members) {
            None => {}
            Some(Choice::OneSeed { best }) => notes.push(format!(
                "{at}the most accurate configuration, {}, has one seed: no standard error is \
                 available, so no cheaper configuration is called as accurate (run more seeds).",
                best.describe()
            )),
            Some(Choice::BestIsCheapest { best, se }) => notes.push(format!(
                "{at}the most accurate configuration, {}, is also the cheapest within one \
                 standard error ({se:.3}) of its mean: every cheaper configuration is further \
                 below it.",
                best.describe()
            )),
            Some(Choice::Cheaper { cheap, best, se }) => {
                statements.push(cheaper_statement(&at, cheap, best, se))
            }
        }
    }
    (notes, statements)
}

/// "{cheap} is the cheapest configuration within one SE of the most accurate, {best}, in 1/r
/// of its training time; it is less accurate": the difference of their mean test accuracies
/// with Welch's interval (a claim the interval can support, never one of equality).
fn cheaper_statement(at: &str, cheap: &Config, best: &Config, se: f64) -> Statement {
    let ratio = best.seconds / cheap.seconds.max(1e-12);
    let claim = format!(
        "{at}{} is the cheapest configuration within one standard error of the most accurate, \
         {}, training {ratio:.1}\u{d7} faster; it is less accurate ({} \u{2212} {} < 0)",
        cheap.label, best.label, cheap.label, best.label
    );
    two_sample(&claim, &best.accs, &cheap.accs, Direction::Down).with_detail(format!(
        "{}; {}; one SE of the best {se:.3}; training seconds {} / {} = {ratio:.1}\u{d7}",
        cheap.describe(),
        best.describe(),
        fmt_real(best.seconds),
        fmt_real(cheap.seconds),
    ))
}

/// The timing caveats of `trials`: when they ran on more than one device, or in more than one
/// recorded environment (host, CPU, GPU), their wall-clock times are not comparable.
pub(crate) fn timing_caveats(trials: &[TrialCost]) -> Vec<String> {
    let mut out = Vec::new();
    let devices = distinct(
        trials
            .iter()
            .map(|t| t.device.as_str())
            .filter(|d| !d.is_empty()),
    );
    if devices.len() > 1 {
        out.push(format!(
            "Timing caveat: these trials ran on {} devices ({}); wall-clock times from different \
             devices are not comparable, so the training-time chart, its Pareto front and the \
             cost ratios mix devices.",
            devices.len(),
            devices.join(", ")
        ));
    }
    let machines = distinct(
        trials
            .iter()
            .map(|t| t.machine.as_str())
            .filter(|m| !m.is_empty()),
    );
    if machines.len() > 1 {
        out.push(format!(
            "Timing caveat: these trials ran in {} environments ({}); their wall-clock times \
             are comparable only as far as those machines are alike.",
            machines.len(),
            machines.join("; ")
        ));
    }
    out
}
