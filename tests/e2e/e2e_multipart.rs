//! Multipart uploads end to end: `wrangler dev` signs every request of Uppy's sequence through
//! `POST /v1/sign`; the client sends the parts to `s3s-fs` directly with those URLs, and the
//! create and complete requests to the worker, which runs them at the store itself.
use crate::support::{multipart_form, now_secs, post_json, HttpResponse, TestEnv};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const VARS: &[(&str, &str)] = &[
    ("ALLOWED_CONTENT_TYPES", "application/octet-stream,image/*"),
    ("MAX_UPLOAD_SIZE", "1073741824"),
];
pub(crate) const PART: usize = 8 * 1024 * 1024;

fn token(env: &TestEnv, sub: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "sub": sub, "exp": now_secs() + 900 }),
        &jsonwebtoken::EncodingKey::from_secret(env.jwt_secret.as_bytes()),
    )
    .unwrap()
}

/// Asks the worker to sign one S3 request (what Uppy's `signRequest` glue does).
pub(crate) fn sign(env: &TestEnv, token: &str, request: &Value) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let r = post_json(
        &env.worker.url("/v1/sign"),
        &[("authorization", &auth)],
        request,
    );
    (r.status, r.json())
}

pub(crate) fn signed(env: &TestEnv, token: &str, request: Value) -> Value {
    let (status, v) = sign(env, token, &request);
    assert_eq!(status, 200, "sign {request}: {v}");
    v
}

/// Sends a signed request to the store with the headers the worker returned.
pub(crate) fn send(grant: &Value, body: &[u8]) -> HttpResponse {
    try_send(grant, body, crate::support::HTTP_TIMEOUT)
        .unwrap_or_else(|e| panic!("{} {} failed: {e}", grant["method"], grant["url"]))
}

/// [`send`] returning transport errors (a store that closes the connection before it has read
/// a body it refuses) instead of panicking.
pub(crate) fn try_send(
    grant: &Value,
    body: &[u8],
    timeout: std::time::Duration,
) -> Result<HttpResponse, String> {
    let headers: Vec<(String, String)> = grant["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    crate::support::try_http(
        grant["method"].as_str().unwrap(),
        grant["url"].as_str().unwrap(),
        &refs,
        body,
        timeout,
    )
}

/// Sends `file` to the store as the POST form of a POST-policy grant (its `fields` in order,
/// then the file), returning transport errors instead of panicking.
pub(crate) fn try_post_form(
    grant: &Value,
    file: &[u8],
    timeout: std::time::Duration,
) -> Result<HttpResponse, String> {
    assert_eq!(grant["method"], "POST", "not a POST policy: {grant}");
    let fields: Vec<(&str, &str)> = grant["fields"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
        .collect();
    let (ctype, body) = multipart_form(&fields, file);
    crate::support::try_http(
        "POST",
        grant["url"].as_str().unwrap(),
        &[("content-type", &ctype)],
        &body,
        timeout,
    )
}

pub(crate) fn xml_value<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

pub(crate) fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

/// A worker of its own with `VARS` and one more variable, and a token for `alice`.
fn start_with(var: (&'static str, &'static str)) -> (TestEnv, String) {
    let mut vars = VARS.to_vec();
    vars.push(var);
    let env = TestEnv::start(&vars);
    let alice = token(&env, "alice");
    (env, alice)
}

/// Create an upload of `size` bytes in parts of [`PART`] through the worker; returns (key,
/// uploadId).
pub(crate) fn create(env: &TestEnv, token: &str, name: &str, size: usize) -> (String, String) {
    let grant = signed(
        env,
        token,
        json!({ "method": "POST", "key": name, "size": size, "partSize": PART }),
    );
    assert!(
        grant["url"]
            .as_str()
            .unwrap()
            .starts_with(&env.worker.url("/v1/multipart/create?pass=")),
        "{grant}"
    );
    let r = send(&grant, b"");
    assert_eq!(r.status, 200, "create: {}", r.text());
    let text = r.text();
    let id = xml_value(&text, "UploadId")
        .expect("UploadId in the answer")
        .to_owned();
    (grant["key"].as_str().unwrap().to_owned(), id)
}

#[test]
#[ignore = "end-to-end: needs s3s-fs and wrangler; run by make test"]
fn sixty_four_mib_in_parts_out_of_order_with_a_retry() {
    let env = TestEnv::shared(VARS);
    let alice = token(&env, "alice");
    let file = random_bytes(64 * 1024 * 1024, 0x9E37_79B9_7F4A_7C15);
    let (key, id) = create(&env, &alice, "big file.bin", file.len());
    assert!(
        key.starts_with("alice/") && key.ends_with("/big file.bin"),
        "{key}"
    );

    let parts: Vec<&[u8]> = file.chunks(PART).collect();
    assert_eq!(parts.len(), 8);
    let mut etags = vec![String::new(); parts.len()];
    // Out of order; part 3 is first sent truncated (the store refuses it: its URL signs the
    // part's exact length), then again whole with a freshly signed URL.
    let order = [5usize, 0, 7, 2, 1, 6, 3, 4];
    for &i in &order {
        let n = i + 1;
        let grant = signed(
            &env,
            &alice,
            json!({ "method": "PUT", "key": key, "uploadId": id, "partNumber": n }),
        );
        if i == 2 {
            let r = send(&grant, &parts[i][..1000]);
            assert!(r.status >= 400, "a truncated part was taken: {}", r.status);
            let grant = signed(
                &env,
                &alice,
                json!({ "method": "PUT", "key": key, "uploadId": id, "partNumber": n }),
            );
            let r = send(&grant, parts[i]);
            assert_eq!(r.status, 200, "retried part: {}", r.text());
            etags[i] = r.header("etag").unwrap().to_owned();
            continue;
        }
        let r = send(&grant, parts[i]);
        assert_eq!(r.status, 200, "part {n}: {}", r.text());
        etags[i] = r.header("etag").expect("ETag of a part").to_owned();
    }

    // ListParts sees all eight.
    let grant = signed(
        &env,
        &alice,
        json!({ "method": "GET", "key": key, "uploadId": id }),
    );
    let r = send(&grant, b"");
    assert_eq!(r.status, 200, "list: {}", r.text());
    assert_eq!(r.text().matches("<PartNumber>").count(), 8, "{}", r.text());

    let mut xml = String::from("<CompleteMultipartUpload>");
    for (i, etag) in etags.iter().enumerate() {
        xml.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{etag}</ETag></Part>",
            i + 1
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    let grant = signed(
        &env,
        &alice,
        json!({ "method": "POST", "key": key, "uploadId": id }),
    );
    let r = send(&grant, xml.as_bytes());
    assert_eq!(r.status, 200, "complete: {}", r.text());
    // What Uppy needs: Location (s3s-fs leaves it out; the worker adds it) and the key.
    let text = r.text();
    let location = xml_value(&text, "Location").expect("Location");
    assert!(location.starts_with(&env.store.endpoint), "{location}");
    assert_eq!(xml_value(&text, "Key"), Some(key.as_str()));

    let grant = signed(&env, &alice, json!({ "method": "GET", "key": key }));
    let r = send(&grant, b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), file.len());
    assert_eq!(
        Sha256::digest(&r.body),
        Sha256::digest(&file),
        "downloaded bytes differ"
    );
}

#[test]
#[ignore = "end-to-end: needs s3s-fs and wrangler; run by make test"]
fn abort_leaves_nothing_and_other_subjects_are_refused_every_step() {
    let env = TestEnv::shared(VARS);
    let alice = token(&env, "alice");
    let bob = token(&env, "bob");
    let (key, id) = create(&env, &alice, "to-abort.bin", 2 * PART);
    let part = random_bytes(PART, 7);
    let grant = signed(
        &env,
        &alice,
        json!({ "method": "PUT", "key": key, "uploadId": id, "partNumber": 1 }),
    );
    assert_eq!(send(&grant, &part).status, 200);

    // Bob can sign none of the steps of Alice's upload.
    for request in [
        json!({ "method": "PUT", "key": key, "uploadId": id, "partNumber": 2 }),
        json!({ "method": "GET", "key": key, "uploadId": id }),
        json!({ "method": "POST", "key": key, "uploadId": id }),
        json!({ "method": "DELETE", "key": key, "uploadId": id }),
        json!({ "method": "GET", "key": key }),
    ] {
        let (status, v) = sign(&env, &bob, &request);
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (403, Some("key_not_granted")),
            "{request}: {v}"
        );
    }

    // The store's own id: the client's id is `<store id>.<size>.<part size>.<expiry>.<mac>`.
    let store_id = id.rsplitn(5, '.').last().unwrap().to_owned();
    let files_of_upload = || -> Vec<std::path::PathBuf> {
        walk(&env.store.root)
            .into_iter()
            .filter(|p| {
                p.to_string_lossy().contains(store_id.as_str())
                    || p.to_string_lossy().contains("to-abort")
            })
            .collect()
    };
    assert!(
        !files_of_upload().is_empty(),
        "the store keeps the uploaded part somewhere"
    );

    let grant = signed(
        &env,
        &alice,
        json!({ "method": "DELETE", "key": key, "uploadId": id }),
    );
    let r = send(&grant, b"");
    assert!(
        r.status == 204 || r.status == 200,
        "abort: {} {}",
        r.status,
        r.text()
    );
    // The upload is gone: no parts are listed (AWS answers 404 NoSuchUpload; s3s-fs an empty
    // list), no object exists and no file of it is left in the store.
    let grant = signed(
        &env,
        &alice,
        json!({ "method": "GET", "key": key, "uploadId": id }),
    );
    let r = send(&grant, b"");
    assert!(
        r.status == 404 || (r.status == 200 && !r.text().contains("<Part>")),
        "list after abort: {} {}",
        r.status,
        r.text()
    );
    assert_eq!(env.store.read_object(&key), None);
    let leftovers = files_of_upload();
    assert!(
        leftovers.is_empty(),
        "files left after abort: {leftovers:?}"
    );
}

pub(crate) fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
#[ignore = "end-to-end: needs s3s-fs and wrangler; run by make test"]
fn put_object_as_a_post_policy_bounds_the_size() {
    let (env, alice) = start_with(("TARGET_UPLOADS_POST_POLICY", "true"));
    let file = random_bytes(4096, 3);
    let grant = signed(
        &env,
        &alice,
        json!({ "method": "PUT", "key": "form.png", "contentType": "image/png", "size": file.len() }),
    );
    let key = grant["key"].as_str().unwrap();
    let post = |file: &[u8]| {
        try_post_form(&grant, file, crate::support::HTTP_TIMEOUT).expect("the POST form")
    };

    // One byte more than signed is refused by the store.
    let mut bigger = file.clone();
    bigger.push(0);
    let r = post(&bigger);
    assert!(
        r.status >= 400,
        "an oversized file was accepted: {}",
        r.status
    );
    assert_eq!(env.store.read_object(key), None);

    let r = post(&file);
    assert!(
        (200..300).contains(&r.status),
        "POST form: {} {}",
        r.status,
        r.text()
    );
    assert_eq!(env.store.read_object(key).as_deref(), Some(&file[..]));
}

/// With a template without `{uuid}` the file name decides the key: a second upload of the same
/// name, single PUT or multipart, is refused by the store (`If-None-Match: *` is signed on the
/// PUT and on CompleteMultipartUpload) and the first object is kept.
#[test]
#[ignore = "end-to-end: needs s3s-fs and wrangler; run by make test"]
fn a_second_upload_of_the_same_name_replaces_nothing() {
    let (env, alice) = start_with(("KEY_TEMPLATE", "{sub}/{filename}"));

    let put = |body: &[u8]| {
        let grant = signed(
            &env,
            &alice,
            json!({ "method": "PUT", "key": "same.png", "contentType": "image/png", "size": body.len() }),
        );
        assert_eq!(grant["key"], "alice/same.png");
        (send(&grant, body), grant)
    };
    let multipart = |body: &[u8]| {
        let (key, id) = create(&env, &alice, "same.bin", body.len());
        assert_eq!(key, "alice/same.bin");
        let part = signed(
            &env,
            &alice,
            json!({ "method": "PUT", "key": key, "uploadId": id, "partNumber": 1 }),
        );
        let r = send(&part, body);
        assert_eq!(r.status, 200, "part: {}", r.text());
        let etag = r.header("etag").expect("ETag").to_owned();
        let complete = signed(
            &env,
            &alice,
            json!({ "method": "POST", "key": key, "uploadId": id }),
        );
        let xml = format!(
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
        );
        (send(&complete, xml.as_bytes()), complete)
    };
    type Upload<'a> = Box<dyn Fn(&[u8]) -> (HttpResponse, Value) + 'a>;
    let ways: [(&str, Upload); 2] = [
        ("alice/same.png", Box::new(put)),
        ("alice/same.bin", Box::new(multipart)),
    ];
    for (key, upload) in ways {
        let (r, _) = upload(b"first");
        assert_eq!(r.status, 200, "{key}: {}", r.text());
        let (r, grant) = upload(b"second!");
        assert_eq!(r.status, 412, "{key} was replaced: {}", r.text());
        if key.ends_with(".png") {
            // The single PUT: the client sends the condition, signed.
            assert_eq!(grant["headers"]["if-none-match"], "*", "{grant}");
        } else {
            // The worker completes with the condition itself.
            assert_eq!(r.json()["error"]["code"], "object_exists", "{}", r.text());
        }
        assert_eq!(env.store.read_object(key).as_deref(), Some(&b"first"[..]));
    }
}
