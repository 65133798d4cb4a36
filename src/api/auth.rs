//! Who is asking: the request's token, found where the configuration says and verified with
//! the keys of its issuer (an identity provider's JWK set) or with the HMAC keys.

use super::{ApiError, Request, Service};
use crate::config::ACCESS_HEADER;
use crate::jwks::{Remote, Unavailable};
use crate::jwt::{self, Claims};
use crate::policy::Scope;

/// A token whose `alg` is not in its issuer's allow-list.
fn not_allowed() -> jwt::Error {
    jwt::Error::new(
        jwt::ErrorKind::AlgNotAllowed,
        "the token's alg is not allowed for its issuer",
    )
}

impl Service {
    /// The token of the request: the configured header (with `Bearer` when it is
    /// `authorization`), else Cloudflare Access's header when that preset is on.
    fn token(&self, req: &Request<'_>) -> Result<String, ApiError> {
        let jwt_cfg = &self.config.jwt;
        let Some(raw) = (req.header)(&jwt_cfg.header) else {
            if jwt_cfg.access_header {
                if let Some(t) = (req.header)(ACCESS_HEADER) {
                    return Ok(t.trim().to_owned());
                }
            }
            return Err(ApiError::MissingToken(format!(
                "send a token in the {} header",
                jwt_cfg.header
            )));
        };
        if !jwt_cfg.bearer_scheme {
            return Ok(raw.trim().to_owned());
        }
        match raw.trim().split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => Ok(t.trim().to_owned()),
            _ => Err(ApiError::MissingToken(
                "use Authorization: Bearer <token>".to_owned(),
            )),
        }
    }

    /// Verifies the request's token: with the keys of the issuer named by its `iss` when one
    /// is configured (that issuer's algorithms and audiences), else with the HMAC keys.
    /// Returns the scope of the issuer that verified it, with its claims.
    pub(super) async fn authenticate<R: Remote>(
        &self,
        req: &Request<'_>,
        now: u64,
        remote: &R,
    ) -> Result<(&Scope, Claims), ApiError> {
        let token = self.token(req)?;
        let unverified = jwt::decode_unverified(&token, &self.decode)?;
        let hint = match self.issuers.is_empty() {
            true => None,
            false => unverified.issuer_hint(),
        };
        let found = hint.and_then(|iss| self.issuers.iter().position(|i| i.config.iss == iss));
        let issuer = found.and_then(|i| Some((self.issuers.get(i)?, self.issuer_scopes.get(i)?)));
        let Some((issuer, scope)) = issuer else {
            if !self.validation.algorithms.contains(&unverified.alg()) {
                return Err(not_allowed().into());
            }
            let key = unverified.select_key(&self.keys)?;
            let ok = unverified.verify_signature(key)?;
            let claims = unverified.into_claims(ok, &self.validation, now)?;
            return Ok((&self.hmac_scope, claims));
        };
        // The issuer's own allow-list, before any of its keys is looked at.
        if !issuer.validation.algorithms.contains(&unverified.alg()) {
            return Err(not_allowed().into());
        }
        let keys = issuer
            .keys(unverified.kid(), now, remote)
            .await
            .map_err(|Unavailable| ApiError::JwksUnavailable {
                retry_after_secs: self.config.jwt.jwks_refetch_secs,
            })?;
        let key = unverified.select_key(&keys)?;
        let ok = match key.public_key() {
            Some(public) => {
                let input = unverified.signing_input();
                remote
                    .verify(unverified.alg(), public, input, unverified.signature())
                    .await
            }
            // Never: JWK sets hold no secrets. Refused all the same.
            None => false,
        };
        Ok((scope, unverified.into_claims(ok, &issuer.validation, now)?))
    }
}
