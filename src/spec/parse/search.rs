//! `search:`: method, number of samples, seed, and each parameter's distribution, checked
//! against the values the parameter takes ([`super::super::search::PARAMS`]).

use super::super::search::{
    param, param_names, Distribution, Level, ParamDef, SearchMethod, SearchSpace, ValueKind, PARAMS,
};
use super::*;
use serde::Deserialize;
use serde_norway::value::{Tag, TaggedValue};

const DISTRIBUTIONS: &str =
    "{log_uniform: [1.0e-4, 0.1]}, {uniform: [1.0, 3.0]}, {int: [0, 4]} or {choice: [10, 50]}";

impl Parser<'_> {
    /// The `search:` section at `path`.
    pub(crate) fn search(&mut self, v: &Value, path: &[Seg]) -> Option<SearchSpace> {
        let example = "{method: random, trials: 24, space: {lr: {log_uniform: [1.0e-4, 0.1]}}}";
        let r: RawSearch = self.section(v, path, example, &|k| {
            param(k).is_some().then(|| {
                format!(
                    "`{k}` is a parameter: put it under `space:` with its distribution, e.g. \
                     space: {{{k}: {{choice: [...]}}}}"
                )
            })
        })?;
        let method: Option<SearchMethod> = self.tag(
            &r.method,
            &key(path, "method"),
            "a search method",
            ("unknown search method", "Methods"),
        );
        let trials_path = key(path, "trials");
        let hint = "`trials: 24` (the number of sampled configurations)";
        let trials = self
            .required(&r.trials, path, "trials", hint)
            .and_then(|v| self.usize(v, &trials_path, 1, "sampled configurations"));
        let max = super::super::search::SOBOL_MAX_TRIALS;
        if let (Some(SearchMethod::Sobol), Some(n)) = (method, trials) {
            if n > max {
                self.diag.err(
                    &trials_path,
                    format!(
                        "the Sobol sequence has {max} points, got {n} trials; use at most {max} \
                         (or method: random)"
                    ),
                );
            }
        }
        let seed = self.seed(&r.seed, &key(path, "seed"));
        let hint = "`space:` with each sampled parameter's distribution, e.g. \
                    space: {lr: {log_uniform: [1.0e-4, 0.1]}}";
        let space = self
            .required(&r.space, path, "space", hint)
            .and_then(|v| self.space(v, &key(path, "space")));
        let trials = trials.filter(|n| method != Some(SearchMethod::Sobol) || *n <= max);
        Some(SearchSpace {
            method: method?,
            trials: trials?,
            seed: seed?,
            params: space?,
        })
    }

    /// `search.space`: parameter names to distributions, in registry order.
    fn space(&mut self, v: &Value, path: &[Seg]) -> Option<Vec<(&'static ParamDef, Distribution)>> {
        let m = self.mapping(v, path, "{lr: {log_uniform: [1.0e-4, 0.1]}}")?;
        let mut keys = Keys::new(m);
        keys.accept(param_names());
        keys.check(self.diag, path, &|k| {
            matches!(k, "seed" | "seeds").then(|| {
                "seeds are not sampled: every sample runs with each seed of the top-level \
                 `seeds:` axis; remove it here"
                    .to_string()
            })
        });
        if m.is_empty() {
            self.diag.err(
                path,
                "an empty space samples nothing; name at least one parameter, e.g. \
                 lr: {log_uniform: [1.0e-4, 0.1]}",
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for p in &PARAMS {
            let Some(dv) = m.get(p.name) else { continue };
            match self.distribution(p, dv, &key(path, p.name)) {
                Some(d) => out.push((p, d)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// One parameter's distribution: a mapping with exactly one kind.
    fn distribution(&mut self, p: &ParamDef, v: &Value, path: &[Seg]) -> Option<Distribution> {
        let Value::Mapping(m) = v else {
            self.diag.err(
                path,
                format!(
                    "expected a distribution such as {DISTRIBUTIONS}, got {}",
                    describe(v)
                ),
            );
            return None;
        };
        let kinds = names::<RawDistribution>();
        let mut keys = Keys::new(m);
        keys.accept(kinds);
        keys.check(self.diag, path, &|_| None);
        let present: Vec<&str> = kinds.iter().copied().filter(|k| keys.has(k)).collect();
        let [k] = present[..] else {
            if m.len() == present.len() {
                let got = match present.is_empty() {
                    true => "none".to_string(),
                    false => present.join(" and "),
                };
                self.diag.err(
                    path,
                    format!(
                        "a distribution has exactly one kind, got {got}; write one of \
                         {DISTRIBUTIONS}"
                    ),
                );
            }
            return None;
        };
        let dp = key(path, k);
        let tagged = TaggedValue {
            tag: Tag::new(k),
            value: m.get(k)?.clone(),
        };
        let raw = RawDistribution::deserialize(Value::Tagged(Box::new(tagged))).ok()?;
        match raw {
            RawDistribution::LogUniform(b) => {
                let (low, high) = self.real_bounds(p, &b, &dp, "log_uniform")?;
                if low <= 0.0 {
                    self.diag.err(
                        &idx(&dp, 0),
                        format!(
                            "log_uniform needs bounds above 0, got {low}; raise the low bound \
                             or use uniform"
                        ),
                    );
                    return None;
                }
                Some(Distribution::LogUniform { low, high })
            }
            RawDistribution::Uniform(b) => {
                let (low, high) = self.real_bounds(p, &b, &dp, "uniform")?;
                Some(Distribution::Uniform { low, high })
            }
            RawDistribution::Int(b) => self.int_bounds(p, &b, &dp),
            RawDistribution::Choice(items) => self.choice(p, &items, &dp),
        }
    }

    /// `[low, high]` of a distribution over an interval, each bound a valid value of `p`.
    fn bounds<T: PartialOrd + std::fmt::Display>(
        &mut self,
        v: &Value,
        path: &[Seg],
        kind: &str,
        mut bound: impl FnMut(&mut Self, &Value, &[Seg]) -> Option<T>,
    ) -> Option<(T, T)> {
        let items = match v {
            Value::Sequence(items) if items.len() == 2 => items,
            other => {
                self.diag.err(
                    path,
                    format!(
                        "expected two bounds [low, high], e.g. {kind}: [1, 4], got {}",
                        match other {
                            Value::Sequence(s) => format!("{} values", s.len()),
                            other => describe(other),
                        }
                    ),
                );
                return None;
            }
        };
        let low = bound(self, &items[0], &idx(path, 0));
        let high = bound(self, &items[1], &idx(path, 1));
        let (low, high) = (low?, high?);
        if low >= high {
            self.diag.err(
                path,
                format!(
                    "the low bound must be below the high one, got [{low}, {high}]; write \
                     [low, high] (for one value, set it in the grid instead of sampling it)"
                ),
            );
            return None;
        }
        Some((low, high))
    }

    /// The bounds of `uniform` or `log_uniform`, which only real-valued parameters take.
    fn real_bounds(
        &mut self,
        p: &ParamDef,
        v: &Value,
        path: &[Seg],
        kind: &str,
    ) -> Option<(f64, f64)> {
        let ValueKind::Real { ok, range } = p.kind else {
            self.diag.err(
                path,
                format!(
                    "`{}` takes whole numbers; sample it with int: [low, high] or choice: [...]",
                    p.name
                ),
            );
            return None;
        };
        self.bounds(v, path, kind, |s, b, bp| s.float_in(b, bp, ok, range))
    }

    /// `int: [low, high]`, both whole numbers the parameter accepts.
    fn int_bounds(&mut self, p: &ParamDef, v: &Value, path: &[Seg]) -> Option<Distribution> {
        let (low, high) = self.bounds(v, path, "int", |s, b, bp| {
            let level = s.level(p, b, bp, true)?;
            match level {
                Level::Whole(n) => Some(n),
                _ => None,
            }
        })?;
        Some(Distribution::Int { low, high })
    }

    /// `choice: [...]`: a non-empty list of distinct values the parameter accepts.
    fn choice(&mut self, p: &ParamDef, v: &Value, path: &[Seg]) -> Option<Distribution> {
        let Value::Sequence(items) = v else {
            self.diag.err(
                path,
                format!("expected a list of values, got {}", describe(v)),
            );
            return None;
        };
        if items.is_empty() {
            self.diag.err(
                path,
                "an empty choice samples nothing; list at least one value",
            );
            return None;
        }
        let mut out: Vec<Level> = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let ip = idx(path, i);
            match self.level(p, item, &ip, false) {
                Some(l) if out.contains(&l) => {
                    self.diag.err(
                        &ip,
                        format!("`{l}` is listed twice, which would sample it twice as often; remove one"),
                    );
                    ok = false;
                }
                Some(l) => out.push(l),
                None => ok = false,
            }
        }
        ok.then_some(Distribution::Choice(out))
    }

    /// One value of `p` (for `int`, `whole` asks for a whole number even where `p` is real).
    fn level(&mut self, p: &ParamDef, v: &Value, path: &[Seg], whole: bool) -> Option<Level> {
        match p.kind {
            ValueKind::Real { ok, range } if whole => {
                let n = self.uint(v, path, 0, "a whole number for int")?;
                if !ok(n as f64) {
                    self.diag
                        .err(path, format!("must be {range}, got {n}; change the value"));
                    return None;
                }
                Some(Level::Whole(n))
            }
            ValueKind::Real { ok, range } => self.float_in(v, path, ok, range).map(Level::Real),
            ValueKind::Whole { min, what } => self.uint(v, path, min, what).map(Level::Whole),
            ValueKind::Freeze if whole => self
                .uint(v, path, 0, "number of blocks frozen from the input side")
                .map(Level::Whole),
            ValueKind::Freeze => self.freeze(v, path).map(|f| match f {
                Freeze::Blocks(k) => Level::Whole(k as u64),
                Freeze::All => Level::All,
            }),
        }
    }
}
