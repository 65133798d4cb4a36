//! The one upload path. `POST /v1/uploads`, and PutObject and CreateMultipartUpload of
//! `/v1/sign`, run the same chain ([`Service::plan_upload`]): sanitise the file name, check
//! and sign the content type, check the size, make (or check) the key, guard a key that may
//! exist against overwriting, add the checksum and metadata headers. Only what is done with the
//! plan differs: a presigned PUT, a POST policy form, or a presigned CreateMultipartUpload.

use serde_json::{Map, Value};

use super::body::{Fields, FromBody};
use super::{ApiError, Granting, Platform, Service, Signed, Target};
use crate::config::Access;
use crate::jwt::Claims;
use crate::policy::{self, Grant, PolicyError, Scope};
use crate::sigv4::{Method, ObjectRequest, PostConditions};

/// The body of `POST /v1/uploads`.
pub(super) struct UploadBody {
    pub(super) filename: String,
    pub(super) content_type: String,
    pub(super) size: u64,
    pub(super) checksum: Option<Map<String, Value>>,
    pub(super) metadata: Option<Map<String, Value>>,
    pub(super) target: Option<String>,
    pub(super) key: Option<String>,
}

impl FromBody for UploadBody {
    fn from_fields(f: &mut Fields) -> Result<Self, String> {
        Ok(Self {
            filename: f.str("filename")?,
            content_type: f.str("content_type")?,
            size: f.u64("size")?,
            checksum: f.opt_object("checksum")?,
            metadata: f.opt_object("metadata")?,
            target: f.opt_str("target")?,
            key: f.opt_str("key")?,
        })
    }
}

/// The content type an upload asks for.
#[derive(Debug, Clone, Copy)]
pub(super) enum AskedType<'a> {
    /// The client's own value.
    Given(&'a str),
    /// Not given: `application/octet-stream`.
    Unspecified,
    /// Not given: the type the file name's extension implies (Uppy's CreateMultipartUpload
    /// sends none).
    FromExtension,
}

/// What an upload asks for, from either route.
pub(super) struct UploadAsk<'a> {
    /// The client's file name (normalised and sanitised by the chain).
    pub(super) filename: &'a str,
    pub(super) content_type: AskedType<'a>,
    /// The declared size, checked against the maximum when given.
    pub(super) size: Option<u64>,
    /// A presigned single PUT: the size is required and signed as the exact `content-length`,
    /// and a key that may already exist gets `If-None-Match: *`.
    pub(super) single_put: bool,
    /// `{"sha256": …}` or `{"crc32": …}`.
    pub(super) checksum: Option<&'a Map<String, Value>>,
    /// User metadata (`x-amz-meta-*`).
    pub(super) metadata: Option<&'a Map<String, Value>>,
    /// A key the client names itself; it must be inside the grant. Else the server makes one.
    pub(super) key: Option<&'a str>,
}

/// An upload the policy allows: its key and the headers to sign.
pub(super) struct UploadPlan {
    pub(super) key: String,
    /// The content type as it is signed.
    pub(super) content_type: String,
    /// `content-type` first, then `content-length` and `if-none-match` (single PUTs), checksum
    /// and metadata.
    pub(super) headers: Vec<(String, String)>,
    /// The declared size, within the maximum.
    pub(super) size: Option<u64>,
}

impl UploadPlan {
    /// The ledger's record of this plan's grant on `target` at `now`: exactly its declared
    /// size, else at most `max` (the ledger sets the rest).
    pub(super) fn record(&self, target: &Target, max: u64, now: u64) -> crate::ledger::Upload {
        let checksum = self.headers.iter().find_map(|(name, value)| {
            name.strip_prefix("x-amz-checksum-")
                .map(|alg| (alg.to_owned(), value.clone()))
        });
        crate::ledger::Upload {
            target: target.name.clone(),
            key: self.key.clone(),
            size: self.size.unwrap_or(max),
            exact: self.size.is_some(),
            content_type: self.content_type.clone(),
            checksum,
            granted_at: now,
            delete_at: None,
            until: 0,
            charged: (0, 0),
            multipart: None,
            completed: None,
            given_back: false,
        }
    }
}

/// `headers` as the borrowed pairs the signer takes.
pub(super) fn header_refs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

impl Service {
    /// The upload chain shared by every route that grants one (see the module documentation).
    pub(super) fn plan_upload(
        &self,
        scope: &Scope,
        claims: &Claims,
        grant: &Grant,
        ask: &UploadAsk<'_>,
        now: u64,
        platform: &mut dyn Platform,
    ) -> Result<UploadPlan, ApiError> {
        let cfg = &self.config.policy;
        let filename = policy::sanitize_filename(&platform.nfc(ask.filename))?;
        let asked_type = match ask.content_type {
            AskedType::Given(t) => t,
            AskedType::Unspecified => "application/octet-stream",
            AskedType::FromExtension => policy::guess_content_type(&filename),
        };
        let content_type = policy::content_type(cfg, claims, asked_type)?;
        let mut headers = vec![("content-type".to_owned(), content_type.clone())];
        if let Some(size) = ask.size {
            policy::check_size(cfg, claims, size)?;
            if ask.single_put {
                headers.push(("content-length".to_owned(), size.to_string()));
            }
        } else if ask.single_put {
            // A PUT without a signed length would take a body of any size.
            return Err(PolicyError::invalid(
                "size_required",
                "give the file's size in bytes (`size`): a single PUT signs its exact length",
            )
            .into());
        }
        let key = match ask.key {
            Some(k) => {
                let k = platform.nfc(k);
                grant.check_key(&k)?;
                k
            }
            None => {
                let mut uuid = [0u8; 16];
                platform.fill_random(&mut uuid);
                policy::upload_key(grant, &scope.template, &filename, uuid, now)?
            }
        };
        if ask.single_put {
            headers.extend(policy::no_overwrite_header(cfg, ask.key.is_some()));
        }
        if let Some(checksum) = ask.checksum {
            let mut entries = checksum.iter();
            let (Some((alg, Value::String(v))), None) = (entries.next(), entries.next()) else {
                return Err(PolicyError::invalid(
                    "invalid_checksum",
                    "checksum must be one of {\"sha256\": base64} or {\"crc32\": base64}",
                )
                .into());
            };
            let (name, value) = policy::checksum_header(alg, v)?;
            headers.push((name.to_owned(), value));
        }
        if let Some(meta) = ask.metadata {
            headers.extend(policy::metadata_headers(meta)?);
        }
        Ok(UploadPlan {
            key,
            content_type,
            headers,
            size: ask.size,
        })
    }

    /// `POST /v1/uploads`: a presigned PUT signing the content type, the exact size and the
    /// optional checksum and metadata.
    pub(super) fn sign_upload(
        &self,
        scope: &Scope,
        claims: &Claims,
        req: &UploadBody,
        now: u64,
        platform: &mut dyn Platform,
        _origin: &str,
    ) -> Result<Granting, ApiError> {
        let target = self.target(scope, claims, req.target.as_deref())?;
        let grant = scope.grant(claims)?;
        let ttl = policy::url_ttl(&self.config.policy, claims, now)?;
        let ask = UploadAsk {
            filename: &req.filename,
            content_type: AskedType::Given(&req.content_type),
            size: Some(req.size),
            single_put: true,
            checksum: req.checksum.as_ref(),
            metadata: req.metadata.as_ref(),
            key: req.key.as_deref(),
        };
        let plan = self.plan_upload(scope, claims, &grant, &ask, now, platform)?;
        let object = ObjectRequest {
            method: Method::Put,
            key: &plan.key,
            query: &[],
            headers: &header_refs(&plan.headers),
        };
        let presigned = target
            .signer(Access::Write)
            .presign(&target.bucket, &object, ttl, now)?;
        let resp = Signed::new(target, "PUT", &presigned.url, &plan.key, ttl, now)
            .headers(&presigned.headers)
            .answer();
        Ok(Granting {
            resp,
            upload: Some(plan.record(target, req.size, now)),
        })
    }

    /// PutObject as an S3 POST policy form: exact key and content type, and a size range
    /// (exactly the declared size when given, else up to the token's maximum).
    pub(super) fn post_policy_form(
        &self,
        target: &Target,
        claims: &Claims,
        plan: &UploadPlan,
        ttl: u32,
        now: u64,
    ) -> Result<Granting, ApiError> {
        let max = policy::max_upload_size(&self.config.policy, claims);
        let (min_size, max_size) = plan.size.map_or((0, max), |s| (s, s));
        let cond = PostConditions {
            key: &plan.key,
            content_type: &plan.content_type,
            min_size,
            max_size,
        };
        let form = target
            .signer(Access::Write)
            .post_policy(&target.bucket, &cond, ttl, now)?;
        let resp = Signed::new(target, "POST", &form.url, &plan.key, ttl, now)
            .headers(&[])
            .fields(&form.fields)
            .answer();
        Ok(Granting {
            resp,
            upload: Some(plan.record(target, max, now)),
        })
    }
}
