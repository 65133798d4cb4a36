//! The worker's own requests to the store for a multipart upload, sans IO: each action builds
//! a header-signed request with [`crate::sigv4`] and parses the store's XML answer into a typed
//! result or a [`StoreError`]. The adapter sends the requests (`fetch`) and hands back the
//! status and body; nothing here reads the network or the clock.
//!
//! | file | S3 action | used for |
//! | --- | --- | --- |
//! | [`create`] | CreateMultipartUpload | start an upload with its content type signed |
//! | [`list_parts`] | ListParts (paginated) | what the store really holds before completing |
//! | [`complete`] | CompleteMultipartUpload | with a body built from the listed parts only |
//! | [`abort`] | AbortMultipartUpload | free the parts of an upload that broke its grant |
//! | [`head`] | HeadObject | what an object is (size, type, ETag, checksum), for `/v1/uploads/complete` |
//! | [`get_range`] | GetObject with `range` | the object's first bytes, to check its content type |
//! | [`delete`] | DeleteObject | remove an object whose content is not its type (`DELETE_MISMATCHED`) |
//!
//! [`ticket`] binds the client's later requests to what the creation granted.

pub mod abort;
pub mod complete;
pub mod create;
pub mod delete;
pub mod get_range;
pub mod head;
pub mod list_parts;
pub mod ticket;
pub(crate) mod xml;

use std::fmt;
use std::future::Future;

use crate::sigv4::SignedRequest;

/// Seconds a client is told to wait after the store failed (`Retry-After`).
pub const RETRY_AFTER_SECS: u64 = 5;

/// The response headers a [`Transport`] hands back (lower-case names), when the store sent
/// them: what [`head`] and [`get_range`] read. Other headers are dropped.
pub const ANSWER_HEADERS: &[&str] = &[
    "content-length",
    "content-range",
    "content-type",
    "etag",
    "last-modified",
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
    "x-amz-checksum-type",
];

/// The store's whole answer to one request, as the transport received it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// The HTTP status.
    pub status: u16,
    /// The headers of [`ANSWER_HEADERS`] that the store sent, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body's bytes (bounded by the transport).
    pub body: Vec<u8>,
}

impl Fetched {
    /// The value of header `name` (lower case), if the store sent it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How the worker's own requests reach the store: the adapter's `fetch` with a timeout (and a
/// bounded answer), a scripted fake in tests.
///
/// The future is not `Send`: the worker runs on one thread.
pub trait Transport {
    /// Sends `req` with `body` and returns the store's status, the headers of
    /// [`ANSWER_HEADERS`] and the body's bytes, or why no answer came.
    fn exchange(
        &self,
        req: &SignedRequest,
        body: &[u8],
    ) -> impl Future<Output = Result<Fetched, StoreError>>;

    /// [`exchange`](Self::exchange) for the XML actions: the status and the body as text (an
    /// answer that is not UTF-8 is malformed).
    fn send(
        &self,
        req: &SignedRequest,
        body: &[u8],
    ) -> impl Future<Output = Result<(u16, String), StoreError>> {
        async move {
            let fetched = self.exchange(req, body).await?;
            let text = String::from_utf8(fetched.body)
                .map_err(|_| StoreError::Malformed("an answer that is not UTF-8"))?;
            Ok((fetched.status, text))
        }
    }
}

/// No store at all (the native [`crate::api::Service::handle`]): every request is unreachable.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTransport;

impl Transport for NoTransport {
    async fn exchange(&self, _req: &SignedRequest, _body: &[u8]) -> Result<Fetched, StoreError> {
        Err(StoreError::Unreachable)
    }
}

/// The store's answer as the adapter received it.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// The HTTP status.
    pub status: u16,
    /// The body (S3 answers are UTF-8 XML; anything else is malformed).
    pub body: &'a str,
}

/// Why a store request did not give what was asked. Messages never hold the store's body
/// verbatim (only an S3 error code of a safe shape), nor a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The store could not be reached (connection refused, DNS, TLS).
    Unreachable,
    /// No answer within the timeout.
    Timeout,
    /// The store answered with an S3 error.
    Refused {
        /// Its HTTP status (a 200 CompleteMultipartUpload can carry an error too).
        status: u16,
        /// Its S3 error code (`NoSuchUpload`, `InvalidPart`, …), or `""` when it gave none.
        code: String,
    },
    /// The answer is not what S3 sends for this action.
    Malformed(&'static str),
}

impl StoreError {
    /// The HTTP status the worker answers with: 404 for an upload the store does not know, 412
    /// when the key already holds an object (`If-None-Match: *`), 502 for another store error
    /// or a malformed answer, 503 when unreachable, 504 on a timeout.
    pub fn status(&self) -> u16 {
        match self {
            Self::Refused { code, .. } if code == "NoSuchUpload" => 404,
            Self::Refused { status: 412, .. } => 412,
            Self::Refused { .. } | Self::Malformed(_) => 502,
            Self::Unreachable => 503,
            Self::Timeout => 504,
        }
    }

    /// Whether the client should retry later (the answer then has `Retry-After`): every
    /// failure but an unknown upload or an existing key.
    pub fn retryable(&self) -> bool {
        !matches!(self.status(), 404 | 412)
    }

    /// The stable error code of the worker's answer.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Refused { code, .. } if code == "NoSuchUpload" => "upload_not_found",
            Self::Refused { status: 412, .. } => "object_exists",
            Self::Refused { .. } => "store_error",
            Self::Malformed(_) => "store_answer_malformed",
            Self::Unreachable => "store_unavailable",
            Self::Timeout => "store_timeout",
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable => f.write_str("the store could not be reached"),
            Self::Timeout => f.write_str("the store did not answer in time"),
            Self::Refused { status, code } if code.is_empty() => {
                write!(f, "the store answered {status}")
            }
            Self::Refused { status, code } => write!(f, "the store answered {status} {code}"),
            Self::Malformed(what) => write!(f, "the store's answer is malformed: {what}"),
        }
    }
}

/// The S3 error of an answer: its `<Error><Code>` when of a safe shape (ASCII letters and
/// digits, at most 64), else `""`.
fn refused(answer: &Answer<'_>) -> StoreError {
    let code = xml::elements(answer.body, "Error")
        .first()
        .and_then(|e| xml::text(e, "Code"))
        .filter(|c| c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_default();
    StoreError::Refused {
        status: answer.status,
        code,
    }
}

/// The body of a 2xx answer, or the store's error.
fn success<'a>(answer: &Answer<'a>) -> Result<&'a str, StoreError> {
    if (200..300).contains(&answer.status) {
        Ok(answer.body)
    } else {
        Err(refused(answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_gateway_statuses() {
        let a = Answer {
            status: 404,
            body: "<?xml version=\"1.0\"?><Error><Code>NoSuchUpload</Code><Message>x</Message></Error>",
        };
        let e = success(&a).unwrap_err();
        assert_eq!((e.status(), e.code()), (404, "upload_not_found"));
        let a = Answer {
            status: 500,
            body: "<Error><Code>Internal Error <script></Code></Error>",
        };
        let e = success(&a).unwrap_err();
        assert_eq!(
            e,
            StoreError::Refused {
                status: 500,
                code: String::new()
            }
        );
        assert_eq!(
            (e.status(), e.code(), e.to_string().as_str()),
            (502, "store_error", "the store answered 500")
        );
        assert_eq!(StoreError::Unreachable.status(), 503);
        assert_eq!(StoreError::Timeout.status(), 504);
        assert_eq!(StoreError::Malformed("x").status(), 502);
        assert_eq!(
            success(&Answer {
                status: 204,
                body: ""
            }),
            Ok("")
        );
    }
}
