//! The typed claims of a verified token.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::json::{Ctx, DateSeed, Fail, StrListSeed, StrSeed, StrictValue, U64Seed};

/// The claims of a verified token.
///
/// Registered claims and the custom claims the authorisation policy uses are typed; every other
/// claim is kept, as parsed, in [`extra`](Claims::extra). JSON names are the field names
/// (`sub`, `iss`, `aud`, `exp`, `nbf`, `iat`, `prefix`, `content_types`, `max_size`,
/// `targets`).
///
/// Types enforced while parsing ([`ErrorKind::InvalidClaim`](crate::jwt::ErrorKind::InvalidClaim)
/// otherwise, `null` included): `sub`, `iss`, `prefix` strings; `aud`, `content_types` and `targets` a
/// string or an array of strings; `exp`, `nbf`, `iat` numbers in `0..=253402300799` (fractions allowed);
/// `max_size` a non-negative integer.
///
/// Serializing (e.g. with `serde_json::to_string`) writes the claims back as one JSON object:
/// whole-second dates as integers, a one-element `aud` as a string.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims {
    /// Subject (`sub`).
    pub sub: Option<String>,
    /// Issuer (`iss`).
    pub iss: Option<String>,
    /// Audience (`aud`): a string in the token becomes one element; absent is empty.
    pub aud: Vec<String>,
    /// Expiration time (`exp`), seconds since the Unix epoch.
    pub exp: Option<f64>,
    /// Not-before time (`nbf`), seconds since the Unix epoch.
    pub nbf: Option<f64>,
    /// Issued-at time (`iat`), seconds since the Unix epoch.
    pub iat: Option<f64>,
    /// Custom `prefix`: the object-key prefix this token may write and read under.
    pub prefix: Option<String>,
    /// Custom `content_types`: narrows the allowed content types.
    pub content_types: Option<Vec<String>>,
    /// Custom `max_size`: narrows the maximum upload size, in bytes.
    pub max_size: Option<u64>,
    /// Custom `targets`: narrows the storage targets the token may use, by name.
    pub targets: Option<Vec<String>>,
    /// Every other claim, as parsed.
    pub extra: Map<String, Value>,
}

impl Claims {
    /// True if the claim named `name` is present (for `aud`: non-empty).
    pub fn has(&self, name: &str) -> bool {
        match name {
            "sub" => self.sub.is_some(),
            "iss" => self.iss.is_some(),
            "aud" => !self.aud.is_empty(),
            "exp" => self.exp.is_some(),
            "nbf" => self.nbf.is_some(),
            "iat" => self.iat.is_some(),
            "prefix" => self.prefix.is_some(),
            "content_types" => self.content_types.is_some(),
            "max_size" => self.max_size.is_some(),
            "targets" => self.targets.is_some(),
            other => self.extra.contains_key(other),
        }
    }
}

#[derive(Clone, Copy)]
enum Known {
    Sub,
    Iss,
    Aud,
    Exp,
    Nbf,
    Iat,
    Prefix,
    ContentTypes,
    MaxSize,
    Targets,
}

enum Field {
    Known(Known),
    Other(String),
}

struct FieldVisitor;

impl Visitor<'_> for FieldVisitor {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a claim name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
        Ok(match v {
            "sub" => Field::Known(Known::Sub),
            "iss" => Field::Known(Known::Iss),
            "aud" => Field::Known(Known::Aud),
            "exp" => Field::Known(Known::Exp),
            "nbf" => Field::Known(Known::Nbf),
            "iat" => Field::Known(Known::Iat),
            "prefix" => Field::Known(Known::Prefix),
            "content_types" => Field::Known(Known::ContentTypes),
            "max_size" => Field::Known(Known::MaxSize),
            "targets" => Field::Known(Known::Targets),
            other => Field::Other(other.to_owned()),
        })
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Field, E> {
        match self.visit_str::<E>(&v)? {
            Field::Other(_) => Ok(Field::Other(v)),
            known => Ok(known),
        }
    }
}

struct FieldSeed;

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Field;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
        d.deserialize_str(FieldVisitor)
    }
}

/// Reads a payload object into [`Claims`], refusing duplicates and wrongly typed claims.
pub(crate) struct ClaimsSeed<'c> {
    pub(crate) ctx: &'c Ctx,
}

impl<'de> DeserializeSeed<'de> for ClaimsSeed<'_> {
    type Value = Claims;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Claims, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ClaimsSeed<'_> {
    type Value = Claims;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWT claims set object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Claims, A::Error> {
        let ctx = self.ctx;
        let mut c = Claims::default();
        let mut seen: u16 = 0;
        while let Some(field) = map.next_key_seed(FieldSeed)? {
            let known = match field {
                Field::Known(k) => k,
                Field::Other(name) => {
                    if c.extra.contains_key(&name) {
                        return Err(ctx.duplicate());
                    }
                    let value = map.next_value_seed(StrictValue { ctx })?;
                    c.extra.insert(name, value);
                    continue;
                }
            };
            let bit = 1u16 << (known as u16);
            if seen & bit != 0 {
                return Err(ctx.duplicate());
            }
            seen |= bit;
            let string = |name| StrSeed {
                ctx,
                fail: Fail::Claim(name),
            };
            match known {
                Known::Sub => c.sub = Some(map.next_value_seed(string("sub"))?.into_owned()),
                Known::Iss => c.iss = Some(map.next_value_seed(string("iss"))?.into_owned()),
                Known::Prefix => {
                    c.prefix = Some(map.next_value_seed(string("prefix"))?.into_owned())
                }
                Known::Aud => c.aud = map.next_value_seed(StrListSeed { ctx, claim: "aud" })?,
                Known::ContentTypes => {
                    c.content_types = Some(map.next_value_seed(StrListSeed {
                        ctx,
                        claim: "content_types",
                    })?)
                }
                Known::Targets => {
                    c.targets = Some(map.next_value_seed(StrListSeed {
                        ctx,
                        claim: "targets",
                    })?)
                }
                Known::Exp => c.exp = Some(map.next_value_seed(DateSeed { ctx, claim: "exp" })?),
                Known::Nbf => c.nbf = Some(map.next_value_seed(DateSeed { ctx, claim: "nbf" })?),
                Known::Iat => c.iat = Some(map.next_value_seed(DateSeed { ctx, claim: "iat" })?),
                Known::MaxSize => {
                    c.max_size = Some(map.next_value_seed(U64Seed {
                        ctx,
                        claim: "max_size",
                    })?)
                }
            }
        }
        Ok(c)
    }
}

/// A NumericDate written back: whole seconds as an integer, anything else as a float.
struct Date(f64);

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&v) {
            s.serialize_u64(v as u64)
        } else {
            s.serialize_f64(v)
        }
    }
}

impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(v) = &self.iss {
            m.serialize_entry("iss", v)?;
        }
        if let Some(v) = &self.sub {
            m.serialize_entry("sub", v)?;
        }
        match self.aud.as_slice() {
            [] => {}
            [one] => m.serialize_entry("aud", one)?,
            many => m.serialize_entry("aud", many)?,
        }
        if let Some(v) = self.exp {
            m.serialize_entry("exp", &Date(v))?;
        }
        if let Some(v) = self.nbf {
            m.serialize_entry("nbf", &Date(v))?;
        }
        if let Some(v) = self.iat {
            m.serialize_entry("iat", &Date(v))?;
        }
        if let Some(v) = &self.prefix {
            m.serialize_entry("prefix", v)?;
        }
        if let Some(v) = &self.content_types {
            m.serialize_entry("content_types", v)?;
        }
        if let Some(v) = self.max_size {
            m.serialize_entry("max_size", &v)?;
        }
        if let Some(v) = &self.targets {
            m.serialize_entry("targets", v)?;
        }
        for (k, v) in &self.extra {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}
