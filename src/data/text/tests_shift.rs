//! The text shifts: identity cases, the typo rate, determinism, lowercase and truncate.

use super::apply_text;
use crate::spec::trial::Shift;

const SENTENCE: &str = "The quick brown fox jumps over the lazy dog, then naps in the warm sun.";

fn typos(rate: f64, text: &str, index: usize) -> String {
    apply_text(&Shift::Typos { rate }, text, index)
}

#[test]
fn no_typos_at_rate_zero_and_only_letters_change() {
    for i in 0..50 {
        assert_eq!(typos(0.0, SENTENCE, i), SENTENCE);
    }
    let digits = "0123 456-789, !?";
    assert_eq!(typos(1.0, digits, 3), digits);
    assert_eq!(apply_text(&Shift::None, SENTENCE, 1), SENTENCE);
    assert_eq!(
        apply_text(&Shift::Rotate { degrees: 9.0 }, SENTENCE, 1),
        SENTENCE
    );
}

#[test]
fn typos_are_deterministic_per_example_and_differ_across_examples() {
    let a = typos(0.2, SENTENCE, 7);
    assert_eq!(a, typos(0.2, SENTENCE, 7));
    assert_ne!(a, SENTENCE);
    let distinct: std::collections::HashSet<String> =
        (0..20).map(|i| typos(0.2, SENTENCE, i)).collect();
    assert!(distinct.len() >= 19, "{}", distinct.len());
}

/// At rate 0.1 about a tenth of the letters get a typo: each typo is one edit (a deletion, an
/// insertion, a transposition or a substitution), counted by the optimal-string-alignment
/// distance. Over 1,000 examples of 55 letters the typos number 0.1 x 55,000 less the letters
/// a swap takes along (about 1/40 of them): mean about 5,360, standard deviation about 70 (a
/// swap of two equal letters costs no edit). The bounds are 5,087 and 5,637 edits, 4 standard
/// deviations either side.
#[test]
fn rate_one_tenth_changes_about_a_tenth_of_the_letters() {
    let letters = SENTENCE.chars().filter(char::is_ascii_alphabetic).count();
    assert_eq!(letters, 55);
    let n = 1_000;
    let edits: usize = (0..n)
        .map(|i| strsim::osa_distance(SENTENCE, &typos(0.1, SENTENCE, i)))
        .sum();
    let per_letter = edits as f64 / (n * letters) as f64;
    assert!((0.0925..=0.1025).contains(&per_letter), "{per_letter}");
}

#[test]
fn typos_keep_the_case_and_use_keyboard_neighbours() {
    let text = "A".repeat(400);
    let out = typos(1.0, &text, 0);
    assert!(out.chars().all(|c| "AQWSZ".contains(c)), "{out}");
    assert!(out.contains('Q') || out.contains('W') || out.contains('S') || out.contains('Z'));
}

#[test]
fn lowercase_and_truncate() {
    assert_eq!(apply_text(&Shift::Lowercase, "ÀB c D!", 0), "àb c d!");
    let t = |words, text| apply_text(&Shift::Truncate { words }, text, 0);
    assert_eq!(t(3, "  one two\tthree  four five"), "  one two\tthree");
    assert_eq!(t(1, "one"), "one");
    assert_eq!(t(5, "one two"), "one two");
    assert_eq!(t(2, "one two\r\n"), "one two");
}
