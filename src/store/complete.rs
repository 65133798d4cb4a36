//! CompleteMultipartUpload (`POST /<key>?uploadId=…`): the worker decides from the store's own
//! part list whether the upload keeps its grant, builds the body from that list (never from
//! the client's), and reads the answer, which can be an error even with status 200.

use super::list_parts::Part;
use super::ticket::Ticket;
use super::{success, xml, Answer, StoreError};
use crate::sigv4::{Bucket, Method, ObjectRequest, Payload, SignError, SignedRequest, Signer};

/// Why the listed parts break the grant: the upload is then aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breach {
    /// No part at all.
    Empty,
    /// More parts than `ceil(size / part size)`.
    TooManyParts {
        /// Parts listed.
        parts: usize,
        /// Parts allowed.
        max: u16,
    },
    /// A part of another length than the declared part size gives it.
    PartLength {
        /// Its number.
        number: u16,
        /// Its size in the store.
        size: u64,
        /// The length it must have.
        expected: u64,
    },
    /// The parts add up to more than a `u64` holds.
    Overflow,
    /// The parts add up to another size than declared.
    Total {
        /// The sum of the listed parts.
        total: u64,
        /// The declared size.
        declared: u64,
    },
    /// The completed object is of another size than declared, though the listed parts added
    /// up to it: a part was replaced at the store between ListParts and the completion (the
    /// list names parts by number only when the store gives no ETags). The object is deleted.
    Object {
        /// The completed object's size (its HeadObject).
        size: u64,
        /// The declared size.
        declared: u64,
    },
}

impl Breach {
    /// Whether the upload is aborted at the store: always but when it holds no part yet
    /// (nothing to free, and the client may still upload; s3s-fs also lists an unknown upload as
    /// empty and refuses to abort it).
    pub fn aborts(&self) -> bool {
        !matches!(self, Self::Empty)
    }

    /// The API error code: `size_exceeded` when the upload is larger than granted in any way,
    /// `size_mismatch` when it is smaller or empty.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooManyParts { .. } | Self::Overflow => "size_exceeded",
            Self::PartLength { size, expected, .. } if size > expected => "size_exceeded",
            Self::Total { total, declared } if total > declared => "size_exceeded",
            Self::Object { size, declared } if size > declared => "size_exceeded",
            _ => "size_mismatch",
        }
    }
}

impl std::fmt::Display for Breach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("the upload has no part yet"),
            Self::TooManyParts { parts, max } => {
                write!(
                    f,
                    "the upload has {parts} parts, at most {max} were granted"
                )
            }
            Self::PartLength {
                number,
                size,
                expected,
            } => write!(
                f,
                "part {number} is {size} bytes, the grant's part size makes it {expected}"
            ),
            Self::Overflow => f.write_str("the parts add up to more than any size"),
            Self::Total { total, declared } => write!(
                f,
                "the parts add up to {total} bytes, the upload was granted {declared}"
            ),
            Self::Object { size, declared } => write!(
                f,
                "the completed object is {size} bytes, the upload was granted {declared} (a part \
                 was replaced at the store while it was completed)"
            ),
        }
    }
}

/// The body of CompleteMultipartUpload for `parts` (all of them, as listed), when they keep
/// `ticket`'s grant: at most `max_parts`, each of its exact length when a part size is declared,
/// adding up to exactly the declared size.
pub fn body(ticket: &Ticket, parts: &[Part]) -> Result<String, Breach> {
    if parts.is_empty() {
        return Err(Breach::Empty);
    }
    let max = ticket.max_parts();
    if parts.len() > usize::from(max) {
        return Err(Breach::TooManyParts {
            parts: parts.len(),
            max,
        });
    }
    let mut total: u64 = 0;
    let mut out = String::from("<CompleteMultipartUpload>");
    for p in parts {
        if let Some(expected) = ticket
            .part_size
            .map(|_| ticket.part_length(p.number).unwrap_or(0))
        {
            if p.size != expected {
                return Err(Breach::PartLength {
                    number: p.number,
                    size: p.size,
                    expected,
                });
            }
        }
        // An overflowing sum is over any declared size (a saturated one could equal it).
        total = total.checked_add(p.size).ok_or(Breach::Overflow)?;
        out.push_str("<Part><PartNumber>");
        out.push_str(&p.number.to_string());
        out.push_str("</PartNumber>");
        if let Some(etag) = &p.etag {
            out.push_str("<ETag>");
            out.push_str(&xml::escape(etag));
            out.push_str("</ETag>");
        }
        out.push_str("</Part>");
    }
    if total != ticket.size {
        return Err(Breach::Total {
            total,
            declared: ticket.size,
        });
    }
    out.push_str("</CompleteMultipartUpload>");
    Ok(out)
}

/// The header-signed request completing the store's upload `upload_id` of `key` with `body`
/// (its SHA-256 signed), with `If-None-Match: *` when the key must not be replaced.
pub fn request(
    signer: &Signer,
    bucket: &Bucket,
    key: &str,
    upload_id: &str,
    body: &[u8],
    if_none_match: bool,
    now: u64,
) -> Result<SignedRequest, SignError> {
    let conditional = [("content-type", "application/xml"), ("if-none-match", "*")];
    let req = ObjectRequest {
        method: Method::Post,
        key,
        query: &[("uploadId", upload_id)],
        headers: if if_none_match {
            &conditional
        } else {
            &conditional[..1]
        },
    };
    signer.sign(bucket, &req, Payload::Bytes(body), now)
}

/// The completed object's ETag, from a `CompleteMultipartUploadResult`; an `<Error>` answer
/// (which S3 may send with status 200) is the store's refusal.
pub fn parse(answer: &Answer<'_>) -> Result<String, StoreError> {
    let body = success(answer)?;
    if !xml::elements(body, "Error").is_empty() {
        return Err(super::refused(&Answer { status: 502, body }));
    }
    let result = xml::elements(body, "CompleteMultipartUploadResult");
    let result = result
        .first()
        .ok_or(StoreError::Malformed("no CompleteMultipartUploadResult"))?;
    xml::text(result, "ETag").ok_or(StoreError::Malformed("no ETag"))
}

/// The answer the client gets: a `CompleteMultipartUploadResult` with `Location` (which Uppy
/// needs and some stores leave out), `Bucket`, `Key` and `ETag`, and the worker's receipt in
/// `Receipt` when there is one (S3 clients ignore an element they do not know).
pub fn answer(
    location: &str,
    bucket: &str,
    key: &str,
    etag: &str,
    receipt: Option<&str>,
) -> String {
    let receipt = receipt.map_or_else(String::new, |r| {
        format!("<Receipt>{}</Receipt>", xml::escape(r))
    });
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult \
         xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>{}</Location><Bucket>{}\
         </Bucket><Key>{}</Key><ETag>{}</ETag>{receipt}</CompleteMultipartUploadResult>",
        xml::escape(location),
        xml::escape(bucket),
        xml::escape(key),
        xml::escape(etag)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn ticket(size: u64, part_size: Option<u64>) -> Ticket {
        Ticket {
            key: "k".into(),
            upload_id: "u".into(),
            size,
            part_size,
            expires: 0,
        }
    }

    fn parts(sizes: &[u64]) -> Vec<Part> {
        (1u16..)
            .zip(sizes)
            .map(|(number, &size)| Part {
                number,
                etag: Some(format!("\"e{number}\"")),
                size,
            })
            .collect()
    }

    #[test]
    fn the_body_lists_the_stores_parts_when_they_add_up() {
        let t = ticket(12 * MIB, Some(5 * MIB));
        assert_eq!(
            body(&t, &parts(&[5 * MIB, 5 * MIB, 2 * MIB])).unwrap(),
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag>\
             </Part><Part><PartNumber>2</PartNumber><ETag>&quot;e2&quot;</ETag></Part><Part>\
             <PartNumber>3</PartNumber><ETag>&quot;e3&quot;</ETag></Part></CompleteMultipartUpload>"
        );
        assert!(body(&ticket(12 * MIB, None), &parts(&[6 * MIB, 6 * MIB])).is_ok());
    }

    #[test]
    fn more_than_granted_is_a_breach() {
        let t = ticket(12 * MIB, Some(5 * MIB));
        for (sizes, code) in [
            (vec![5 * MIB, 5 * MIB, 2 * MIB + 1], "size_exceeded"),
            (vec![5 * MIB, 5 * MIB, 2 * MIB, 1], "size_exceeded"),
            (vec![5 * MIB + 1, 5 * MIB - 1, 2 * MIB], "size_exceeded"),
            (vec![5 * MIB, 5 * MIB, MIB], "size_mismatch"),
            (vec![], "size_mismatch"),
        ] {
            let e = body(&t, &parts(&sizes)).unwrap_err();
            assert_eq!(e.code(), code, "{sizes:?}: {e:?}");
        }
        // Without a part size: the total, and at most ceil(size / 5 MiB) parts.
        let t = ticket(12 * MIB, None);
        let e = body(&t, &parts(&[12 * MIB, 1])).unwrap_err();
        assert_eq!(
            e,
            Breach::Total {
                total: 12 * MIB + 1,
                declared: 12 * MIB
            }
        );
        let e = body(&t, &parts(&[3 * MIB, 3 * MIB, 3 * MIB, 3 * MIB])).unwrap_err();
        assert_eq!(e, Breach::TooManyParts { parts: 4, max: 3 });
        // Sizes that would overflow a u64 sum.
        let e = body(&ticket(u64::MAX, None), &parts(&[u64::MAX, 1])).unwrap_err();
        assert_eq!(e.code(), "size_exceeded");
        let e = body(&ticket(u64::MAX - 1, None), &parts(&[u64::MAX, u64::MAX])).unwrap_err();
        assert_eq!(e.code(), "size_exceeded");
        // A completed object of another size than declared.
        for (size, code) in [(13, "size_exceeded"), (11, "size_mismatch")] {
            assert_eq!(Breach::Object { size, declared: 12 }.code(), code);
        }
    }

    #[test]
    fn a_200_with_an_error_is_a_refusal() {
        let ok = "<CompleteMultipartUploadResult><Location>l</Location><ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag></CompleteMultipartUploadResult>";
        assert_eq!(
            parse(&Answer {
                status: 200,
                body: ok
            })
            .as_deref(),
            Ok("\"3858f62230ac3c915f300c664312c11f-9\"")
        );
        let err = "<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code></Error>";
        assert_eq!(
            parse(&Answer {
                status: 200,
                body: err
            }),
            Err(StoreError::Refused {
                status: 502,
                code: "InternalError".into()
            })
        );
        let e = parse(&Answer {
            status: 412,
            body: "<Error><Code>PreconditionFailed</Code></Error>",
        })
        .unwrap_err();
        assert_eq!((e.status(), e.code()), (412, "object_exists"));
        assert!(matches!(
            parse(&Answer {
                status: 200,
                body: ""
            }),
            Err(StoreError::Malformed(_))
        ));
        let a = answer("https://h/b/a&b", "b", "a&b", "\"e\"", None);
        assert!(
            a.contains("<Location>https://h/b/a&amp;b</Location>")
                && a.contains("<Key>a&amp;b</Key>"),
            "{a}"
        );
    }
}
