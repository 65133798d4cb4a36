//! HeadObject (`HEAD /<key>`): what the store holds under a key — its size, content type,
//! ETag, last modification and, when the store keeps one, its checksum — for
//! `/v1/uploads/complete`. The request asks for the checksum (`x-amz-checksum-mode: ENABLED`);
//! stores that keep none simply send no `x-amz-checksum-*` header.

use super::{Answer, Fetched, StoreError};
use crate::sigv4::{
    AmzDate, Bucket, Method, ObjectRequest, Payload, SignError, SignedRequest, Signer,
};

/// The checksum headers a store may send, with the algorithm name of the receipt, in the
/// order they are looked for (one object has at most one).
const CHECKSUMS: &[(&str, &str)] = &[
    ("x-amz-checksum-sha256", "sha256"),
    ("x-amz-checksum-sha1", "sha1"),
    ("x-amz-checksum-crc64nvme", "crc64nvme"),
    ("x-amz-checksum-crc32c", "crc32c"),
    ("x-amz-checksum-crc32", "crc32"),
];

/// The content type S3 reports for an object stored without one.
pub const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

/// The header-signed HeadObject of `key` (with the checksum asked for).
pub fn request(
    signer: &Signer,
    bucket: &Bucket,
    key: &str,
    now: u64,
) -> Result<SignedRequest, SignError> {
    let req = ObjectRequest {
        method: Method::Head,
        key,
        query: &[],
        headers: &[("x-amz-checksum-mode", "ENABLED")],
    };
    signer.sign(bucket, &req, Payload::Bytes(b""), now)
}

/// An object as HeadObject describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// `Content-Length`: its size in bytes.
    pub size: u64,
    /// `Content-Type` as stored ([`DEFAULT_CONTENT_TYPE`] when the store sent none).
    pub content_type: String,
    /// `ETag` as the store sent it (quoted), usable in `If-Match`.
    pub etag: String,
    /// `Last-Modified`, in Unix seconds.
    pub last_modified: u64,
    /// The stored checksum, as (algorithm, value as sent: base64, `-<parts>` for a composite
    /// multipart checksum), when the store sent one of a sane shape.
    pub checksum: Option<(&'static str, String)>,
}

/// The object of a HeadObject answer; `Ok(None)` when the store has nothing under the key
/// (404). A HEAD answer has no body, so a refusal carries no S3 code.
pub fn parse(fetched: &Fetched) -> Result<Option<Object>, StoreError> {
    match fetched.status {
        404 => return Ok(None),
        200..=299 => {}
        status => {
            return Err(super::refused(&Answer { status, body: "" }));
        }
    }
    let size = fetched
        .header("content-length")
        .filter(|v| !v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse().ok())
        .ok_or(StoreError::Malformed("no Content-Length of digits"))?;
    let printable = |v: &&str| v.len() <= 256 && v.bytes().all(|b| (b' '..=b'~').contains(&b));
    let content_type = match fetched.header("content-type").map(str::trim) {
        None | Some("") => DEFAULT_CONTENT_TYPE.to_owned(),
        Some(v) if printable(&v) => v.to_owned(),
        Some(_) => {
            return Err(StoreError::Malformed(
                "a Content-Type that is not printable",
            ))
        }
    };
    let etag = fetched
        .header("etag")
        .map(str::trim)
        .filter(|v| !v.is_empty() && printable(v))
        .ok_or(StoreError::Malformed("no ETag"))?
        .to_owned();
    let last_modified = fetched
        .header("last-modified")
        .and_then(http_date)
        .ok_or(StoreError::Malformed("no Last-Modified date"))?;
    let checksum = CHECKSUMS.iter().find_map(|(header, alg)| {
        let v = fetched.header(header)?.trim();
        checksum_shape(v).then(|| (*alg, v.to_owned()))
    });
    Ok(Some(Object {
        size,
        content_type,
        etag,
        last_modified,
        checksum,
    }))
}

/// Standard base64 of at most 88 characters, optionally followed by `-<parts>`.
fn checksum_shape(v: &str) -> bool {
    let (b64, parts) = match v.split_once('-') {
        Some((b, p)) => (b, Some(p)),
        None => (v, None),
    };
    !b64.is_empty()
        && b64.len() <= 88
        && b64
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        && parts
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Unix seconds of an HTTP date in the IMF-fixdate form every store sends
/// (`Wed, 21 Oct 2015 07:28:00 GMT`); `None` for anything else.
pub fn http_date(v: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut it = v.trim().split(' ');
    let (_weekday, day, month, year, time, zone) = (
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    );
    if it.next().is_some() || zone != "GMT" || day.len() != 2 || year.len() != 4 {
        return None;
    }
    let month = MONTHS.iter().position(|m| *m == month)? + 1;
    let hms: Vec<&str> = time.split(':').collect();
    if hms.len() != 3 || hms.iter().any(|p| p.len() != 2) {
        return None;
    }
    // AmzDate checks every field's range and digits.
    let amz = format!("{year}{month:02}{day}T{}{}{}Z", hms[0], hms[1], hms[2]);
    AmzDate::parse(&amz).map(|d| d.unix())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(status: u16, headers: &[(&str, &str)]) -> Fetched {
        Fetched {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            http_date("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(1_445_412_480)
        );
        assert_eq!(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        for bad in [
            "",
            "Wed, 21 Oct 2015 07:28:00 UTC",
            "Wed, 21 Foo 2015 07:28:00 GMT",
            "Wed, 32 Oct 2015 07:28:00 GMT",
            "Wed, 21 Oct 2015 7:28:00 GMT",
            "Wednesday, 21-Oct-15 07:28:00 GMT",
            "Wed, 21 Oct 2015 07:28:00 GMT x",
        ] {
            assert_eq!(http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_object_of_an_answer() {
        // The headers AWS documents for HeadObject (trimmed), with a SHA-256 checksum.
        let ok = head(
            200,
            &[
                ("content-length", "434234"),
                ("content-type", "image/png"),
                ("etag", "\"fba9dede5f27731c9771645a39863328\""),
                ("last-modified", "Sun, 1 Jan 2006 12:00:00 GMT"),
                (
                    "x-amz-checksum-sha256",
                    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
                ),
            ],
        );
        // A one-digit day is not IMF-fixdate.
        assert_eq!(
            parse(&ok),
            Err(StoreError::Malformed("no Last-Modified date"))
        );
        let mut ok = ok;
        ok.headers[3].1 = "Sun, 01 Jan 2006 12:00:00 GMT".into();
        let o = parse(&ok).unwrap().unwrap();
        assert_eq!(o.size, 434_234);
        assert_eq!(o.content_type, "image/png");
        assert_eq!(o.etag, "\"fba9dede5f27731c9771645a39863328\"");
        assert_eq!(o.last_modified, 1_136_116_800);
        assert_eq!(
            o.checksum,
            Some((
                "sha256",
                "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into()
            ))
        );
        // Composite checksums of multipart uploads keep their part count; odd ones are dropped.
        let mut composite = ok.clone();
        composite.headers[4] = ("x-amz-checksum-crc32".into(), "AAAAAA==-3".into());
        assert_eq!(
            parse(&composite).unwrap().unwrap().checksum,
            Some(("crc32", "AAAAAA==-3".into()))
        );
        composite.headers[4].1 = "<script>".into();
        assert_eq!(parse(&composite).unwrap().unwrap().checksum, None);
        // No content type: what S3 reports.
        let mut untyped = ok.clone();
        untyped.headers.remove(1);
        assert_eq!(
            parse(&untyped).unwrap().unwrap().content_type,
            DEFAULT_CONTENT_TYPE
        );
        assert_eq!(parse(&head(404, &[])), Ok(None));
        assert_eq!(
            parse(&head(403, &[])),
            Err(StoreError::Refused {
                status: 403,
                code: String::new()
            })
        );
        for missing in ["content-length", "etag", "last-modified"] {
            let mut h = ok.clone();
            h.headers.retain(|(n, _)| n != missing);
            assert!(
                matches!(parse(&h), Err(StoreError::Malformed(_))),
                "{missing}"
            );
        }
        let mut bad_len = ok.clone();
        bad_len.headers[0].1 = "-1".into();
        assert!(matches!(parse(&bad_len), Err(StoreError::Malformed(_))));
    }
}
