//! The page template (minijinja, auto-escaping) and a small, escaping markdown renderer.
//!
//! Templates are embedded with `include_str!`, so the binary renders reports on its own; a
//! user folder can replace any of them (see [`Templates`]).

use super::page::Cell;
use crate::track::TrialStatus;
use anyhow::{Context, Result};
use minijinja::{context, Environment};
use serde::Serialize;
use std::path::Path;

/// The embedded templates: pages and the partials they include.
const EMBEDDED: &[(&str, &str)] = &[
    ("report.html", include_str!("../../templates/report.html")),
    ("trial.html", include_str!("../../templates/trial.html")),
    ("index.html", include_str!("../../templates/index.html")),
    ("compare.html", include_str!("../../templates/compare.html")),
    ("_style.html", include_str!("../../templates/_style.html")),
    ("_cells.html", include_str!("../../templates/_cells.html")),
    ("_sort.html", include_str!("../../templates/_sort.html")),
];

/// What the report page template needs besides the cells.
pub struct Page<'a> {
    pub sweep: &'a str,
    pub status_line: &'a str,
    pub generated_at: &'a str,
    pub cells: &'a [Cell],
}

/// What the trial page template needs.
pub struct TrialPage<'a> {
    pub sweep: &'a str,
    pub key: &'a str,
    pub status_line: &'a str,
    pub generated_at: &'a str,
    /// Identifies the page's inputs; an unchanged page is not rewritten.
    pub stamp: &'a str,
    pub cells: &'a [Cell],
}

/// What the comparison page template needs.
pub struct ComparePage<'a> {
    /// `a vs b`.
    pub title: &'a str,
    pub generated_at: &'a str,
    pub cells: &'a [Cell],
}

/// One comparison on the index page.
#[derive(Clone, Debug, Serialize)]
pub struct ComparisonRow {
    /// `a vs b`.
    pub title: String,
    /// The page, relative to the index.
    pub href: String,
    pub sweeps: Vec<String>,
    /// The compared sweeps no longer in the database.
    pub missing: Vec<String>,
    pub generated_at: String,
}

/// One row of the index page.
#[derive(Clone, Debug, Serialize)]
pub struct IndexRow {
    pub name: String,
    pub description: String,
    pub href: String,
    pub has_report: bool,
    pub total: i64,
    /// Counts in the order of [`STATUSES`].
    pub counts: Vec<i64>,
    pub updated_at: String,
}

/// Trial statuses, in the order of the index page's columns.
pub const STATUSES: [TrialStatus; 7] = [
    TrialStatus::Completed,
    TrialStatus::Pruned,
    TrialStatus::Running,
    TrialStatus::Pending,
    TrialStatus::Failed,
    TrialStatus::Diverged,
    TrialStatus::Interrupted,
];

/// The template set: the embedded templates, each replaced by a file of the same name in the
/// user's folder when there is one (`report.html`, `trial.html`, `index.html`, `compare.html`,
/// and the partials `_style.html`, `_cells.html`, `_sort.html`). Names ending in `.html` are
/// auto-escaped.
pub struct Templates {
    env: Environment<'static>,
    /// Hash of every template's text, part of each trial page's stamp.
    pub fingerprint: String,
}

impl Templates {
    pub fn load(user_dir: Option<&Path>) -> Result<Self> {
        let mut env = Environment::new();
        let mut hasher = blake3::Hasher::new();
        for (name, embedded) in EMBEDDED {
            let text = match user_dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
                Some(p) => std::fs::read_to_string(&p)
                    .with_context(|| format!("reading the template {}", p.display()))?,
                None => embedded.to_string(),
            };
            hasher.update(name.as_bytes());
            hasher.update(&[0]);
            hasher.update(text.as_bytes());
            hasher.update(&[0]);
            env.add_template_owned(name.to_string(), text)
                .with_context(|| format!("parsing the template {name}"))?;
        }
        hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
        Ok(Templates {
            env,
            fingerprint: hasher.finalize().to_hex()[..16].to_string(),
        })
    }

    /// Renders a sweep's report page.
    pub fn report(&self, page: &Page) -> Result<String> {
        self.env
            .get_template("report.html")?
            .render(context! {
                sweep => page.sweep,
                status_line => page.status_line,
                generated_at => page.generated_at,
                cells => page.cells,
            })
            .context("rendering the report template")
    }

    /// Renders one trial's page.
    pub fn trial(&self, page: &TrialPage) -> Result<String> {
        self.env
            .get_template("trial.html")?
            .render(context! {
                sweep => page.sweep,
                key => page.key,
                status_line => page.status_line,
                generated_at => page.generated_at,
                stamp => page.stamp,
                cells => page.cells,
            })
            .context("rendering the trial template")
    }

    /// Renders a comparison of sweeps.
    pub fn compare(&self, page: &ComparePage) -> Result<String> {
        self.env
            .get_template("compare.html")?
            .render(context! {
                title => page.title,
                generated_at => page.generated_at,
                cells => page.cells,
            })
            .context("rendering the comparison template")
    }

    /// Renders the list of sweeps and of comparisons.
    pub fn index(
        &self,
        db: &str,
        generated_at: &str,
        sweeps: &[IndexRow],
        comparisons: &[ComparisonRow],
    ) -> Result<String> {
        self.env
            .get_template("index.html")?
            .render(context! {
                db => db,
                generated_at => generated_at,
                sweeps => sweeps,
                comparisons => comparisons,
                statuses => STATUSES.map(|s| s.as_str()),
            })
            .context("rendering the index template")
    }
}

/// Renders a report page with the embedded templates.
pub fn render_page(page: &Page) -> Result<String> {
    Templates::load(None)?.report(page)
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Markdown-ish text to HTML: `#`/`##`/`###` headings, `-`/`*` bullet lists, paragraphs,
/// `code` and **bold**. Everything is escaped first, so the result is safe to embed.
pub fn markdown_to_html(src: &str) -> String {
    let mut out = String::new();
    let text = src.replace("\r\n", "\n");
    for block in text.split("\n\n") {
        let block = block.trim_matches('\n');
        if block.trim().is_empty() {
            continue;
        }
        let lines: Vec<&str> = block.lines().collect();
        if lines.len() == 1 {
            let l = lines[0].trim_start();
            if let Some((level, rest)) = heading(l) {
                out.push_str(&format!("<h{level}>{}</h{level}>\n", inline(rest)));
                continue;
            }
        }
        if lines
            .iter()
            .all(|l| l.trim_start().starts_with("- ") || l.trim_start().starts_with("* "))
        {
            out.push_str("<ul>\n");
            for l in lines {
                out.push_str(&format!("<li>{}</li>\n", inline(&l.trim_start()[2..])));
            }
            out.push_str("</ul>\n");
            continue;
        }
        let joined: Vec<String> = lines.iter().map(|l| inline(l.trim())).collect();
        out.push_str(&format!("<p>{}</p>\n", joined.join("\n")));
    }
    out
}

fn heading(line: &str) -> Option<(usize, &str)> {
    let hashes = line.chars().take_while(|&c| c == '#').count();
    if (1..=3).contains(&hashes) && line[hashes..].starts_with(' ') {
        Some((hashes, line[hashes..].trim()))
    } else {
        None
    }
}

/// Escapes one line, then turns `code` and **bold** spans into tags.
fn inline(s: &str) -> String {
    let mut out = String::new();
    // Code spans first: their content is not parsed further. Only paired backticks count.
    let pairs = s.matches('`').count() / 2 * 2;
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 && i <= pairs {
            out.push_str("<code>");
            out.push_str(&escape(part));
            out.push_str("</code>");
        } else {
            if i > pairs {
                out.push('`');
            }
            out.push_str(&bold(&escape(part)));
        }
    }
    out
}

fn bold(escaped: &str) -> String {
    let parts: Vec<&str> = escaped.split("**").collect();
    if parts.len() < 3 {
        return escaped.to_string();
    }
    let mut out = String::new();
    let pairs = (parts.len() - 1) / 2 * 2;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            if i <= pairs {
                out.push_str(if i % 2 == 1 { "<strong>" } else { "</strong>" });
            } else {
                out.push_str("**");
            }
        }
        out.push_str(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escapes_and_formats() {
        let html = markdown_to_html("# Title <b>\n\nSome **bold** and `x<y`.\n\n- a\n- <i>b</i>");
        assert!(html.contains("<h1>Title &lt;b&gt;</h1>"), "{html}");
        assert!(html.contains("<strong>bold</strong>"));
        assert!(html.contains("<code>x&lt;y</code>"));
        assert!(html.contains("<li>&lt;i&gt;b&lt;/i&gt;</li>"));
        assert!(!html.contains("<b>") && !html.contains("<i>"));
    }

    #[test]
    fn unbalanced_markers_stay_literal() {
        assert_eq!(inline("a `b"), "a `b");
        assert_eq!(inline("a ** b"), "a ** b");
        assert_eq!(inline("**a** **b"), "<strong>a</strong> **b");
    }
}
