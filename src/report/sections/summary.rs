//! The sweep-level summary of the findings, shown in the first cell: every finding of the
//! built-in sections grouped by verdict, contradicted and supported first.

use crate::metrics::statements::{read_sentence, Verdict};
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

/// The summary of the statements written in `cells` (their text outputs, one finding a line),
/// or `None` when there are none: a count per verdict, then the contradicted, supported and
/// inconclusive findings, each with the title of its cell, without the test (which the cell
/// states).
pub(crate) fn summary(cells: &[Cell]) -> Option<Output> {
    let mut found: Vec<(Verdict, String)> = Vec::new();
    for cell in cells {
        for out in &cell.outputs {
            let Output::Text { text } = out else { continue };
            for line in text.lines() {
                let line = line.strip_prefix("Finding: ").unwrap_or(line);
                if let Some((v, body)) = read_sentence(line) {
                    found.push((v, format!("{body} \u{2014} {}", cell.title)));
                }
            }
        }
    }
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

    #[test]
    fn summary_lists_contradicted_and_supported_first() {
        let up = |c: &str, v: &[f64]| paired(c, v, Direction::Up).sentence();
        let cell = |title: &str, text: String| Cell {
            title: title.to_string(),
            inputs: vec![],
            outputs: vec![Output::Text { text }],
        };
        let cells = vec![
            cell(
                "Transfer gain",
                format!(
                    "Findings:\n{}\n{}\nA frozen backbone forgets nothing: yes.",
                    up("a helps", &[0.1, 0.11, 0.09]),
                    up("b helps", &[0.1, -0.1])
                ),
            ),
            cell(
                "Domain gap",
                format!("Finding: {}", up("c helps", &[-0.2, -0.21, -0.19])),
            ),
        ];
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
