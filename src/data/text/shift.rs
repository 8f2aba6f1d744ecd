//! Domain shifts of text, deterministic: `typos` (character noise seeded by the example's
//! index), `lowercase` and `truncate`.

use crate::spec::trial::Shift;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The QWERTY keys next to each of `a`..=`z` (same row and the rows above and below).
const NEIGHBOURS: [&str; 26] = [
    "qwsz", "vghn", "xdfv", "serfcx", "wrsd", "drtgvc", "ftyhbv", "gyujnb", "ujko", "huikmn",
    "jiolm", "kop", "njk", "bhjm", "iklp", "ol", "wa", "etdf", "awedxz", "ryfg", "yihj", "cfgb",
    "qeas", "zsdc", "tugh", "asx",
];

/// Applies `shift` to the text of example `index` (its index in the dataset, which seeds
/// `typos`, so train, validation and test texts get the same typos in every run). `none` and
/// the image shifts (rejected on text datasets when the grid is read) leave the text unchanged.
pub fn apply_text(shift: &Shift, text: &str, index: usize) -> String {
    match shift {
        Shift::Typos { rate } => typos(text, *rate, index),
        Shift::Lowercase => text.to_lowercase(),
        Shift::Truncate { words } => truncate(text, *words),
        _ => text.to_string(),
    }
}

/// Each ASCII letter, with probability `rate`, is deleted, doubled, swapped with the next
/// character (when that is a letter too; else replaced as below) or replaced by a keyboard
/// neighbour of the same case, each with probability 1/4. A swapped pair is not drawn again.
fn typos(text: &str, rate: f64, index: usize) -> String {
    if rate <= 0.0 {
        return text.to_string();
    }
    let mut seed = blake3::Hasher::new();
    seed.update(b"thaw-typos-v1\0");
    seed.update(&(index as u64).to_le_bytes());
    let mut rng = ChaCha8Rng::from_seed(*seed.finalize().as_bytes());
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if !c.is_ascii_alphabetic() || rng.gen::<f64>() >= rate {
            out.push(c);
            continue;
        }
        match rng.gen_range(0..4) {
            0 => {}
            1 => {
                out.push(c);
                out.push(c);
            }
            2 if chars.get(i).is_some_and(char::is_ascii_alphabetic) => {
                out.push(chars[i]);
                out.push(c);
                i += 1;
            }
            _ => {
                let keys = NEIGHBOURS[(c.to_ascii_lowercase() as u8 - b'a') as usize].as_bytes();
                let n = char::from(keys[rng.gen_range(0..keys.len())]);
                out.push(if c.is_ascii_uppercase() {
                    n.to_ascii_uppercase()
                } else {
                    n
                });
            }
        }
    }
    out
}

/// The text up to the end of its `words`-th word (a run of non-whitespace characters); the
/// whole text when it has no more words.
fn truncate(text: &str, words: usize) -> String {
    if words == 0 {
        return String::new();
    }
    let mut count = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if in_word && count == words {
                return text[..i].to_string();
            }
            in_word = false;
        } else if !in_word {
            in_word = true;
            count += 1;
        }
    }
    text.to_string()
}
