//! JWS algorithms and key families.

use std::fmt;

/// A JWS signature algorithm (`alg` header parameter, RFC 7518 §3.1).
///
/// Only the HMAC family exists today. The enum is `non_exhaustive` so that asymmetric
/// algorithms (RS256, ES256, EdDSA, ...) can be added without breaking callers; `none` is not
/// and never will be a variant.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC using SHA-256.
    HS256,
    /// HMAC using SHA-384.
    HS384,
    /// HMAC using SHA-512.
    HS512,
}

/// The kind of key an [`Algorithm`] needs. A key is only ever used with algorithms of its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyFamily {
    /// Shared secret (HS256, HS384, HS512).
    Hmac,
}

impl Algorithm {
    /// Every supported algorithm, strongest last.
    pub const ALL: &'static [Algorithm] = &[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

    /// The registered name, exactly as it appears in a JWS header (`"HS256"`).
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
        }
    }

    /// Parses a registered name. Names are case-sensitive (RFC 7515 §4.1.1): `"hs256"` is not
    /// `HS256`, and `none` in any spelling is `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "HS256" => Some(Algorithm::HS256),
            "HS384" => Some(Algorithm::HS384),
            "HS512" => Some(Algorithm::HS512),
            _ => None,
        }
    }

    /// The family of keys this algorithm works with.
    pub fn family(&self) -> KeyFamily {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => KeyFamily::Hmac,
        }
    }

    /// Length in bytes of a signature made with this algorithm.
    pub(crate) fn signature_len(&self) -> usize {
        match self {
            Algorithm::HS256 => 32,
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
