//! AbortMultipartUpload (`DELETE /<key>?uploadId=…`): frees the parts of an upload that broke
//! its grant. An upload the store no longer knows counts as aborted.

use super::{success, Answer, StoreError};
use crate::sigv4::{Bucket, Method, ObjectRequest, Payload, SignError, SignedRequest, Signer};

/// The header-signed request that aborts the store's upload `upload_id` of `key`.
pub fn request(
    signer: &Signer,
    bucket: &Bucket,
    key: &str,
    upload_id: &str,
    now: u64,
) -> Result<SignedRequest, SignError> {
    let req = ObjectRequest {
        method: Method::Delete,
        key,
        query: &[("uploadId", upload_id)],
        headers: &[],
    };
    signer.sign(bucket, &req, Payload::Bytes(b""), now)
}

/// How an upload is gone from the store once the abort is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// Aborted by this request: it never completed, so its grant's bytes may go back.
    Aborted,
    /// Unknown to the store (`NoSuchUpload`): aborted before, or completed (by a completion
    /// that may still be settling), or expired by the store. Its bytes stay counted.
    Unknown,
}

/// `Ok` when the upload is gone: aborted now (2xx), or unknown to the store (`NoSuchUpload`).
pub fn parse(answer: &Answer<'_>) -> Result<Gone, StoreError> {
    match success(answer) {
        Ok(_) => Ok(Gone::Aborted),
        Err(StoreError::Refused { code, .. }) if code == "NoSuchUpload" => Ok(Gone::Unknown),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_is_gone() {
        assert_eq!(
            parse(&Answer {
                status: 204,
                body: ""
            }),
            Ok(Gone::Aborted)
        );
        let unknown = "<Error><Code>NoSuchUpload</Code></Error>";
        assert_eq!(
            parse(&Answer {
                status: 404,
                body: unknown
            }),
            Ok(Gone::Unknown)
        );
        assert_eq!(
            parse(&Answer {
                status: 503,
                body: "<Error><Code>SlowDown</Code></Error>"
            }),
            Err(StoreError::Refused {
                status: 503,
                code: "SlowDown".into()
            })
        );
    }
}
