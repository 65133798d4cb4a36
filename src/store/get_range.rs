//! GetObject of the first bytes (`GET /<key>` with `range: bytes=0-511`): what
//! [`crate::policy::sniff`] checks against the object's content type. `if-match` with the
//! ETag of the HeadObject before makes sure the bytes are of the object that was described;
//! the store answers 412 when it changed in between.

use super::{Answer, Fetched, StoreError};
use crate::sigv4::{Bucket, Method, ObjectRequest, Payload, SignError, SignedRequest, Signer};

/// How many first bytes are read.
pub const SNIFF_BYTES: usize = 512;

/// The `range` header of the request.
const RANGE: &str = "bytes=0-511";

/// The header-signed ranged GetObject of `key`, for the object of `etag`.
pub fn request(
    signer: &Signer,
    bucket: &Bucket,
    key: &str,
    etag: &str,
    now: u64,
) -> Result<SignedRequest, SignError> {
    let req = ObjectRequest {
        method: Method::Get,
        key,
        query: &[],
        headers: &[("if-match", etag), ("range", RANGE)],
    };
    signer.sign(bucket, &req, Payload::Bytes(b""), now)
}

/// What the ranged GET found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// The object's first bytes (at most [`SNIFF_BYTES`]; fewer when it is shorter).
    Bytes(Vec<u8>),
    /// The key no longer holds an object (404).
    Gone,
    /// The key holds another object than the one described (412: the ETag differs).
    Changed,
}

/// The first bytes of a ranged GetObject answer: a 206 (or a 200 of the whole object, from a
/// store that ignores `range`: cut to [`SNIFF_BYTES`]); a 416 is an empty object.
pub fn parse(fetched: &Fetched) -> Result<Start, StoreError> {
    match fetched.status {
        200 | 206 => {
            let n = fetched.body.len().min(SNIFF_BYTES);
            Ok(Start::Bytes(fetched.body[..n].to_vec()))
        }
        416 => Ok(Start::Bytes(Vec::new())),
        404 => Ok(Start::Gone),
        412 => Ok(Start::Changed),
        status => {
            let body = std::str::from_utf8(&fetched.body).unwrap_or_default();
            Err(super::refused(&Answer { status, body }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &[u8]) -> Fetched {
        Fetched {
            status,
            headers: Vec::new(),
            body: body.to_vec(),
        }
    }

    #[test]
    fn first_bytes_or_why_not() {
        assert_eq!(
            parse(&answer(206, b"\x89PNG")),
            Ok(Start::Bytes(b"\x89PNG".to_vec()))
        );
        let whole = vec![7u8; 2000];
        assert_eq!(
            parse(&answer(200, &whole)),
            Ok(Start::Bytes(vec![7u8; SNIFF_BYTES]))
        );
        assert_eq!(
            parse(&answer(416, b"<Error/>")),
            Ok(Start::Bytes(Vec::new()))
        );
        assert_eq!(parse(&answer(404, b"")), Ok(Start::Gone));
        assert_eq!(parse(&answer(412, b"")), Ok(Start::Changed));
        assert_eq!(
            parse(&answer(503, b"<Error><Code>SlowDown</Code></Error>")),
            Err(StoreError::Refused {
                status: 503,
                code: "SlowDown".into()
            })
        );
    }
}
