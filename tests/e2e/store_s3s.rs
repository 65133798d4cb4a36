//! The worker's own multipart control requests (`presign_worker::store`) against a real store
//! (`s3s-fs`, which verifies SigV4 and answers real S3 XML): create, list (paginated), complete
//! from the listed parts only when they keep the grant, abort otherwise; nothing oversize ever
//! becomes an object and no upload is left open.
use crate::support::{http, now_secs, S3Store};
use presign_worker::sigv4::{
    AddressingStyle, Bucket, Credentials, Endpoint, Method, ObjectRequest, SignedRequest, Signer,
};
use presign_worker::store::list_parts::{self, Part};
use presign_worker::store::ticket::Ticket;
use presign_worker::store::{abort, complete, create, Answer, StoreError};

const MIB: u64 = 1024 * 1024;

struct Store {
    s3: S3Store,
    signer: Signer,
    bucket: Bucket,
}

fn setup() -> Store {
    let s3 = S3Store::start_default();
    let signer = Signer::s3(
        Credentials::new(&s3.access_key, &s3.secret_key, None),
        "us-east-1",
    )
    .unwrap();
    let bucket = Bucket::new(
        &Endpoint::parse(&s3.endpoint).unwrap(),
        &s3.bucket,
        AddressingStyle::Path,
    )
    .unwrap();
    Store { s3, signer, bucket }
}

/// Sends a header-signed request; (status, body).
fn send(req: &SignedRequest, body: &[u8]) -> (u16, String) {
    let headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let r = http(req.method.as_str(), &req.url, &headers, body);
    (r.status, r.text())
}

impl Store {
    fn create(&self, key: &str) -> String {
        let req =
            create::request(&self.signer, &self.bucket, key, "video/mp4", now_secs()).unwrap();
        let (status, body) = send(&req, b"");
        create::parse(
            &Answer {
                status,
                body: &body,
            },
            key,
        )
        .unwrap()
    }

    /// A part as the client would upload it, with a presigned URL.
    fn put_part(&self, key: &str, id: &str, n: u16, len: u64) {
        let n = n.to_string();
        let req = ObjectRequest {
            method: Method::Put,
            key,
            query: &[("partNumber", &n), ("uploadId", id)],
            headers: &[],
        };
        let url = self
            .signer
            .presign(&self.bucket, &req, 300, now_secs())
            .unwrap()
            .url;
        let r = http("PUT", &url, &[], &vec![b'p'; len as usize]);
        assert_eq!(r.status, 200, "part {n}: {}", r.text());
    }

    /// Every part, page by page.
    fn list(&self, key: &str, id: &str) -> Result<(Vec<Part>, usize), StoreError> {
        let (mut parts, mut pages, mut marker) = (Vec::new(), 0, None);
        loop {
            let req = list_parts::request(&self.signer, &self.bucket, key, id, marker, now_secs())
                .unwrap();
            let (status, body) = send(&req, b"");
            let page = list_parts::parse(
                &Answer {
                    status,
                    body: &body,
                },
                marker,
            )?;
            pages += 1;
            parts.extend(page.parts);
            match page.next_marker {
                Some(m) => marker = Some(m),
                None => return Ok((parts, pages)),
            }
        }
    }

    /// What the worker's complete route does: list, check, complete or abort.
    fn finish(&self, ticket: &Ticket) -> Result<String, String> {
        let (parts, _) = self
            .list(&ticket.key, &ticket.upload_id)
            .map_err(|e| e.to_string())?;
        match complete::body(ticket, &parts) {
            Ok(xml) => {
                let req = complete::request(
                    &self.signer,
                    &self.bucket,
                    &ticket.key,
                    &ticket.upload_id,
                    xml.as_bytes(),
                    true,
                    now_secs(),
                )
                .unwrap();
                let (status, body) = send(&req, xml.as_bytes());
                complete::parse(&Answer {
                    status,
                    body: &body,
                })
                .map_err(|e| e.code().to_owned())
            }
            Err(breach) if !breach.aborts() => Err(breach.code().to_owned()),
            Err(breach) => {
                let req = abort::request(
                    &self.signer,
                    &self.bucket,
                    &ticket.key,
                    &ticket.upload_id,
                    now_secs(),
                )
                .unwrap();
                let (status, body) = send(&req, b"");
                abort::parse(&Answer {
                    status,
                    body: &body,
                })
                .unwrap();
                Err(breach.code().to_owned())
            }
        }
    }

    /// Whether the upload still holds parts: listed by the store (s3s-fs lists an unknown
    /// upload as empty), or left on its disk (`.upload_id-<id>.part-<n>` files).
    fn open_uploads(&self, key: &str, id: &str) -> bool {
        let listed = match self.list(key, id) {
            Ok((parts, _)) => !parts.is_empty(),
            Err(e) => {
                assert_eq!(e.code(), "upload_not_found", "{e}");
                false
            }
        };
        let on_disk = std::fs::read_dir(&self.s3.root)
            .unwrap()
            .flatten()
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!(".upload_id-{id}"))
            });
        listed || on_disk
    }
}

fn ticket(key: &str, id: &str, size: u64, part_size: Option<u64>) -> Ticket {
    Ticket {
        key: key.into(),
        upload_id: id.into(),
        size,
        part_size,
        expires: now_secs() + 300,
    }
}

#[test]
#[ignore = "end-to-end: needs s3s-fs; run by make test"]
fn an_upload_that_keeps_its_grant_is_completed() {
    let s = setup();
    let key = "alice/1/movie ü.mp4";
    let id = s.create(key);
    for n in 1..=3 {
        s.put_part(key, &id, n, if n < 3 { 5 * MIB } else { MIB });
    }
    let etag = s
        .finish(&ticket(key, &id, 11 * MIB, Some(5 * MIB)))
        .unwrap();
    assert!(etag.ends_with("-3\""), "a 3-part ETag: {etag}");
    assert_eq!(
        s.s3.read_object(key).map(|b| b.len() as u64),
        Some(11 * MIB)
    );
    assert!(!s.open_uploads(key, &id));
}

#[test]
#[ignore = "end-to-end: needs s3s-fs; run by make test"]
fn more_than_granted_is_aborted_and_nothing_is_stored() {
    let s = setup();
    // A larger last part, one part too many, a larger part: each aborted, nothing stored.
    for (i, (sizes, part_size)) in [
        (vec![5 * MIB, 5 * MIB, MIB + 1], Some(5 * MIB)),
        (vec![5 * MIB, 5 * MIB, MIB, 1], Some(5 * MIB)),
        (vec![6 * MIB, 5 * MIB + 1], None),
    ]
    .into_iter()
    .enumerate()
    {
        let key = format!("alice/{i}/big.mp4");
        let id = s.create(&key);
        for (n, len) in (1u16..).zip(&sizes) {
            s.put_part(&key, &id, n, *len);
        }
        let r = s.finish(&ticket(&key, &id, 11 * MIB, part_size));
        assert_eq!(r, Err("size_exceeded".to_owned()), "{sizes:?}");
        assert_eq!(
            s.s3.read_object(&key),
            None,
            "{sizes:?}: an object was made"
        );
        assert!(
            !s.open_uploads(&key, &id),
            "{sizes:?}: the upload is still open"
        );
    }
}

#[test]
#[ignore = "end-to-end: needs s3s-fs; run by make test"]
fn an_unknown_upload_completes_nothing_and_a_bad_signature_is_a_store_error() {
    let s = setup();
    let key = "alice/x/f.bin";
    let id = "00000000-0000-0000-0000-000000000000";
    let r = s.finish(&ticket(key, id, 10, None));
    assert_eq!(r, Err("size_mismatch".to_owned()));
    assert_eq!(s.s3.read_object(key), None);
    // A wrong signature: the store's refusal, never a success.
    let other = Signer::s3(
        Credentials::new(&s.s3.access_key, "not-the-secret", None),
        "us-east-1",
    )
    .unwrap();
    let req = create::request(&other, &s.bucket, key, "video/mp4", now_secs()).unwrap();
    let (status, body) = send(&req, b"");
    let e = create::parse(
        &Answer {
            status,
            body: &body,
        },
        key,
    )
    .unwrap_err();
    assert_eq!((e.status(), e.code()), (502, "store_error"), "{e}");
    assert!(
        matches!(e, StoreError::Refused { status: 403, .. }),
        "{e:?}"
    );
}
