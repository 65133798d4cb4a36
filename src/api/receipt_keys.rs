//! The receipts' keys: how a receipt is signed (HS256 with `RECEIPT_SECRET`, or EdDSA with
//! the Ed25519 `RECEIPT_SIGNING_KEY`), and `GET /v1/receipts/jwks.json`, the public key of
//! EdDSA receipts as a JWK set, for anyone who checks a receipt.
//!
//! The Ed25519 arithmetic is the [`Remote`]'s (WebCrypto in the worker, which links no curve
//! code; `ed25519-dalek` natively). The public key is asked for once per service, then checked
//! as the configuration would be natively ([`check_public_key`]): it must be the one the key's
//! text states (a JWK's `x`), and no issuer's. A failure answers `500 config_invalid` and is
//! logged (`receipt_key_invalid`, `receipt_signing_failed`), never with the key.
//!
//! An EdDSA receipt's header is `{"alg":"EdDSA","typ":"JWT","kid":…}`, the `kid` being the
//! RFC 7638 thumbprint of the public key, as in the key set. The set lists the current key
//! first, then those of `RECEIPT_PREVIOUS_KEYS` (earlier signing keys, so that their receipts
//! still verify after a rotation; the current one left out if listed there too; published even
//! when receipts are now HS256 or off).
//! It answers `cache-control: public, max-age=3600`; with neither variable it is
//! `404 receipt_keys_not_configured` (HS256 receipts have no public key).

use serde_json::{Map, Value};

use super::{ApiError, Request, Response, Service};
use crate::config::check_receipt_key as check_public_key;
use crate::jwks::Remote;
use crate::jwt::ed25519::{thumbprint, Ed25519PrivateKey};
use crate::jwt::{self, Algorithm};

/// The route of the key set.
pub(super) const JWKS_PATH: &str = "/v1/receipts/jwks.json";

/// How long clients may keep the key set, in seconds.
const JWKS_MAX_AGE: u32 = 3600;

/// The public key of `RECEIPT_SIGNING_KEY`, checked, with its `kid`.
#[derive(Debug)]
pub(super) struct ReceiptPublicKey {
    x: [u8; 32],
    kid: String,
}

/// One key of the key set.
#[derive(serde::Serialize)]
struct PublicJwk {
    kty: &'static str,
    crv: &'static str,
    x: String,
    kid: String,
    alg: &'static str,
    #[serde(rename = "use")]
    usage: &'static str,
}

impl PublicJwk {
    fn ed25519(x: &[u8; 32], kid: String) -> Self {
        Self {
            kty: "OKP",
            crv: "Ed25519",
            x: jwt::base64url(x),
            kid,
            alg: "EdDSA",
            usage: "sig",
        }
    }
}

#[derive(serde::Serialize)]
struct KeySet {
    keys: Vec<PublicJwk>,
}

impl Service {
    /// `Err(receipts_not_configured)` unless receipts are signed, with either key.
    pub(super) fn receipts_enabled(&self) -> Result<(), ApiError> {
        if self.config.receipts.enabled() {
            Ok(())
        } else {
            Err(ApiError::ReceiptsNotConfigured)
        }
    }

    /// The receipt of `claims`: a compact JWS, HS256 (`RECEIPT_SECRET`) or EdDSA
    /// (`RECEIPT_SIGNING_KEY`, signed by `remote`).
    pub(super) async fn sign_receipt<R: Remote>(
        &self,
        claims: &Map<String, Value>,
        remote: &R,
    ) -> Result<String, ApiError> {
        let receipts = &self.config.receipts;
        if let Some(secret) = &receipts.secret {
            return Ok(jwt::sign_hs(Algorithm::HS256, secret, None, claims));
        }
        let key = receipts
            .signing_key
            .as_ref()
            .ok_or(ApiError::ReceiptsNotConfigured)?;
        let public = self.receipt_public_key(key, remote).await?;
        let input = jwt::signing_input(Algorithm::EdDSA, Some(&public.kid), claims);
        match remote.sign_ed25519(key, input.as_bytes()).await {
            Ok(signature) => Ok(jwt::with_signature(input, &signature)),
            Err(problem) => {
                log_error(remote, "receipt_signing_failed", &problem);
                Err(ApiError::ConfigInvalid)
            }
        }
    }

    /// The public key of `key`, derived by `remote` on first use and checked.
    async fn receipt_public_key<R: Remote>(
        &self,
        key: &Ed25519PrivateKey,
        remote: &R,
    ) -> Result<&ReceiptPublicKey, ApiError> {
        if let Some(known) = self.receipt_public.get() {
            return Ok(known);
        }
        let x = match remote.ed25519_public(key).await {
            Ok(x) => x,
            Err(problem) => {
                log_error(remote, "receipt_key_invalid", &problem);
                return Err(ApiError::ConfigInvalid);
            }
        };
        if let Err(e) = check_public_key(&self.config, key, &x) {
            log_error(remote, "receipt_key_invalid", &e.to_string());
            return Err(ApiError::ConfigInvalid);
        }
        let kid = thumbprint(&x);
        // Another request may have set it meanwhile: the same key, so either is right.
        Ok(self
            .receipt_public
            .get_or_init(|| ReceiptPublicKey { x, kid }))
    }

    /// `GET /v1/receipts/jwks.json`: `{"keys":[{kty,crv,x,kid,alg,use}, …]}`, the current key
    /// first, then the previous ones.
    pub(super) async fn receipt_jwks<R: Remote>(
        &self,
        req: &Request<'_>,
        remote: &R,
    ) -> Result<Response, ApiError> {
        if !matches!(req.method, "GET" | "HEAD") {
            return Err(ApiError::MethodNotAllowed { allow: "GET, HEAD" });
        }
        let receipts = &self.config.receipts;
        if receipts.signing_key.is_none() && receipts.previous.is_empty() {
            return Err(ApiError::ReceiptKeysNotConfigured);
        }
        let mut keys = Vec::with_capacity(1 + receipts.previous.len());
        let mut current = None;
        if let Some(key) = &receipts.signing_key {
            let public = self.receipt_public_key(key, remote).await?;
            keys.push(PublicJwk::ed25519(&public.x, public.kid.clone()));
            current = Some(public.x);
        }
        // The current key may be listed too (its set saved and set before the rotation).
        keys.extend(
            receipts
                .previous
                .iter()
                .filter(|x| current.as_ref() != Some(*x))
                .map(|x| PublicJwk::ed25519(x, thumbprint(x))),
        );
        let set = KeySet { keys };
        Ok(Response::json(200, &set)
            .header("cache-control", format!("public, max-age={JWKS_MAX_AGE}")))
    }
}

/// Logs a problem of the receipts' key (never the key: `problem` comes from the checks and
/// the runtime).
fn log_error<R: Remote>(remote: &R, event: &str, problem: &str) {
    let line = serde_json::json!({ "level": "error", "event": event, "problem": problem });
    remote.log(&line.to_string());
}
