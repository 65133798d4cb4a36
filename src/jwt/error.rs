//! Verification errors: a small [`ErrorKind`] plus a fixed message.

use std::borrow::Cow;
use std::fmt;

/// Why a token (or a key configuration) was refused.
///
/// Every kind has a stable snake_case [`code`](ErrorKind::code) meant for logs, metrics and the
/// `presign verify` command. New kinds may be added (for example when asymmetric algorithms come),
/// so the enum is `non_exhaustive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Not a compact JWS: wrong number of segments, characters outside the base64url alphabet,
    /// padded or non-canonical base64url, header or payload that is not a JSON object, a header
    /// without `alg`, ...
    Malformed,
    /// The token is longer than [`MAX_TOKEN_LEN`](crate::jwt::MAX_TOKEN_LEN) bytes.
    TooLarge,
    /// The signature does not match (wrong key, modified header or payload, empty or truncated
    /// signature).
    BadSignature,
    /// The header's `alg` is not in [`Validation::algorithms`](crate::jwt::Validation::algorithms),
    /// is unknown (`none` in any spelling), or does not fit the selected key.
    AlgNotAllowed,
    /// No key matches the token's `kid` (or, for a token without `kid`, there is not exactly one
    /// key without a `kid`).
    UnknownKey,
    /// A key is unusable (empty secret, RSA modulus too short, EC point not on its curve, ...),
    /// or a key configuration (secret, `JWT_KEYS`, JWK, JWKS) could not be parsed.
    InvalidKey,
    /// The header has a `crit` parameter: no extension is understood, so it is always refused.
    UnsupportedCrit,
    /// The header's `typ` is present but neither `JWT` nor `at+jwt`.
    BadType,
    /// A member name appears twice in the header or the payload (at any depth).
    DuplicateClaim,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway), or `iat` is when a maximum age is set.
    NotYetValid,
    /// `iat` is older than [`Validation::max_age`](crate::jwt::Validation::max_age) allows.
    TooOld,
    /// A claim required by the validation is absent.
    MissingClaim,
    /// A claim has the wrong JSON type or an out-of-range value (e.g. `exp` as a string,
    /// a boolean, negative or `1e300`).
    InvalidClaim,
    /// `iss` is not one of the expected issuers.
    WrongIssuer,
    /// No value of `aud` is one of the expected audiences.
    WrongAudience,
    /// The token uses an asymmetric algorithm (RS*, PS*, ES*, EdDSA) and this build has no
    /// synchronous implementation of it: on `wasm32` the signature must be checked
    /// asynchronously (WebCrypto) with [`decode_unverified`](crate::jwt::decode_unverified) and
    /// [`Unverified::into_claims`](crate::jwt::Unverified::into_claims). Never returned natively.
    AsyncVerificationRequired,
    /// The token is single-use and its `jti` was already used (the upload ledger remembers it
    /// until `exp` plus the leeway).
    Replayed,
}

impl ErrorKind {
    /// Every kind, in declaration order: for tables of the codes (the API documents each as a
    /// possible `reason` of `invalid_token`). A unit test fails to compile when a kind is added
    /// and not listed here.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::Malformed,
        ErrorKind::TooLarge,
        ErrorKind::BadSignature,
        ErrorKind::AlgNotAllowed,
        ErrorKind::UnknownKey,
        ErrorKind::InvalidKey,
        ErrorKind::UnsupportedCrit,
        ErrorKind::BadType,
        ErrorKind::DuplicateClaim,
        ErrorKind::Expired,
        ErrorKind::NotYetValid,
        ErrorKind::TooOld,
        ErrorKind::MissingClaim,
        ErrorKind::InvalidClaim,
        ErrorKind::WrongIssuer,
        ErrorKind::WrongAudience,
        ErrorKind::AsyncVerificationRequired,
        ErrorKind::Replayed,
    ];

    /// The stable snake_case code of this kind, e.g. `"expired"` or `"bad_signature"`.
    pub fn code(&self) -> &'static str {
        match self {
            ErrorKind::Malformed => "malformed",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::BadSignature => "bad_signature",
            ErrorKind::AlgNotAllowed => "alg_not_allowed",
            ErrorKind::UnknownKey => "unknown_key",
            ErrorKind::InvalidKey => "invalid_key",
            ErrorKind::UnsupportedCrit => "unsupported_crit",
            ErrorKind::BadType => "bad_type",
            ErrorKind::DuplicateClaim => "duplicate_claim",
            ErrorKind::Expired => "expired",
            ErrorKind::NotYetValid => "not_yet_valid",
            ErrorKind::TooOld => "too_old",
            ErrorKind::MissingClaim => "missing_claim",
            ErrorKind::InvalidClaim => "invalid_claim",
            ErrorKind::WrongIssuer => "wrong_issuer",
            ErrorKind::WrongAudience => "wrong_audience",
            ErrorKind::AsyncVerificationRequired => "async_verification_required",
            ErrorKind::Replayed => "replayed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refused token or key configuration.
///
/// The [`Display`](fmt::Display) text is a fixed sentence, optionally followed by the name of the
/// claim concerned when that name comes from the configuration or is a registered claim name. It
/// never contains any part of the token or of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: &'static str,
    claim: Option<Cow<'static, str>>,
}

impl Error {
    pub(crate) const fn new(kind: ErrorKind, message: &'static str) -> Self {
        Error {
            kind,
            message,
            claim: None,
        }
    }

    pub(crate) fn with_claim(
        kind: ErrorKind,
        message: &'static str,
        claim: Cow<'static, str>,
    ) -> Self {
        Error {
            kind,
            message,
            claim: Some(claim),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Shorthand for `self.kind().code()`.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The claim concerned, for [`ErrorKind::MissingClaim`] and [`ErrorKind::InvalidClaim`].
    pub fn claim(&self) -> Option<&str> {
        self.claim.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message)?;
        if let Some(claim) = &self.claim {
            write!(f, " (`{claim}`)")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

pub(crate) fn malformed(message: &'static str) -> Error {
    Error::new(ErrorKind::Malformed, message)
}

pub(crate) fn invalid_claim(claim: &'static str) -> Error {
    Error::with_claim(
        ErrorKind::InvalidClaim,
        "claim has the wrong type or an out-of-range value",
        Cow::Borrowed(claim),
    )
}

pub(crate) fn missing_claim(claim: Cow<'static, str>) -> Error {
    Error::with_claim(ErrorKind::MissingClaim, "required claim is missing", claim)
}
