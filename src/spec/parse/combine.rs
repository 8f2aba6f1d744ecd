//! `zip:` groups and `exclude:` rules.

use super::*;

impl Parser<'_> {
    pub(super) fn axis_names(&mut self, v: &Value, path: &[Seg]) -> Option<AxisId> {
        let s = self.string(v, path, "an axis name")?;
        match AxisId::from_name(s) {
            Some(a) => Some(a),
            None => {
                let names = AxisId::names();
                self.diag.err(
                    path,
                    format!(
                        "unknown axis `{s}`{}Axes: {}",
                        did_you_mean(s, &names),
                        names.join(", ")
                    ),
                );
                None
            }
        }
    }

    pub(super) fn zips(&mut self, v: &Value, path: &[Seg]) -> Option<Vec<ZipGroup>> {
        let Value::Sequence(groups) = v else {
            self.diag.err(
                path,
                format!(
                    "expected a list of axis groups such as [[freeze, schedule]], got {}",
                    describe(v)
                ),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut seen: Vec<(AxisId, usize)> = Vec::new();
        let mut ok = true;
        for (gi, g) in groups.iter().enumerate() {
            let gp = idx(path, gi);
            let Value::Sequence(names) = g else {
                self.diag.err(
                    &gp,
                    format!(
                        "expected a list of axis names such as [freeze, schedule], got {}",
                        describe(g)
                    ),
                );
                ok = false;
                continue;
            };
            if names.len() < 2 {
                self.diag.err(
                    &gp,
                    "a zip group pairs at least two axes, e.g. [freeze, schedule]",
                );
                ok = false;
                continue;
            }
            let mut axes = Vec::new();
            for (ni, n) in names.iter().enumerate() {
                let np = idx(&gp, ni);
                let Some(a) = self.axis_names(n, &np) else {
                    ok = false;
                    continue;
                };
                if let Some((_, other)) = seen.iter().find(|(s, _)| *s == a) {
                    let msg = if *other == gi {
                        format!("axis `{}` appears twice in this group", a.name())
                    } else {
                        format!(
                            "axis `{}` is already zipped in zip[{other}]; an axis can be in one zip group only — merge the groups",
                            a.name()
                        )
                    };
                    self.diag.err(&np, msg);
                    ok = false;
                    continue;
                }
                seen.push((a, gi));
                axes.push(a);
            }
            out.push(ZipGroup { axes, path: gp });
        }
        ok.then_some(out)
    }

    pub(super) fn match_in<T: PartialEq>(
        &mut self,
        axis: &[Av<T>],
        v: &Value,
        path: &[Seg],
        name: &str,
        parse: fn(&mut Self, &Value, &[Seg]) -> Option<T>,
        show: fn(&T) -> String,
    ) -> Option<Vec<usize>> {
        let cands = self.axis(v, path, parse)?;
        let mut out = Vec::new();
        let mut ok = true;
        for c in cands {
            let hits: Vec<usize> = axis
                .iter()
                .enumerate()
                .filter(|(_, a)| a.value == c.value)
                .map(|(i, _)| i)
                .collect();
            if hits.is_empty() {
                let vals: Vec<String> = axis.iter().map(|a| show(&a.value)).collect();
                self.diag.err(
                    &c.path,
                    format!(
                        "`{}` is not a value of the `{name}` axis, so this rule excludes nothing; values: {}",
                        show(&c.value),
                        vals.join(", ")
                    ),
                );
                ok = false;
            }
            out.extend(hits);
        }
        ok.then_some(out)
    }

    pub(super) fn excludes(
        &mut self,
        v: &Value,
        path: &[Seg],
        axes: &Axes,
    ) -> Option<Vec<Exclude>> {
        let Value::Sequence(rules) = v else {
            self.diag.err(
                path,
                format!(
                    "expected a list of rules such as [{{freeze: all, train_per_class: 10}}], got {}",
                    describe(v)
                ),
            );
            return None;
        };
        let names = AxisId::names();
        let mut out = Vec::new();
        let mut ok = true;
        for (ri, r) in rules.iter().enumerate() {
            let rp = idx(path, ri);
            let Some(m) = self.mapping(r, &rp, "{freeze: all, train_per_class: 10}") else {
                ok = false;
                continue;
            };
            if m.is_empty() {
                self.diag.err(
                    &rp,
                    "an empty rule would exclude everything; name at least one axis value",
                );
                ok = false;
                continue;
            }
            let mut conds = Vec::new();
            for (k, val) in m {
                let Some(text) = key_text(k) else {
                    self.diag.err(&rp, "keys must be axis names");
                    ok = false;
                    continue;
                };
                let kp = key(&rp, &text);
                let Some(a) = AxisId::from_name(&text) else {
                    self.diag.key_err(
                        &kp,
                        format!(
                            "unknown axis{}Axes: {}",
                            did_you_mean(&text, &names),
                            names.join(", ")
                        ),
                    );
                    ok = false;
                    continue;
                };
                let n = a.name();
                let hits = match a {
                    AxisId::Backbone => {
                        self.match_in(&axes.backbone, val, &kp, n, Self::backbone, |x| {
                            x.to_string()
                        })
                    }
                    AxisId::Freeze => {
                        self.match_in(&axes.freeze, val, &kp, n, Self::freeze, |x| x.to_string())
                    }
                    AxisId::TrainPerClass => self.match_in(
                        &axes.train_per_class,
                        val,
                        &kp,
                        n,
                        Self::train_per_class,
                        |x| x.to_string(),
                    ),
                    AxisId::Shift => {
                        self.match_in(&axes.shift, val, &kp, n, Self::shift, |x| x.to_string())
                    }
                    AxisId::Schedule => {
                        self.match_in(&axes.schedule, val, &kp, n, Self::schedule, |x| x.label())
                    }
                    AxisId::Optimizer => {
                        self.match_in(&axes.optimizer, val, &kp, n, Self::optimizer, |x| x.label())
                    }
                    AxisId::Epochs => {
                        self.match_in(&axes.epochs, val, &kp, n, Self::epochs, |x| x.to_string())
                    }
                    AxisId::BatchSize => {
                        self.match_in(&axes.batch_size, val, &kp, n, Self::batch_size, |x| {
                            x.to_string()
                        })
                    }
                    AxisId::Precision => {
                        self.match_in(&axes.precision, val, &kp, n, Self::precision, |x| {
                            x.to_string()
                        })
                    }
                    AxisId::MaxLength => {
                        self.match_in(&axes.max_length, val, &kp, n, Self::max_length, |x| {
                            x.map_or("none".into(), |n| n.to_string())
                        })
                    }
                    AxisId::Seed => {
                        self.match_in(&axes.seed, val, &kp, n, Self::seed, |x| x.to_string())
                    }
                };
                match hits {
                    Some(h) => conds.push((a, h)),
                    None => ok = false,
                }
            }
            out.push(Exclude { conds });
        }
        ok.then_some(out)
    }
}
