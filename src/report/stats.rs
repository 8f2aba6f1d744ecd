//! Aggregation over seeds: the mean and 95% confidence interval of every chart point and
//! table cell (the one interval of [`crate::metrics::mean_ci95`], exact Student t), the summary
//! tables built from them, and the listings that go with the findings' statements
//! ([`crate::metrics::statements`]).

use crate::metrics::statements::Statement;
use crate::report::context::distinct;
use crate::report::page::{Findings, Output, Table, TableCell};
use crate::report::rows::fmt_real;

/// One aggregated point of a series: (series, x key) → mean, half-width, n.
pub(crate) type Agg = (f64, Option<f64>, usize);

/// Mean of the finite values with the half-width of its 95% interval (`None` when n = 1),
/// via [`crate::metrics::mean_ci95`]; `None` when there are no finite values.
pub(crate) fn ci(values: &[f64]) -> Option<(f64, Option<f64>, usize)> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let m = crate::metrics::mean_ci95(&v);
    let half = (m.n > 1 && m.hi.is_finite()).then_some(m.hi - m.mean);
    Some((m.mean, half, m.n))
}

/// Mean of the finite values (NaN when there are none).
pub(crate) fn mean(values: &[f64]) -> f64 {
    ci(values).map_or(f64::NAN, |c| c.0)
}

/// A summary table: rows grouped by their key columns (in the given order of first
/// appearance), then for every value column the mean over the group and the half-width of its
/// 95% confidence interval. `trials` counts the rows of the group.
pub(crate) fn ci_table(
    key_headers: &[&str],
    value_headers: &[&str],
    rows: &[(Vec<String>, Vec<Option<f64>>)],
) -> Table {
    let mut headers: Vec<String> = key_headers.iter().map(|h| h.to_string()).collect();
    headers.push("trials".to_string());
    for h in value_headers {
        headers.push(format!("{h} (mean)"));
        headers.push("\u{b1} 95% CI".to_string());
    }
    let keys = distinct(rows.iter().map(|r| &r.0));
    let cell = |text: String, class: &str| TableCell {
        text,
        class: class.to_string(),
        href: None,
    };
    let mut out = Vec::new();
    for key in keys {
        let group: Vec<&(Vec<String>, Vec<Option<f64>>)> =
            rows.iter().filter(|r| &r.0 == key).collect();
        let mut row: Vec<TableCell> = key
            .iter()
            .map(|k| {
                let class = if k.parse::<f64>().is_ok() { "num" } else { "" };
                cell(k.clone(), class)
            })
            .collect();
        row.push(cell(group.len().to_string(), "num"));
        for j in 0..value_headers.len() {
            let v: Vec<f64> = group.iter().filter_map(|r| r.1[j]).collect();
            match ci(&v) {
                Some((m, h, _)) => {
                    row.push(cell(fmt_real(m), "num"));
                    row.push(cell(h.map(fmt_real).unwrap_or_default(), "num"));
                }
                None => {
                    row.push(cell(String::new(), "num"));
                    row.push(cell(String::new(), "num"));
                }
            }
        }
        out.push(row);
    }
    Table {
        headers,
        sortable: out.len() > 1,
        rows: out,
        note: Some(
            "Mean over the rows of the query; \u{b1}: half-width of the 95% confidence interval \
             of the mean (Student t, n\u{2212}1 degrees of freedom; blank where n = 1)."
                .to_string(),
        ),
    }
}

/// "freeze all 0.000, freeze 2 0.041, freeze 0 0.083".
pub(crate) fn listing(items: &[(String, f64)], signed: bool) -> String {
    items
        .iter()
        .map(|(k, v)| {
            if signed {
                format!("{k} {v:+.3}")
            } else {
                format!("{k} {v:.3}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The mean of each level's values, for listing next to a statement.
pub(crate) fn means(levels: &[(String, Vec<f64>)]) -> Vec<(String, f64)> {
    levels.iter().map(|(k, v)| (k.clone(), mean(v))).collect()
}

/// The findings output of a section, or `None` when it has no statements.
pub(crate) fn findings_output(notes: Vec<String>, statements: Vec<Statement>) -> Option<Output> {
    (!statements.is_empty()).then(|| Output::Findings(Findings::new(notes, statements)))
}

/// The findings of a section as lines (notes, then each statement's sentence), for tests.
#[cfg(test)]
pub(crate) fn lines(notes: Vec<String>, statements: &[Statement]) -> Vec<String> {
    notes
        .into_iter()
        .chain(statements.iter().map(Statement::sentence))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_ci_matches_hand_computation() {
        // mean 2, sd 1, n 3: half-width = t(0.975, 2) * 1 / sqrt(3) = 4.303 / 1.732...
        let (mean, half_width, n) = ci(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(n, 3);
        assert!((mean - 2.0).abs() < 1e-12);
        assert!((half_width.unwrap() - 4.302_652_729_749 / 3f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn mean_ci_single_and_empty() {
        let (mean, half_width, _) = ci(&[0.7]).unwrap();
        assert_eq!(mean, 0.7);
        assert_eq!(half_width, None);
        assert_eq!(ci(&[]), None);
        // Non-finite values are ignored.
        let (_, half_width, n) = ci(&[0.5, f64::NAN, 0.5]).unwrap();
        assert_eq!(n, 2);
        assert_eq!(half_width, Some(0.0));
    }

    #[test]
    fn t_quantiles() {
        // The report uses the exact quantile of `metrics` (the t-table values, to 3 decimals).
        let t975 = |df: usize| crate::metrics::student_t_quantile(0.975, df as f64);
        assert!((t975(1) - 12.706).abs() < 5e-4);
        assert!((t975(30) - 2.042).abs() < 5e-4);
        assert!((t975(60) - 2.000).abs() < 2e-3);
        assert!((t975(120) - 1.980).abs() < 2e-3);
        assert!((t975(100_000) - 1.96).abs() < 1e-3);
    }
}
