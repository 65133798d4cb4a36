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

/// `Ok` when the upload is gone: aborted now (204), or unknown to the store (`NoSuchUpload`).
pub fn parse(answer: &Answer<'_>) -> Result<(), StoreError> {
    match success(answer) {
        Ok(_) => Ok(()),
        Err(StoreError::Refused { code, .. }) if code == "NoSuchUpload" => Ok(()),
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
            Ok(())
        );
        let unknown = "<Error><Code>NoSuchUpload</Code></Error>";
        assert_eq!(
            parse(&Answer {
                status: 404,
                body: unknown
            }),
            Ok(())
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
