//! Native (non-`wasm32`) checks of asymmetric signatures with the RustCrypto crates.
//!
//! The worker build does not link these crates: on `wasm32` the signature of an asymmetric
//! token is checked by the adapter with WebCrypto (see [`Unverified`](super::Unverified)).

use ed25519_dalek::Verifier as _;
use rsa::{BigUint, RsaPublicKey};
use sha2::{Sha256, Sha384, Sha512};

use super::algorithm::{Algorithm, EcCurve, OkpCurve};
use super::error::{Error, ErrorKind};
use super::jwk::{PublicKey, MAX_RSA_BITS};

fn invalid(message: &'static str) -> Error {
    Error::new(ErrorKind::InvalidKey, message)
}

fn rsa_key(n: &[u8], e: &[u8]) -> Result<RsaPublicKey, Error> {
    RsaPublicKey::new_with_max_size(
        BigUint::from_bytes_be(n),
        BigUint::from_bytes_be(e),
        MAX_RSA_BITS,
    )
    .map_err(|_| invalid("RSA public key is not usable"))
}

fn sec1(x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut point = Vec::with_capacity(1 + x.len() + y.len());
    point.push(4);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    point
}

fn ed25519_key(x: &[u8]) -> Result<ed25519_dalek::VerifyingKey, Error> {
    let bytes: &[u8; 32] = x
        .try_into()
        .map_err(|_| invalid("Ed25519 public key is not 32 bytes long"))?;
    ed25519_dalek::VerifyingKey::from_bytes(bytes)
        .map_err(|_| invalid("Ed25519 public key is not a valid point"))
}

/// Checks that the key can be used: RSA parameters accepted, EC/OKP point on its curve.
pub(crate) fn check_key(key: &PublicKey) -> Result<(), Error> {
    match key {
        PublicKey::Rsa { n, e } => rsa_key(n, e).map(drop),
        PublicKey::Ec { curve, x, y } => {
            let point = sec1(x, y);
            let ok = match curve {
                EcCurve::P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).is_ok(),
                EcCurve::P384 => p384::ecdsa::VerifyingKey::from_sec1_bytes(&point).is_ok(),
            };
            if ok {
                Ok(())
            } else {
                Err(invalid("EC public key is not a point on its curve"))
            }
        }
        PublicKey::Okp {
            curve: OkpCurve::Ed25519,
            x,
        } => ed25519_key(x).map(drop),
    }
}

/// Verifies `signature` over `input`. `Ok(false)` is a signature that does not match (including
/// one that is malformed for the algorithm, such as an ECDSA `r` of zero). The caller has
/// already checked that the key fits `alg` and that the signature has the right length.
pub(crate) fn verify(
    key: &PublicKey,
    alg: Algorithm,
    input: &[u8],
    signature: &[u8],
) -> Result<bool, Error> {
    let mismatch = || invalid("the selected key does not fit the algorithm");
    match key {
        PublicKey::Rsa { n, e } => {
            let key = rsa_key(n, e)?;
            let ok = match alg {
                Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => {
                    let Ok(sig) = rsa::pkcs1v15::Signature::try_from(signature) else {
                        return Ok(false);
                    };
                    match alg {
                        Algorithm::RS256 => rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key)
                            .verify(input, &sig)
                            .is_ok(),
                        Algorithm::RS384 => rsa::pkcs1v15::VerifyingKey::<Sha384>::new(key)
                            .verify(input, &sig)
                            .is_ok(),
                        _ => rsa::pkcs1v15::VerifyingKey::<Sha512>::new(key)
                            .verify(input, &sig)
                            .is_ok(),
                    }
                }
                Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 => {
                    let Ok(sig) = rsa::pss::Signature::try_from(signature) else {
                        return Ok(false);
                    };
                    // Salt length = hash length (RFC 7518 §3.5), the default of `new`.
                    match alg {
                        Algorithm::PS256 => rsa::pss::VerifyingKey::<Sha256>::new(key)
                            .verify(input, &sig)
                            .is_ok(),
                        Algorithm::PS384 => rsa::pss::VerifyingKey::<Sha384>::new(key)
                            .verify(input, &sig)
                            .is_ok(),
                        _ => rsa::pss::VerifyingKey::<Sha512>::new(key)
                            .verify(input, &sig)
                            .is_ok(),
                    }
                }
                _ => return Err(mismatch()),
            };
            Ok(ok)
        }
        PublicKey::Ec { curve, x, y } => {
            let point = sec1(x, y);
            match (curve, alg) {
                (EcCurve::P256, Algorithm::ES256) => {
                    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                        .map_err(|_| invalid("EC public key is not a point on its curve"))?;
                    let Ok(sig) = p256::ecdsa::Signature::from_slice(signature) else {
                        return Ok(false);
                    };
                    Ok(key.verify(input, &sig).is_ok())
                }
                (EcCurve::P384, Algorithm::ES384) => {
                    let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                        .map_err(|_| invalid("EC public key is not a point on its curve"))?;
                    let Ok(sig) = p384::ecdsa::Signature::from_slice(signature) else {
                        return Ok(false);
                    };
                    Ok(key.verify(input, &sig).is_ok())
                }
                _ => Err(mismatch()),
            }
        }
        PublicKey::Okp {
            curve: OkpCurve::Ed25519,
            x,
        } => {
            if alg != Algorithm::EdDSA {
                return Err(mismatch());
            }
            let key = ed25519_key(x)?;
            let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
                return Ok(false);
            };
            Ok(key.verify_strict(input, &sig).is_ok())
        }
    }
}
