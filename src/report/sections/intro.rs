//! Title, description, status counts and generation time.

use crate::report::context::Ctx;
use crate::report::html::markdown_to_html;
use crate::report::page::{Cell, Input, Output};
use anyhow::Result;

/// [1] Title, description, status counts, generation time.
pub fn intro(ctx: &Ctx) -> Result<Option<Cell>> {
    let mut md = format!("# {}\n\n", ctx.sweep.name);
    if !ctx.sweep.description.trim().is_empty() {
        md.push_str(ctx.sweep.description.trim());
        md.push_str("\n\n");
    }
    md.push_str(&format!("**Status:** {}\n\n", ctx.status_line()));
    md.push_str(&format!(
        "Generated {} from the results database. Charts use completed trials only; \
         every chart shows the SQL it was drawn from, runnable with `thaw query`.",
        ctx.generated_at
    ));
    Ok(Some(Cell {
        title: "Sweep".to_string(),
        outputs: vec![Output::Html {
            html: markdown_to_html(&md),
        }],
        inputs: vec![Input {
            lang: "markdown",
            text: md,
        }],
    }))
}
