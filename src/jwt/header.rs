//! The JOSE header of a compact JWS.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::algorithm::Algorithm;
use super::json::{CowStr, Ctx, Fail, StrSeed, StrictValue};

/// The parts of a verified token's JOSE header that the verifier understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The signature algorithm (already checked against the allow-list).
    pub alg: Algorithm,
    /// The key id, if any.
    pub kid: Option<String>,
    /// The media type, if any (already checked to be `JWT` or `at+jwt`).
    pub typ: Option<String>,
}

/// The header as read, before any check; strings borrow from the decoded header when possible.
#[derive(Default)]
pub(crate) struct RawHeader<'de> {
    pub(crate) alg: Option<CowStr<'de>>,
    pub(crate) kid: Option<CowStr<'de>>,
    pub(crate) typ: Option<CowStr<'de>>,
    pub(crate) crit: bool,
}

pub(crate) struct HeaderSeed<'c> {
    pub(crate) ctx: &'c Ctx,
}

impl<'de> DeserializeSeed<'de> for HeaderSeed<'_> {
    type Value = RawHeader<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeaderSeed<'_> {
    type Value = RawHeader<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let ctx = self.ctx;
        let mut h = RawHeader::default();
        let mut others: Vec<CowStr<'de>> = Vec::new();
        while let Some(key) = map.next_key::<CowStr<'de>>()? {
            let (slot, fail) = match key.as_str() {
                "alg" => (
                    &mut h.alg,
                    Fail::Malformed("alg header parameter is not a string"),
                ),
                "kid" => (
                    &mut h.kid,
                    Fail::Malformed("kid header parameter is not a string"),
                ),
                "typ" => (&mut h.typ, Fail::BadType),
                "crit" => {
                    if h.crit {
                        return Err(ctx.duplicate());
                    }
                    h.crit = true;
                    map.next_value_seed(StrictValue { ctx })?;
                    continue;
                }
                other => {
                    if others.iter().any(|o| o.as_str() == other) {
                        return Err(ctx.duplicate());
                    }
                    map.next_value_seed(StrictValue { ctx })?;
                    others.push(key);
                    continue;
                }
            };
            if slot.is_some() {
                return Err(ctx.duplicate::<A::Error>());
            }
            *slot = Some(map.next_value_seed(StrSeed { ctx, fail })?);
        }
        Ok(h)
    }
}

/// True for the `typ` values accepted (RFC 7519 §5.1, RFC 9068 §2.1): `JWT` and `at+jwt`,
/// optionally prefixed with `application/`, compared case-insensitively.
pub(crate) fn typ_ok(typ: &str) -> bool {
    let t = match (typ.get(..12), typ.get(12..)) {
        (Some(prefix), Some(rest)) if prefix.eq_ignore_ascii_case("application/") => rest,
        _ => typ,
    };
    t.eq_ignore_ascii_case("jwt") || t.eq_ignore_ascii_case("at+jwt")
}
