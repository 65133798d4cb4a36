//! Helpers of the native API tests (`api*`, `openapi`): a deterministic
//! platform, HS256 tokens minted by the independent `jsonwebtoken`, a service configured from
//! name/value pairs, and one request through `Service::handle`.

use std::collections::{BTreeMap, HashMap};

use std::cell::{Cell, RefCell};

use presign_worker::api::{
    Body, Ledger, LedgerUnavailable, NoLedger, Platform, Request, Response, Service,
};
use presign_worker::ledger::{Book, Call, Reply};
use presign_worker::sigv4::SignedRequest;
use presign_worker::store::{Fetched, NoTransport, StoreError, Transport};
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

/// Deterministic "random" bytes (a counter stepping by 37 from the seed) and real NFC.
pub struct TestPlatform(pub u8);

impl Platform for TestPlatform {
    fn fill_random(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(37);
            *b = self.0;
        }
    }

    fn nfc(&self, s: &str) -> String {
        s.nfc().collect()
    }
}

/// An HS256 token of `claims` signed with `secret` by `jsonwebtoken`.
pub fn hs256(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 token")
}

/// These name/value pairs as a map of variables (later pairs win).
pub fn vars_from(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The service configured by these variables (later pairs win); panics if it is refused.
pub fn service_from(pairs: &[(&str, &str)]) -> Service {
    let vars = vars_from(pairs);
    Service::from_lookup(&|k| vars.get(k).cloned()).expect("valid config")
}

/// One request through [`Service::handle`] at `now_ms`; header names are matched in lower case.
pub fn request(
    svc: &Service,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    now_ms: u64,
) -> Response {
    request_with(svc, &NoLedger, (method, path), headers, body, now_ms)
}

/// The worker's origin in native tests (the base of the worker URLs of `/v1/sign`).
pub const ORIGIN: &str = "https://presign.test";

/// [`request`] through [`Service::handle_with`] and `ledger`.
pub fn request_with<L: Ledger>(
    svc: &Service,
    ledger: &L,
    method_path: (&str, &str),
    headers: &[(&str, &str)],
    body: &[u8],
    now_ms: u64,
) -> Response {
    request_io(
        svc,
        ledger,
        &NoTransport,
        method_path,
        headers,
        body,
        now_ms,
    )
}

/// [`request`] through [`Service::handle_io`], `ledger` and the store `transport`; `target`
/// is a path with an optional query (`/v1/multipart/create?pass=…`) or a worker URL.
pub fn request_io<L: Ledger, T: Transport>(
    svc: &Service,
    ledger: &L,
    transport: &T,
    (method, target): (&str, &str),
    headers: &[(&str, &str)],
    body: &[u8],
    now_ms: u64,
) -> Response {
    let target = target.strip_prefix(ORIGIN).unwrap_or(target);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let h: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
        .collect();
    let lookup = move |name: &str| h.get(name).cloned();
    let req = Request {
        method,
        path,
        query,
        origin: ORIGIN,
        header: &lookup,
        body: Body::Bytes(body),
    };
    // Each request its own random stream (nonces, uuids), the same in every run.
    thread_local!(static SEED: Cell<u8> = const { Cell::new(0) });
    let seed = SEED.with(|s| {
        s.set(s.get().wrapping_add(1));
        s.get()
    });
    svc.handle_io(&req, now_ms, &mut TestPlatform(seed), ledger, transport)
}

/// Per-subject ledgers in memory (the real rules of `Book`), with a clock the test sets;
/// `down` makes every call fail, `calls` counts them.
#[derive(Default)]
pub struct FakeLedger {
    pub books: RefCell<HashMap<String, Book>>,
    pub now: Cell<u64>,
    pub down: Cell<bool>,
    pub calls: Cell<u32>,
}

impl Ledger for FakeLedger {
    async fn call(&self, subject: &str, call: &Call) -> Result<Reply, LedgerUnavailable> {
        self.calls.set(self.calls.get() + 1);
        if self.down.get() {
            return Err(LedgerUnavailable);
        }
        // Through JSON, as between the worker and its Durable Object.
        let json = serde_json::to_string(call).map_err(|_| LedgerUnavailable)?;
        let call: Call = serde_json::from_str(&json).map_err(|_| LedgerUnavailable)?;
        let mut books = self.books.borrow_mut();
        let book = books.entry(subject.to_owned()).or_default();
        Ok(book.answer(&call, self.now.get()))
    }
}

/// An S3 store in memory for the worker's own requests (CreateMultipartUpload, ListParts,
/// CompleteMultipartUpload, AbortMultipartUpload; HeadObject, ranged GetObject and
/// DeleteObject of the objects in `files`) on one bucket at `prefix` (`/uploads/`);
/// a test puts parts itself with [`FakeStore::put_part`], as a client would with the presigned
/// part URLs, and objects with [`FakeStore::put_file`]. `fail` makes every request fail that
/// way; `answer` replaces the next answer.
/// One open upload of a [`FakeStore`]: its key and its parts (number → size).
pub type FakeUpload = (String, BTreeMap<u16, u64>);
/// One request a [`FakeStore`] took: method, URL, headers, body.
pub type FakeRequest = (String, String, Vec<(String, String)>, String);

/// One object of a [`FakeStore`] put by a client: its bytes, content type, ETag (quoted),
/// `Last-Modified` and the stored checksum header, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeFile {
    pub bytes: Vec<u8>,
    pub content_type: String,
    pub etag: String,
    pub last_modified: String,
    pub checksum: Option<(String, String)>,
    /// The ETag HeadObject reports when it is not `etag`: the object was replaced between a
    /// HEAD and the next request.
    pub head_etag: Option<String>,
    /// Its size when `bytes` are not kept (a completed multipart upload).
    pub size: Option<u64>,
}

pub struct FakeStore {
    pub prefix: &'static str,
    /// Open uploads: id → (key, part number → size).
    pub uploads: RefCell<BTreeMap<String, FakeUpload>>,
    /// Completed objects: key → size.
    pub objects: RefCell<BTreeMap<String, u64>>,
    /// Objects put by clients (single PUTs), with their bytes: key → object.
    pub files: RefCell<BTreeMap<String, FakeFile>>,
    /// Every request: (method, URL, headers, body).
    pub requests: RefCell<Vec<FakeRequest>>,
    pub fail: RefCell<Option<StoreError>>,
    pub answer: RefCell<Option<(u16, String)>>,
    /// Parts per ListParts page (S3's is up to 1000).
    pub page: Cell<usize>,
    /// The content type each open upload was created with: id → type.
    pub types: RefCell<BTreeMap<String, String>>,
    /// The first bytes of every object a multipart upload completes (parts keep only their
    /// sizes): a PNG signature unless a test sets others.
    pub multipart_start: RefCell<Vec<u8>>,
    /// Parts replaced at the store after the worker listed them (another credential's PUT of
    /// the same part number), as (number, size): applied when the upload completes, so the
    /// object is of another size than the list said.
    pub replaced_before_complete: RefCell<Vec<(u16, u64)>>,
    /// ListParts of an upload the store no longer has lists no parts instead of answering
    /// `NoSuchUpload` (what s3s-fs does once an upload is completed).
    pub lists_gone_uploads_empty: Cell<bool>,
    next: Cell<u32>,
}

impl FakeStore {
    pub fn new(prefix: &'static str) -> Self {
        Self {
            prefix,
            uploads: RefCell::default(),
            objects: RefCell::default(),
            files: RefCell::default(),
            requests: RefCell::default(),
            fail: RefCell::default(),
            answer: RefCell::default(),
            page: Cell::new(1000),
            types: RefCell::default(),
            multipart_start: RefCell::new(b"\x89PNG\r\n\x1a\n".to_vec()),
            replaced_before_complete: RefCell::default(),
            lists_gone_uploads_empty: Cell::new(false),
            next: Cell::new(0),
        }
    }

    /// A part of `size` bytes stored for the store's upload `id` (what a part URL does).
    pub fn put_part(&self, id: &str, number: u16, size: u64) {
        let mut uploads = self.uploads.borrow_mut();
        let upload = uploads.get_mut(id).expect("an open upload");
        upload.1.insert(number, size);
    }

    /// An object put under `key` (what a presigned PUT does), modified at
    /// `Sun, 01 Jan 2006 12:00:00 GMT`, with an ETag derived from its bytes.
    pub fn put_file(&self, key: &str, content_type: &str, bytes: &[u8]) {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(bytes);
        let file = FakeFile {
            bytes: bytes.to_vec(),
            content_type: content_type.to_owned(),
            etag: format!("\"{}\"", hex::encode(&digest[..16])),
            last_modified: "Sun, 01 Jan 2006 12:00:00 GMT".to_owned(),
            checksum: None,
            head_etag: None,
            size: None,
        };
        self.files.borrow_mut().insert(key.to_owned(), file);
    }

    /// The store's upload id inside a ticketed client id (its first dot-separated field, as
    /// this fake makes ids without dots).
    pub fn store_id(client_id: &str) -> String {
        client_id.split('.').next().unwrap().to_owned()
    }

    fn answer_for(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> (u16, String) {
        let err = |status: u16, code: &str| (status, format!("<Error><Code>{code}</Code></Error>"));
        let after_scheme = url.split_once("://").unwrap().1;
        let path_query = &after_scheme[after_scheme.find('/').unwrap()..];
        let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
        let Some(key) = path.strip_prefix(self.prefix) else {
            return err(404, "NoSuchBucket");
        };
        let key = percent_decode(key);
        let q: BTreeMap<&str, &str> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, "")))
            .collect();
        let header = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        assert!(header("authorization").is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256 ")));
        let id = q.get("uploadId").map(|s| percent_decode(s));
        match (method, id) {
            ("POST", None) if q.contains_key("uploads") => {
                let n = self.next.get() + 1;
                self.next.set(n);
                let id = format!("upload-{n}");
                self.uploads
                    .borrow_mut()
                    .insert(id.clone(), (key.clone(), BTreeMap::new()));
                let content_type = header("content-type").unwrap_or("binary/octet-stream");
                self.types
                    .borrow_mut()
                    .insert(id.clone(), content_type.to_owned());
                (200, format!("<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>{}</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>", xml_escape(&key)))
            }
            ("GET", Some(id)) => {
                let uploads = self.uploads.borrow();
                let Some((k, parts)) = uploads.get(&id) else {
                    if self.lists_gone_uploads_empty.get() {
                        return (200, "<ListPartsResult></ListPartsResult>".to_owned());
                    }
                    return err(404, "NoSuchUpload");
                };
                assert_eq!(*k, key);
                let marker: u16 = q
                    .get("part-number-marker")
                    .map_or(0, |m| m.parse().unwrap());
                let page: Vec<_> = parts.range(marker + 1..).take(self.page.get()).collect();
                let truncated = parts.range(marker + 1..).count() > page.len();
                let mut out = String::from("<ListPartsResult>");
                for (n, size) in &page {
                    out.push_str(&format!("<Part><PartNumber>{n}</PartNumber><ETag>\"etag-{n}\"</ETag><Size>{size}</Size></Part>"));
                }
                if truncated {
                    let last = page.last().unwrap().0;
                    out.push_str(&format!("<IsTruncated>true</IsTruncated><NextPartNumberMarker>{last}</NextPartNumberMarker>"));
                }
                out.push_str("</ListPartsResult>");
                (200, out)
            }
            ("POST", Some(id)) => {
                if !self.uploads.borrow().contains_key(&id) {
                    return err(404, "NoSuchUpload");
                }
                if header("if-none-match") == Some("*") && self.objects.borrow().contains_key(&key)
                {
                    return err(412, "PreconditionFailed");
                }
                let body = std::str::from_utf8(body).unwrap();
                let (_, mut parts) = self.uploads.borrow_mut().remove(&id).unwrap();
                parts.extend(self.replaced_before_complete.borrow_mut().drain(..));
                let mut size = 0;
                for p in body.split("<PartNumber>").skip(1) {
                    let n: u16 = p[..p.find('<').unwrap()].parse().unwrap();
                    size += parts[&n];
                }
                self.objects.borrow_mut().insert(key.clone(), size);
                let content_type = self.types.borrow_mut().remove(&id).unwrap_or_default();
                let start = self.multipart_start.borrow();
                let file = FakeFile {
                    bytes: start[..start.len().min(size as usize)].to_vec(),
                    content_type,
                    etag: "\"etag-final\"".to_owned(),
                    last_modified: "Sun, 01 Jan 2006 12:00:00 GMT".to_owned(),
                    checksum: None,
                    head_etag: None,
                    size: Some(size),
                };
                self.files.borrow_mut().insert(key.clone(), file);
                (200, format!("<CompleteMultipartUploadResult><Key>{}</Key><ETag>\"etag-final\"</ETag></CompleteMultipartUploadResult>", xml_escape(&key)))
            }
            ("DELETE", Some(id)) => match self.uploads.borrow_mut().remove(&id) {
                Some(_) => (204, String::new()),
                None => err(404, "NoSuchUpload"),
            },
            _ => err(400, "InvalidRequest"),
        }
    }

    /// The key of an object request (no query) on the bucket, if `url` is one.
    fn object_key(&self, url: &str) -> Option<String> {
        let after_scheme = url.split_once("://")?.1;
        let path = &after_scheme[after_scheme.find('/')?..];
        if path.contains('?') {
            return None;
        }
        path.strip_prefix(self.prefix).map(percent_decode)
    }

    /// HeadObject, ranged GetObject (`range: bytes=0-N`, `if-match`) and DeleteObject of
    /// `key` among the `files`.
    fn object_answer<'h>(
        &self,
        method: &str,
        key: &str,
        header: &dyn Fn(&str) -> Option<&'h str>,
    ) -> Fetched {
        let status = |status: u16| Fetched {
            status,
            ..Fetched::default()
        };
        let files = self.files.borrow();
        let file = files.get(key).cloned();
        drop(files);
        let Some(file) = file else {
            return status(404);
        };
        match method {
            "HEAD" => {
                assert_eq!(header("x-amz-checksum-mode"), Some("ENABLED"));
                let mut headers = vec![
                    (
                        "content-length".to_owned(),
                        file.size.unwrap_or(file.bytes.len() as u64).to_string(),
                    ),
                    ("content-type".to_owned(), file.content_type.clone()),
                    (
                        "etag".to_owned(),
                        file.head_etag.clone().unwrap_or_else(|| file.etag.clone()),
                    ),
                    ("last-modified".to_owned(), file.last_modified.clone()),
                ];
                headers.extend(file.checksum.clone());
                Fetched {
                    status: 200,
                    headers,
                    body: Vec::new(),
                }
            }
            "GET" => {
                if header("if-match").is_some_and(|m| m != file.etag) {
                    return status(412);
                }
                let range = header("range").expect("a ranged GET");
                let last: usize = range
                    .strip_prefix("bytes=0-")
                    .expect("a range from 0")
                    .parse()
                    .unwrap();
                if file.bytes.is_empty() {
                    return status(416);
                }
                let end = (last + 1).min(file.bytes.len());
                Fetched {
                    status: 206,
                    headers: Vec::new(),
                    body: file.bytes[..end].to_vec(),
                }
            }
            "DELETE" => {
                self.files.borrow_mut().remove(key);
                self.objects.borrow_mut().remove(key);
                status(204)
            }
            _ => status(405),
        }
    }
}

/// A status and a text body as the transport's answer.
fn fetched((status, body): (u16, String)) -> Fetched {
    Fetched {
        status,
        headers: Vec::new(),
        body: body.into_bytes(),
    }
}

impl Transport for FakeStore {
    async fn exchange(&self, req: &SignedRequest, body: &[u8]) -> Result<Fetched, StoreError> {
        self.requests.borrow_mut().push((
            req.method.as_str().to_owned(),
            req.url.clone(),
            req.headers.clone(),
            String::from_utf8_lossy(body).into_owned(),
        ));
        if let Some(e) = self.fail.borrow().clone() {
            return Err(e);
        }
        if let Some(a) = self.answer.borrow_mut().take() {
            return Ok(fetched(a));
        }
        if let Some(key) = self.object_key(&req.url) {
            fn find<'h>(headers: &'h [(String, String)], n: &str) -> Option<&'h str> {
                headers
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.as_str())
            }
            let header = |n: &str| find(&req.headers, n);
            assert!(header("authorization").is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256 ")));
            return Ok(self.object_answer(req.method.as_str(), &key, &header));
        }
        Ok(fetched(self.answer_for(
            req.method.as_str(),
            &req.url,
            &req.headers,
            body,
        )))
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `%XX` decoded (the key of a request path, a query value).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// A multipart upload of `file` (`size` bytes) created through the worker at `now_ms`:
/// `/v1/sign`, then its create URL, against a [`FakeStore`] of the bucket at `prefix`
/// (`/uploads/` for a path-style bucket `uploads`). Returns (key, the client's upload id).
pub fn created_upload(
    svc: &Service,
    token: &str,
    prefix: &'static str,
    (file, size): (&str, u64),
    now_ms: u64,
) -> (String, String) {
    let store = FakeStore::new(prefix);
    let auth = format!("Bearer {token}");
    let body = serde_json::json!({ "method": "POST", "key": file, "size": size });
    let r = request_io(
        svc,
        &NoLedger,
        &store,
        ("POST", "/v1/sign"),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body.to_string().as_bytes(),
        now_ms,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    let url = v["url"].as_str().unwrap();
    let r = request_io(svc, &NoLedger, &store, ("POST", url), &[], b"", now_ms);
    assert_eq!(r.status, 200, "{}", r.body);
    (
        v["key"].as_str().unwrap().to_owned(),
        xml_text(&r.body, "UploadId"),
    )
}

/// The text of the first `<tag>` of an XML answer.
pub fn xml_text(body: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = body
        .find(&open)
        .unwrap_or_else(|| panic!("no {tag} in {body}"))
        + open.len();
    let end = body[start..].find(&format!("</{tag}>")).unwrap() + start;
    body[start..end]
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Runs `script` (an ES module) with `node` and the environment `env`: its standard output,
/// after asserting that it succeeded; `None` when node is missing outside CI (in CI, where
/// setup installs it, a missing node fails the test). `label` names the temporary directory.
pub fn node_output(label: &str, script: &str, env: &[(&str, &str)]) -> Option<String> {
    let dir = std::env::temp_dir().join(format!("presign-{label}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("script.mjs");
    std::fs::write(&file, script).unwrap();
    let ran = std::process::Command::new("node")
        .arg(&file)
        .envs(env.iter().copied())
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let out = match ran {
        Ok(out) => out,
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "node is needed for this test in CI: {e}"
            );
            eprintln!("node not found: skipped");
            return None;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(stdout)
}
