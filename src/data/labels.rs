//! Labels and splits written as text, shared by the datasets that read them from columns (CSV
//! lists of image files, text datasets).

use super::images::SPLIT_DIRS;
use super::split::SplitName;
use std::collections::BTreeSet;

/// The split a split-column value names: `train`, `val` (or `valid`, `validation`) or `test`,
/// in any case; `None` for anything else.
pub(crate) fn parse_split(s: &str) -> Option<SplitName> {
    SPLIT_DIRS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|p| p.1)
}

/// Label ids and class names for the label texts of a dataset's examples. When every text is a
/// non-negative integer, the texts are the ids (names `"0"`, `"1"`, ... up to the largest);
/// otherwise the distinct texts, sorted (byte order), become ids `0..k`.
pub(crate) fn label_ids(texts: &[&str]) -> (Vec<String>, Vec<u32>) {
    let numeric: Option<Vec<u32>> = texts.iter().map(|t| t.parse::<u32>().ok()).collect();
    match numeric {
        Some(ids) => {
            let k = ids.iter().max().map_or(0, |m| m + 1);
            ((0..k).map(|i| i.to_string()).collect(), ids)
        }
        None => {
            let names: BTreeSet<&str> = texts.iter().copied().collect();
            let names: Vec<String> = names.into_iter().map(str::to_string).collect();
            let ids = texts
                .iter()
                .map(|t| names.binary_search_by(|n| n.as_str().cmp(t)).unwrap() as u32)
                .collect();
            (names, ids)
        }
    }
}
