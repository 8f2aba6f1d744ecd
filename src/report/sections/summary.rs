//! The sweep-level summary of the findings, shown in the first cell: every finding of the
//! built-in sections grouped by verdict, contradicted and supported first.

use crate::metrics::statements::{Statement, Verdict};
use crate::report::page::{Cell, Output};

/// How the summary begins.
const HEADLINE: &str = "Findings of this sweep:";

/// The summary among the outputs of `cells` (placed in the first cell by `sections::build`).
pub(crate) fn written(cells: &[Cell]) -> Option<&str> {
    cells.first()?.outputs.iter().find_map(|out| match out {
        Output::Text { text } if text.starts_with(HEADLINE) => Some(text.as_str()),
        _ => None,
    })
}

/// Every statement of `cells`, in page order, with the title of its cell.
pub(crate) fn statements(cells: &[Cell]) -> Vec<(&str, &Statement)> {
    cells
        .iter()
        .flat_map(|cell| {
            cell.outputs.iter().flat_map(move |out| match out {
                Output::Findings(f) => f
                    .statements()
                    .map(|s| (cell.title.as_str(), s))
                    .collect::<Vec<_>>(),
                _ => Vec::new(),
            })
        })
        .collect()
}

/// The summary of the statements of `cells`, or `None` when there are none: a count per
/// verdict, then the contradicted, supported and inconclusive findings, each with the title of
/// its cell, without the test (which the cell states).
pub(crate) fn summary(cells: &[Cell]) -> Option<Output> {
    let found: Vec<(Verdict, String)> = statements(cells)
        .into_iter()
        .map(|(title, s)| {
            (
                s.verdict,
                format!(
                    "{}: {} ({}) \u{2014} {title}",
                    s.claim,
                    s.verdict.as_str(),
                    s.numbers()
                ),
            )
        })
        .collect();
    if found.is_empty() {
        return None;
    }
    let order = [
        Verdict::Contradicted,
        Verdict::Supported,
        Verdict::Inconclusive,
    ];
    let count = |v: Verdict| found.iter().filter(|f| f.0 == v).count();
    let mut text = format!(
        "{HEADLINE} {} contradicted, {} supported, {} inconclusive (verdicts from 95% \
         intervals; the test of each is stated in its cell).",
        count(Verdict::Contradicted),
        count(Verdict::Supported),
        count(Verdict::Inconclusive)
    );
    for v in order {
        let lines: Vec<&str> = found
            .iter()
            .filter(|f| f.0 == v)
            .map(|f| f.1.as_str())
            .collect();
        if !lines.is_empty() {
            let mut heading = v.as_str().to_string();
            heading[..1].make_ascii_uppercase();
            text.push_str(&format!("\n{heading}:\n- {}", lines.join("\n- ")));
        }
    }
    Some(Output::Text { text })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::statements::{paired, Direction};
    use crate::report::stats::findings_output;

    #[test]
    fn summary_lists_contradicted_and_supported_first() {
        let up = |c: &str, v: &[f64]| paired(c, v, Direction::Up);
        let cell = |title: &str, statements| Cell {
            title: title.to_string(),
            inputs: vec![],
            outputs: vec![
                Output::Text {
                    text: "Not a finding: yes (1.000).".to_string(),
                },
                findings_output(vec!["A note.".to_string()], statements).unwrap(),
            ],
        };
        let cells = vec![
            cell(
                "Transfer gain",
                vec![
                    up("a helps", &[0.1, 0.11, 0.09]),
                    up("b helps", &[0.1, -0.1]),
                ],
            ),
            cell("Domain gap", vec![up("c helps", &[-0.2, -0.21, -0.19])]),
        ];
        let all = statements(&cells);
        assert_eq!(all.len(), 3);
        assert_eq!(
            (all[2].0, all[2].1.claim.as_str()),
            ("Domain gap", "c helps")
        );
        let Some(Output::Text { text }) = summary(&cells) else {
            panic!()
        };
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0]
                .starts_with("Findings of this sweep: 1 contradicted, 1 supported, 1 inconclusive"),
            "{text}"
        );
        assert_eq!(lines[1], "Contradicted:");
        assert!(
            lines[2].starts_with("- c helps: contradicted (mean -0.200, 95% CI [-0.2"),
            "{text}"
        );
        assert!(lines[2].ends_with(", n = 3) \u{2014} Domain gap"), "{text}");
        assert_eq!(lines[3], "Supported:");
        assert!(lines[4].starts_with("- a helps: supported"), "{text}");
        assert_eq!(lines[5], "Inconclusive:");
        assert!(lines[6].starts_with("- b helps: inconclusive"), "{text}");
        assert_eq!(lines.len(), 7);
        assert!(summary(&cells[..0]).is_none());
    }
}
