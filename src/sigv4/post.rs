//! S3 POST policies (browser form uploads, AWS S3 and compatible stores; not R2): a JSON policy
//! document, base64-encoded, signed with the day's signing key. Unlike a presigned PUT, a POST
//! policy can bound the size with `content-length-range`.

use base64::Engine as _;
use serde_json::{json, Value};

use super::{encode, validate_key, AmzDate, Bucket, SignError, Signer, ALGORITHM, MAX_EXPIRES};

/// What the policy allows: the exact key, the exact content type and a size range.
#[derive(Debug, Clone, Copy)]
pub struct PostConditions<'a> {
    /// The object key (exact match).
    pub key: &'a str,
    /// The `Content-Type` form field (exact match).
    pub content_type: &'a str,
    /// Smallest accepted file, in bytes.
    pub min_size: u64,
    /// Largest accepted file, in bytes.
    pub max_size: u64,
}

/// A signed form: POST the `fields` (in order) and then the `file` to `url` as
/// `multipart/form-data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostForm {
    /// The bucket URL to POST to.
    pub url: String,
    /// Form fields, including `policy` and `x-amz-signature`.
    pub fields: Vec<(String, String)>,
}

/// `2026-11-25T18:05:00.000Z`, the expiration format of POST policies.
fn iso8601_millis(date: &AmzDate) -> String {
    let s = date.as_str();
    format!(
        "{}-{}-{}T{}:{}:{}.000Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    )
}

impl Signer {
    /// Signs a policy document as given (its exact bytes): returns the base64 policy and the hex
    /// signature, with the signing key of `now`'s date.
    pub fn sign_policy_document(
        &self,
        document: &str,
        now: u64,
    ) -> Result<(String, String), SignError> {
        let date = AmzDate::from_unix(now).ok_or(SignError::TimeOutOfRange)?;
        let policy = base64::engine::general_purpose::STANDARD.encode(document);
        let signature = self.signing_key(&date).sign(&[&policy]);
        Ok((policy, encode::ascii_str(&signature).to_owned()))
    }

    /// A POST policy form for one object: exact key, exact content type, size within
    /// `[min_size, max_size]`, valid `expires_in` seconds from `now`.
    pub fn post_policy(
        &self,
        bucket: &Bucket,
        cond: &PostConditions<'_>,
        expires_in: u32,
        now: u64,
    ) -> Result<PostForm, SignError> {
        validate_key(cond.key)?;
        if !(1..=MAX_EXPIRES).contains(&expires_in) {
            return Err(SignError::ExpiresOutOfRange);
        }
        if !cond
            .content_type
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b))
        {
            return Err(SignError::InvalidHeaderValue);
        }
        let date = AmzDate::from_unix(now).ok_or(SignError::TimeOutOfRange)?;
        let expiration =
            AmzDate::from_unix(now + u64::from(expires_in)).ok_or(SignError::TimeOutOfRange)?;
        let mut credential = String::with_capacity(96);
        self.write_credential(&mut credential, &date, "/");
        let mut conditions = vec![
            json!({ "bucket": bucket.name() }),
            json!(["eq", "$key", cond.key]),
            json!(["eq", "$Content-Type", cond.content_type]),
            json!(["content-length-range", cond.min_size, cond.max_size]),
            json!({ "x-amz-algorithm": ALGORITHM }),
            json!({ "x-amz-credential": credential }),
            json!({ "x-amz-date": date.as_str() }),
        ];
        let token = self.credentials.session_token.as_deref();
        if let Some(t) = token {
            conditions.push(json!({ "x-amz-security-token": t }));
        }
        let document: Value = json!({
            "expiration": iso8601_millis(&expiration),
            "conditions": conditions,
        });
        let (policy, signature) = self.sign_policy_document(&document.to_string(), now)?;

        let mut fields = vec![
            ("key".to_owned(), cond.key.to_owned()),
            ("Content-Type".to_owned(), cond.content_type.to_owned()),
            ("x-amz-algorithm".to_owned(), ALGORITHM.to_owned()),
            ("x-amz-credential".to_owned(), credential),
            ("x-amz-date".to_owned(), date.as_str().to_owned()),
        ];
        if let Some(t) = token {
            fields.push(("x-amz-security-token".to_owned(), t.to_owned()));
        }
        fields.push(("policy".to_owned(), policy));
        fields.push(("x-amz-signature".to_owned(), signature));
        // The bucket's URL: `https://bucket.host/` or `https://host/bucket`.
        let prefix = bucket.path_prefix();
        let path = if prefix.len() > 1 {
            prefix.trim_end_matches('/')
        } else {
            prefix
        };
        Ok(PostForm {
            url: format!("{}{path}", bucket.origin()),
            fields,
        })
    }
}
