//! Grants remembered by the ledger (`src/ledger.rs`, `Upload`), through the API against a
//! store and a ledger in memory: a completion is checked against exactly what was granted
//! (size, content type, checksum), recorded once, and refused when the ledger cannot be
//! reached; an upload that ends without completing gives its bytes back; multipart
//! completion settles the object in the same step, with the receipt in its answer; and the
//! deletion of uncompleted uploads (`DELETE_UNCOMPLETED_AFTER`) at the store.
use crate::api_support::{hs256, request_io, service_from, xml_text, FakeLedger, FakeStore};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use presign_worker::api::{Deleted, Response, Service};
use presign_worker::ledger::{Book, Call, Reply, Upload};
use serde_json::{json, Value};
use sha2::Digest as _;

const JWT_SECRET: &str = "grants-test-jwt-secret-0123456789abcdef";
const RECEIPT_SECRET: &str = "grants-test-receipt-secret-0123456789ab";
/// 2026-01-01T00:00:00Z.
const NOW: u64 = 1_767_225_600;
/// [`NOW`] as an HTTP date.
const NOW_HTTP: &str = "Thu, 01 Jan 2026 00:00:00 GMT";
const MIB: u64 = 1024 * 1024;
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06";

struct World {
    svc: Service,
    ledger: FakeLedger,
    store: FakeStore,
}

impl World {
    /// A worker whose ledger is on (a day's byte budget), with receipts.
    fn new(extra: &[(&str, &str)]) -> Self {
        let base = [
            ("TARGET_UPLOADS_KIND", "custom"),
            ("TARGET_UPLOADS_ENDPOINT", "http://127.0.0.1:9000"),
            ("TARGET_UPLOADS_BUCKET", "uploads"),
            ("S3_ACCESS_KEY_ID", "AKIDGRANTS"),
            ("S3_SECRET_ACCESS_KEY", "grants-s3-secret"),
            ("JWT_SECRET", JWT_SECRET),
            ("RECEIPT_SECRET", RECEIPT_SECRET),
            ("QUOTA_BYTES_PER_DAY", "100000000"),
            (
                "ALLOWED_CONTENT_TYPES",
                "image/*,text/plain,application/octet-stream",
            ),
        ];
        let ledger = FakeLedger::default();
        ledger.now.set(NOW);
        Self {
            svc: service_from(&[&base[..], extra].concat()),
            ledger,
            store: FakeStore::new("/uploads/"),
        }
    }

    fn call(&self, method: &str, url: &str, body: &[u8], json_body: bool) -> Response {
        let auth = format!("Bearer {}", alice());
        let mut headers = vec![("authorization", auth.as_str())];
        if json_body {
            headers.push(("content-type", "application/json"));
        }
        request_io(
            &self.svc,
            &self.ledger,
            &self.store,
            (method, url),
            &headers,
            body,
            NOW * 1000,
        )
    }

    fn post_json(&self, path: &str, body: &Value) -> (Response, Value) {
        let r = self.call("POST", path, body.to_string().as_bytes(), true);
        let v = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        (r, v)
    }

    /// A single PUT granted by `/v1/uploads`: its key.
    fn grant(&self, filename: &str, content_type: &str, size: u64, extra: Value) -> String {
        let mut body = json!({ "filename": filename, "content_type": content_type, "size": size });
        if let Value::Object(m) = extra {
            body.as_object_mut().unwrap().extend(m);
        }
        let (r, v) = self.post_json("/v1/uploads", &body);
        assert_eq!(r.status, 200, "{}", r.body);
        v["key"].as_str().unwrap().to_owned()
    }

    fn complete(&self, key: &str) -> (Response, Value) {
        self.post_json("/v1/uploads/complete", &json!({ "key": key }))
    }

    fn usage(&self) -> Value {
        let r = self.call("GET", "/v1/usage", b"", false);
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_str::<Value>(&r.body).unwrap()["used"].clone()
    }

    /// A multipart upload created through `/v1/sign` and the worker: (key, ticketed id).
    fn create(&self, file: &str, size: u64) -> (String, String) {
        let (r, v) = self.post_json(
            "/v1/sign",
            &json!({ "method": "POST", "key": file, "size": size }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let r = self.call("POST", v["url"].as_str().unwrap(), b"", false);
        assert_eq!(r.status, 200, "{}", r.body);
        (
            v["key"].as_str().unwrap().to_owned(),
            xml_text(&r.body, "UploadId"),
        )
    }

    /// The worker URL of `op` (`POST`: complete, `DELETE`: abort) of a multipart upload.
    fn control(&self, method: &str, key: &str, id: &str) -> Response {
        let (r, v) = self.post_json(
            "/v1/sign",
            &json!({ "method": method, "key": key, "uploadId": id }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        self.call(method, v["url"].as_str().unwrap(), b"", false)
    }

    fn book(&self) -> Book {
        self.ledger.books.borrow().values().next().cloned().unwrap()
    }

    /// `call` answered by the subject's book at `at`, as the Durable Object would.
    fn answer(&self, call: &Call, at: u64) -> Reply {
        let mut books = self.ledger.books.borrow_mut();
        books.values_mut().next().unwrap().answer(call, at)
    }

    /// An object under `key`, written at the grant's time (after it).
    fn put_new_file(&self, key: &str, body: &[u8]) {
        self.store.put_file(key, "text/plain", body);
        self.store
            .files
            .borrow_mut()
            .get_mut(key)
            .unwrap()
            .last_modified = NOW_HTTP.to_owned();
    }
}

fn alice() -> String {
    hs256(JWT_SECRET, &json!({ "sub": "alice", "exp": NOW + 3600 }))
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

/// The receipt's claims, verified by `jsonwebtoken` with `RECEIPT_SECRET`.
fn verified(receipt: &str) -> Value {
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.set_required_spec_claims(&["iss", "sub"]);
    v.validate_exp = false;
    let key = jsonwebtoken::DecodingKey::from_secret(RECEIPT_SECRET.as_bytes());
    jsonwebtoken::decode::<Value>(receipt, &key, &v)
        .expect("the receipt verifies")
        .claims
}

#[test]
fn a_different_body_within_the_tokens_maximum_is_not_the_granted_upload() {
    let w = World::new(&[]);
    let key = w.grant("notes.txt", "text/plain", 300, json!({}));
    // Written with the store's own credentials: smaller than granted, of another type.
    w.store.put_file(&key, "text/plain", &[b'a'; 200]);
    let (r, v) = w.complete(&key);
    assert_eq!((r.status, code(&v)), (422, "upload_mismatch"), "{}", r.body);
    assert_eq!(v["error"]["mismatch"], json!(["size"]));
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not the exactly 300 granted"),
        "{v}"
    );
    w.store
        .put_file(&key, "application/octet-stream", &[b'a'; 300]);
    let (r, v) = w.complete(&key);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(v["error"]["mismatch"], json!(["content_type"]));
    // Nothing was recorded as complete.
    assert_eq!(w.usage()["uploads_uncompleted"], 1);
    // The granted upload passes, once recorded.
    w.store.put_file(&key, "text/plain", &[b'a'; 300]);
    let (r, v) = w.complete(&key);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(verified(v["receipt"].as_str().unwrap())["size"], 300);
    assert_eq!(w.usage()["uploads_uncompleted"], 0);
    let (again, _) = w.complete(&key);
    assert_eq!(again.body, r.body, "the same receipt again");
}

#[test]
fn a_granted_checksum_must_be_the_stored_one() {
    let w = World::new(&[]);
    let body = [b'x'; 64];
    let sha = STANDARD.encode(sha2::Sha256::digest(body));
    let key = w.grant(
        "x.bin",
        "application/octet-stream",
        64,
        json!({ "checksum": { "sha256": sha } }),
    );
    let other = STANDARD.encode(sha2::Sha256::digest([b'y'; 64]));
    w.store
        .put_file(&key, "application/octet-stream", &[b'y'; 64]);
    w.store.files.borrow_mut().get_mut(&key).unwrap().checksum =
        Some(("x-amz-checksum-sha256".into(), other));
    let (r, v) = w.complete(&key);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(v["error"]["mismatch"], json!(["checksum"]));
    w.store.files.borrow_mut().get_mut(&key).unwrap().checksum =
        Some(("x-amz-checksum-sha256".into(), sha.clone()));
    let (r, v) = w.complete(&key);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        verified(v["receipt"].as_str().unwrap())["checksum"],
        json!({ "sha256": sha })
    );
}

#[test]
fn without_its_ledger_a_completion_is_refused_and_nothing_is_recorded() {
    let w = World::new(&[
        ("WEBHOOK_URL", "https://app.example.com/hooks"),
        ("WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ]);
    let key = w.grant("a.png", "image/png", PNG.len() as u64, json!({}));
    w.store.put_file(&key, "image/png", PNG);
    w.ledger.down.set(true);
    let (r, v) = w.complete(&key);
    assert_eq!(
        (r.status, code(&v)),
        (503, "ledger_unavailable"),
        "{}",
        r.body
    );
    assert!(r.headers.iter().any(|(n, _)| *n == "retry-after"));
    w.ledger.down.set(false);
    assert_eq!(w.book().deliveries(NOW).len(), 0, "no event queued");
    assert_eq!(w.usage()["uploads_uncompleted"], 1);
    // The client completes again: recorded, and announced once.
    assert_eq!(w.complete(&key).0.status, 200);
    assert_eq!(w.complete(&key).0.status, 200);
    assert_eq!(w.book().deliveries(NOW).len(), 1);
    assert_eq!(w.usage()["uploads_uncompleted"], 0);
}

#[test]
fn a_deleted_mismatch_gives_its_bytes_back() {
    let w = World::new(&[("DELETE_MISMATCHED", "true")]);
    let key = w.grant("a.png", "image/png", 500, json!({}));
    assert_eq!(w.usage()["bytes_day"], 500);
    w.store.put_file(&key, "image/png", &[b'<'; 500]);
    let (r, v) = w.complete(&key);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(v["error"]["deleted"], true);
    assert_eq!(w.usage()["bytes_day"], 0);
    assert_eq!(w.usage()["uploads_uncompleted"], 0);
}

#[test]
fn a_multipart_completion_settles_the_object_with_its_receipt() {
    let w = World::new(&[]);
    let (key, id) = w.create("big.png", 6 * MIB);
    w.store.put_part(&FakeStore::store_id(&id), 1, 5 * MIB);
    w.store.put_part(&FakeStore::store_id(&id), 2, MIB);
    let r = w.control("POST", &key, &id);
    assert_eq!(r.status, 200, "{}", r.body);
    let receipt = xml_text(&r.body, "Receipt");
    let claims = verified(&receipt);
    assert_eq!(
        (&claims["key"], &claims["size"], &claims["content_type"]),
        (&json!(key), &json!(6 * MIB), &json!("image/png"))
    );
    assert_eq!(claims["content_checked"], true);
    // The same receipt from /v1/uploads/complete, and from completing again (a lost answer).
    let (_, v) = w.complete(&key);
    assert_eq!(v["receipt"].as_str(), Some(receipt.as_str()));
    let again = w.control("POST", &key, &id);
    assert_eq!((again.status, &again.body), (200, &r.body));
    assert_eq!(w.usage()["uploads_uncompleted"], 0);
    assert_eq!(w.usage()["bytes_day"], 6 * MIB);
}

#[test]
fn a_multipart_upload_whose_first_bytes_are_not_its_type_is_refused_once_completed() {
    let w = World::new(&[("DELETE_MISMATCHED", "true")]);
    *w.store.multipart_start.borrow_mut() = b"<html><script>".to_vec();
    let (key, id) = w.create("big.png", 6 * MIB);
    w.store.put_part(&FakeStore::store_id(&id), 1, 5 * MIB);
    w.store.put_part(&FakeStore::store_id(&id), 2, MIB);
    let r = w.control("POST", &key, &id);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!((r.status, code(&v)), (422, "upload_mismatch"), "{}", r.body);
    assert_eq!(v["error"]["mismatch"], json!(["content"]));
    assert_eq!(v["error"]["deleted"], true);
    assert!(!w.store.files.borrow().contains_key(&key), "deleted");
    assert_eq!(w.usage()["bytes_day"], 0, "its bytes are given back");
}

#[test]
fn an_aborted_multipart_upload_gives_its_bytes_back() {
    let w = World::new(&[("QUOTA_OPEN_MULTIPART", "5")]);
    let (key, id) = w.create("big.bin", 6 * MIB);
    assert_eq!(w.usage()["bytes_day"], 6 * MIB);
    assert_eq!(w.usage()["open_multipart"], 1);
    assert_eq!(w.control("DELETE", &key, &id).status, 204);
    let used = w.usage();
    assert_eq!(
        (
            &used["bytes_day"],
            &used["open_multipart"],
            &used["uploads_uncompleted"]
        ),
        (&json!(0), &json!(0), &json!(0))
    );
}

/// An abort that finds the upload unknown to the store (completed by a completion that may
/// still be settling, as when a client sends the abort while its completion runs) closes it
/// but gives nothing back: only an upload this abort ended returns its bytes.
#[test]
fn an_abort_of_an_upload_the_store_no_longer_knows_gives_nothing_back() {
    let w = World::new(&[("QUOTA_OPEN_MULTIPART", "5")]);
    let (key, id) = w.create("big.bin", 6 * MIB);
    // The store completed it (the worker's completion is still between the store's answer and
    // its ledger call).
    w.store.uploads.borrow_mut().clear();
    w.store.put_file(&key, "application/octet-stream", &[0; 16]);
    assert_eq!(w.control("DELETE", &key, &id).status, 204);
    let used = w.usage();
    assert_eq!(
        (&used["bytes_day"], &used["open_multipart"]),
        (&json!(6 * MIB), &json!(0)),
        "{used}"
    );
    assert!(
        w.book().upload("uploads", &key).is_some(),
        "the grant is forgotten"
    );
}

#[test]
fn uncompleted_uploads_are_due_for_deletion_after_the_delay_and_completed_ones_never() {
    // Never before the URL expires (URL_TTL 300 > 60).
    let w = World::new(&[("DELETE_UNCOMPLETED_AFTER", "60")]);
    let kept = w.grant("kept.txt", "text/plain", 3, json!({}));
    let lost = w.grant("lost.txt", "text/plain", 3, json!({}));
    w.store.put_file(&kept, "text/plain", b"abc");
    assert_eq!(w.complete(&kept).0.status, 200);
    let book = w.book();
    assert!(book.deletions(NOW + 299).is_empty());
    let due = book.deletions(NOW + 300);
    assert_eq!(
        due.iter().map(|u| u.key.as_str()).collect::<Vec<_>>(),
        [lost.as_str()]
    );
    assert_eq!(book.next_expiry(), Some(NOW + 300));
}

fn deleting(w: &World, upload: &Upload) -> Result<Deleted, String> {
    let fut = w.svc.delete_uncompleted(upload, NOW + 600, &w.store);
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::future::Future::poll(fut.as_mut(), &mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("the fake store never waits"),
    }
}

/// A deletion that finds nothing gives the grant's bytes back, but a PUT that started before
/// its URL expired may still be on its way: what arrives under the key afterwards is not
/// completed as the grant's (it is no longer counted), and the second look deletes it.
#[test]
fn what_arrives_after_its_grant_was_given_back_is_refused_and_deleted() {
    let w = World::new(&[("DELETE_UNCOMPLETED_AFTER", "60")]);
    let key = w.grant("late.txt", "text/plain", 3, json!({}));
    assert_eq!(w.usage()["bytes_day"], 3);
    let upload = w.book().upload("uploads", &key).cloned().unwrap();
    let answer = |call: Call, at| w.answer(&call, at);
    assert_eq!(deleting(&w, &upload), Ok(Deleted::Nothing));
    answer(
        Deleted::Nothing.ledger_call("uploads".into(), key.clone(), NOW + 600),
        NOW + 600,
    );
    assert_eq!(w.usage()["bytes_day"], 0, "its bytes are given back");
    // The slow PUT lands now: completing it is refused, nothing of it is counted.
    w.put_new_file(&key, b"abc");
    let (r, v) = w.complete(&key);
    assert_eq!((r.status, code(&v)), (422, "upload_mismatch"), "{}", r.body);
    assert_eq!(v["error"]["mismatch"], json!(["late"]), "{v}");
    // The second look finds it and deletes it; the grant is then forgotten, given back once.
    let again = w.book().upload("uploads", &key).cloned().unwrap();
    assert_eq!(
        w.book()
            .deletions(NOW + 600 + 86_400)
            .iter()
            .map(|u| u.key.as_str())
            .collect::<Vec<_>>(),
        [key.as_str()]
    );
    let found = deleting(&w, &again);
    assert_eq!(found, Ok(Deleted::Object { size: 3 }));
    assert!(!w.store.files.borrow().contains_key(&key));
    answer(
        found
            .unwrap()
            .ledger_call("uploads".into(), key.clone(), NOW + 600 + 86_400),
        NOW + 600 + 86_400,
    );
    assert!(w.book().upload("uploads", &key).is_none());
    // Nothing at the second look either: forgotten then too.
    let other = w.grant("never.txt", "text/plain", 3, json!({}));
    let rec = w.book().upload("uploads", &other).cloned().unwrap();
    for at in [NOW + 600, NOW + 600 + 86_400] {
        assert_eq!(deleting(&w, &rec), Ok(Deleted::Nothing));
        answer(
            Deleted::Nothing.ledger_call("uploads".into(), other.clone(), at),
            at,
        );
    }
    assert!(w.book().upload("uploads", &other).is_none());
}

#[test]
fn deleting_an_uncompleted_upload_keeps_what_is_older_than_its_grant() {
    let w = World::new(&[("DELETE_UNCOMPLETED_AFTER", "60")]);
    let key = w.grant("lost.txt", "text/plain", 3, json!({}));
    let upload = w.book().upload("uploads", &key).cloned().unwrap();
    // Never uploaded: nothing to delete.
    assert_eq!(deleting(&w, &upload), Ok(Deleted::Nothing));
    // An object from before the grant (here: 2006) is not this upload's.
    w.store.put_file(&key, "text/plain", b"old");
    assert_eq!(deleting(&w, &upload), Ok(Deleted::KeptOlder));
    assert!(w.store.files.borrow().contains_key(&key));
    // Written after the grant: deleted.
    w.put_new_file(&key, b"old");
    assert_eq!(deleting(&w, &upload), Ok(Deleted::Object { size: 3 }));
    assert!(!w.store.files.borrow().contains_key(&key));
    // The ledger then gives its bytes back.
    let reply = w.answer(
        &Call::Removed("uploads".into(), key.clone(), None),
        NOW + 600,
    );
    let Reply::Usage(used) = reply else {
        panic!("{reply:?}")
    };
    assert_eq!((used.bytes_day, used.uploads_uncompleted), (0, 0));
    // A store that fails: the error says so, without a secret.
    w.store
        .fail
        .replace(Some(presign_worker::store::StoreError::Unreachable));
    let e = deleting(&w, &upload).unwrap_err();
    assert!(!e.contains("grants-s3-secret"), "{e}");
}

#[test]
fn deleting_an_uncompleted_multipart_upload_aborts_it() {
    let w = World::new(&[("DELETE_UNCOMPLETED_AFTER", "60")]);
    let (key, id) = w.create("big.bin", 6 * MIB);
    let upload = w.book().upload("uploads", &key).cloned().unwrap();
    assert_eq!(
        upload.multipart.as_deref(),
        Some(FakeStore::store_id(&id).as_str())
    );
    // Kept at least until the upload's ticket expires (MULTIPART_LIFETIME, a day).
    assert!(upload.delete_at.unwrap() >= NOW + 86_400, "{upload:?}");
    assert_eq!(deleting(&w, &upload), Ok(Deleted::Nothing));
    assert!(w.store.uploads.borrow().is_empty(), "aborted");
}
