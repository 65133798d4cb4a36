//! `POST /v1/downloads`: a presigned GET for a key the token grants, optionally answered by the
//! store as an attachment under a file name.

use super::body::{Fields, FromBody};
use super::{ApiError, Platform, Service, Signed};
use crate::config::Access;
use crate::jwt::Claims;
use crate::policy::{self, Scope};
use crate::sigv4::{Method, ObjectRequest};

/// The body of `POST /v1/downloads`.
pub(super) struct DownloadBody {
    pub(super) key: String,
    pub(super) target: Option<String>,
    pub(super) filename: Option<String>,
}

impl FromBody for DownloadBody {
    fn from_fields(f: &mut Fields) -> Result<Self, String> {
        Ok(Self {
            key: f.str("key")?,
            target: f.opt_str("target")?,
            filename: f.opt_str("filename")?,
        })
    }
}

impl Service {
    pub(super) fn sign_download(
        &self,
        scope: &Scope,
        claims: &Claims,
        req: &DownloadBody,
        now: u64,
        platform: &mut dyn Platform,
        _origin: &str,
    ) -> Result<super::Granting, ApiError> {
        let target = self.target(scope, claims, req.target.as_deref())?;
        let grant = scope.grant(claims)?;
        grant.check_key(&req.key)?;
        let ttl = policy::url_ttl(&self.config.policy, claims, now)?;
        let disposition = match &req.filename {
            Some(f) => Some(policy::content_disposition(&policy::sanitize_filename(
                &platform.nfc(f),
            )?)),
            None => None,
        };
        let query: Vec<(&str, &str)> = disposition
            .iter()
            .map(|d| ("response-content-disposition", d.as_str()))
            .collect();
        let object = ObjectRequest {
            method: Method::Get,
            key: &req.key,
            query: &query,
            headers: &[],
        };
        let presigned = target
            .signer(Access::Read)
            .presign(&target.bucket, &object, ttl, now)?;
        Ok(
            Signed::new(target, "GET", &presigned.url, &req.key, ttl, now)
                .answer()
                .into(),
        )
    }
}
