//! `schedule:` and `optimizer:` mappings, with the keys each kind accepts.

use super::*;

impl Parser<'_> {
    pub(super) fn schedule(&mut self, v: &Value, path: &[Seg]) -> Option<Schedule> {
        let m = self.mapping(v, path, "{kind: cosine, lr: 0.01}")?;
        let kind_v = self.required(
            m,
            path,
            "kind",
            &format!("`kind:` (one of {})", SCHEDULE_KINDS.join(", ")),
        );
        let kind = match kind_v {
            Some(kv) => {
                let s = self.string(kv, &key(path, "kind"), "a schedule kind")?;
                if !SCHEDULE_KINDS.contains(&s) {
                    self.diag.err(
                        &key(path, "kind"),
                        format!(
                            "unknown schedule kind `{s}`{}Kinds: {}",
                            did_you_mean(s, SCHEDULE_KINDS),
                            SCHEDULE_KINDS.join(", ")
                        ),
                    );
                    return None;
                }
                s
            }
            None => return None,
        };
        let mut valid: Vec<&str> = SCHEDULE_COMMON.to_vec();
        valid.extend_from_slice(schedule_kind_keys(kind));
        self.check_keys(m, path, &valid, &|k| {
            SCHEDULE_KINDS
                .iter()
                .find(|other| schedule_kind_keys(other).contains(&k))
                .map(|other| {
                    format!(
                        "`{k}` does not apply to a `{kind}` schedule (it belongs to `{other}`); \
                         remove it or use kind: {other}. Valid keys for {kind}: {}",
                        valid.join(", ")
                    )
                })
        });
        let lr = self
            .required(m, path, "lr", "`lr:` (the peak learning rate, e.g. 0.01)")
            .and_then(|lv| self.float_in(lv, &key(path, "lr"), |x| x > 0.0, "> 0"));
        let layer_decay = self.opt_float(
            m,
            path,
            "layer_decay",
            1.0,
            |x| x >= 1.0,
            ">= 1 (1 = same rate for every block)",
        );
        let gradual_unfreeze = match m.get("gradual_unfreeze") {
            None => Some(false),
            Some(b) => self.boolean(b, &key(path, "gradual_unfreeze")),
        };
        let probe_epochs = match m.get("probe_epochs") {
            None => Some(0),
            Some(v) => self.usize(
                v,
                &key(path, "probe_epochs"),
                0,
                "epochs of linear probing before fine-tuning (LP-FT)",
            ),
        };
        let sk = match kind {
            "constant" => Some(ScheduleKind::Constant),
            "cosine" => self
                .opt_float(m, path, "warmup_epochs", 0.0, |x| x >= 0.0, ">= 0")
                .map(|warmup_epochs| ScheduleKind::Cosine { warmup_epochs }),
            "step" => {
                let step_epochs = self
                    .required(
                        m,
                        path,
                        "step_epochs",
                        "`step_epochs:` (decay every N epochs, >= 1)",
                    )
                    .and_then(|sv| {
                        self.usize(sv, &key(path, "step_epochs"), 1, "epochs between decays")
                    });
                let gamma =
                    self.opt_float(m, path, "gamma", 0.1, |x| x > 0.0 && x <= 1.0, "in (0, 1]");
                match (step_epochs, gamma) {
                    (Some(step_epochs), Some(gamma)) => {
                        Some(ScheduleKind::Step { step_epochs, gamma })
                    }
                    _ => None,
                }
            }
            _ => {
                let cut_frac = self.opt_float(
                    m,
                    path,
                    "cut_frac",
                    0.1,
                    |x| x > 0.0 && x < 1.0,
                    "in (0, 1)",
                );
                let ratio = self.opt_float(m, path, "ratio", 32.0, |x| x >= 1.0, ">= 1");
                match (cut_frac, ratio) {
                    (Some(cut_frac), Some(ratio)) => Some(ScheduleKind::Stlr { cut_frac, ratio }),
                    _ => None,
                }
            }
        };
        Some(Schedule {
            kind: sk?,
            lr: lr?,
            layer_decay: layer_decay?,
            gradual_unfreeze: gradual_unfreeze?,
            probe_epochs: probe_epochs?,
        })
    }

    pub(super) fn optimizer(&mut self, v: &Value, path: &[Seg]) -> Option<Optimizer> {
        let (kind, m): (&str, Option<&Mapping>) = match v {
            Value::String(s) => (s.as_str(), None),
            Value::Mapping(m) => {
                let kv = self.required(m, path, "kind", "`kind: sgd` or `kind: adamw`")?;
                (
                    self.string(kv, &key(path, "kind"), "an optimizer kind")?,
                    Some(m),
                )
            }
            other => {
                self.diag.err(
                    path,
                    format!(
                        "expected an optimizer such as {{kind: sgd, momentum: 0.9}} or \
                         {{kind: adamw}}, got {}",
                        describe(other)
                    ),
                );
                return None;
            }
        };
        if !OPTIMIZER_KINDS.contains(&kind) {
            let p = if m.is_some() {
                key(path, "kind")
            } else {
                path.to_vec()
            };
            self.diag.err(
                &p,
                format!(
                    "unknown optimizer `{kind}`{}Optimizers: sgd, adamw",
                    did_you_mean(kind, OPTIMIZER_KINDS)
                ),
            );
            return None;
        }
        let empty = Mapping::new();
        let m = m.unwrap_or(&empty);
        let valid = optimizer_kind_keys(kind);
        self.check_keys(m, path, valid, &|k| {
            OPTIMIZER_KINDS
                .iter()
                .find(|other| optimizer_kind_keys(other).contains(&k))
                .map(|other| {
                    format!(
                        "`{k}` does not apply to {kind} (it is an {other} setting); \
                         valid keys for {kind}: {}",
                        valid.join(", ")
                    )
                })
        });
        if kind == "sgd" {
            let momentum = self.opt_float(
                m,
                path,
                "momentum",
                0.9,
                |x| (0.0..1.0).contains(&x),
                "in [0, 1)",
            );
            let nesterov = match m.get("nesterov") {
                None => Some(false),
                Some(b) => self.boolean(b, &key(path, "nesterov")),
            };
            let weight_decay = self.opt_float(m, path, "weight_decay", 0.0, |x| x >= 0.0, ">= 0");
            let (momentum, nesterov, weight_decay) = (momentum?, nesterov?, weight_decay?);
            if nesterov && momentum <= 0.0 {
                self.diag.err(
                    &key(path, "nesterov"),
                    "Nesterov momentum needs momentum > 0; set momentum (e.g. 0.9) or nesterov: false",
                );
                return None;
            }
            Some(Optimizer::Sgd {
                momentum,
                nesterov,
                weight_decay,
            })
        } else {
            let beta1 = self.opt_float(
                m,
                path,
                "beta1",
                0.9,
                |x| (0.0..1.0).contains(&x),
                "in [0, 1)",
            );
            let beta2 = self.opt_float(
                m,
                path,
                "beta2",
                0.999,
                |x| (0.0..1.0).contains(&x),
                "in [0, 1)",
            );
            let weight_decay = self.opt_float(m, path, "weight_decay", 0.01, |x| x >= 0.0, ">= 0");
            Some(Optimizer::Adamw {
                beta1: beta1?,
                beta2: beta2?,
                weight_decay: weight_decay?,
            })
        }
    }
}
