//! JWS algorithms and key families.

use std::fmt;

/// A JWS signature algorithm (`alg` header parameter, RFC 7518 §3.1, RFC 8037 §3.1).
///
/// HMAC (HS*), RSASSA-PKCS1-v1_5 (RS*), RSASSA-PSS (PS*), ECDSA on P-256 and P-384 (ES256,
/// ES384) and EdDSA with Ed25519. The enum is `non_exhaustive`; `none` is not and never will be
/// a variant, and ES512 (P-521) is not supported.
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
    /// RSASSA-PKCS1-v1_5 using SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 using SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 using SHA-512.
    RS512,
    /// RSASSA-PSS using SHA-256 and MGF1 with SHA-256 (salt length 32).
    PS256,
    /// RSASSA-PSS using SHA-384 and MGF1 with SHA-384 (salt length 48).
    PS384,
    /// RSASSA-PSS using SHA-512 and MGF1 with SHA-512 (salt length 64).
    PS512,
    /// ECDSA using P-256 and SHA-256 (signature: 64 bytes `r || s`).
    ES256,
    /// ECDSA using P-384 and SHA-384 (signature: 96 bytes `r || s`).
    ES384,
    /// EdDSA (RFC 8037); only the Ed25519 curve is supported.
    EdDSA,
}

/// An elliptic curve for ECDSA keys (JWK `kty` `EC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EcCurve {
    /// NIST P-256 (`crv` `P-256`), for ES256.
    P256,
    /// NIST P-384 (`crv` `P-384`), for ES384.
    P384,
}

impl EcCurve {
    /// The JWK `crv` name (`"P-256"`).
    pub fn name(&self) -> &'static str {
        match self {
            EcCurve::P256 => "P-256",
            EcCurve::P384 => "P-384",
        }
    }

    /// Length in bytes of one coordinate (and of `r` and `s` in a signature).
    pub fn coordinate_len(&self) -> usize {
        match self {
            EcCurve::P256 => 32,
            EcCurve::P384 => 48,
        }
    }
}

/// A curve for octet key pairs (JWK `kty` `OKP`, RFC 8037).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OkpCurve {
    /// Ed25519 (`crv` `Ed25519`), for EdDSA.
    Ed25519,
}

impl OkpCurve {
    /// The JWK `crv` name (`"Ed25519"`).
    pub fn name(&self) -> &'static str {
        match self {
            OkpCurve::Ed25519 => "Ed25519",
        }
    }
}

/// The kind of key an [`Algorithm`] needs. A key is only ever used with algorithms of its
/// family (this is what prevents algorithm-confusion attacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyFamily {
    /// Shared secret (HS256, HS384, HS512).
    Hmac,
    /// RSA public key (RS256, RS384, RS512, PS256, PS384, PS512).
    Rsa,
    /// Elliptic-curve public key on the given curve (ES256 on P-256, ES384 on P-384).
    Ec(EcCurve),
    /// Octet key pair public key on the given curve (EdDSA on Ed25519).
    Okp(OkpCurve),
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: &'static [Algorithm] = &[
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The HMAC algorithms (the ones [`sign_hs`](crate::jwt::sign_hs) can make).
    pub const HMAC: &'static [Algorithm] = &[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

    /// The registered name, exactly as it appears in a JWS header (`"HS256"`).
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// Parses a registered name. Names are case-sensitive (RFC 7515 §4.1.1): `"hs256"` is not
    /// `HS256`, and `none` in any spelling is `None`, as are unsupported names such as `ES512`.
    pub fn from_name(name: &str) -> Option<Self> {
        Algorithm::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// The family of keys this algorithm works with.
    pub fn family(&self) -> KeyFamily {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => KeyFamily::Hmac,
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => KeyFamily::Rsa,
            Algorithm::ES256 => KeyFamily::Ec(EcCurve::P256),
            Algorithm::ES384 => KeyFamily::Ec(EcCurve::P384),
            Algorithm::EdDSA => KeyFamily::Okp(OkpCurve::Ed25519),
        }
    }

    /// True for HS256, HS384 and HS512.
    pub fn is_hmac(&self) -> bool {
        self.family() == KeyFamily::Hmac
    }

    /// Length in bytes of a signature made with this algorithm, when it does not depend on the
    /// key (`None` for RSA, whose signatures are as long as the modulus).
    pub(crate) fn fixed_signature_len(&self) -> Option<usize> {
        match self {
            Algorithm::HS256 => Some(32),
            Algorithm::HS384 => Some(48),
            Algorithm::HS512 => Some(64),
            Algorithm::ES256 => Some(64),
            Algorithm::ES384 => Some(96),
            Algorithm::EdDSA => Some(64),
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
