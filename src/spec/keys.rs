//! Reading one YAML mapping into the schema structs of [`super::schema`]: the keys a struct
//! accepts are the fields serde derives for it, unknown keys are the ones `serde_ignored` sees
//! skipped, and values stay raw YAML so that the validation pass reports every wrong type.

use super::error::{key, Diag, Seg};
use super::words::{describe, did_you_mean, key_text};
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;
use serde_norway::{Mapping, Value};

/// A key that may be absent, with its value as written (null included): any YAML, so that a
/// value of the wrong type is reported by the validation pass together with every other problem.
#[derive(Clone, Debug, Default)]
pub(crate) struct Field(pub Option<Value>);

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(|v| Field(Some(v)))
    }
}

impl Field {
    /// The value, unless the key is absent or null.
    pub fn given(&self) -> Option<&Value> {
        self.0.as_ref().filter(|v| !v.is_null())
    }
}

/// The names serde declares for `T`: a struct's fields or an enum's variants, in declaration
/// order (renamed as the grid spells them).
pub(crate) fn names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut out: &'static [&'static str] = &[];
    let _ = T::deserialize(NameProbe(&mut out));
    out
}

/// A deserializer that only records the names a derived `Deserialize` asks for.
struct NameProbe<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for NameProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("names of a struct or an enum only"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        self.deserialize_any(v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = variants;
        self.deserialize_any(v)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map identifier ignored_any
    }
}

/// A unit enum's variant named `text` (`None` when no variant has that name).
pub(crate) fn variant<T: DeserializeOwned>(text: &str) -> Option<T> {
    T::deserialize(Value::String(text.to_string())).ok()
}

/// The keys of one YAML mapping, read into one or more schema structs.
pub(crate) struct Keys {
    /// The entries whose keys are plain names, keyed by their text.
    map: Mapping,
    /// Keys that are not plain names (lists, mappings).
    odd: Vec<Value>,
    /// Every key the structs read so far declare, in declaration order.
    valid: Vec<&'static str>,
    /// Keys none of the structs read so far declares (`None` before the first read).
    unknown: Option<Vec<String>>,
}

impl Keys {
    pub fn new(m: &Mapping) -> Keys {
        let mut map = Mapping::new();
        let mut odd = Vec::new();
        for (k, v) in m {
            match key_text(k) {
                Some(text) => {
                    map.insert(Value::String(text), v.clone());
                }
                None => odd.push(k.clone()),
            }
        }
        Keys {
            map,
            odd,
            valid: Vec::new(),
            unknown: None,
        }
    }

    /// Reads the mapping as `T`, whose fields are all [`Field`] or defaulted [`Value`]s (so
    /// reading cannot fail). A key is unknown when no struct read declares it.
    pub fn read<T: DeserializeOwned>(&mut self) -> T {
        let mut skipped = Vec::new();
        let t = serde_ignored::deserialize(Value::Mapping(self.map.clone()), |p| {
            if let serde_ignored::Path::Map { key, .. } = p {
                skipped.push(key);
            }
        })
        .expect("schema structs hold raw YAML values, so any mapping reads");
        self.note(names::<T>(), skipped);
        t
    }

    /// Accepts `names` as keys: those of a mapping keyed by an enum's variants.
    pub fn accept(&mut self, names: &'static [&'static str]) {
        let skipped = self
            .map
            .keys()
            .filter_map(Value::as_str)
            .filter(|k| !names.contains(k))
            .map(str::to_string)
            .collect();
        self.note(names, skipped);
    }

    fn note(&mut self, names: &'static [&'static str], skipped: Vec<String>) {
        for f in names {
            if !self.valid.contains(f) {
                self.valid.push(f);
            }
        }
        self.unknown = Some(match self.unknown.take() {
            None => skipped,
            Some(u) => u.into_iter().filter(|k| skipped.contains(k)).collect(),
        });
    }

    /// Whether the mapping has the key (with any value).
    pub fn has(&self, k: &str) -> bool {
        self.map.contains_key(k)
    }

    /// Every key the structs read so far accept.
    pub fn valid(&self) -> &[&'static str] {
        &self.valid
    }

    /// Reports the keys that are not plain names and every unknown key (at `path`, the
    /// mapping); `misplaced` may explain a key that belongs elsewhere.
    pub fn check(&self, diag: &mut Diag, path: &[Seg], misplaced: &dyn Fn(&str) -> Option<String>) {
        let valid = self.valid.join(", ");
        for k in &self.odd {
            diag.err(
                path,
                format!(
                    "keys must be plain names, got {}; valid keys: {valid}",
                    describe(k)
                ),
            );
        }
        for k in self.unknown.iter().flatten() {
            let msg = misplaced(k).unwrap_or_else(|| {
                format!(
                    "unknown key{}Valid keys: {valid}",
                    did_you_mean(k, &self.valid)
                )
            });
            diag.key_err(&key(path, k), msg);
        }
    }
}

/// The name of a kind of `T` (a `kind:` enum) whose own keys include `k`.
pub(crate) fn kind_with_key<T: DeserializeOwned>(
    k: &str,
    keys: impl Fn(T) -> &'static [&'static str],
) -> Option<&'static str> {
    names::<T>()
        .iter()
        .find(|n| variant::<T>(n).is_some_and(|t| keys(t).contains(&k)))
        .copied()
}
