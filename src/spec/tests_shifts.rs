//! The colour shifts' grid syntax, validation, labels and magnitudes.

use super::tests::{err, find, grid, BASE};
use super::*;

/// BASE with `shift: TEXT` in the target section.
fn with_shift(text: &str) -> String {
    BASE.replacen(
        "train_per_class: 10\n",
        &format!("train_per_class: 10\n  shift: {text}\n"),
        1,
    )
}

fn shifts(text: &str) -> Vec<Shift> {
    grid(&with_shift(text))
        .trials
        .into_iter()
        .map(|t| t.target.shift)
        .collect()
}

#[test]
fn colour_shifts_parse_in_the_one_key_style() {
    let got = shifts(
        "[none, {hue: 120}, {saturation: 0}, {brightness: 1.5}, {color_cast: [1, 1, 0.5]}, \
         {grayscale: true}, {channel_swap: bgr}, {jpeg: 30}]",
    );
    assert_eq!(
        got,
        vec![
            Shift::None,
            Shift::Hue { degrees: 120.0 },
            Shift::Saturation { factor: 0.0 },
            Shift::Brightness { factor: 1.5 },
            Shift::ColorCast {
                gains: [1.0, 1.0, 0.5]
            },
            Shift::Grayscale,
            Shift::ChannelSwap {
                order: "bgr".into()
            },
            Shift::Jpeg { quality: 30 },
        ]
    );
    // `grayscale: 1` and the bare word are the same shift (deduplicated to one trial).
    assert_eq!(
        shifts("[grayscale, {grayscale: 1}, {grayscale: true}]"),
        vec![Shift::Grayscale]
    );
    assert_eq!(shifts("{hue: -30.5}"), vec![Shift::Hue { degrees: -30.5 }]);
}

#[test]
fn colour_shift_labels_kinds_and_magnitudes() {
    let cases: [(Shift, &str, &str, f64); 10] = [
        (Shift::Hue { degrees: 120.0 }, "hue 120", "hue", 120.0),
        (Shift::Hue { degrees: 300.0 }, "hue 300", "hue", 60.0),
        (
            Shift::Saturation { factor: 0.25 },
            "saturation 0.25",
            "saturation",
            0.75,
        ),
        (
            Shift::Brightness { factor: 1.5 },
            "brightness 1.5",
            "brightness",
            0.5,
        ),
        (
            Shift::ColorCast {
                gains: [1.0, 1.2, 0.5],
            },
            "color_cast [1, 1.2, 0.5]",
            "color_cast",
            0.5,
        ),
        (Shift::Grayscale, "grayscale", "grayscale", 1.0),
        (
            Shift::ChannelSwap {
                order: "bgr".into(),
            },
            "channel_swap bgr",
            "channel_swap",
            2.0,
        ),
        (
            Shift::ChannelSwap {
                order: "gbr".into(),
            },
            "channel_swap gbr",
            "channel_swap",
            3.0,
        ),
        (Shift::Jpeg { quality: 30 }, "jpeg 30", "jpeg", 70.0),
        (Shift::Jpeg { quality: 100 }, "jpeg 100", "jpeg", 0.0),
    ];
    for (s, label, kind, m) in cases {
        assert_eq!(s.to_string(), label);
        assert_eq!(s.kind_name(), kind, "{label}");
        assert!(
            (s.magnitude() - m).abs() < 1e-12,
            "{label}: {}",
            s.magnitude()
        );
    }
    // Two saturations equally far from 1 share a magnitude but not a label.
    assert_ne!(
        Shift::Saturation { factor: 0.5 }.to_string(),
        Shift::Saturation { factor: 1.5 }.to_string()
    );
}

#[test]
fn colour_shifts_key_trials_apart_and_keep_existing_keys() {
    let none = grid(&with_shift("none")).trials[0].key("fp");
    assert_eq!(none, grid(BASE).trials[0].key("fp"));
    let keys: Vec<String> = grid(&with_shift(
        "[{saturation: 0.5}, {saturation: 1.5}, {color_cast: [1, 1, 0.5]}, \
         {color_cast: [0.5, 1, 1]}, {channel_swap: bgr}, {channel_swap: grb}]",
    ))
    .trials
    .iter()
    .map(|t| t.key("fp"))
    .collect();
    let mut distinct = keys.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), keys.len(), "{keys:?}");
    assert!(!keys.contains(&none));
}

#[test]
fn bad_colour_shifts_name_the_field_and_the_rule() {
    let cases = [
        (
            "{jpeg: 0}",
            "target.shift.jpeg",
            "must be at least 1 (JPEG quality), got 0",
        ),
        (
            "{jpeg: 101}",
            "target.shift.jpeg",
            "must be between 1 and 100, got 101",
        ),
        ("{jpeg: 50.5}", "target.shift.jpeg", "drop the fraction"),
        (
            "{channel_swap: rgx}",
            "target.shift.channel_swap",
            "must be a permutation of the letters r, g and b (e.g. `bgr`, `gbr`), got `rgx`",
        ),
        (
            "{channel_swap: rrb}",
            "target.shift.channel_swap",
            "got `rrb`",
        ),
        (
            "{channel_swap: 3}",
            "target.shift.channel_swap",
            "expected a channel order such as `bgr`",
        ),
        (
            "{color_cast: [1, 2]}",
            "target.shift.color_cast",
            "expected a list of three gains [r, g, b] >= 0, e.g. [1, 1, 0.8], got 2 values",
        ),
        (
            "{color_cast: 0.5}",
            "target.shift.color_cast",
            "expected a list of three gains",
        ),
        (
            "{color_cast: [1, -1, 1]}",
            "target.shift.color_cast[1]",
            "must be >= 0 (a channel gain), got -1",
        ),
        (
            "{saturation: -0.5}",
            "target.shift.saturation",
            "must be >= 0 (saturation factor",
        ),
        (
            "{brightness: -1}",
            "target.shift.brightness",
            "must be >= 0 (brightness factor",
        ),
        ("{hue: red}", "target.shift.hue", "expected a number"),
        (
            "{grayscale: false}",
            "target.shift.grayscale",
            "expected `true` (or 1), got",
        ),
        (
            "{grayscale: 0.5}",
            "target.shift.grayscale",
            "for no shift write `none`",
        ),
    ];
    for (text, field, message) in cases {
        let e = err(&with_shift(text));
        let p = find(&e, field);
        assert!(p.message.contains(message), "{text}: {e}");
        assert_eq!(p.line, Some(9), "{text}: {e}");
    }
    // In a list, the entry's index is part of the field.
    let e = err(&with_shift("[none, {hue: 30}, {jpeg: 0}]"));
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!(
        e.to_string(),
        "experiments/x.yaml:9:35: target.shift[2].jpeg: must be at least 1 (JPEG quality), got \
         0"
    );
    // Unknown kinds list the colour shifts.
    let e = err(&with_shift("{hues: 30}"));
    assert!(e.to_string().contains("did you mean `hue`"), "{e}");
    let e = err(&with_shift("greyscale"));
    let p = find(&e, "target.shift");
    assert!(p.message.contains("did you mean `grayscale`"), "{e}");
    assert!(p.message.contains("channel_swap, jpeg"), "{e}");
}
