//! How far each block's features move during fine-tuning.

use crate::metrics::names::{CKA, WEIGHT_DIST};
use crate::metrics::statements::{trend, Direction, Statement};
use crate::report::charts::{LineChart, Point, Series, XAxis};
use crate::report::context::{block_order, distinct, freeze_label, freeze_order, model_order, Ctx};
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::{family_like, num, parse_freeze, query, sql_str, text};
use crate::report::stats::{ci, ci_table, findings_output, listing, means};
use crate::spec::Freeze;
use anyhow::Result;

/// Sort key of a block name from the input side: the input block (`stem` of the ResNets and
/// the inverted-residual nets, `embeddings` of the text backbones) first, then numbered blocks
/// (`block1`…, `stage1`…, `layer1`…) by number.
pub(crate) fn input_order(name: &str) -> (u8, (u8, i64, String)) {
    if name == "stem" || name == "embeddings" {
        (0, (0, 0, String::new()))
    } else {
        (1, block_order(name))
    }
}

/// A drift row: (freeze value, block, cka, weight distance).
pub(crate) type DriftRow = (Freeze, String, f64, Option<f64>);

/// Findings of the drift section: the exact check that frozen blocks are unchanged, and trends
/// of CKA over depth and over the frozen depth.
pub(crate) fn drift_findings(rows: &[DriftRow]) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut blocks = distinct(rows.iter().map(|r| r.1.clone()));
    blocks.sort_by_key(|b| input_order(b));
    let n_blocks = blocks.len();
    // Frozen blocks are exactly unchanged.
    let frozen: Vec<&DriftRow> = rows
        .iter()
        .filter(|r| {
            let k = r.0.frozen_blocks(n_blocks);
            blocks.iter().position(|b| *b == r.1).is_some_and(|i| i < k)
        })
        .collect();
    if !frozen.is_empty() {
        let max_cka_dev = frozen
            .iter()
            .map(|r| (1.0 - r.2).abs())
            .fold(0f64, f64::max);
        let max_dist = frozen
            .iter()
            .filter_map(|r| r.3)
            .fold(0f64, |a, b| a.max(b.abs()));
        out.push(
            Statement::exact(
                "Frozen blocks are left unchanged (CKA 1, weight distance 0)",
                "largest |1 \u{2212} CKA|",
                max_cka_dev,
                frozen.len(),
                max_cka_dev < 1e-3 && max_dist < 1e-6,
            )
            .with_detail(format!(
                "largest |1 \u{2212} CKA| {max_cka_dev:.1e}, largest weight distance \
                 {max_dist:.1e}, over {} frozen blocks",
                frozen.len()
            )),
        );
    }
    let mut freezes = distinct(rows.iter().map(|r| r.0));
    freezes.sort_by_key(|f| freeze_order(*f));
    let cka_of = |f: Freeze, b: &str| -> Vec<f64> {
        rows.iter()
            .filter(|r| r.0 == f && r.1 == b)
            .map(|r| r.2)
            .collect()
    };
    // Later blocks drift more under the least-frozen setting.
    if let Some(&f) = freezes.first() {
        let k = f.frozen_blocks(n_blocks);
        let trainable: Vec<(String, Vec<f64>)> = blocks[k.min(n_blocks)..]
            .iter()
            .map(|b| (b.clone(), cka_of(f, b)))
            .collect();
        if trainable.len() > 1 {
            let claim = format!(
                "Fine-tuned blocks drift more the higher they sit (CKA falls with depth) with \
                 freeze {f}"
            );
            out.push(
                trend(&claim, &trainable, Direction::Down)
                    .with_detail(listing(&means(&trainable), false)),
            );
        }
    }
    // Freezing more keeps the top block closer to the pretrained one.
    if freezes.len() > 1 {
        if let Some(top) = blocks.last() {
            let by_freeze: Vec<(String, Vec<f64>)> = freezes
                .iter()
                .map(|&f| (freeze_label(f), cka_of(f, top)))
                .collect();
            let claim = format!(
                "Freezing more blocks keeps the representation closer to the pretrained one \
                 (CKA of the top block, {top}, rises with the frozen depth)"
            );
            out.push(
                trend(&claim, &by_freeze, Direction::Up)
                    .with_detail(listing(&means(&by_freeze), false)),
            );
        }
    }
    out
}

/// Representation drift: linear CKA of every block's output between the pretrained and the
/// fine-tuned network (1 = unchanged), by frozen depth, with the weight distance per block.
pub fn representation_drift(ctx: &Ctx) -> Result<Option<Cell>> {
    if !ctx.trials.iter().any(|t| t.pretrained) {
        return Ok(None);
    }
    // The block: what follows `cka/` (SUBSTR counts from 1).
    let block = format!("SUBSTR(c.name, {})", CKA.prefix.len() + 2);
    let sql = format!(
        "SELECT t.key, 'freeze ' || t.freeze AS series, {block} AS block, t.seed,
       c.value AS {cka}, w.value AS {dist}
FROM metrics c
JOIN trials t ON t.id = c.trial_id
JOIN sweeps s ON s.id = t.sweep_id
LEFT JOIN metrics w ON w.trial_id = c.trial_id AND w.epoch = c.epoch
                   AND w.name = {} || {block}
WHERE s.name = {} AND t.status = 'completed' AND t.pretrained = 1 AND t.superseded_in IS NULL
  AND c.name LIKE {} AND c.value IS NOT NULL
ORDER BY t.position, c.name;",
        sql_str(&WEIGHT_DIST.name("")),
        ctx.sweep_lit(),
        family_like(CKA),
        cka = CKA.prefix,
        dist = WEIGHT_DIST.prefix,
    );
    let raw = query(ctx.conn, &sql)?;
    if raw.is_empty() {
        return Ok(None);
    }
    let rows: Vec<DriftRow> = raw
        .iter()
        .filter_map(|r| {
            let series = text(&r[1]);
            Some((
                parse_freeze(series.strip_prefix("freeze ")?)?,
                text(&r[2]),
                num(&r[4])?,
                num(&r[5]),
            ))
        })
        .collect();
    let mut blocks = distinct(rows.iter().map(|r| r.1.clone()));
    blocks.sort_by_key(|b| input_order(b));
    let mut freezes = distinct(rows.iter().map(|r| r.0));
    freezes.sort_by_key(|f| freeze_order(*f));
    let series: Vec<Series> = freezes
        .iter()
        .map(|&f| {
            let label = freeze_label(f);
            Series {
                color: ctx.color(&label),
                label,
                dashed: false,
                points: blocks
                    .iter()
                    .enumerate()
                    .filter_map(|(i, b)| {
                        let v: Vec<f64> = rows
                            .iter()
                            .filter(|r| r.0 == f && &r.1 == b)
                            .map(|r| r.2)
                            .collect();
                        ci(&v).map(|c| Point {
                            x: i as f64,
                            y: c.0,
                            err: c.1,
                        })
                    })
                    .collect(),
            }
        })
        .collect();
    let chart = LineChart::with_error_bars(
        "Linear CKA to the pretrained network, per block",
        "block (input \u{2192} output)",
        "linear CKA (1 = unchanged)",
        XAxis::Categorical(blocks.clone()),
        series,
        (0.0, 1.02),
    );
    let mut table_rows: Vec<(Vec<String>, Vec<Option<f64>>)> = rows
        .iter()
        .map(|r| {
            (
                vec![format!("freeze {}", r.0), r.1.clone()],
                vec![Some(r.2), r.3],
            )
        })
        .collect();
    table_rows.sort_by(|a, b| {
        (model_order(&a.0[0]), input_order(&a.0[1]))
            .cmp(&(model_order(&b.0[0]), input_order(&b.0[1])))
    });
    let mut outputs = vec![Output::Chart {
        svg: chart.to_svg()?,
        caption: format!(
            "{} Linear CKA (Kornblith et al. 2019) of each block's output on a fixed probe \
             batch of target test examples (a text backbone's token states mean-pooled), \
             pretrained vs fine-tuned, at the final epoch. Pretrained trials only.",
            ctx.caption(&["freeze", "pretrained"], true)
        ),
        rows: raw.len(),
    }];
    outputs.extend(findings_output(Vec::new(), drift_findings(&rows)));
    outputs.push(Output::Text {
        text: "CKA and L2 distance of each block's weights from their pretrained values:"
            .to_string(),
    });
    outputs.push(Output::Table(ci_table(
        &["model", "block"],
        &[CKA.prefix, WEIGHT_DIST.prefix],
        &table_rows,
    )));
    Ok(Some(Cell {
        title: "Representation drift: CKA per block by frozen depth".to_string(),
        inputs: vec![Input::sql(sql)],
        outputs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_findings_detect_an_effect_and_its_absence() {
        // Drift: CKA rising with depth is not the expected effect.
        let drift: Vec<DriftRow> = (0..3)
            .map(|b| {
                (
                    Freeze::Blocks(0),
                    format!("block{b}"),
                    0.5 + 0.1 * b as f64,
                    Some(1.0),
                )
            })
            .collect();
        let f = crate::report::stats::lines(Vec::new(), &drift_findings(&drift)).join("\n");
        // One trial per block: three single values give no interval.
        assert!(
            f.contains(
                "CKA falls with depth) with freeze 0: inconclusive (Kendall \u{3c4} +1.000, no \
                 interval, n = 3; needs at least 5 levels or repeated seeds; block0 0.500, \
                 block1 0.600, block2 0.700)"
            ),
            "{f}"
        );
        // Two seeds per block, CKA rising: the claimed fall is contradicted.
        let drift: Vec<DriftRow> = (0..6)
            .map(|i| {
                let b = i / 2;
                let cka = 0.5 + 0.1 * b as f64 + 0.01 * (i % 2) as f64;
                (Freeze::Blocks(0), format!("block{b}"), cka, Some(1.0))
            })
            .collect();
        let f = crate::report::stats::lines(Vec::new(), &drift_findings(&drift)).join("\n");
        assert!(
            f.contains("CKA falls with depth) with freeze 0: contradicted (Kendall \u{3c4} +1.000"),
            "{f}"
        );
        assert!(!f.contains("Frozen blocks"), "{f}");
    }

    #[test]
    fn a_text_backbones_embeddings_are_its_input_block() {
        // minilm_l6 under freeze 6: embeddings and layer1..layer5 frozen, layer6 trained.
        let mut blocks = vec!["layer6", "embeddings", "layer2", "layer1"];
        blocks.sort_by_key(|b| input_order(b));
        assert_eq!(blocks, ["embeddings", "layer1", "layer2", "layer6"]);
        let names = [
            "embeddings",
            "layer1",
            "layer2",
            "layer3",
            "layer4",
            "layer5",
            "layer6",
        ];
        let rows: Vec<DriftRow> = names
            .iter()
            .map(|b| {
                let trained = *b == "layer6";
                let cka = if trained { 0.9 } else { 1.0 };
                (
                    Freeze::Blocks(6),
                    b.to_string(),
                    cka,
                    Some(f64::from(u8::from(trained))),
                )
            })
            .collect();
        let f = crate::report::stats::lines(Vec::new(), &drift_findings(&rows)).join("\n");
        assert!(
            f.contains("Frozen blocks are left unchanged (CKA 1, weight distance 0): supported"),
            "{f}"
        );
        assert!(f.contains("over 6 frozen blocks"), "{f}");
    }
}
