//! Wording shared by the grid checks: did-you-mean suggestions and short descriptions of YAML
//! values (a leaf module, so `parse` and `report` both use it without depending on each other).

use serde_norway::Value;

/// The closest valid name, when one is close enough to be a likely typo.
pub(crate) fn closest<'a>(word: &str, valid: &[&'a str]) -> Option<&'a str> {
    valid
        .iter()
        .map(|v| {
            (
                *v,
                strsim::damerau_levenshtein(word, v),
                strsim::jaro_winkler(word, v),
            )
        })
        .filter(|(_, d, jw)| *d <= 2.max(word.len() / 3) || *jw >= 0.85)
        .min_by(|a, b| a.1.cmp(&b.1).then(b.2.total_cmp(&a.2)))
        .map(|(v, _, _)| v)
}

/// "; did you mean `x`? " when a valid name is close, else ". "; the caller's text follows.
pub(crate) fn did_you_mean(word: &str, valid: &[&str]) -> String {
    match closest(word, valid) {
        Some(s) => format!("; did you mean `{s}`? "),
        None => ". ".to_string(),
    }
}

/// Short description of a YAML value for type errors.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing (null)".into(),
        Value::Bool(b) => format!("the boolean `{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) => format!("the string `{s}`"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged `{}`", t.tag),
    }
}

/// Text of a mapping key, as the locator matches it.
pub(crate) fn key_text(k: &Value) -> Option<String> {
    match k {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some("null".into()),
        _ => None,
    }
}
