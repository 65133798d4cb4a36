//! AWS Signature Version 4 for S3 and S3-compatible stores: presigned URLs (query-string auth)
//! and signed requests (`Authorization` header), sans I/O.
//!
//! One module per step of the specification: [`encode`](self) (URI encoding), `time`
//! (`X-Amz-Date`), `canonical` (canonical request and string to sign), `key` (signing key) and
//! `endpoint` (bucket addressing). The time is always an argument.
//!
//! ```
//! use presign_worker::sigv4::{AddressingStyle, Bucket, Credentials, Endpoint, Method, ObjectRequest, Signer};
//!
//! let creds = Credentials::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None);
//! let signer = Signer::s3(creds, "us-east-1").unwrap();
//! let bucket = Bucket::new(&Endpoint::parse("https://s3.amazonaws.com").unwrap(), "examplebucket",
//!     AddressingStyle::VirtualHosted).unwrap();
//! let req = ObjectRequest { method: Method::Get, key: "test.txt", query: &[], headers: &[] };
//! let url = signer.presign(&bucket, &req, 86_400, 1_369_353_600).unwrap().url;
//! assert!(url.ends_with("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"));
//! ```

mod canonical;
mod encode;
mod endpoint;
mod error;
mod key;
mod post;
mod time;

use std::cell::RefCell;
use std::fmt;

use sha2::{Digest, Sha256};

use canonical::{
    canonical_header, encode_query, sort_and_merge, write_canonical_request,
    write_signed_header_names, CanonicalHeader, EncodedParam, Sink, Tee, ALGORITHM,
};
pub use encode::uri_encode;
use encode::{hex_lower, uri_encode_into};
pub use endpoint::{is_dns_bucket_name, AddressingStyle, Bucket, Endpoint, EndpointError};
pub use error::SignError;
pub(crate) use key::hmac_with_key;
pub use key::SigningKey;
pub use post::{PostConditions, PostForm};
pub use time::AmzDate;

/// The payload hash that leaves the body unsigned (presigned URLs, streaming uploads).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The SHA-256 of an empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Longest presigned URL lifetime SigV4 allows: 7 days.
pub const MAX_EXPIRES: u32 = 604_800;
/// Longest S3 object key, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// Access key, secret and optional session token. `Debug` shows none of the secrets.
#[derive(Clone)]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

impl Credentials {
    /// Credentials from their parts; `session_token` for temporary (STS) credentials.
    pub fn new(access_key_id: &str, secret_access_key: &str, session_token: Option<&str>) -> Self {
        Self {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            session_token: session_token.map(str::to_owned),
        }
    }

    /// The access key id (not a secret).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// HTTP methods S3 uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// PUT
    Put,
    /// POST
    Post,
    /// DELETE
    Delete,
}

impl Method {
    /// The method's name in upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Put => "PUT",
            Self::Post => "POST",
            Self::Delete => "DELETE",
        }
    }

    /// Parses an upper-case method name.
    pub fn parse(s: &str) -> Result<Self, SignError> {
        Ok(match s {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "PUT" => Self::Put,
            "POST" => Self::Post,
            "DELETE" => Self::Delete,
            _ => return Err(SignError::InvalidMethod),
        })
    }
}

/// A request on one object: method, key, extra query parameters (raw, e.g. `partNumber`,
/// `uploadId`, `uploads` with an empty value) and headers to sign (raw names and values).
#[derive(Debug, Clone, Copy)]
pub struct ObjectRequest<'a> {
    /// The HTTP method.
    pub method: Method,
    /// The object key, as stored (not encoded; encoded once by the signer, never normalised).
    pub key: &'a str,
    /// Extra query parameters, not encoded.
    pub query: &'a [(&'a str, &'a str)],
    /// Headers the client will send and that the signature covers (e.g. `content-type`).
    pub headers: &'a [(&'a str, &'a str)],
}

/// The body's hash for a header-signed request.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
    /// The body itself; its SHA-256 is computed.
    Bytes(&'a [u8]),
}

/// A presigned URL and the headers the client must send with it (lower-case names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    /// The HTTP method the URL is valid for.
    pub method: Method,
    /// The full URL with the signature in its query.
    pub url: String,
    /// Headers covered by the signature, other than `host`, with the values to send.
    pub headers: Vec<(String, String)>,
}

/// A header-signed request: URL and every header to send, `authorization` included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The HTTP method.
    pub method: Method,
    /// The full URL.
    pub url: String,
    /// Headers to send (lower-case names), other than `host`.
    pub headers: Vec<(String, String)>,
}

/// The intermediate texts of one signature, for debugging and known-answer tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The canonical request.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// The hex signature.
    pub signature: String,
}

/// A request at the level of the SigV4 specification (any service), for [`Signer::presign_raw`]
/// and [`Signer::sign_raw`]. The path is encoded once and never normalised (S3's rule).
#[derive(Debug, Clone, Copy)]
pub struct RawRequest<'a> {
    /// The method, upper case.
    pub method: &'a str,
    /// `scheme://host[:port]`.
    pub origin: &'a str,
    /// The `host` header value.
    pub host: &'a str,
    /// The path, raw (it is encoded here, `/` kept).
    pub path: &'a str,
    /// Query parameters, raw.
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to sign, raw.
    pub headers: &'a [(&'a str, &'a str)],
}

/// Options of [`Signer::sign_raw`] for services other than S3.
#[derive(Debug, Clone, Copy)]
pub struct HeaderSignOptions<'a> {
    /// The payload hash (hex SHA-256 or [`UNSIGNED_PAYLOAD`]).
    pub payload_hash: &'a str,
    /// Whether to send and sign `x-amz-content-sha256` (always on for S3).
    pub content_sha256_header: bool,
    /// Whether the session token is signed (`false`: added after signing, as some services want).
    pub sign_session_token: bool,
}

/// Signs for one set of credentials, region and service. The signing key is derived once per
/// date and cached. Not `Sync`: keep one per thread (a Worker isolate is one thread).
pub struct Signer {
    credentials: Credentials,
    region: String,
    service: String,
    key: RefCell<Option<SigningKey>>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("credentials", &self.credentials)
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// Whether `region` can be a signing region: 1 to 32 characters of `a-z`, `0-9` and `-`, not
/// starting or ending with `-` (`us-east-1`, `auto`).
pub fn is_valid_region(region: &str) -> bool {
    (1..=32).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-')
}

/// A header name the signer sets or that must not be signed by a caller.
fn is_reserved_header(name: &str) -> bool {
    [
        "host",
        "authorization",
        "x-amz-date",
        "x-amz-security-token",
        "x-amz-content-sha256",
    ]
    .iter()
    .any(|r| r.eq_ignore_ascii_case(name))
}

fn validate_key(key: &str) -> Result<(), SignError> {
    if key.is_empty() {
        return Err(SignError::EmptyKey);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(SignError::KeyTooLong);
    }
    if key.chars().any(char::is_control) {
        return Err(SignError::KeyControlCharacter);
    }
    Ok(())
}

/// The `X-Amz-*` names a caller's query may not use.
fn check_query(query: &[(&str, &str)]) -> Result<(), SignError> {
    let reserved = query
        .iter()
        .any(|(n, _)| n.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("x-amz-")));
    if reserved {
        Err(SignError::ReservedQueryParameter)
    } else {
        Ok(())
    }
}

impl Signer {
    /// A signer for `service` in `region`. The access key id and region are validated.
    pub fn new(credentials: Credentials, region: &str, service: &str) -> Result<Self, SignError> {
        let ak = &credentials.access_key_id;
        if ak.is_empty() || ak.len() > 128 || !ak.bytes().all(|b| b.is_ascii_graphic() && b != b'/')
        {
            return Err(SignError::InvalidAccessKey);
        }
        if !is_valid_region(region) {
            return Err(SignError::InvalidRegion);
        }
        if service.is_empty()
            || !service
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(SignError::InvalidRegion);
        }
        Ok(Self {
            credentials,
            region: region.to_owned(),
            service: service.to_owned(),
            key: RefCell::new(None),
        })
    }

    /// A signer for S3 (`service = "s3"`) in `region` (`auto` for R2).
    pub fn s3(credentials: Credentials, region: &str) -> Result<Self, SignError> {
        Self::new(credentials, region, "s3")
    }

    /// The region signed in the credential scope.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The signing key for `date`, from the cache or derived (and cached) now.
    pub fn signing_key(&self, date: &AmzDate) -> SigningKey {
        if let Ok(cached) = self.key.try_borrow() {
            if let Some(k) = cached.as_ref().filter(|k| k.is_for_date(date.date())) {
                return k.clone();
            }
        }
        let fresh = SigningKey::derive(
            &self.credentials.secret_access_key,
            date.date(),
            &self.region,
            &self.service,
        );
        if let Ok(mut slot) = self.key.try_borrow_mut() {
            *slot = Some(fresh.clone());
        }
        fresh
    }

    /// A presigned URL for an object request, valid `expires_in` seconds (1 ..= 604 800) from
    /// `now` (Unix seconds). The payload is `UNSIGNED-PAYLOAD`; the signed headers are returned
    /// with the values the client must send.
    pub fn presign(
        &self,
        bucket: &Bucket,
        req: &ObjectRequest<'_>,
        expires_in: u32,
        now: u64,
    ) -> Result<Presigned, SignError> {
        validate_key(req.key)?;
        self.presign_at(
            bucket.origin(),
            bucket.host_header(),
            bucket.path_prefix(),
            req.key,
            req.method.as_str(),
            req.query,
            req.headers,
            expires_in,
            UNSIGNED_PAYLOAD,
            now,
            None,
        )
        .map(|(url, headers)| Presigned {
            method: req.method,
            url,
            headers,
        })
    }

    /// Signs an object request in headers (`authorization`, `x-amz-date`,
    /// `x-amz-content-sha256`, `x-amz-security-token`), for calls made to the store directly.
    pub fn sign(
        &self,
        bucket: &Bucket,
        req: &ObjectRequest<'_>,
        payload: Payload<'_>,
        now: u64,
    ) -> Result<SignedRequest, SignError> {
        validate_key(req.key)?;
        let hash_buf: [u8; 64];
        let payload_hash = match payload {
            Payload::Unsigned => UNSIGNED_PAYLOAD,
            Payload::Bytes(body) => {
                hash_buf = hex_lower(&Sha256::digest(body));
                encode::ascii_str(&hash_buf)
            }
        };
        let opts = HeaderSignOptions {
            payload_hash,
            content_sha256_header: true,
            sign_session_token: true,
        };
        let raw = RawRequest {
            method: req.method.as_str(),
            origin: bucket.origin(),
            host: bucket.host_header(),
            path: req.key,
            query: req.query,
            headers: req.headers,
        };
        self.sign_at(&raw, bucket.path_prefix(), &opts, now, None)
            .map(|(url, headers)| SignedRequest {
                method: req.method,
                url,
                headers,
            })
    }

    /// Presigns a request of any service (the SigV4 test suite's level). `trace` receives the
    /// canonical request, the string to sign and the signature.
    pub fn presign_raw(
        &self,
        req: &RawRequest<'_>,
        expires_in: u32,
        payload_hash: &str,
        now: u64,
        trace: Option<&mut Trace>,
    ) -> Result<String, SignError> {
        self.presign_at(
            req.origin,
            req.host,
            "",
            req.path,
            req.method,
            req.query,
            req.headers,
            expires_in,
            payload_hash,
            now,
            trace,
        )
        .map(|(url, _)| url)
    }

    /// Signs a request of any service in headers; returns the URL and the headers to send.
    pub fn sign_raw(
        &self,
        req: &RawRequest<'_>,
        opts: &HeaderSignOptions<'_>,
        now: u64,
        trace: Option<&mut Trace>,
    ) -> Result<(String, Vec<(String, String)>), SignError> {
        self.sign_at(req, "", opts, now, trace)
    }

    /// Validates the caller's headers and returns them canonical, with `host` and `extra` added.
    fn canonical_headers<'a>(
        host: &'a str,
        headers: &'a [(&'a str, &'a str)],
        extra: &[(&'a str, &'a str)],
    ) -> Result<Vec<CanonicalHeader<'a>>, SignError> {
        let mut out = Vec::with_capacity(headers.len() + extra.len() + 1);
        out.push(CanonicalHeader {
            name: "host".into(),
            value: host.into(),
        });
        for &(name, value) in extra {
            out.push(CanonicalHeader {
                name: name.into(),
                value: value.into(),
            });
        }
        for &(name, value) in headers {
            if is_reserved_header(name) {
                return Err(SignError::ReservedHeader);
            }
            out.push(canonical_header(name, value)?);
        }
        sort_and_merge(&mut out);
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn presign_at(
        &self,
        origin: &str,
        host: &str,
        path_prefix: &str,
        path: &str,
        method: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        expires_in: u32,
        payload_hash: &str,
        now: u64,
        trace: Option<&mut Trace>,
    ) -> Result<(String, Vec<(String, String)>), SignError> {
        if !(1..=MAX_EXPIRES).contains(&expires_in) {
            return Err(SignError::ExpiresOutOfRange);
        }
        check_query(query)?;
        let date = AmzDate::from_unix(now).ok_or(SignError::TimeOutOfRange)?;
        let headers_c = Self::canonical_headers(host, headers, &[])?;
        let user_query = if query.is_empty() {
            Vec::new()
        } else {
            encode_query(query)
        };

        let mut url = String::with_capacity(
            origin.len() + path_prefix.len() + path.len() * 3 + 300 + self.session_token_len() * 3,
        );
        url.push_str(origin);
        let uri_start = url.len();
        url.push_str(path_prefix);
        uri_encode_into(&mut url, path, true);
        let uri_end = url.len();
        url.push('?');
        let query_start = url.len();
        self.write_presign_query(&mut url, &date, expires_in, &headers_c, &user_query);
        let query_end = url.len();

        let signature = {
            let canonical_uri = url.get(uri_start..uri_end).unwrap_or_default();
            let canonical_query = url.get(query_start..query_end).unwrap_or_default();
            self.signature(&date, trace, |sink| {
                write_canonical_request(
                    sink,
                    method,
                    canonical_uri,
                    canonical_query,
                    &headers_c,
                    payload_hash,
                )
            })
        };
        url.push_str("&X-Amz-Signature=");
        url.push_str(encode::ascii_str(&signature));

        let to_send = headers_c
            .iter()
            .filter(|h| h.name != "host")
            .map(|h| (h.name.clone().into_owned(), h.value.clone().into_owned()))
            .collect();
        Ok((url, to_send))
    }

    fn session_token_len(&self) -> usize {
        self.credentials
            .session_token
            .as_ref()
            .map_or(0, String::len)
    }

    /// The canonical query of a presigned URL: the `X-Amz-*` parameters merged in sorted order
    /// with the caller's (already encoded and sorted) parameters. It is also the URL's query.
    fn write_presign_query(
        &self,
        out: &mut String,
        date: &AmzDate,
        expires_in: u32,
        headers: &[CanonicalHeader<'_>],
        user: &[EncodedParam],
    ) {
        // In sorted order; `X-Amz-Signature` is appended after signing.
        const NAMES: [&str; 6] = [
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-Expires",
            "X-Amz-Security-Token",
            "X-Amz-SignedHeaders",
        ];
        let mut first = true;
        let mut sep = |out: &mut String| {
            if !first {
                out.push('&');
            }
            first = false;
        };
        let mut rest = user;
        for (i, name) in NAMES.iter().enumerate() {
            let token = self.credentials.session_token.as_deref();
            if i == 4 && token.is_none() {
                continue;
            }
            while let Some((p, tail)) = rest.split_first().filter(|(p, _)| p.name.as_str() < *name)
            {
                sep(out);
                push_param(out, p);
                rest = tail;
            }
            sep(out);
            out.push_str(name);
            out.push('=');
            match i {
                0 => out.push_str(ALGORITHM),
                1 => self.write_credential(out, date, "%2F"),
                2 => out.push_str(date.as_str()),
                3 => out.push_str(itoa_u32(expires_in).as_str()),
                4 => uri_encode_into(out, token.unwrap_or_default(), false),
                _ => write_signed_header_names(out, headers, "%3B"),
            }
        }
        for p in rest {
            sep(out);
            push_param(out, p);
        }
    }

    /// `AKID/20130524/us-east-1/s3/aws4_request`, with `sep` between the parts.
    fn write_credential(&self, out: &mut String, date: &AmzDate, sep: &str) {
        out.push_str(&self.credentials.access_key_id);
        for part in [date.date(), &self.region, &self.service, "aws4_request"] {
            out.push_str(sep);
            out.push_str(part);
        }
    }

    /// Hashes the canonical request written by `write`, builds the string to sign and signs it.
    fn signature(
        &self,
        date: &AmzDate,
        trace: Option<&mut Trace>,
        write: impl FnOnce(&mut dyn Sink),
    ) -> [u8; 64] {
        let key = self.signing_key(date);
        let hash: [u8; 64] = match trace {
            None => {
                let mut h = Sha256::new();
                write(&mut h);
                hex_lower(&h.finalize())
            }
            Some(t) => {
                t.canonical_request.clear();
                let mut tee = Tee(Sha256::new(), &mut t.canonical_request);
                write(&mut tee);
                let hash = hex_lower(&tee.0.finalize());
                let mut sts = String::new();
                self.write_string_to_sign(&mut sts, date, &hash);
                t.string_to_sign = sts;
                hash
            }
        };
        let hash = encode::ascii_str(&hash);
        let sig = key.sign(&[
            ALGORITHM,
            "\n",
            date.as_str(),
            "\n",
            date.date(),
            "/",
            &self.region,
            "/",
            &self.service,
            "/aws4_request\n",
            hash,
        ]);
        sig
    }

    fn write_string_to_sign(&self, out: &mut String, date: &AmzDate, hash: &[u8; 64]) {
        out.push_str(ALGORITHM);
        out.push('\n');
        out.push_str(date.as_str());
        out.push('\n');
        out.push_str(date.date());
        for part in [&self.region, &self.service, "aws4_request"] {
            out.push('/');
            out.push_str(part);
        }
        out.push('\n');
        out.push_str(encode::ascii_str(hash));
    }

    fn sign_at(
        &self,
        req: &RawRequest<'_>,
        path_prefix: &str,
        opts: &HeaderSignOptions<'_>,
        now: u64,
        mut trace: Option<&mut Trace>,
    ) -> Result<(String, Vec<(String, String)>), SignError> {
        let date = AmzDate::from_unix(now).ok_or(SignError::TimeOutOfRange)?;
        let token = self
            .credentials
            .session_token
            .as_deref()
            .filter(|_| opts.sign_session_token);
        let mut extra: Vec<(&str, &str)> = Vec::with_capacity(3);
        if opts.content_sha256_header {
            extra.push(("x-amz-content-sha256", opts.payload_hash));
        }
        extra.push(("x-amz-date", date.as_str()));
        if let Some(t) = token {
            extra.push(("x-amz-security-token", t));
        }
        let headers_c = Self::canonical_headers(req.host, req.headers, &extra)?;
        let user_query = encode_query(req.query);

        let mut url =
            String::with_capacity(req.origin.len() + path_prefix.len() + req.path.len() * 3 + 64);
        url.push_str(req.origin);
        let uri_start = url.len();
        url.push_str(path_prefix);
        uri_encode_into(&mut url, req.path, true);
        let uri_end = url.len();
        let mut query = String::new();
        for (i, p) in user_query.iter().enumerate() {
            if i > 0 {
                query.push('&');
            }
            push_param(&mut query, p);
        }
        let signature = self.signature(&date, trace.as_deref_mut(), |sink| {
            let uri = url.get(uri_start..uri_end).unwrap_or_default();
            write_canonical_request(sink, req.method, uri, &query, &headers_c, opts.payload_hash)
        });
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        let signature = encode::ascii_str(&signature);
        if let Some(t) = trace {
            t.signature = signature.to_owned();
        }

        let mut authorization = String::with_capacity(200);
        authorization.push_str(ALGORITHM);
        authorization.push_str(" Credential=");
        self.write_credential(&mut authorization, &date, "/");
        authorization.push_str(", SignedHeaders=");
        write_signed_header_names(&mut authorization, &headers_c, ";");
        authorization.push_str(", Signature=");
        authorization.push_str(signature);

        let mut to_send: Vec<(String, String)> = Vec::with_capacity(headers_c.len() + 1);
        to_send.push(("authorization".to_owned(), authorization));
        to_send.extend(
            headers_c
                .iter()
                .filter(|h| h.name != "host")
                .map(|h| (h.name.clone().into_owned(), h.value.clone().into_owned())),
        );
        if let (Some(t), false) = (
            self.credentials.session_token.as_deref(),
            opts.sign_session_token,
        ) {
            to_send.push(("x-amz-security-token".to_owned(), t.to_owned()));
        }
        Ok((url, to_send))
    }
}

fn push_param(out: &mut String, p: &EncodedParam) {
    out.push_str(&p.name);
    out.push('=');
    out.push_str(&p.value);
}

/// Decimal digits of a `u32` without allocating.
struct Digits {
    buf: [u8; 10],
    start: usize,
}

impl Digits {
    fn as_str(&self) -> &str {
        encode::ascii_str(self.buf.get(self.start..).unwrap_or_default())
    }
}

fn itoa_u32(mut v: u32) -> Digits {
    let mut buf = [b'0'; 10];
    let mut start = buf.len();
    loop {
        start -= 1;
        // `v % 10` is below 10.
        buf[start] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    Digits { buf, start }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn itoa() {
        for v in [0u32, 7, 10, 86_400, 604_800, u32::MAX] {
            assert_eq!(itoa_u32(v).as_str(), v.to_string());
        }
    }
}
