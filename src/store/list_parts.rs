//! ListParts (`GET /<key>?uploadId=…`), paginated: what the store really holds for an upload,
//! the only source the worker trusts when it completes one.

use super::{success, xml, Answer, StoreError};
use crate::sigv4::{Bucket, Method, ObjectRequest, Payload, SignError, SignedRequest, Signer};

/// Parts asked for per page (S3's maximum).
pub const PAGE: u16 = 1000;

/// One uploaded part as the store lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// 1 to 10 000.
    pub number: u16,
    /// Its ETag, quotes included, as CompleteMultipartUpload wants it back (s3s-fs lists none).
    pub etag: Option<String>,
    /// Its size in bytes.
    pub size: u64,
}

/// One page of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The parts of this page, sorted by part number.
    pub parts: Vec<Part>,
    /// The marker to ask the next page with, when the listing is truncated.
    pub next_marker: Option<u16>,
}

/// The header-signed request for the page after part number `marker` (from the start: `None`).
pub fn request(
    signer: &Signer,
    bucket: &Bucket,
    key: &str,
    upload_id: &str,
    marker: Option<u16>,
    now: u64,
) -> Result<SignedRequest, SignError> {
    let max = PAGE.to_string();
    let after = marker.map(|m| m.to_string());
    let mut query = vec![("max-parts", max.as_str()), ("uploadId", upload_id)];
    if let Some(after) = &after {
        query.push(("part-number-marker", after.as_str()));
    }
    let req = ObjectRequest {
        method: Method::Get,
        key,
        query: &query,
        headers: &[],
    };
    signer.sign(bucket, &req, Payload::Bytes(b""), now)
}

/// The page in `answer`, asked for after `marker`. Part numbers must be unique and after the
/// marker (s3s-fs lists them unsorted: they are sorted here), and a truncated page must say
/// where to go on (beyond where it ends), so a store cannot make the worker list forever or
/// count a part twice.
pub fn parse(answer: &Answer<'_>, marker: Option<u16>) -> Result<Page, StoreError> {
    let body = success(answer)?;
    let result = xml::elements(body, "ListPartsResult");
    let result = result
        .first()
        .ok_or(StoreError::Malformed("no ListPartsResult"))?;
    let mut parts = Vec::new();
    for p in xml::elements(result, "Part") {
        let number: u16 = xml::text(p, "PartNumber")
            .and_then(|n| n.parse().ok())
            .filter(|n| (1..=10_000).contains(n))
            .ok_or(StoreError::Malformed("a part without a valid PartNumber"))?;
        if number <= marker.unwrap_or(0) {
            return Err(StoreError::Malformed("a part before the marker"));
        }
        let etag = match xml::text(p, "ETag") {
            Some(e) if e.is_empty() => return Err(StoreError::Malformed("an empty ETag")),
            Some(e) => Some(e),
            None if p.contains("<ETag") => return Err(StoreError::Malformed("a bad ETag")),
            None => None,
        };
        let size = xml::text(p, "Size")
            .and_then(|s| s.parse().ok())
            .ok_or(StoreError::Malformed("a part without a valid Size"))?;
        parts.push(Part { number, etag, size });
    }
    parts.sort_by_key(|p| p.number);
    if parts.windows(2).any(|w| w[0].number == w[1].number) {
        return Err(StoreError::Malformed("a part listed twice"));
    }
    let last = parts.last().map_or(0, |p| p.number);
    let truncated = match xml::text(result, "IsTruncated").as_deref() {
        Some("true") => true,
        Some("false") | None => false,
        Some(_) => return Err(StoreError::Malformed("IsTruncated is not a boolean")),
    };
    let next_marker = if truncated {
        let next: u16 = xml::text(result, "NextPartNumberMarker")
            .and_then(|n| n.parse().ok())
            .ok_or(StoreError::Malformed(
                "a truncated page without NextPartNumberMarker",
            ))?;
        if next < last || next <= marker.unwrap_or(0) || next >= 10_000 {
            return Err(StoreError::Malformed(
                "NextPartNumberMarker does not move on",
            ));
        }
        Some(next)
    } else {
        None
    };
    Ok(Page { parts, next_marker })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example answer of the S3 API reference (ListParts), trimmed.
    const EXAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA</UploadId>
  <PartNumberMarker>1</PartNumberMarker>
  <NextPartNumberMarker>3</NextPartNumberMarker>
  <MaxParts>2</MaxParts>
  <IsTruncated>true</IsTruncated>
  <Part>
    <PartNumber>2</PartNumber>
    <LastModified>2010-11-10T20:48:34.000Z</LastModified>
    <ETag>"7778aef83f66abc1fa1e8477f296d394"</ETag>
    <Size>10485760</Size>
  </Part>
  <Part>
    <PartNumber>3</PartNumber>
    <LastModified>2010-11-10T20:48:33.000Z</LastModified>
    <ETag>"aaaa18db4cc2f85cedef654fccc4a4x8"</ETag>
    <Size>10485760</Size>
  </Part>
</ListPartsResult>"#;

    #[test]
    fn a_page_of_the_reference_example() {
        let page = parse(
            &Answer {
                status: 200,
                body: EXAMPLE,
            },
            Some(1),
        )
        .unwrap();
        assert_eq!(page.next_marker, Some(3));
        assert_eq!(
            page.parts,
            vec![
                Part {
                    number: 2,
                    etag: Some("\"7778aef83f66abc1fa1e8477f296d394\"".into()),
                    size: 10_485_760
                },
                Part {
                    number: 3,
                    etag: Some("\"aaaa18db4cc2f85cedef654fccc4a4x8\"".into()),
                    size: 10_485_760
                },
            ]
        );
        let last = EXAMPLE.replace("<IsTruncated>true", "<IsTruncated>false");
        assert_eq!(
            parse(
                &Answer {
                    status: 200,
                    body: &last
                },
                Some(1)
            )
            .unwrap()
            .next_marker,
            None
        );
    }

    #[test]
    fn an_s3s_fs_page_unsorted_without_etags() {
        // What s3s-fs 0.14.1 answers: parts in directory order, no ETag, no IsTruncated.
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListPartsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>uploads</Bucket><Key>k</Key><Part><LastModified>2026-12-01T21:17:57.044Z</LastModified><PartNumber>2</PartNumber><Size>5242880</Size></Part><Part><LastModified>2026-12-01T21:17:56.956Z</LastModified><PartNumber>1</PartNumber><Size>5242880</Size></Part><UploadId>9f1c62de</UploadId></ListPartsResult>";
        let page = parse(&Answer { status: 200, body }, None).unwrap();
        let numbers: Vec<u16> = page.parts.iter().map(|p| p.number).collect();
        assert_eq!((numbers, page.next_marker), (vec![1, 2], None));
        assert!(page.parts.iter().all(|p| p.etag.is_none()));
        let twice = body.replace("<PartNumber>1<", "<PartNumber>2<");
        assert!(parse(
            &Answer {
                status: 200,
                body: &twice
            },
            None
        )
        .is_err());
    }

    #[test]
    fn listings_that_would_loop_or_double_count_are_malformed() {
        for (from, to, marker) in [
            (
                "<PartNumber>3</PartNumber>",
                "<PartNumber>2</PartNumber>",
                Some(1),
            ),
            (
                "<NextPartNumberMarker>3",
                "<NextPartNumberMarker>1",
                Some(1),
            ),
            (
                "<NextPartNumberMarker>3</NextPartNumberMarker>",
                "",
                Some(1),
            ),
            ("<IsTruncated>true", "<IsTruncated>yes", Some(1)),
            ("<Size>10485760</Size>", "<Size>-1</Size>", Some(1)),
            (
                "<ETag>\"7778aef83f66abc1fa1e8477f296d394\"</ETag>",
                "<ETag></ETag>",
                Some(1),
            ),
            (
                "<PartNumber>2</PartNumber>",
                "<PartNumber>10001</PartNumber>",
                Some(1),
            ),
            ("", "", Some(2)),
        ] {
            let body = EXAMPLE.replacen(from, to, 1);
            let r = parse(
                &Answer {
                    status: 200,
                    body: &body,
                },
                marker,
            );
            assert!(
                matches!(r, Err(StoreError::Malformed(_))),
                "{from} -> {to}: {r:?}"
            );
        }
    }
}
