//! `schedule:` and `optimizer:` mappings: the keys of each kind are those of its schema struct.

use super::*;

impl Parser<'_> {
    /// Reports the unknown keys of a mapping with a `kind:` (an enum `T`); a key of another
    /// kind is explained by `misplaced(key, other kind, valid keys)`.
    fn check_kind_keys<T: serde::de::DeserializeOwned>(
        &mut self,
        keys: &Keys,
        path: &[Seg],
        kind_keys: fn(T) -> &'static [&'static str],
        misplaced: &dyn Fn(&str, &str, &str) -> String,
    ) {
        let valid = keys.valid().join(", ");
        keys.check(self.diag, path, &|k| {
            kind_with_key(k, kind_keys).map(|other| misplaced(k, other, &valid))
        });
    }

    pub(super) fn schedule(&mut self, v: &Value, path: &[Seg]) -> Option<Schedule> {
        let mut keys = Keys::new(self.mapping(v, path, "{kind: cosine, lr: 0.01}")?);
        let s: RawSchedule = keys.read();
        let kind_hint = format!("`kind:` (one of {})", names::<ScheduleTag>().join(", "));
        let kv = self.required(&s.kind, path, "kind", &kind_hint)?;
        let kp = key(path, "kind");
        let tag: ScheduleTag = self.tag(
            kv,
            &kp,
            "a schedule kind",
            ("unknown schedule kind", "Kinds"),
        )?;
        let sk = self.schedule_kind(tag, &mut keys, path);
        let kind = kv.as_str().unwrap_or_default();
        self.check_kind_keys(&keys, path, ScheduleTag::keys, &|k, other, valid| {
            format!(
                "`{k}` does not apply to a `{kind}` schedule (it belongs to `{other}`); \
                 remove it or use kind: {other}. Valid keys for {kind}: {valid}"
            )
        });
        let lr = self
            .required(
                &s.lr,
                path,
                "lr",
                "`lr:` (the peak learning rate, e.g. 0.01)",
            )
            .and_then(|lv| self.float_in(lv, &key(path, "lr"), |x| x > 0.0, "> 0"));
        let layer_decay = self.float_in(
            &s.layer_decay,
            &key(path, "layer_decay"),
            |x| x >= 1.0,
            ">= 1 (1 = same rate for every block)",
        );
        let gradual_unfreeze = self.boolean(&s.gradual_unfreeze, &key(path, "gradual_unfreeze"));
        let probe_epochs = self.usize(
            &s.probe_epochs,
            &key(path, "probe_epochs"),
            0,
            "epochs of linear probing before fine-tuning (LP-FT)",
        );
        Some(Schedule {
            kind: sk?,
            lr: lr?,
            layer_decay: layer_decay?,
            gradual_unfreeze: gradual_unfreeze?,
            probe_epochs: probe_epochs?,
        })
    }

    /// The keys of a schedule's kind, read from `keys` and checked.
    fn schedule_kind(
        &mut self,
        tag: ScheduleTag,
        keys: &mut Keys,
        path: &[Seg],
    ) -> Option<ScheduleKind> {
        let at = |k: &str| key(path, k);
        match tag {
            ScheduleTag::Constant => {
                keys.read::<RawConstant>();
                Some(ScheduleKind::Constant)
            }
            ScheduleTag::Cosine => {
                let r: RawCosine = keys.read();
                self.float_in(&r.warmup_epochs, &at("warmup_epochs"), |x| x >= 0.0, ">= 0")
                    .map(|warmup_epochs| ScheduleKind::Cosine { warmup_epochs })
            }
            ScheduleTag::Step => {
                let r: RawStep = keys.read();
                let step_epochs = self
                    .required(
                        &r.step_epochs,
                        path,
                        "step_epochs",
                        "`step_epochs:` (decay every N epochs, >= 1)",
                    )
                    .and_then(|sv| self.usize(sv, &at("step_epochs"), 1, "epochs between decays"));
                let gamma =
                    self.float_in(&r.gamma, &at("gamma"), |x| x > 0.0 && x <= 1.0, "in (0, 1]");
                Some(ScheduleKind::Step {
                    step_epochs: step_epochs?,
                    gamma: gamma?,
                })
            }
            ScheduleTag::Stlr => {
                let r: RawStlr = keys.read();
                let cut_frac = self.float_in(
                    &r.cut_frac,
                    &at("cut_frac"),
                    |x| x > 0.0 && x < 1.0,
                    "in (0, 1)",
                );
                let ratio = self.float_in(&r.ratio, &at("ratio"), |x| x >= 1.0, ">= 1");
                Some(ScheduleKind::Stlr {
                    cut_frac: cut_frac?,
                    ratio: ratio?,
                })
            }
        }
    }

    pub(super) fn optimizer(&mut self, v: &Value, path: &[Seg]) -> Option<Optimizer> {
        let empty = Mapping::new();
        let m = match v {
            Value::String(_) => &empty,
            Value::Mapping(m) => m,
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
        let mut keys = Keys::new(m);
        let k: RawKind = keys.read();
        let (kv, kp) = if v.is_string() {
            (v, path.to_vec())
        } else {
            let hint = "`kind: sgd` or `kind: adamw`";
            (
                self.required(&k.kind, path, "kind", hint)?,
                key(path, "kind"),
            )
        };
        let tag: OptimizerTag = self.tag(
            kv,
            &kp,
            "an optimizer kind",
            ("unknown optimizer", "Optimizers"),
        )?;
        let optimizer = self.optimizer_kind(tag, &mut keys, path);
        let kind = kv.as_str().unwrap_or_default();
        self.check_kind_keys(&keys, path, OptimizerTag::keys, &|k, other, valid| {
            format!(
                "`{k}` does not apply to {kind} (it is an {other} setting); \
                 valid keys for {kind}: {valid}"
            )
        });
        optimizer
    }

    /// The settings of an optimizer's kind, read from `keys` and checked.
    fn optimizer_kind(
        &mut self,
        tag: OptimizerTag,
        keys: &mut Keys,
        path: &[Seg],
    ) -> Option<Optimizer> {
        let at = |k: &str| key(path, k);
        let fraction = |p: &mut Self, v: &Value, k: &str| {
            p.float_in(v, &at(k), |x| (0.0..1.0).contains(&x), "in [0, 1)")
        };
        let decay =
            |p: &mut Self, v: &Value| p.float_in(v, &at("weight_decay"), |x| x >= 0.0, ">= 0");
        match tag {
            OptimizerTag::Sgd => {
                let r: RawSgd = keys.read();
                let momentum = fraction(self, &r.momentum, "momentum");
                let nesterov = self.boolean(&r.nesterov, &at("nesterov"));
                let weight_decay = decay(self, &r.weight_decay);
                let (momentum, nesterov, weight_decay) = (momentum?, nesterov?, weight_decay?);
                if nesterov && momentum <= 0.0 {
                    self.diag.err(
                        &at("nesterov"),
                        "Nesterov momentum needs momentum > 0; set momentum (e.g. 0.9) or nesterov: false",
                    );
                    return None;
                }
                Some(Optimizer::Sgd {
                    momentum,
                    nesterov,
                    weight_decay,
                })
            }
            OptimizerTag::Adamw => {
                let r: RawAdamw = keys.read();
                let beta1 = fraction(self, &r.beta1, "beta1");
                let beta2 = fraction(self, &r.beta2, "beta2");
                let weight_decay = decay(self, &r.weight_decay);
                Some(Optimizer::Adamw {
                    beta1: beta1?,
                    beta2: beta2?,
                    weight_decay: weight_decay?,
                })
            }
        }
    }
}
