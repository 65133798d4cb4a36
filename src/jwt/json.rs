//! Strict JSON reading for headers and claims.
//!
//! serde_json's own `Map` keeps the last of duplicate member names silently; the seeds here
//! reject duplicates at every depth. Type errors are reported through a [`Ctx`] side channel so
//! that the verifier can return a precise [`ErrorKind`] (e.g. `InvalidClaim` for `"exp": "x"`)
//! rather than a generic parse error.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Number, Value};

use super::error::{invalid_claim, malformed, Error, ErrorKind};

/// Largest accepted NumericDate: 9999-12-31T23:59:59Z.
pub(crate) const MAX_NUMERIC_DATE: u64 = 253_402_300_799;

/// Largest integer an f64 represents exactly (2^53).
pub(crate) const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0;

/// Collects the first precise error raised inside a deserialization.
#[derive(Default)]
pub(crate) struct Ctx(Cell<Option<Error>>);

impl Ctx {
    /// Records `err` (unless an error is already recorded) and returns a serde error to abort.
    pub(crate) fn fail<E: de::Error>(&self, err: Error) -> E {
        let prev = self.0.take();
        let msg = err.to_string();
        self.0.set(prev.or(Some(err)));
        E::custom(msg)
    }

    fn take(&self) -> Option<Error> {
        self.0.take()
    }

    pub(crate) fn duplicate<E: de::Error>(&self) -> E {
        self.fail(Error::new(
            ErrorKind::DuplicateClaim,
            "a member name appears twice in a JSON object",
        ))
    }
}

fn skip_ws(bytes: &[u8]) -> Option<u8> {
    bytes
        .iter()
        .copied()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// Parses `bytes` as one JSON object with `seed`; anything else (non-object, trailing data,
/// syntax error) is `Malformed` unless the seed recorded a more precise error.
pub(crate) fn parse_object<'de, S>(
    bytes: &'de [u8],
    seed: S,
    ctx: &Ctx,
    not_object: &'static str,
    not_json: &'static str,
) -> Result<S::Value, Error>
where
    S: DeserializeSeed<'de>,
{
    if skip_ws(bytes) != Some(b'{') {
        return Err(malformed(not_object));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    result.map_err(|_| ctx.take().unwrap_or_else(|| malformed(not_json)))
}

/// Parses any JSON value strictly (duplicate member names refused at every depth).
pub(crate) fn parse_value(bytes: &[u8]) -> Result<Value, Error> {
    let ctx = Ctx::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = StrictValue { ctx: &ctx }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    result.map_err(|_| ctx.take().unwrap_or_else(|| malformed("not valid JSON")))
}

/// A string borrowed from the input when it has no escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CowStr<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl CowStr<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            CowStr::Borrowed(s) => s,
            CowStr::Owned(s) => s,
        }
    }

    pub(crate) fn into_owned(self) -> String {
        match self {
            CowStr::Borrowed(s) => s.to_owned(),
            CowStr::Owned(s) => s,
        }
    }
}

struct CowStrVisitor;

impl<'de> Visitor<'de> for CowStrVisitor {
    type Value = CowStr<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(CowStr::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(CowStr::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(CowStr::Owned(v))
    }
}

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(CowStrVisitor)
    }
}

/// Implements the `visit_*` methods a seed does not accept by recording `self.err()`.
macro_rules! reject {
    (scalar $($name:ident: $ty:ty),*) => {
        $(
            fn $name<E: de::Error>(self, _v: $ty) -> Result<Self::Value, E> {
                Err(self.ctx.fail(self.err()))
            }
        )*
    };
    (unit) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(self.ctx.fail(self.err()))
        }
    };
    (seq) => {
        fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Self::Value, A::Error> {
            Err(self.ctx.fail(self.err()))
        }
    };
    (map) => {
        fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<Self::Value, A::Error> {
            Err(self.ctx.fail(self.err()))
        }
    };
    (str) => {
        fn visit_str<E: de::Error>(self, _v: &str) -> Result<Self::Value, E> {
            Err(self.ctx.fail(self.err()))
        }
    };
}

/// What to report when a value has the wrong type.
#[derive(Clone, Copy)]
pub(crate) enum Fail {
    /// `Malformed` with this message (header parameters).
    Malformed(&'static str),
    /// `BadType` (the `typ` header parameter).
    BadType,
    /// `InvalidClaim` for this claim.
    Claim(&'static str),
}

impl Fail {
    fn error(self) -> Error {
        match self {
            Fail::Malformed(msg) => malformed(msg),
            Fail::BadType => Error::new(ErrorKind::BadType, "typ header parameter is not a string"),
            Fail::Claim(name) => invalid_claim(name),
        }
    }
}

/// A JSON string, nothing else.
pub(crate) struct StrSeed<'c> {
    pub(crate) ctx: &'c Ctx,
    pub(crate) fail: Fail,
}

impl StrSeed<'_> {
    fn err(&self) -> Error {
        self.fail.error()
    }
}

impl<'de> DeserializeSeed<'de> for StrSeed<'_> {
    type Value = CowStr<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrSeed<'_> {
    type Value = CowStr<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(CowStr::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(CowStr::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(CowStr::Owned(v))
    }

    reject!(scalar visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64);
    reject!(unit);
    reject!(seq);
    reject!(map);
}

/// A string, or an array of strings (`aud`, `content_types`).
pub(crate) struct StrListSeed<'c> {
    pub(crate) ctx: &'c Ctx,
    pub(crate) claim: &'static str,
}

impl StrListSeed<'_> {
    fn err(&self) -> Error {
        invalid_claim(self.claim)
    }
}

impl<'de> DeserializeSeed<'de> for StrListSeed<'_> {
    type Value = Vec<String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrListSeed<'_> {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(vec![v.to_owned()])
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(vec![v])
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(16));
        let fail = Fail::Claim(self.claim);
        while let Some(s) = seq.next_element_seed(StrSeed {
            ctx: self.ctx,
            fail,
        })? {
            out.push(s.into_owned());
        }
        Ok(out)
    }

    reject!(scalar visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64);
    reject!(unit);
    reject!(map);
}

/// A NumericDate (RFC 7519 §2): a JSON number, fractional allowed, in `0..=MAX_NUMERIC_DATE`.
pub(crate) struct DateSeed<'c> {
    pub(crate) ctx: &'c Ctx,
    pub(crate) claim: &'static str,
}

impl DateSeed<'_> {
    fn err(&self) -> Error {
        invalid_claim(self.claim)
    }
}

impl<'de> DeserializeSeed<'de> for DateSeed<'_> {
    type Value = f64;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DateSeed<'_> {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a NumericDate")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        if v <= MAX_NUMERIC_DATE {
            Ok(v as f64)
        } else {
            Err(self.ctx.fail(self.err()))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(self.ctx.fail(self.err())),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        // NaN is not contained in any range.
        if (0.0..=MAX_NUMERIC_DATE as f64).contains(&v) {
            Ok(v)
        } else {
            Err(self.ctx.fail(self.err()))
        }
    }

    reject!(scalar visit_bool: bool);
    reject!(str);
    reject!(unit);
    reject!(seq);
    reject!(map);
}

/// A non-negative integer (`max_size`); an integral float up to 2^53 is accepted too.
pub(crate) struct U64Seed<'c> {
    pub(crate) ctx: &'c Ctx,
    pub(crate) claim: &'static str,
}

impl U64Seed<'_> {
    fn err(&self) -> Error {
        invalid_claim(self.claim)
    }
}

impl<'de> DeserializeSeed<'de> for U64Seed<'_> {
    type Value = u64;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for U64Seed<'_> {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-negative integer")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| self.ctx.fail(self.err()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        if (0.0..=MAX_SAFE_INTEGER).contains(&v) && v.fract() == 0.0 {
            Ok(v as u64)
        } else {
            Err(self.ctx.fail(self.err()))
        }
    }

    reject!(scalar visit_bool: bool);
    reject!(str);
    reject!(unit);
    reject!(seq);
    reject!(map);
}

/// Any JSON value, built as a `serde_json::Value`, refusing duplicate member names at every depth.
pub(crate) struct StrictValue<'c> {
    pub(crate) ctx: &'c Ctx,
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictValue { ctx: self.ctx })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(self.ctx.duplicate());
            }
            let value = map.next_value_seed(StrictValue { ctx: self.ctx })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}
