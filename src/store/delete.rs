//! DeleteObject (`DELETE /<key>`): removes an object whose first bytes are not of its content
//! type, when `DELETE_MISMATCHED=true`. An object already gone counts as deleted.

use super::{success, Answer, StoreError};
use crate::sigv4::{Bucket, Method, ObjectRequest, Payload, SignError, SignedRequest, Signer};

/// The header-signed DeleteObject of `key`.
pub fn request(
    signer: &Signer,
    bucket: &Bucket,
    key: &str,
    now: u64,
) -> Result<SignedRequest, SignError> {
    let req = ObjectRequest {
        method: Method::Delete,
        key,
        query: &[],
        headers: &[],
    };
    signer.sign(bucket, &req, Payload::Bytes(b""), now)
}

/// `Ok` when the object is gone: deleted now (204, or 200), or not there (404).
pub fn parse(answer: &Answer<'_>) -> Result<(), StoreError> {
    match success(answer) {
        Ok(_) => Ok(()),
        Err(StoreError::Refused { status: 404, .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_is_gone() {
        for status in [200, 204, 404] {
            assert_eq!(parse(&Answer { status, body: "" }), Ok(()), "{status}");
        }
        assert_eq!(
            parse(&Answer {
                status: 403,
                body: "<Error><Code>AccessDenied</Code></Error>"
            }),
            Err(StoreError::Refused {
                status: 403,
                code: "AccessDenied".into()
            })
        );
    }
}
