//! What a token must satisfy besides a good signature.

use super::algorithm::Algorithm;

/// Validation settings. Build with `Validation::default()` and change the public fields.
///
/// | field | default | meaning |
/// | --- | --- | --- |
/// | `algorithms` | `[HS256]` | allow-list for the header's `alg`, checked before any key is touched |
/// | `required_claims` | `["exp", "sub"]` | claims that must be present (any name; `aud` must be non-empty) |
/// | `issuers` | `[]` | if non-empty, `iss` must be present and one of these |
/// | `audiences` | `[]` | if non-empty, `aud` (string or array) must contain one of these |
/// | `leeway` | `60` | seconds of clock skew tolerated for `exp`, `nbf` and `iat` |
/// | `max_age` | `None` | if set, `iat` is required and `now - iat` may not exceed it (plus leeway) |
/// | `validate_nbf` | `true` | refuse tokens whose `nbf` is in the future |
///
/// `exp` is always checked when present; it is required because the default `required_claims`
/// names it. An empty `audiences` means the `aud` claim is not checked at all: set it whenever
/// tokens carry an audience (RFC 7519 §4.1.3 expects the recipient to check it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// Accepted `alg` values. Empty refuses every token.
    pub algorithms: Vec<Algorithm>,
    /// Names of claims that must be present.
    pub required_claims: Vec<String>,
    /// Accepted issuers (`iss`); empty means not checked.
    pub issuers: Vec<String>,
    /// Accepted audiences (`aud`); empty means not checked.
    pub audiences: Vec<String>,
    /// Tolerated clock skew in seconds.
    pub leeway: u64,
    /// Maximum age in seconds, measured from `iat`.
    pub max_age: Option<u64>,
    /// Whether `nbf` is honoured.
    pub validate_nbf: bool,
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            algorithms: vec![Algorithm::HS256],
            required_claims: vec!["exp".to_owned(), "sub".to_owned()],
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway: 60,
            max_age: None,
            validate_nbf: true,
        }
    }
}
