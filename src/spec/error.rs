//! Grid errors: user-facing messages with file, line, column and the dotted field path.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

/// One step of a field path: a mapping key or a list index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// Appends a key to a path.
pub(crate) fn key(path: &[Seg], k: &str) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.push(Seg::Key(k.to_string()));
    p
}

/// Appends a list index to a path.
pub(crate) fn idx(path: &[Seg], i: usize) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.push(Seg::Index(i));
    p
}

/// Dotted form of a path: `target.shift[1]`, `schedule[0].lr`.
pub(crate) fn path_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => {
                let _ = write!(s, "[{i}]");
            }
        }
    }
    s
}

/// One problem found in a grid file.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// 1-based line of the offending key or value, where known.
    pub line: Option<usize>,
    /// 1-based column, where known.
    pub column: Option<usize>,
    /// Dotted path of the field (`target.shift[1]`); empty for the file as a whole.
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// Everything wrong with a grid file. `Display` renders one line per problem:
/// `FILE:LINE:COL: FIELD: MESSAGE`.
#[derive(Debug)]
pub struct SpecError {
    /// The grid file, as given.
    pub file: PathBuf,
    /// The problems, ordered by position in the file.
    pub problems: Vec<Problem>,
}

impl SpecError {
    /// An error with a single problem without a location (e.g. the file cannot be read).
    pub fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        SpecError {
            file: file.to_path_buf(),
            problems: vec![Problem {
                line: None,
                column: None,
                field: String::new(),
                message: message.into(),
            }],
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_char('\n')?;
            }
            write!(f, "{}", self.file.display())?;
            if let Some(line) = p.line {
                write!(f, ":{line}")?;
                if let Some(col) = p.column {
                    write!(f, ":{col}")?;
                }
            }
            f.write_str(": ")?;
            if !p.field.is_empty() {
                write!(f, "{}: ", p.field)?;
            }
            f.write_str(&p.message)?;
        }
        if self.problems.len() > 1 {
            write!(
                f,
                "\n{} problems in {}",
                self.problems.len(),
                self.file.display()
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

struct Pending {
    path: Vec<Seg>,
    at_key: bool,
    message: String,
    loc: Option<(usize, usize)>,
}

/// Collects problems while a grid is checked; locations are resolved at the end.
#[derive(Default)]
pub(crate) struct Diag {
    items: Vec<Pending>,
}

impl Diag {
    /// A problem with the value at `path`.
    pub fn err(&mut self, path: &[Seg], message: impl Into<String>) {
        self.push(path, false, message.into(), None);
    }

    /// A problem with the key at the end of `path` (unknown key, misplaced key).
    pub fn key_err(&mut self, path: &[Seg], message: impl Into<String>) {
        self.push(path, true, message.into(), None);
    }

    /// A problem whose location is already known (YAML syntax errors).
    pub fn err_at(&mut self, line: usize, column: usize, message: impl Into<String>) {
        self.push(&[], false, message.into(), Some((line, column)));
    }

    fn push(&mut self, path: &[Seg], at_key: bool, message: String, loc: Option<(usize, usize)>) {
        let dup = self
            .items
            .iter()
            .any(|p| p.path == path && p.message == message && p.at_key == at_key);
        if !dup {
            self.items.push(Pending {
                path: path.to_vec(),
                at_key,
                message,
                loc,
            });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Resolves locations against the YAML text and builds the error.
    pub fn into_error(self, file: &Path, yaml: &str) -> SpecError {
        let mut problems: Vec<Problem> = self
            .items
            .into_iter()
            .map(|p| {
                let loc = p.loc.or_else(|| locate_near(yaml, &p.path, p.at_key));
                Problem {
                    line: loc.map(|l| l.0),
                    column: loc.map(|l| l.1),
                    field: path_string(&p.path),
                    message: p.message,
                }
            })
            .collect();
        problems.sort_by_key(|p| (p.line.unwrap_or(usize::MAX), p.column.unwrap_or(0)));
        SpecError {
            file: file.to_path_buf(),
            problems,
        }
    }
}

/// Location of `path` (its key when `at_key`), or of the nearest enclosing node that exists
/// (a missing key is reported at its parent mapping). The document root is only used when the
/// path itself is the root.
pub(crate) fn locate_near(yaml: &str, path: &[Seg], at_key: bool) -> Option<(usize, usize)> {
    if path.is_empty() {
        return locate(yaml, path, false);
    }
    if let Some(l) = locate(yaml, path, at_key) {
        return Some(l);
    }
    (1..path.len())
        .rev()
        .find_map(|n| locate(yaml, &path[..n], false))
}

const MARK: &str = "\u{1}thaw-locate-mark";

/// 1-based (line, column) of the node at `path` (of its key when `at_key`), found by replaying
/// the document through serde_norway and failing on purpose at that node: serde_norway attaches the
/// node's position to the error.
pub(crate) fn locate(yaml: &str, path: &[Seg], at_key: bool) -> Option<(usize, usize)> {
    let de = serde_norway::Deserializer::from_str(yaml);
    match (Seek { rest: path, at_key }).deserialize(de) {
        Ok(()) => None,
        Err(e) => {
            if e.to_string().contains(MARK) {
                e.location().map(|l| (l.line(), l.column()))
            } else {
                None
            }
        }
    }
}

struct Seek<'a> {
    rest: &'a [Seg],
    at_key: bool,
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.rest.split_first() {
            None => d.deserialize_any(Fail),
            Some((Seg::Key(k), rest)) => d.deserialize_map(MapSeek {
                key: k,
                rest,
                at_key: self.at_key,
            }),
            Some((Seg::Index(i), rest)) => d.deserialize_seq(SeqSeek {
                index: *i,
                rest,
                at_key: self.at_key,
            }),
        }
    }
}

struct Fail;

impl<'de> Visitor<'de> for Fail {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("anything")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(E::custom(MARK))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(E::custom(MARK))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(E::custom(MARK))
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        Err(E::custom(MARK))
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        Err(E::custom(MARK))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom(MARK))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom(MARK))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(MARK))
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(MARK))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(MARK))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(MARK))
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(MARK))
    }
}

struct MapSeek<'a> {
    key: &'a str,
    rest: &'a [Seg],
    at_key: bool,
}

impl<'de> Visitor<'de> for MapSeek<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let fail = self.at_key && self.rest.is_empty();
        while let Some(matched) = map.next_key_seed(KeyMatch {
            key: self.key,
            fail,
        })? {
            if matched {
                return map.next_value_seed(Seek {
                    rest: self.rest,
                    at_key: self.at_key,
                });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Err(de::Error::custom("not found"))
    }
}

struct SeqSeek<'a> {
    index: usize,
    rest: &'a [Seg],
    at_key: bool,
}

impl<'de> Visitor<'de> for SeqSeek<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for _ in 0..self.index {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(de::Error::custom("not found"));
            }
        }
        match seq.next_element_seed(Seek {
            rest: self.rest,
            at_key: self.at_key,
        })? {
            Some(()) => Err(de::Error::custom("not found")),
            None => Err(de::Error::custom("not found")),
        }
    }
}

struct KeyMatch<'a> {
    key: &'a str,
    fail: bool,
}

impl<'de> DeserializeSeed<'de> for KeyMatch<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl KeyMatch<'_> {
    fn hit<E: de::Error>(&self, text: &str) -> Result<bool, E> {
        if text == self.key {
            if self.fail {
                Err(E::custom(MARK))
            } else {
                Ok(true)
            }
        } else {
            Ok(false)
        }
    }
}

impl<'de> Visitor<'de> for KeyMatch<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        self.hit(v)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.hit(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.hit(&v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.hit(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        self.hit(&v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        self.hit("null")
    }
}

/// serde_norway reports a duplicate key at the start of its mapping; find the second occurrence
/// of the key in that mapping instead (a text scan: block keys at the mapping's indentation,
/// or keys inside flow mappings).
pub(crate) fn duplicate_key_location(
    yaml: &str,
    message: &str,
    at: &serde_norway::Location,
) -> Option<(usize, usize)> {
    let rest = message.strip_prefix("duplicate entry with key ")?;
    let end = rest.find(" at line").unwrap_or(rest.len());
    let k = rest[..end].trim_matches('"');
    let pat = format!("{k}:");
    let mut hits = Vec::new();
    for (li, line) in yaml.lines().enumerate().skip(at.line().saturating_sub(1)) {
        let mut from = 0;
        while let Some(off) = line[from..].find(&pat) {
            let pos = from + off;
            from = pos + pat.len();
            let after_ok = line[from..]
                .chars()
                .next()
                .is_none_or(|c| c == ' ' || c == '\t');
            let before = line[..pos].trim_end_matches([' ', '\t']);
            let block = before.trim_start_matches([' ', '-']).is_empty() && pos + 1 == at.column();
            let flow = before.ends_with('{') || before.ends_with(',');
            if after_ok && (block || flow) {
                hits.push((li + 1, pos + 1));
            }
        }
    }
    hits.get(1).copied()
}
