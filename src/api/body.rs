//! Request bodies: one strict JSON parse (serde_json, duplicate member names refused) into a
//! `Value`, then typed fields taken out by name. One parser for every route instead of a
//! generated deserializer per body type keeps the wasm small.

use serde_json::{Map, Value};

use crate::jwt::json::{parse_value, MAX_SAFE_INTEGER};

/// A JSON object's members, taken out one by one.
pub(super) struct Fields(Map<String, Value>);

/// A body type read from [`Fields`].
pub(super) trait FromBody: Sized {
    /// Takes the type's fields out of `f` (unknown fields are left for the caller).
    fn from_fields(f: &mut Fields) -> Result<Self, String>;
    /// Whether members this type does not know are refused (else ignored).
    const DENY_UNKNOWN: bool = true;
}

impl Fields {
    /// Takes `name`; JSON `null` counts as absent.
    fn take(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name).filter(|v| !v.is_null())
    }

    /// An optional string.
    pub(super) fn opt_str(&mut self, name: &str) -> Result<Option<String>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("field `{name}` must be a string")),
        }
    }

    /// A required string.
    pub(super) fn str(&mut self, name: &str) -> Result<String, String> {
        self.opt_str(name)?
            .ok_or_else(|| format!("missing field `{name}`"))
    }

    /// An optional whole number from 0 to 2^64 - 1. Written with a fraction or an exponent
    /// (`385.0`, `1e3`) it counts up to 2^53, where such numbers are exact: JSON Schema's
    /// `integer` (openapi.json) allows them, and token claims are read the same way.
    pub(super) fn opt_u64(&mut self, name: &str) -> Result<Option<u64>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .or_else(|| {
                    let f = v.as_f64()?;
                    ((0.0..=MAX_SAFE_INTEGER).contains(&f) && f.fract() == 0.0).then_some(f as u64)
                })
                .map(Some)
                .ok_or_else(|| format!("field `{name}` must be a whole number, 0 or more")),
        }
    }

    /// A required whole number.
    pub(super) fn u64(&mut self, name: &str) -> Result<u64, String> {
        self.opt_u64(name)?
            .ok_or_else(|| format!("missing field `{name}`"))
    }

    /// An optional JSON object.
    pub(super) fn opt_object(&mut self, name: &str) -> Result<Option<Map<String, Value>>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(format!("field `{name}` must be an object")),
        }
    }
}

/// Parses `body` as a JSON object of type `T`; the error text is for a 400 answer (it names a
/// field or the problem, never quotes the body).
pub(super) fn parse<T: FromBody>(body: &[u8]) -> Result<T, String> {
    let Value::Object(map) = parse_value(body).map_err(|e| e.to_string())? else {
        return Err("the body must be a JSON object".to_owned());
    };
    let mut fields = Fields(map);
    let value = T::from_fields(&mut fields)?;
    if T::DENY_UNKNOWN {
        if let Some(name) = fields.0.keys().next() {
            return Err(format!("unknown field `{name}`"));
        }
    }
    Ok(value)
}
