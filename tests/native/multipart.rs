//! Worker-run multipart uploads natively (`/v1/sign` → `/v1/multipart/create` → parts →
//! `/v1/multipart/complete`) against an S3 store in memory (`FakeStore`): the tickets bind
//! every request to its grant, the completion is decided from the store's own part list, and
//! an upload that breaks its grant is aborted, never completed. The same runs end to end
//! against s3s-fs in `tests/e2e/e2e_multipart.rs`.
use crate::api_support::{
    hs256, request_io, service_from, xml_text as xml, FakeLedger, FakeStore, ORIGIN,
};
use presign_worker::api::{NoLedger, Response, Service};
use presign_worker::store::StoreError;
use serde_json::{json, Value};

const JWT_SECRET: &str = "test-secret-0123456789-abcdefghijklmnop";
const S3_SECRET: &str = "s3-secret-DO-NOT-LEAK-0123456789";
/// 2026-01-01T00:00:00Z.
const NOW: u64 = 1_767_225_600;
const MIB: u64 = 1024 * 1024;
const APP: &str = "https://app.example.com";

const VARS: &[(&str, &str)] = &[
    ("TARGETS", "uploads"),
    ("TARGET_UPLOADS_KIND", "custom"),
    ("TARGET_UPLOADS_ENDPOINT", "http://127.0.0.1:9000"),
    ("TARGET_UPLOADS_BUCKET", "uploads"),
    ("S3_ACCESS_KEY_ID", "AKIDTEST"),
    ("S3_SECRET_ACCESS_KEY", S3_SECRET),
    ("JWT_SECRET", JWT_SECRET),
    (
        "ALLOWED_CONTENT_TYPES",
        "image/*,video/*,application/octet-stream",
    ),
    ("MAX_UPLOAD_SIZE", "104857600"),
    ("CORS_ALLOWED_ORIGINS", APP),
];

fn service(extra: &[(&str, &str)]) -> Service {
    service_from(&[VARS, extra].concat())
}

fn alice() -> String {
    hs256(JWT_SECRET, &json!({ "sub": "alice", "exp": NOW + 3600 }))
}

/// One request at `at` (Unix seconds) through the service, the ledger and the store. Nothing
/// secret ever leaves.
#[allow(clippy::too_many_arguments)]
fn call(
    svc: &Service,
    ledger: &FakeLedger,
    store: &FakeStore,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    at: u64,
) -> Response {
    let r = request_io(svc, ledger, store, (method, url), headers, body, at * 1000);
    let all = format!("{:?}{}", r.headers, r.body);
    assert!(
        !all.contains(S3_SECRET) && !all.contains(JWT_SECRET),
        "{all}"
    );
    r
}

/// A worker of the test: the service, a ledger and the store.
struct World {
    svc: Service,
    ledger: FakeLedger,
    store: FakeStore,
}

impl World {
    fn new(extra: &[(&str, &str)]) -> Self {
        Self {
            svc: service(extra),
            ledger: FakeLedger::default(),
            store: FakeStore::new("/uploads/"),
        }
    }

    /// `POST /v1/sign` with `body` at `at`: the status and the JSON answer.
    fn sign_at(&self, token: &str, body: Value, at: u64) -> (u16, Value) {
        self.ledger.now.set(at);
        let auth = format!("Bearer {token}");
        let r = call(
            &self.svc,
            &self.ledger,
            &self.store,
            "POST",
            "/v1/sign",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            body.to_string().as_bytes(),
            at,
        );
        (r.status, serde_json::from_str(&r.body).unwrap())
    }

    fn sign(&self, token: &str, body: Value) -> (u16, Value) {
        self.sign_at(token, body, NOW)
    }

    fn signed(&self, token: &str, body: Value) -> Value {
        let (status, v) = self.sign(token, body.clone());
        assert_eq!(status, 200, "{body}: {v}");
        v
    }

    /// POSTs to a worker URL of `/v1/sign` (no token: the URL's pass is the authorisation).
    fn post_at(&self, url: &str, body: &[u8], at: u64) -> Response {
        self.ledger.now.set(at);
        call(
            &self.svc,
            &self.ledger,
            &self.store,
            "POST",
            url,
            &[("content-type", "application/xml"), ("origin", APP)],
            body,
            at,
        )
    }

    fn post(&self, url: &str, body: &[u8]) -> Response {
        self.post_at(url, body, NOW)
    }

    /// A created upload of `size` bytes of `file`: (key, the client's upload id).
    fn create(&self, file: &str, size: u64, part_size: Option<u64>) -> (String, String) {
        let mut body = json!({ "method": "POST", "key": file, "size": size });
        if let Some(p) = part_size {
            body["partSize"] = json!(p);
        }
        let v = self.signed(&alice(), body);
        let r = self.post(v["url"].as_str().unwrap(), b"");
        assert_eq!(r.status, 200, "{}", r.body);
        (
            v["key"].as_str().unwrap().to_owned(),
            xml(&r.body, "UploadId"),
        )
    }

    /// The complete URL of the upload, signed now.
    fn complete_url(&self, key: &str, id: &str) -> String {
        let v = self.signed(
            &alice(),
            json!({ "method": "POST", "key": key, "uploadId": id }),
        );
        v["url"].as_str().unwrap().to_owned()
    }

    fn open_uploads(&self) -> usize {
        self.store.uploads.borrow().len()
    }
}

fn code(r: &Response) -> String {
    let v: Value = serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("{}", r.body));
    v["error"]["code"].as_str().unwrap().to_owned()
}

fn query(url: &str, name: &str) -> Option<String> {
    url.split_once('?')?
        .1
        .split('&')
        .find_map(|p| Some(p.strip_prefix(name)?.strip_prefix('=')?.to_owned()))
}

#[test]
fn a_multipart_upload_runs_through_the_worker() {
    let w = World::new(&[]);
    // Create: a worker URL with the content type to send; nothing reaches the store yet.
    let v = w.signed(
        &alice(),
        json!({ "method": "POST", "key": "movie.PNG", "size": 12 * MIB }),
    );
    let url = v["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{ORIGIN}/v1/multipart/create?pass=")),
        "{v}"
    );
    assert_eq!(
        (&v["method"], &v["headers"]),
        (&json!("POST"), &json!({ "content-type": "image/png" }))
    );
    assert!(w.store.requests.borrow().is_empty());
    let key = v["key"].as_str().unwrap().to_owned();
    assert!(
        key.starts_with("alice/") && key.ends_with("/movie.PNG"),
        "{key}"
    );

    let r = w.post(url, b"");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers[0], ("content-type", "application/xml".to_owned()));
    assert!(r
        .headers
        .contains(&("access-control-allow-origin", APP.to_owned())));
    assert_eq!(xml(&r.body, "Key"), key);
    let id = xml(&r.body, "UploadId");
    // The store's id with the ticket: size, part size (Uppy's default) and expiry.
    assert_eq!(
        id.split('.').take(4).collect::<Vec<_>>(),
        [
            "upload-1",
            "12582912",
            "5242880",
            &(NOW + 86_400).to_string()
        ]
    );
    {
        let requests = w.store.requests.borrow();
        let (method, store_url, headers, _) = &requests[0];
        assert_eq!(method, "POST");
        assert!(store_url.ends_with("?uploads="), "{store_url}");
        assert!(headers.contains(&("content-type".into(), "image/png".into())));
    }

    // Parts: at most ceil(12 / 5) = 3, each signed with its exact length, on the store's id.
    for (n, len) in [(1, 5 * MIB), (2, 5 * MIB), (3, 2 * MIB)] {
        let v = w.signed(
            &alice(),
            json!({ "method": "PUT", "key": key, "uploadId": id, "partNumber": n }),
        );
        let part_url = v["url"].as_str().unwrap();
        assert_eq!(
            query(part_url, "uploadId").as_deref(),
            Some("upload-1"),
            "{v}"
        );
        assert_eq!(query(part_url, "partNumber"), Some(n.to_string()));
        assert_eq!(
            query(part_url, "X-Amz-SignedHeaders").as_deref(),
            Some("content-length%3Bhost")
        );
        assert_eq!(
            v["headers"],
            json!({}),
            "content-length is set by the browser"
        );
        w.store.put_part("upload-1", n, len);
        // A declared size other than the part's is refused.
        let (status, v) = w.sign(
            &alice(),
            json!({ "method": "PUT", "key": key, "uploadId": id, "partNumber": n, "size": len + 1 }),
        );
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (422, Some("part_size_mismatch"))
        );
    }
    let (status, v) = w.sign(
        &alice(),
        json!({ "method": "PUT", "key": key, "uploadId": id, "partNumber": 4 }),
    );
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("too_many_parts")),
        "{v}"
    );
    // ListParts is presigned on the store's id; AbortMultipartUpload is a worker URL.
    let v = w.signed(
        &alice(),
        json!({ "method": "GET", "key": key, "uploadId": id }),
    );
    assert_eq!(
        query(v["url"].as_str().unwrap(), "uploadId").as_deref(),
        Some("upload-1")
    );
    let v = w.signed(
        &alice(),
        json!({ "method": "DELETE", "key": key, "uploadId": id }),
    );
    assert_eq!(v["method"], "DELETE");
    assert!(
        v["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{ORIGIN}/v1/multipart/abort?pass=")),
        "{v}"
    );

    // Complete: a worker URL; the client's body (here: forged, with a part that does not
    // exist) is never read; the worker lists the parts and completes with those.
    let url = w.complete_url(&key, &id);
    assert!(
        url.starts_with(&format!("{ORIGIN}/v1/multipart/complete?pass=")),
        "{url}"
    );
    let forged = b"<CompleteMultipartUpload><Part><PartNumber>9</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>";
    let r = w.post(&url, forged);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        xml(&r.body, "Location"),
        format!("http://127.0.0.1:9000/uploads/{key}")
    );
    assert_eq!(
        (xml(&r.body, "Key"), xml(&r.body, "ETag")),
        (key.clone(), "\"etag-final\"".into())
    );
    assert_eq!(w.store.objects.borrow()[&key], 12 * MIB);
    let requests = w.store.requests.borrow();
    // Create, three pages of parts at most, complete, then the completed object is read:
    // HeadObject and its first bytes (a PNG).
    let methods: Vec<&str> = requests
        .iter()
        .rev()
        .take(3)
        .map(|r| r.0.as_str())
        .collect();
    assert_eq!(methods, ["GET", "HEAD", "POST"]);
    let (_, _, headers, body) = &requests[requests.len() - 3];
    assert_eq!(
        body,
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;etag-1&quot;</ETag></Part>\
         <Part><PartNumber>2</PartNumber><ETag>&quot;etag-2&quot;</ETag></Part><Part><PartNumber>3\
         </PartNumber><ETag>&quot;etag-3&quot;</ETag></Part></CompleteMultipartUpload>"
    );
    // A server-made key with {uuid} is new: no condition.
    assert!(!headers.iter().any(|(n, _)| n == "if-none-match"));
}

#[test]
fn an_upload_that_breaks_its_grant_is_aborted_never_completed() {
    // (parts the store holds, the answer's code, whether the upload is aborted)
    type Case<'a> = (&'a [(u16, u64)], &'a str, bool);
    let cases: [Case; 6] = [
        // One more part than granted (a client with another credential, or a store that
        // does not check signed lengths).
        (
            &[(1, 5 * MIB), (2, 5 * MIB), (3, 2 * MIB), (4, 1)],
            "size_exceeded",
            true,
        ),
        // A larger part.
        (
            &[(1, 5 * MIB), (2, 5 * MIB + 1), (3, 2 * MIB)],
            "size_exceeded",
            true,
        ),
        // A larger last part.
        (
            &[(1, 5 * MIB), (2, 5 * MIB), (3, 2 * MIB + 1)],
            "size_exceeded",
            true,
        ),
        // Fewer bytes than declared.
        (&[(1, 5 * MIB), (2, 5 * MIB)], "size_mismatch", true),
        (
            &[(1, 5 * MIB), (2, 5 * MIB), (3, MIB)],
            "size_mismatch",
            true,
        ),
        // No part yet: refused, but left open for the client to go on.
        (&[], "size_mismatch", false),
    ];
    for (parts, want, aborted) in cases {
        let w = World::new(&[]);
        let (key, id) = w.create("movie.mp4", 12 * MIB, None);
        for (n, size) in parts {
            w.store.put_part(&FakeStore::store_id(&id), *n, *size);
        }
        let r = w.post(&w.complete_url(&key, &id), b"");
        assert_eq!(
            (r.status, code(&r)),
            (422, want.to_owned()),
            "{parts:?}: {}",
            r.body
        );
        assert!(w.store.objects.borrow().is_empty(), "{parts:?}");
        assert_eq!(w.open_uploads(), usize::from(!aborted), "{parts:?}");
        let last = w.store.requests.borrow().last().unwrap().0.clone();
        assert_eq!(last == "DELETE", aborted, "{parts:?}");
    }
}

#[test]
fn a_part_replaced_after_the_listing_never_leaves_an_object_of_another_size() {
    // The store lists parts without ETags (s3s-fs), so the completion names parts by number
    // only: a part PUT again with another credential between ListParts and
    // CompleteMultipartUpload makes an object of another size than the list added up to.
    // The worker reads the completed object: of another size than granted, it is deleted and
    // refused, with or without a ledger, and the ledger gives the bytes back.
    for (extra, replaced, want) in [
        (&[][..], 2 * MIB + 1, "size_exceeded"),
        (&[][..], MIB, "size_mismatch"),
        (
            &[
                ("QUOTA_BYTES_PER_DAY", "104857600"),
                ("QUOTA_OPEN_MULTIPART", "5"),
            ][..],
            3 * MIB,
            "size_exceeded",
        ),
    ] {
        let w = World::new(extra);
        let (key, id) = w.create("movie.mp4", 12 * MIB, None);
        let store_id = FakeStore::store_id(&id);
        for (n, size) in [(1, 5 * MIB), (2, 5 * MIB), (3, 2 * MIB)] {
            w.store.put_part(&store_id, n, size);
        }
        *w.store.replaced_before_complete.borrow_mut() = vec![(3, replaced)];
        let r = w.post(&w.complete_url(&key, &id), b"");
        assert_eq!(
            (r.status, code(&r)),
            (422, want.to_owned()),
            "{extra:?} {replaced}: {}",
            r.body
        );
        let v: Value = serde_json::from_str(&r.body).unwrap();
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("{} bytes", 10 * MIB + replaced))
                && message.contains("deleted"),
            "{message}"
        );
        assert!(w.store.files.borrow().is_empty(), "{extra:?} {replaced}");
        assert!(w.store.objects.borrow().is_empty(), "{extra:?} {replaced}");
        assert_eq!(w.open_uploads(), 0);
        let requests = w.store.requests.borrow();
        let (method, url, _, _) = requests.last().unwrap();
        assert_eq!(
            (method.as_str(), url.as_str()),
            (
                "DELETE",
                format!("http://127.0.0.1:9000/uploads/{key}").as_str()
            )
        );
        drop(requests);
        // The ledger, when there is one, gives the upload's bytes back and closes it.
        let books = w.ledger.books.borrow();
        match books.values().next() {
            Some(book) => {
                let usage = book.usage(NOW);
                assert_eq!((usage.bytes_day, usage.open_multipart), (0, 0), "{usage:?}");
            }
            None => assert!(extra.is_empty(), "a ledger was configured"),
        }
    }
}

/// The completion went through at the store but its answer was lost: the same complete URL
/// finds the upload gone and the object of the ticket's size in its place, and answers as the
/// first time would have. Also on a store whose ListParts of a completed upload lists no parts
/// instead of answering `NoSuchUpload` (s3s-fs): before, that was a 422 `size_mismatch`
/// for an upload that had completed. An object of another size is never taken for it.
#[test]
fn a_completion_whose_answer_was_lost_is_answered_again() {
    for lists_empty in [false, true] {
        let w = World::new(&[]);
        w.store.lists_gone_uploads_empty.set(lists_empty);
        let (key, id) = w.create("a.png", 6 * MIB, None);
        let store_id = FakeStore::store_id(&id);
        w.store.put_part(&store_id, 1, 5 * MIB);
        w.store.put_part(&store_id, 2, MIB);
        let url = w.complete_url(&key, &id);
        let first = w.post(&url, b"");
        assert_eq!(first.status, 200, "{}", first.body);
        let again = w.post(&url, b"");
        assert_eq!(
            (again.status, &again.body),
            (200, &first.body),
            "lists_empty {lists_empty}"
        );
        assert_eq!(w.store.objects.borrow().get(&key), Some(&(6 * MIB)));

        // Gone, and an object of another size under the key: not this upload's.
        let (key, id) = w.create("b.png", 6 * MIB, None);
        let url = w.complete_url(&key, &id);
        w.store.uploads.borrow_mut().clear();
        w.store
            .put_file(&key, "image/png", b"\x89PNG\r\n\x1a\nsmall");
        let r = w.post(&url, b"");
        assert!(
            r.status == 404 || r.status == 422,
            "lists_empty {lists_empty}: {} {}",
            r.status,
            r.body
        );
        assert!(w.store.files.borrow().contains_key(&key));
    }
}

/// An upload listed without parts may still be open (AWS lists an open upload with none
/// uploaded yet so): when an object of the ticket's size sits under the key (put there by a
/// single PUT grant of the same key), completing settles it, and the upload is aborted at the
/// store first, so that it cannot go on taking parts outside the ledger's count.
#[test]
fn an_open_upload_without_parts_is_aborted_before_an_object_is_settled_for_it() {
    let w = World::new(&[]);
    let (key, id) = w.create("a.png", 16, None);
    assert_eq!(w.open_uploads(), 1);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(16, 0);
    w.store.put_file(&key, "image/png", &png);
    let url = w.complete_url(&key, &id);
    let r = w.post(&url, b"");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(w.open_uploads(), 0, "the upload is still open at the store");
}

#[test]
fn every_page_of_the_part_list_is_read() {
    let w = World::new(&[]);
    let (key, id) = w.create("movie.mp4", 12 * MIB, None);
    let store_id = FakeStore::store_id(&id);
    for (n, size) in [(1, 5 * MIB), (2, 5 * MIB), (3, 2 * MIB)] {
        w.store.put_part(&store_id, n, size);
    }
    // Two parts a page: a worker that read one page would complete 10 MiB of 12, or refuse.
    w.store.page.set(2);
    let r = w.post(&w.complete_url(&key, &id), b"");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(w.store.objects.borrow()[&key], 12 * MIB);
    let lists = w
        .store
        .requests
        .borrow()
        .iter()
        .filter(|r| r.0 == "GET")
        .count();
    assert_eq!(lists, 2);
}

#[test]
fn a_declared_part_size_is_kept() {
    let w = World::new(&[]);
    let (key, id) = w.create("movie.mp4", 20 * MIB, Some(8 * MIB));
    for (n, len) in [(1, 8 * MIB), (2, 8 * MIB), (3, 4 * MIB)] {
        let v = w.signed(
            &alice(),
            json!({ "method": "PUT", "key": key, "uploadId": id, "partNumber": n, "size": len }),
        );
        assert_eq!(
            query(v["url"].as_str().unwrap(), "partNumber"),
            Some(n.to_string())
        );
    }
    let (status, v) = w.sign(
        &alice(),
        json!({ "method": "PUT", "key": key, "uploadId": id, "partNumber": 4 }),
    );
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("too_many_parts"))
    );
    for (body, want) in [
        (json!({ "method": "POST", "key": "a.mp4" }), "size_required"),
        (
            json!({ "method": "POST", "key": "a.mp4", "size": 20 * MIB, "partSize": MIB }),
            "invalid_part_size",
        ),
        (
            json!({ "method": "POST", "key": "a.mp4", "size": 200 * MIB }),
            "size_too_large",
        ),
    ] {
        let (status, v) = w.sign(&alice(), body.clone());
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (422, Some(want)),
            "{body}"
        );
    }
    let small = hs256(
        JWT_SECRET,
        &json!({ "sub": "alice", "exp": NOW + 3600, "max_size": 1024 }),
    );
    let (status, v) = w.sign(
        &small,
        json!({ "method": "POST", "key": "a.mp4", "size": 1025 }),
    );
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("size_too_large"))
    );
}

#[test]
fn tickets_bind_parts_lists_and_completion_to_their_upload() {
    let w = World::new(&[("MULTIPART_LIFETIME", "3600")]);
    let (key, id) = w.create("movie.mp4", 12 * MIB, None);
    let (other_key, _) = w.create("other.mp4", 12 * MIB, None);
    let store_id = FakeStore::store_id(&id);
    let mut altered_size = id.replacen(".12582912.", ".12582913.", 1);
    assert_ne!(altered_size, id);
    let altered_part = id.replacen(".5242880.", ".-.", 1);
    let mut flipped = id.clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    for method in ["PUT", "GET", "POST", "DELETE"] {
        let part = (method == "PUT").then_some(1);
        for (k, upload_id, status, want) in [
            (&key, store_id.as_str(), 422, "invalid_upload_id"),
            (&key, altered_size.as_str(), 403, "ticket_invalid"),
            (&key, altered_part.as_str(), 403, "ticket_invalid"),
            (&key, flipped.as_str(), 403, "ticket_invalid"),
            // Another key of the same subject: the ticket names its key.
            (&other_key, id.as_str(), 403, "ticket_invalid"),
        ] {
            let (s, v) = w.sign(
                &alice(),
                json!({ "method": method, "key": k, "uploadId": upload_id, "partNumber": part }),
            );
            assert_eq!(
                (s, v["error"]["code"].as_str()),
                (status, Some(want)),
                "{method} {upload_id}: {v}"
            );
        }
    }
    // Past MULTIPART_LIFETIME: no more parts, lists or completion, but it can be aborted.
    let later = NOW + 3601;
    let fresh = hs256(JWT_SECRET, &json!({ "sub": "alice", "exp": later + 3600 }));
    for method in ["PUT", "GET", "POST"] {
        let part = (method == "PUT").then_some(1);
        let (s, v) = w.sign_at(
            &fresh,
            json!({ "method": method, "key": key, "uploadId": id, "partNumber": part }),
            later,
        );
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (403, Some("ticket_expired")),
            "{method}"
        );
    }
    let (s, v) = w.sign_at(
        &fresh,
        json!({ "method": "DELETE", "key": key, "uploadId": id }),
        later,
    );
    assert_eq!(s, 200, "{v}");
    // A complete URL signed in time is refused once the ticket expired.
    let url = w.complete_url(&key, &id);
    w.store.put_part(&store_id, 1, 5 * MIB);
    let r = w.post_at(&url, b"", later);
    assert_eq!((r.status, code(&r)), (403, "ticket_expired".to_owned()));
    assert!(w.store.objects.borrow().is_empty());
    altered_size.clear();
}

#[test]
fn worker_urls_are_sealed_short_lived_and_for_one_route() {
    let w = World::new(&[]);
    let v = w.signed(
        &alice(),
        json!({ "method": "POST", "key": "a.mp4", "size": MIB }),
    );
    let create = v["url"].as_str().unwrap().to_owned();
    let pass = query(&create, "pass").unwrap();
    let (body, mac) = pass.split_once('.').unwrap();
    // The pass's JSON, re-sealed with a larger size and the old MAC: refused.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let json = String::from_utf8(b64.decode(body).unwrap()).unwrap();
    assert!(json.contains("\"size\":1048576"), "{json}");
    let bigger = b64.encode(json.replace("\"size\":1048576", "\"size\":104857600"));
    let forged = format!("{ORIGIN}/v1/multipart/create?pass={bigger}.{mac}");
    let complete_route = create.replace("/v1/multipart/create", "/v1/multipart/complete");
    let truncated = &create[..create.len() - 2];
    let none = format!("{ORIGIN}/v1/multipart/create");
    for (url, status, want) in [
        (forged.as_str(), 403, "ticket_invalid"),
        (complete_route.as_str(), 403, "ticket_invalid"),
        (truncated, 403, "ticket_invalid"),
        (none.as_str(), 403, "ticket_invalid"),
    ] {
        let r = w.post(url, b"");
        assert_eq!((r.status, code(&r)), (status, want.to_owned()), "{url}");
    }
    // expires_in (300 s) later, the URL is refused; nothing reached the store.
    let r = w.post_at(&create, b"", NOW + 301);
    assert_eq!((r.status, code(&r)), (403, "ticket_expired".to_owned()));
    assert!(w.store.requests.borrow().is_empty());
    // Only POST (and the CORS preflight).
    let r = call(&w.svc, &w.ledger, &w.store, "GET", &create, &[], b"", NOW);
    assert_eq!((r.status, code(&r)), (405, "method_not_allowed".to_owned()));
    let r = call(
        &w.svc,
        &w.ledger,
        &w.store,
        "OPTIONS",
        &create,
        &[("origin", APP), ("access-control-request-method", "POST")],
        b"",
        NOW,
    );
    assert_eq!(r.status, 204);
    assert!(
        r.headers
            .contains(&("access-control-allow-origin", APP.to_owned())),
        "{:?}",
        r.headers
    );
    assert!(r
        .headers
        .contains(&("access-control-allow-methods", "POST, OPTIONS".to_owned())));
    // Once valid, it works.
    assert_eq!(w.post(&create, b"").status, 200);
}

#[test]
fn with_a_ledger_a_create_url_creates_one_upload() {
    let w = World::new(&[("QUOTA_BYTES_PER_DAY", "104857600")]);
    let v = w.signed(
        &alice(),
        json!({ "method": "POST", "key": "a.mp4", "size": 10 * MIB }),
    );
    let url = v["url"].as_str().unwrap();
    assert_eq!(w.post(url, b"").status, 200);
    let r = w.post(url, b"");
    assert_eq!(
        (r.status, code(&r)),
        (409, "ticket_used".to_owned()),
        "{}",
        r.body
    );
    assert_eq!(w.open_uploads(), 1);
    // The grant was counted once, at /v1/sign.
    let books = w.ledger.books.borrow();
    let usage = books.values().next().unwrap().usage(NOW);
    assert_eq!(usage.bytes_day, 10 * MIB);
    drop(books);
    // The ledger down: refused, and the upload the store just created is aborted again.
    let v = w.signed(
        &alice(),
        json!({ "method": "POST", "key": "b.mp4", "size": MIB }),
    );
    w.ledger.down.set(true);
    let r = w.post(v["url"].as_str().unwrap(), b"");
    assert_eq!((r.status, code(&r)), (503, "ledger_unavailable".to_owned()));
    assert_eq!(w.open_uploads(), 1);
    assert_eq!(w.store.requests.borrow().last().unwrap().0, "DELETE");
    // A store failure does not spend the pass: the client's retry creates the upload.
    w.ledger.down.set(false);
    let v = w.signed(
        &alice(),
        json!({ "method": "POST", "key": "c.mp4", "size": MIB }),
    );
    let url = v["url"].as_str().unwrap();
    *w.store.fail.borrow_mut() = Some(StoreError::Unreachable);
    assert_eq!(w.post(url, b"").status, 503);
    *w.store.fail.borrow_mut() = None;
    assert_eq!(w.post(url, b"").status, 200);
    assert_eq!(w.post(url, b"").status, 409);
    assert_eq!(w.open_uploads(), 2);
}

#[test]
fn a_failing_store_gets_a_gateway_error_with_retry_after() {
    let retry = |r: &Response| {
        r.headers
            .iter()
            .find(|(n, _)| *n == "retry-after")
            .map(|(_, v)| v.clone())
    };
    for (fail, answer, status, want) in [
        (Some(StoreError::Unreachable), None, 503, "store_unavailable"),
        (Some(StoreError::Timeout), None, 504, "store_timeout"),
        (None, Some((500, "<Error><Code>InternalError</Code></Error>")), 502, "store_error"),
        (None, Some((503, "<Error><Code>SlowDown</Code></Error>")), 502, "store_error"),
        (None, Some((200, "<html>a proxy's page</html>")), 502, "store_answer_malformed"),
        (None, Some((200, "<InitiateMultipartUploadResult><UploadId>a b</UploadId></InitiateMultipartUploadResult>")), 502, "store_answer_malformed"),
    ] {
        // At creation.
        let w = World::new(&[]);
        let v = w.signed(&alice(), json!({ "method": "POST", "key": "a.mp4", "size": MIB }));
        *w.store.fail.borrow_mut() = fail.clone();
        *w.store.answer.borrow_mut() = answer.map(|(s, b)| (s, b.to_owned()));
        let r = w.post(v["url"].as_str().unwrap(), b"");
        assert_eq!((r.status, code(&r)), (status, want.to_owned()), "{fail:?} {answer:?}");
        assert_eq!(retry(&r).as_deref(), Some("5"));

        // At completion (listing or completing): nothing is completed, the upload stays
        // open, and the same URL completes it once the store is back.
        let w = World::new(&[]);
        let (key, id) = w.create("a.mp4", MIB, None);
        w.store.put_part(&FakeStore::store_id(&id), 1, MIB);
        let url = w.complete_url(&key, &id);
        *w.store.fail.borrow_mut() = fail.clone();
        *w.store.answer.borrow_mut() = answer.map(|(s, b)| (s, b.to_owned()));
        let r = w.post(&url, b"");
        assert_eq!(r.status, status, "{fail:?} {answer:?}: {}", r.body);
        assert_eq!(retry(&r).as_deref(), Some("5"));
        assert!(w.store.objects.borrow().is_empty());
        assert_eq!(w.open_uploads(), 1);
        *w.store.fail.borrow_mut() = None;
        assert_eq!(w.post(&url, b"").status, 200);
    }
}

#[test]
fn completion_never_replaces_an_object_when_keys_may_exist() {
    let w = World::new(&[("KEY_TEMPLATE", "{sub}/{filename}")]);
    let (key, id) = w.create("a.mp4", MIB, None);
    w.store.put_part(&FakeStore::store_id(&id), 1, MIB);
    w.store.objects.borrow_mut().insert(key.clone(), 7);
    let r = w.post(&w.complete_url(&key, &id), b"");
    assert_eq!(
        (r.status, code(&r)),
        (412, "object_exists".to_owned()),
        "{}",
        r.body
    );
    assert_eq!(w.store.objects.borrow()[&key], 7);
    let requests = w.store.requests.borrow();
    let (_, _, headers, _) = requests.last().unwrap();
    assert!(headers.contains(&("if-none-match".into(), "*".into())));
    // No Retry-After: retrying cannot help.
    assert!(!r.headers.iter().any(|(n, _)| *n == "retry-after"));
}

#[test]
fn without_a_store_transport_the_routes_fail_closed() {
    let w = World::new(&[]);
    let v = w.signed(
        &alice(),
        json!({ "method": "POST", "key": "a.mp4", "size": MIB }),
    );
    let url = v["url"].as_str().unwrap();
    let r = presign_worker::api::Service::handle(
        &w.svc,
        &presign_worker::api::Request {
            method: "POST",
            path: "/v1/multipart/create",
            query: url.split_once('?').unwrap().1,
            origin: ORIGIN,
            header: &|_| None,
            body: presign_worker::api::Body::Bytes(b""),
        },
        NOW * 1000,
        &mut crate::api_support::TestPlatform(0),
    );
    assert_eq!((r.status, code(&r)), (503, "store_unavailable".to_owned()));
    let _ = NoLedger;
}

#[test]
fn every_multipart_request_is_signed_with_the_write_credentials() {
    let w = World::new(&[
        ("TARGET_UPLOADS_WRITE_ACCESS_KEY_ID", "AKIDWRITEONLY"),
        (
            "TARGET_UPLOADS_WRITE_SECRET_ACCESS_KEY",
            "write-only-secret",
        ),
        ("TARGET_UPLOADS_READ_ACCESS_KEY_ID", "AKIDREADONLY"),
        ("TARGET_UPLOADS_READ_SECRET_ACCESS_KEY", "read-only-secret"),
    ]);
    let (key, id) = w.create("a.mp4", MIB, None);
    for (method, part) in [("PUT", Some(1)), ("GET", None)] {
        let v = w.signed(
            &alice(),
            json!({ "method": method, "key": key, "uploadId": id, "partNumber": part }),
        );
        let url = v["url"].as_str().unwrap();
        assert!(
            url.contains("X-Amz-Credential=AKIDWRITEONLY%2F"),
            "{method}: {url}"
        );
    }
    w.store.put_part(&FakeStore::store_id(&id), 1, MIB);
    assert_eq!(w.post(&w.complete_url(&key, &id), b"").status, 200);
    let requests = w.store.requests.borrow();
    // The completed object is then read (HeadObject; video/mp4 has no sniffing rule) with
    // the read credentials.
    assert_eq!(requests.len(), 4, "create, list, complete, head");
    for (i, (method, _, headers, _)) in requests.iter().enumerate() {
        let auth = &headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .unwrap()
            .1;
        let credential = if i < 3 {
            "AKIDWRITEONLY"
        } else {
            "AKIDREADONLY"
        };
        assert!(
            auth.contains(&format!("Credential={credential}/")),
            "{method}: {auth}"
        );
    }
}

#[test]
fn tickets_of_another_worker_are_refused() {
    // The ticket key is derived from the target's write secret: a worker of another store
    // credential (or another deployment) cannot mint or open this one's tickets.
    let w = World::new(&[]);
    let (key, id) = w.create("a.mp4", MIB, None);
    let other = World::new(&[("S3_SECRET_ACCESS_KEY", "another-secret-0123456789")]);
    let (s, v) = other.sign(
        &alice(),
        json!({ "method": "PUT", "key": key, "uploadId": id, "partNumber": 1 }),
    );
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("ticket_invalid"))
    );
    let url = w.complete_url(&key, &id);
    let r = other.post(&url, b"");
    assert_eq!((r.status, code(&r)), (403, "ticket_invalid".to_owned()));
}

#[test]
fn the_worker_aborts_an_upload_even_an_expired_one() {
    let w = World::new(&[("MULTIPART_LIFETIME", "60")]);
    let (key, id) = w.create("a.mp4", 12 * MIB, None);
    w.store.put_part(&FakeStore::store_id(&id), 1, 5 * MIB);
    let later = NOW + 61;
    let fresh = hs256(JWT_SECRET, &json!({ "sub": "alice", "exp": later + 3600 }));
    let (status, v) = w.sign_at(
        &fresh,
        json!({ "method": "DELETE", "key": key, "uploadId": id }),
        later,
    );
    assert_eq!(status, 200, "{v}");
    let url = v["url"].as_str().unwrap();
    // Only DELETE (Uppy's method) and the preflight.
    let r = w.post_at(url, b"", later);
    assert_eq!((r.status, code(&r)), (405, "method_not_allowed".to_owned()));
    let del = |at| {
        call(
            &w.svc,
            &w.ledger,
            &w.store,
            "DELETE",
            url,
            &[("origin", APP)],
            b"",
            at,
        )
    };
    // A browser sends DELETE cross-origin only when the preflight allows it.
    let r = call(
        &w.svc,
        &w.ledger,
        &w.store,
        "OPTIONS",
        url,
        &[("origin", APP), ("access-control-request-method", "DELETE")],
        b"",
        later,
    );
    assert_eq!(r.status, 204);
    assert!(
        r.headers
            .contains(&("access-control-allow-methods", "DELETE, OPTIONS".to_owned())),
        "{:?}",
        r.headers
    );
    let r = del(later);
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(r
        .headers
        .contains(&("access-control-allow-origin", APP.to_owned())));
    assert_eq!(w.open_uploads(), 0);
    // Again: the store no longer knows it, which is aborted too.
    assert_eq!(del(later).status, 204);
    // Another key's ticket is refused.
    let (other, _) = w.create("b.mp4", MIB, None);
    let (status, v) = w.sign(
        &alice(),
        json!({ "method": "DELETE", "key": other, "uploadId": id }),
    );
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (403, Some("ticket_invalid"))
    );
}

#[test]
fn open_multipart_uploads_are_bounded_per_subject() {
    let w = World::new(&[("QUOTA_OPEN_MULTIPART", "2"), ("MULTIPART_LIFETIME", "600")]);
    let create = |file: &str| {
        let v = w.signed(
            &alice(),
            json!({ "method": "POST", "key": file, "size": MIB }),
        );
        let r = w.post(v["url"].as_str().unwrap(), b"");
        let id = (r.status == 200).then(|| xml(&r.body, "UploadId"));
        (r, v["key"].as_str().unwrap().to_owned(), id)
    };
    let (_, k1, id1) = create("1.mp4");
    let (_, k2, id2) = create("2.mp4");
    let (r, _, _) = create("3.mp4");
    assert_eq!(
        (r.status, code(&r)),
        (429, "quota_exceeded".to_owned()),
        "{}",
        r.body
    );
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["error"]["reason"], "open_multipart");
    assert_eq!(body["error"]["quota"]["limit"], 2);
    assert_eq!(body["error"]["quota"]["used"], 2);
    // Retry once the first open upload's ticket expires.
    assert_eq!(
        r.headers
            .iter()
            .find(|(n, _)| *n == "retry-after")
            .map(|(_, v)| v.as_str()),
        Some("601")
    );
    // The refused upload was aborted at the store: only two are open.
    assert_eq!(w.open_uploads(), 2);
    // Completing one frees its place; aborting another too.
    let (id1, id2) = (id1.unwrap(), id2.unwrap());
    w.store.put_part(&FakeStore::store_id(&id1), 1, MIB);
    assert_eq!(w.post(&w.complete_url(&k1, &id1), b"").status, 200);
    let (r, _, id3) = create("3.mp4");
    assert_eq!(r.status, 200, "{}", r.body);
    let (r, _, _) = create("4.mp4");
    assert_eq!(r.status, 429);
    let v = w.signed(
        &alice(),
        json!({ "method": "DELETE", "key": k2, "uploadId": id2 }),
    );
    let url = v["url"].as_str().unwrap();
    assert_eq!(
        call(&w.svc, &w.ledger, &w.store, "DELETE", url, &[], b"", NOW).status,
        204
    );
    let (r, _, _) = create("4.mp4");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(id3.is_some());
    // Another subject has its own budget; the usage shows the count.
    let bob = hs256(JWT_SECRET, &json!({ "sub": "bob", "exp": NOW + 3600 }));
    let v = w.signed(
        &bob,
        json!({ "method": "POST", "key": "b.mp4", "size": MIB }),
    );
    assert_eq!(w.post(v["url"].as_str().unwrap(), b"").status, 200);
    let auth = format!("Bearer {}", alice());
    let r = call(
        &w.svc,
        &w.ledger,
        &w.store,
        "GET",
        "/v1/usage",
        &[("authorization", &auth)],
        b"",
        NOW,
    );
    let usage: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(usage["used"]["open_multipart"], 2, "{usage}");
    assert_eq!(usage["limits"]["open_multipart"], 2);
    assert_eq!(usage["remaining"]["open_multipart"], 0);
    // Past their lifetime they no longer count.
    let later = NOW + 601;
    let fresh = hs256(JWT_SECRET, &json!({ "sub": "alice", "exp": later + 3600 }));
    let v = w
        .sign_at(
            &fresh,
            json!({ "method": "POST", "key": "5.mp4", "size": MIB }),
            later,
        )
        .1;
    assert_eq!(
        w.post_at(v["url"].as_str().unwrap(), b"", later).status,
        200
    );
    // A token's claim narrows the budget, never widens it.
    let one = hs256(
        JWT_SECRET,
        &json!({ "sub": "carol", "exp": NOW + 3600, "quota_open_multipart": 1 }),
    );
    let wide = hs256(
        JWT_SECRET,
        &json!({ "sub": "dave", "exp": NOW + 3600, "quota_open_multipart": 10 }),
    );
    for (t, allowed) in [(&one, 1), (&wide, 2)] {
        let mut created = 0;
        for i in 0..4 {
            let v = w.signed(
                t,
                json!({ "method": "POST", "key": format!("{i}.mp4"), "size": MIB }),
            );
            if w.post(v["url"].as_str().unwrap(), b"").status == 200 {
                created += 1;
            }
        }
        assert_eq!(created, allowed);
    }
}

#[test]
fn with_a_cleanup_grace_the_ledger_records_each_upload_until_it_ends() {
    let w = World::new(&[
        ("MULTIPART_CLEANUP_GRACE", "3600"),
        ("MULTIPART_LIFETIME", "600"),
    ]);
    // A ledger kept only for the cleanup: grants are not counted.
    let (key, id) = w.create("a.mp4", MIB, None);
    let store_id = FakeStore::store_id(&id);
    let due = |at| {
        let books = w.ledger.books.borrow();
        books.values().flat_map(|b| b.due(at)).collect::<Vec<_>>()
    };
    assert!(due(NOW + 4199).is_empty());
    let stale = due(NOW + 4200);
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(
        (
            stale[0].0.as_str(),
            stale[0].1.target.as_str(),
            stale[0].1.key.as_str()
        ),
        (store_id.as_str(), "uploads", key.as_str())
    );
    // The alarm's abort (`Service::abort_stale`, as the Durable Object calls it).
    let done =
        futures_lite_block_on(
            w.svc
                .abort_stale("uploads", &key, &store_id, NOW + 4200, &w.store),
        );
    assert_eq!(done, Ok(presign_worker::store::abort::Gone::Aborted));
    assert_eq!(w.open_uploads(), 0);
    // Again: the store no longer knows it, which is no reason to refund it twice.
    let again =
        futures_lite_block_on(
            w.svc
                .abort_stale("uploads", &key, &store_id, NOW + 4200, &w.store),
        );
    assert_eq!(again, Ok(presign_worker::store::abort::Gone::Unknown));
    assert!(
        futures_lite_block_on(w.svc.abort_stale("nope", &key, &store_id, NOW, &w.store)).is_err()
    );
    // Completed or aborted through the worker: no longer due.
    let (key, id) = w.create("b.mp4", MIB, None);
    w.store.put_part(&FakeStore::store_id(&id), 1, MIB);
    assert_eq!(w.post(&w.complete_url(&key, &id), b"").status, 200);
    let (key, id) = w.create("c.mp4", MIB, None);
    let v = w.signed(
        &alice(),
        json!({ "method": "DELETE", "key": key, "uploadId": id }),
    );
    let url = v["url"].as_str().unwrap();
    assert_eq!(
        call(&w.svc, &w.ledger, &w.store, "DELETE", url, &[], b"", NOW).status,
        204
    );
    assert_eq!(due(NOW + 4200).len(), 1, "only a.mp4's record is left");
}

/// Polls a future that never waits (the fake store and ledger answer at once).
fn futures_lite_block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("the fake store never waits"),
    }
}

#[test]
fn a_completion_queues_its_webhook_in_the_subjects_ledger() {
    let w = World::new(&[
        ("WEBHOOK_URL", "https://app.example.com/hooks"),
        ("WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ]);
    let (key, id) = w.create("a.mp4", MIB, None);
    w.store.put_part(&FakeStore::store_id(&id), 1, MIB);
    let url = w.complete_url(&key, &id);
    assert_eq!(w.post(&url, b"").status, 200);
    let books = w.ledger.books.borrow();
    let (subject, book) = books.iter().next().unwrap();
    assert_eq!(subject, "[\"local\",\"alice\"]");
    let due = book.deliveries(NOW);
    assert_eq!(due.len(), 1, "{book:?}");
    let (msg_id, delivery) = &due[0];
    assert!(msg_id.starts_with("msg_"), "{msg_id}");
    let event: Value = serde_json::from_str(&delivery.body).unwrap();
    assert_eq!(event["type"], "upload.completed");
    assert_eq!(event["timestamp"], NOW);
    assert_eq!(
        event["data"],
        json!({ "key": key, "bucket": "uploads", "target": "uploads", "size": MIB,
                "content_type": "video/mp4", "etag": "\"etag-final\"", "iss": "local", "sub": "alice" })
    );
    drop(books);
    // A refused completion queues nothing.
    let (key, id) = w.create("b.mp4", MIB, None);
    assert_eq!(w.post(&w.complete_url(&key, &id), b"").status, 422);
    let books = w.ledger.books.borrow();
    assert_eq!(books.values().next().unwrap().deliveries(NOW).len(), 1);
}
