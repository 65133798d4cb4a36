//! The JSON API through `Service::handle`, natively: routes, statuses, error bodies, policy,
//! CORS. Tokens are minted by the independent `jsonwebtoken` crate.
use std::collections::HashMap;

use crate::api_support::{hs256, request, service_from, vars_from, TestPlatform};
use presign_worker::api::{Body, Request, Response, Service};
use serde_json::{json, Value};

const JWT_SECRET: &str = "test-secret-0123456789-abcdefghijklmnop";
const S3_SECRET: &str = "s3-secret-DO-NOT-LEAK-0123456789";
/// 2026-01-01T00:00:00Z.
const NOW: u64 = 1_767_225_600;

/// The configuration every test starts from (`service`, `vars` add to it).
const VARS: &[(&str, &str)] = &[
    ("TARGETS", "uploads,archive"),
    ("TARGET_UPLOADS_KIND", "custom"),
    ("TARGET_UPLOADS_ENDPOINT", "http://127.0.0.1:9000"),
    ("TARGET_UPLOADS_BUCKET", "uploads"),
    ("TARGET_ARCHIVE_KIND", "s3"),
    ("TARGET_ARCHIVE_REGION", "eu-west-1"),
    ("TARGET_ARCHIVE_BUCKET", "archive-bucket"),
    ("S3_ACCESS_KEY_ID", "AKIDTEST"),
    ("S3_SECRET_ACCESS_KEY", S3_SECRET),
    ("JWT_SECRET", JWT_SECRET),
    ("ALLOWED_CONTENT_TYPES", "image/*,text/plain"),
    ("MAX_UPLOAD_SIZE", "1048576"),
    ("CORS_ALLOWED_ORIGINS", "https://app.example.com"),
];

fn vars(extra: &[(&str, &str)]) -> HashMap<String, String> {
    vars_from(&[VARS, extra].concat())
}

fn service(extra: &[(&str, &str)]) -> Service {
    service_from(&[VARS, extra].concat())
}

fn token(claims: Value) -> String {
    hs256(JWT_SECRET, &claims)
}

fn alice() -> String {
    token(json!({ "sub": "alice", "exp": NOW + 3600 }))
}

fn call(
    svc: &Service,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let resp = request(svc, method, path, headers, body, NOW * 1000);
    // Nothing secret ever leaves, whatever the request.
    let all = format!("{:?}{}", resp.headers, resp.body);
    assert!(
        !all.contains(S3_SECRET) && !all.contains(JWT_SECRET),
        "secret leaked: {all}"
    );
    resp
}

fn post(svc: &Service, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a));
    }
    let r = call(svc, "POST", path, &headers, body.to_string().as_bytes());
    if let Some(t) = token {
        assert!(!r.body.contains(t), "the token is echoed");
    }
    (r.status, serde_json::from_str(&r.body).unwrap())
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<none>")
}

fn upload(size: u64, ctype: &str) -> Value {
    json!({ "filename": "hello.txt", "content_type": ctype, "size": size })
}

#[test]
fn healthz_and_unknown_routes() {
    let svc = service(&[]);
    let r = call(&svc, "GET", "/healthz", &[], b"");
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"status":"ok"}"#));
    let r = call(&svc, "POST", "/healthz", &[], b"");
    assert_eq!(r.status, 405);
    assert!(r.headers.contains(&("allow", "GET, HEAD".to_string())));
    let r = call(&svc, "GET", "/nope", &[], b"");
    assert_eq!(r.status, 404);
    assert_eq!(code(&serde_json::from_str(&r.body).unwrap()), "not_found");
    let r = call(&svc, "GET", "/v1/uploads", &[], b"");
    assert_eq!(r.status, 405);
}

#[test]
fn upload_url_signs_type_and_exact_size() {
    let svc = service(&[]);
    let (status, v) = post(
        &svc,
        "/v1/uploads",
        Some(&alice()),
        upload(12, "text/plain"),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["method"], "PUT");
    assert_eq!(v["bucket"], "uploads");
    assert_eq!(
        v["headers"],
        json!({ "content-type": "text/plain", "content-length": "12" })
    );
    let key = v["key"].as_str().unwrap();
    let parts: Vec<&str> = key.split('/').collect();
    assert_eq!(parts.len(), 3, "{key}");
    assert_eq!((parts[0], parts[2]), ("alice", "hello.txt"));
    let uuid = parts[1];
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "4", "version 4 uuid: {uuid}");
    let url = v["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("http://127.0.0.1:9000/uploads/{key}?")),
        "{url}"
    );
    assert!(
        url.contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"),
        "{url}"
    );
    assert!(url.contains("X-Amz-Expires=300&"), "{url}");
    assert_eq!(v["expires_in"], 300);
    assert_eq!(v["expires_at"], "2026-01-01T00:05:00Z");
}

#[test]
fn url_never_outlives_the_token_unless_configured() {
    let t = token(json!({ "sub": "alice", "exp": NOW + 42 }));
    let (_, v) = post(
        &service(&[]),
        "/v1/uploads",
        Some(&t),
        upload(1, "text/plain"),
    );
    assert_eq!(v["expires_in"], 42);
    let (_, v) = post(
        &service(&[("ALLOW_URL_PAST_TOKEN_EXPIRY", "true")]),
        "/v1/uploads",
        Some(&t),
        upload(1, "text/plain"),
    );
    assert_eq!(v["expires_in"], 300);
}

#[test]
fn other_targets_and_unknown_target() {
    let svc = service(&[]);
    let mut body = upload(5, "image/png");
    body["target"] = json!("archive");
    let (status, v) = post(&svc, "/v1/uploads", Some(&alice()), body.clone());
    assert_eq!(status, 200, "{v}");
    assert!(v["url"]
        .as_str()
        .unwrap()
        .starts_with("https://archive-bucket.s3.eu-west-1.amazonaws.com/alice/"));
    body["target"] = json!("nope");
    let (status, v) = post(&svc, "/v1/uploads", Some(&alice()), body);
    assert_eq!((status, code(&v)), (422, "unknown_target"));
}

#[test]
fn targets_claim_and_jwt_targets_limit_the_stores() {
    let svc = service(&[]);
    let with_target = |target: &str| {
        let mut body = upload(5, "image/png");
        body["target"] = json!(target);
        body
    };
    let not_granted = (403, "target_not_granted");
    // A claim, as a string or an array, narrows the targets on every route.
    for claim in [json!("uploads"), json!(["uploads"])] {
        let t = token(json!({ "sub": "alice", "exp": NOW + 3600, "targets": claim }));
        let (status, v) = post(&svc, "/v1/uploads", Some(&t), with_target("archive"));
        assert_eq!((status, code(&v)), not_granted, "{v}");
        let (status, v) = post(&svc, "/v1/uploads", Some(&t), with_target("uploads"));
        assert_eq!(status, 200, "{v}");
        let down = json!({ "key": "alice/a.png", "target": "archive" });
        let (status, v) = post(&svc, "/v1/downloads", Some(&t), down);
        assert_eq!((status, code(&v)), not_granted, "{v}");
        let get = json!({ "method": "GET", "key": "alice/a.png", "target": "archive" });
        let (status, v) = sign(&svc, &t, get);
        assert_eq!((status, code(&v)), not_granted, "{v}");
    }
    // Without a target: the first the token may use.
    let archive_only = token(json!({ "sub": "alice", "exp": NOW + 3600, "targets": ["archive"] }));
    let (status, v) = post(
        &svc,
        "/v1/uploads",
        Some(&archive_only),
        upload(5, "image/png"),
    );
    assert_eq!(
        (status, v["target"].as_str()),
        (200, Some("archive")),
        "{v}"
    );
    // None at all, or only stores this worker does not have: nothing.
    for claim in [json!([]), json!(["elsewhere"])] {
        let t = token(json!({ "sub": "alice", "exp": NOW + 3600, "targets": claim }));
        let (status, v) = post(&svc, "/v1/uploads", Some(&t), upload(5, "image/png"));
        assert_eq!((status, code(&v)), not_granted, "{v}");
    }
    // An unknown target stays 422, whatever the token.
    let (status, v) = post(
        &svc,
        "/v1/uploads",
        Some(&archive_only),
        with_target("nope"),
    );
    assert_eq!((status, code(&v)), (422, "unknown_target"));
    // A claim of the wrong type is an invalid token.
    let bad = token(json!({ "sub": "alice", "exp": NOW + 3600, "targets": 5 }));
    let (status, v) = post(&svc, "/v1/uploads", Some(&bad), upload(5, "image/png"));
    assert_eq!(
        (status, v["error"]["reason"].as_str()),
        (401, Some("invalid_claim")),
        "{v}"
    );

    // JWT_TARGETS limits the HMAC keys' tokens; a claim cannot widen it.
    let svc = service(&[("JWT_TARGETS", "archive")]);
    let (status, v) = post(&svc, "/v1/uploads", Some(&alice()), with_target("uploads"));
    assert_eq!((status, code(&v)), not_granted, "{v}");
    let (status, v) = post(&svc, "/v1/uploads", Some(&alice()), upload(5, "image/png"));
    assert_eq!(
        (status, v["target"].as_str()),
        (200, Some("archive")),
        "{v}"
    );
    let widen =
        token(json!({ "sub": "alice", "exp": NOW + 3600, "targets": ["uploads", "archive"] }));
    let (status, v) = post(&svc, "/v1/uploads", Some(&widen), with_target("uploads"));
    assert_eq!((status, code(&v)), not_granted, "{v}");
    // One issuer: keys as before (no issuer prefix).
    let (status, v) = post(&svc, "/v1/uploads", Some(&alice()), with_target("archive"));
    assert_eq!(status, 200, "{v}");
    assert!(v["key"].as_str().unwrap().starts_with("alice/"), "{v}");
}

#[test]
fn checksum_and_metadata_are_signed() {
    let svc = service(&[]);
    let mut body = upload(5, "text/plain");
    body["checksum"] = json!({ "sha256": "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=" });
    body["metadata"] = json!({ "owner": "alice", "batch-id": "42" });
    let (status, v) = post(&svc, "/v1/uploads", Some(&alice()), body.clone());
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["headers"]["x-amz-checksum-sha256"],
        "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
    );
    assert_eq!(v["headers"]["x-amz-meta-owner"], "alice");
    assert!(v["url"]
        .as_str()
        .unwrap()
        .contains("x-amz-checksum-sha256%3Bx-amz-meta-batch-id%3Bx-amz-meta-owner"));
    body["checksum"] = json!({ "sha256": "dG9vIHNob3J0" });
    assert_eq!(
        code(&post(&svc, "/v1/uploads", Some(&alice()), body.clone()).1),
        "invalid_checksum"
    );
    body["checksum"] = json!({ "md5": "x" });
    assert_eq!(
        code(&post(&svc, "/v1/uploads", Some(&alice()), body.clone()).1),
        "invalid_checksum"
    );
    body["checksum"] = Value::Null;
    body["metadata"] = json!({ "Bad Name": "x" });
    assert_eq!(
        code(&post(&svc, "/v1/uploads", Some(&alice()), body.clone()).1),
        "invalid_metadata"
    );
    body["metadata"] = json!({ "n": "caf\u{e9}" });
    assert_eq!(
        code(&post(&svc, "/v1/uploads", Some(&alice()), body).1),
        "invalid_metadata"
    );
}

#[test]
fn authentication_failures_are_401_with_a_challenge() {
    let svc = service(&[]);
    let r = call(
        &svc,
        "POST",
        "/v1/uploads",
        &[("content-type", "application/json")],
        b"{}",
    );
    assert_eq!(r.status, 401);
    assert!(r
        .headers
        .iter()
        .any(|(n, v)| *n == "www-authenticate" && v.starts_with("Bearer")));
    assert_eq!(
        code(&serde_json::from_str(&r.body).unwrap()),
        "missing_token"
    );

    let r = call(
        &svc,
        "POST",
        "/v1/uploads",
        &[
            ("authorization", "Basic YWxpY2U6cHc="),
            ("content-type", "application/json"),
        ],
        b"{}",
    );
    assert_eq!(r.status, 401);

    let cases = [
        ("garbage", "malformed"),
        (
            &token(json!({ "sub": "alice", "exp": NOW - 3600 })),
            "expired",
        ),
        (
            &jsonwebtoken::encode(
                &jsonwebtoken::Header::default(),
                &json!({ "sub": "alice", "exp": NOW + 60 }),
                &jsonwebtoken::EncodingKey::from_secret(b"another-secret-another-secret-another"),
            )
            .unwrap(),
            "bad_signature",
        ),
    ];
    for (t, reason) in cases {
        let (status, v) = post(&svc, "/v1/uploads", Some(t), upload(1, "text/plain"));
        assert_eq!(
            (status, code(&v), v["error"]["reason"].as_str()),
            (401, "invalid_token", Some(reason)),
            "{v}"
        );
    }
}

#[test]
fn body_checks_415_413_400() {
    let svc = service(&[]);
    let auth = format!("Bearer {}", alice());
    let r = call(
        &svc,
        "POST",
        "/v1/uploads",
        &[("authorization", &auth), ("content-type", "text/plain")],
        b"{}",
    );
    assert_eq!(r.status, 415);
    let big = vec![b' '; 20_000];
    let r = call(
        &svc,
        "POST",
        "/v1/uploads",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        &big,
    );
    assert_eq!(r.status, 413);
    let h: HashMap<String, String> = [
        ("authorization".to_string(), auth.clone()),
        ("content-type".to_string(), "application/json".to_string()),
    ]
    .into();
    let lookup = move |n: &str| h.get(n).cloned();
    let req = Request {
        method: "POST",
        path: "/v1/uploads",
        query: "",
        origin: "https://presign.test",
        header: &lookup,
        body: Body::TooLarge,
    };
    assert_eq!(
        svc.handle(&req, NOW * 1000, &mut TestPlatform(0)).status,
        413
    );
    for bad in [
        &b"{"[..],
        b"[]",
        b"null",
        br#"{"filename":"a","content_type":"text/plain"}"#,
        br#"{"filename":"a","content_type":"text/plain","size":-1}"#,
        br#"{"filename":"a","content_type":"text/plain","size":1,"extra":1}"#,
        br#"{"filename":"a","filename":"b","content_type":"text/plain","size":1}"#,
    ] {
        let r = call(
            &svc,
            "POST",
            "/v1/uploads",
            &[
                ("authorization", &auth),
                ("content-type", "application/json; charset=utf-8"),
            ],
            bad,
        );
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(bad));
        assert_eq!(
            code(&serde_json::from_str(&r.body).unwrap()),
            "invalid_request"
        );
    }
}

#[test]
fn policy_refusals() {
    let svc = service(&[]);
    let t = alice();
    assert_eq!(
        code(&post(&svc, "/v1/uploads", Some(&t), upload(1, "text/html")).1),
        "content_type_not_allowed"
    );
    assert_eq!(
        code(&post(&svc, "/v1/uploads", Some(&t), upload(1, "not a type")).1),
        "invalid_content_type"
    );
    let (status, v) = post(
        &svc,
        "/v1/uploads",
        Some(&t),
        upload(1_048_577, "text/plain"),
    );
    assert_eq!((status, code(&v)), (422, "size_too_large"));
    assert_eq!(
        post(
            &svc,
            "/v1/uploads",
            Some(&t),
            upload(1_048_576, "text/plain")
        )
        .0,
        200
    );
    // Claims narrow, never widen.
    let narrow = token(
        json!({ "sub": "alice", "exp": NOW + 60, "max_size": 10, "content_types": ["image/png"] }),
    );
    assert_eq!(
        code(&post(&svc, "/v1/uploads", Some(&narrow), upload(11, "image/png")).1),
        "size_too_large"
    );
    let (status, v) = post(&svc, "/v1/uploads", Some(&narrow), upload(5, "text/plain"));
    assert_eq!((status, code(&v)), (403, "content_type_not_granted"));
    assert_eq!(
        post(&svc, "/v1/uploads", Some(&narrow), upload(10, "image/png")).0,
        200
    );
    let wide = token(
        json!({ "sub": "alice", "exp": NOW + 60, "max_size": 999_999_999u64, "content_types": ["*/*"] }),
    );
    assert_eq!(
        code(
            &post(
                &svc,
                "/v1/uploads",
                Some(&wide),
                upload(1_048_577, "text/plain")
            )
            .1
        ),
        "size_too_large"
    );
    assert_eq!(
        code(&post(&svc, "/v1/uploads", Some(&wide), upload(1, "text/html")).1),
        "content_type_not_allowed"
    );
}

/// Types a browser runs code from when the store serves them from the bucket's origin.
const ACTIVE_TYPES: &[&str] = &[
    "image/svg+xml",
    "text/html",
    "application/xhtml+xml",
    "text/xml",
    "application/xml",
    "application/rss+xml",
    "application/mathml+xml",
    "text/xsl",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
    "text/ecmascript",
    "multipart/x-mixed-replace",
];

#[test]
fn a_second_type_after_a_comma_is_refused_on_every_path() {
    // Browsers split a Content-Type on commas and use the last type: a value that starts with
    // an allowed type and ends with another must not be signed.
    let svc = service(&[("ALLOWED_CONTENT_TYPES", "image/*,text/plain")]);
    let png = token(json!({ "sub": "alice", "exp": NOW + 60, "content_types": ["image/png"] }));
    for ctype in [
        "image/png; a=b, text/html",
        "image/png;,text/html",
        "image/png, text/html",
        "image/png; a=\"x,text/html\"",
        "image/png; x=1, application/pdf",
        "image/png; a",
        "image/png; =b",
        "image/png; a=\"open",
        "image/png; a=b c",
    ] {
        let (status, v) = post(&svc, "/v1/uploads", Some(&png), upload(5, ctype));
        assert_eq!(
            (status, code(&v)),
            (422, "invalid_content_type"),
            "{ctype}: {v}"
        );
        for method in ["PUT", "POST"] {
            let (status, v) = sign(
                &svc,
                &png,
                json!({ "method": method, "key": "a.png", "contentType": ctype, "size": 5 }),
            );
            assert_eq!(
                (status, code(&v)),
                (422, "invalid_content_type"),
                "{method} {ctype}: {v}"
            );
        }
    }
    // Well-formed parameters still pass, quoted ones with a `;` inside too.
    for ctype in [
        "image/png",
        "image/png; a=b; c=d",
        "image/png;a=\"b;c\"",
        "image/png; name=\"x \\\" y\"",
        "image/png;",
    ] {
        let (status, v) = post(&svc, "/v1/uploads", Some(&png), upload(5, ctype));
        assert_eq!(status, 200, "{ctype}: {v}");
        assert_eq!(v["headers"]["content-type"], ctype, "{v}");
    }
}

#[test]
fn wildcards_never_admit_active_content() {
    let t = alice();
    // In the configuration: `image/*`, `text/*`, `*/*` admit passive types only.
    let svc = service(&[("ALLOWED_CONTENT_TYPES", "image/*,text/*,*/*")]);
    for ctype in ACTIVE_TYPES
        .iter()
        .copied()
        .chain(["IMAGE/SVG+XML; charset=utf-8", "Text/HTML;charset=utf-8"])
    {
        let (status, v) = post(&svc, "/v1/uploads", Some(&t), upload(5, ctype));
        assert_eq!(
            (status, code(&v)),
            (422, "content_type_not_allowed"),
            "{ctype}: {v}"
        );
    }
    for ctype in [
        "image/png",
        "text/plain",
        "text/css",
        "application/json",
        "video/mp4",
    ] {
        let (status, v) = post(&svc, "/v1/uploads", Some(&t), upload(5, ctype));
        assert_eq!(status, 200, "{ctype}: {v}");
    }
    // The same through /v1/sign, whose content type may be guessed from the file name.
    let (status, v) = sign(
        &svc,
        &t,
        json!({ "method": "POST", "key": "drawing.svg", "size": 5 }),
    );
    assert_eq!((status, code(&v)), (422, "content_type_not_allowed"), "{v}");
    // An exact entry admits its type, and that type only.
    let svc = service(&[("ALLOWED_CONTENT_TYPES", "image/*,image/svg+xml")]);
    let (status, v) = post(&svc, "/v1/uploads", Some(&t), upload(5, "image/svg+xml"));
    assert_eq!(status, 200, "{v}");
    let (status, v) = post(&svc, "/v1/uploads", Some(&t), upload(5, "text/html"));
    assert_eq!((status, code(&v)), (422, "content_type_not_allowed"), "{v}");
    // In a token's content_types claim too: a wildcard never grants it, an exact pattern does.
    for claim in [json!(["image/*"]), json!(["*/*"]), json!("image/*")] {
        let wide = token(json!({ "sub": "alice", "exp": NOW + 60, "content_types": claim }));
        let (status, v) = post(&svc, "/v1/uploads", Some(&wide), upload(5, "image/svg+xml"));
        assert_eq!(
            (status, code(&v)),
            (403, "content_type_not_granted"),
            "{claim}: {v}"
        );
        let (status, v) = post(&svc, "/v1/uploads", Some(&wide), upload(5, "image/png"));
        assert_eq!(status, 200, "{claim}: {v}");
    }
    let exact = token(
        json!({ "sub": "alice", "exp": NOW + 60, "content_types": ["image/png", "Image/SVG+XML"] }),
    );
    let (status, v) = post(
        &svc,
        "/v1/uploads",
        Some(&exact),
        upload(5, "image/svg+xml"),
    );
    assert_eq!(status, 200, "{v}");
}

#[test]
fn filenames_are_sanitised() {
    let svc = service(&[]);
    let t = alice();
    let mut body = upload(1, "image/png");
    // NFD input, a browser's fake path: the key gets the NFC last component.
    body["filename"] = json!("C:\\fakepath\\a\u{308}.png");
    let (_, v) = post(&svc, "/v1/uploads", Some(&t), body.clone());
    assert!(v["key"].as_str().unwrap().ends_with("/\u{e4}.png"), "{v}");
    assert!(v["url"].as_str().unwrap().contains("/%C3%A4.png?"));
    for bad in ["..", "", "a/..", "evil\u{202e}gnp.exe", "tab\there"] {
        body["filename"] = json!(bad);
        let (status, v) = post(&svc, "/v1/uploads", Some(&t), body.clone());
        assert_eq!((status, code(&v)), (422, "invalid_filename"), "{bad:?}");
    }
    body["filename"] = json!(format!("{}.png", "x".repeat(5000)));
    let (_, v) = post(&svc, "/v1/uploads", Some(&t), body);
    let key = v["key"].as_str().unwrap();
    assert!(key.ends_with("x.png") && key.len() < 300, "{key}");
}

#[test]
fn client_named_keys_stay_inside_the_grant() {
    let svc = service(&[]);
    let t = alice();
    let mut body = upload(1, "text/plain");
    body["key"] = json!("alice/docs/report.txt");
    let (status, v) = post(&svc, "/v1/uploads", Some(&t), body.clone());
    assert_eq!(
        (status, v["key"].as_str()),
        (200, Some("alice/docs/report.txt"))
    );
    for (key, want) in [
        ("bob/x.txt", "key_not_granted"),
        ("alice/../bob/x.txt", "invalid_key"),
        ("alice//x", "invalid_key"),
        ("alicex/y", "key_not_granted"),
        ("alice/", "invalid_key"),
    ] {
        body["key"] = json!(key);
        assert_eq!(
            code(&post(&svc, "/v1/uploads", Some(&t), body.clone()).1),
            want,
            "{key}"
        );
    }
    // A prefix claim replaces the implicit grant and places generated keys inside it.
    let team = token(json!({ "sub": "alice", "exp": NOW + 60, "prefix": "teams/blue/" }));
    let (_, v) = post(&svc, "/v1/uploads", Some(&team), upload(1, "text/plain"));
    assert!(
        v["key"].as_str().unwrap().starts_with("teams/blue/alice/"),
        "{v}"
    );
    body["key"] = json!("alice/x.txt");
    assert_eq!(
        code(&post(&svc, "/v1/uploads", Some(&team), body).1),
        "key_not_granted"
    );
}

/// The `X-Amz-SignedHeaders` of a presigned URL.
fn signed_headers(v: &Value) -> String {
    query_of(v["url"].as_str().unwrap())
        .into_iter()
        .find(|(n, _)| n == "X-Amz-SignedHeaders")
        .map(|(_, h)| h.replace("%3B", ";"))
        .unwrap()
}

#[test]
fn keys_that_may_exist_are_written_only_if_absent() {
    let t = alice();
    let mut named = upload(12, "text/plain");
    named["key"] = json!("alice/docs/report.txt");
    let svc = service(&[]);
    // A client-named key: If-None-Match: * is signed and handed to the client to send.
    let (status, v) = post(&svc, "/v1/uploads", Some(&t), named.clone());
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["headers"],
        json!({ "content-type": "text/plain", "content-length": "12", "if-none-match": "*" })
    );
    assert_eq!(
        signed_headers(&v),
        "content-length;content-type;host;if-none-match"
    );
    // A server-made key with a {uuid} is new: no condition (multipart uploads are completed
    // by the worker, with the same rule: tests/native/multipart.rs).
    let (_, v) = post(&svc, "/v1/uploads", Some(&t), upload(12, "text/plain"));
    assert_eq!(signed_headers(&v), "content-length;content-type;host");

    // A template without {uuid}: the file name decides the key, so every write is conditional:
    // single PUTs of both routes and the CompleteMultipartUpload that makes the object.
    let svc = service(&[("KEY_TEMPLATE", "{sub}/{filename}")]);
    let (_, v) = post(&svc, "/v1/uploads", Some(&t), upload(12, "text/plain"));
    assert_eq!(v["key"], "alice/hello.txt");
    assert_eq!(v["headers"]["if-none-match"], "*", "{v}");
    let (_, v) = sign(
        &svc,
        &t,
        json!({ "method": "PUT", "key": "a.png", "contentType": "image/png", "size": 3 }),
    );
    assert_eq!(
        v["headers"],
        json!({ "content-type": "image/png", "if-none-match": "*" })
    );
    assert_eq!(
        signed_headers(&v),
        "content-length;content-type;host;if-none-match"
    );
    // CreateMultipartUpload writes no object: no condition to send.
    let (_, v) = sign(
        &svc,
        &t,
        json!({ "method": "POST", "key": "a.png", "size": 3 }),
    );
    assert_eq!(v["headers"], json!({ "content-type": "image/png" }));

    // ALLOW_OVERWRITE=true: no condition anywhere.
    for svc in [
        service(&[("ALLOW_OVERWRITE", "true")]),
        service(&[
            ("ALLOW_OVERWRITE", "true"),
            ("KEY_TEMPLATE", "{sub}/{filename}"),
        ]),
    ] {
        let (_, v) = post(&svc, "/v1/uploads", Some(&t), named.clone());
        assert_eq!(signed_headers(&v), "content-length;content-type;host");
    }
}

#[test]
fn downloads_only_inside_the_grant() {
    let svc = service(&[]);
    let (status, v) = post(
        &svc,
        "/v1/downloads",
        Some(&alice()),
        json!({ "key": "alice/1/photo.png" }),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["method"], "GET");
    assert!(v["url"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:9000/uploads/alice/1/photo.png?X-Amz-Algorithm="));
    let (status, v) = post(
        &svc,
        "/v1/downloads",
        Some(&alice()),
        json!({ "key": "bob/1/photo.png" }),
    );
    assert_eq!((status, code(&v)), (403, "key_not_granted"));
    let (status, v) = post(
        &svc,
        "/v1/downloads",
        Some(&alice()),
        json!({ "key": "alice/../bob/1/photo.png" }),
    );
    assert_eq!((status, code(&v)), (422, "invalid_key"));
    let (_, v) = post(
        &svc,
        "/v1/downloads",
        Some(&alice()),
        json!({ "key": "alice/1/p.png", "filename": "Résumé 2026.pdf" }),
    );
    let url = v["url"].as_str().unwrap();
    assert!(
        url.contains("&response-content-disposition=attachment%3B%20filename%3D%22R_sum_%202026.pdf%22%3B%20filename%2A%3DUTF-8%27%27R%25C3%25A9sum%25C3%25A9%25202026.pdf"),
        "{url}"
    );
}

#[test]
fn no_subject_is_granted_another_subjects_keys() {
    // `{sub}` shares its segment with `{uuid}`: the text before the first other placeholder,
    // `uploads/`, holds every subject's keys, whatever the subject is called.
    let svc = service(&[("KEY_TEMPLATE", "uploads/{sub}-{uuid}/{filename}")]);
    let bob = token(json!({ "sub": "bob", "exp": NOW + 3600 }));
    let (status, v) = post(&svc, "/v1/uploads", Some(&bob), upload(5, "text/plain"));
    assert_eq!(status, 200, "{v}");
    let bobs = v["key"].as_str().unwrap().to_owned();
    assert!(bobs.starts_with("uploads/bob-"), "{bobs}");
    for sub in ["uploads", "bob", "alice"] {
        let t = token(json!({ "sub": sub, "exp": NOW + 3600 }));
        for path in ["/v1/downloads", "/v1/sign"] {
            let body = match path {
                "/v1/downloads" => json!({ "key": bobs }),
                _ => json!({ "method": "GET", "key": bobs }),
            };
            let (status, v) = post(&svc, path, Some(&t), body);
            assert_eq!(
                (status, code(&v)),
                (403, "key_not_granted"),
                "{sub} {path}: {v}"
            );
        }
        let mut named = upload(5, "text/plain");
        named["key"] = json!(format!("uploads/{sub}-x/y.txt"));
        let (status, v) = post(&svc, "/v1/uploads", Some(&t), named);
        assert_eq!((status, code(&v)), (403, "key_not_granted"), "{sub}: {v}");
    }
    // Where `{sub}` closes its segment, the subject owns it, even one named like a literal.
    let svc = service(&[("KEY_TEMPLATE", "uploads/{sub}/{uuid}-{filename}")]);
    for sub in ["uploads", "bob"] {
        let t = token(json!({ "sub": sub, "exp": NOW + 3600 }));
        let (_, v) = post(&svc, "/v1/uploads", Some(&t), upload(5, "text/plain"));
        let key = v["key"].as_str().unwrap().to_owned();
        let (status, v) = post(&svc, "/v1/downloads", Some(&t), json!({ "key": key }));
        assert_eq!(status, 200, "{sub}: {v}");
        let other = key.replacen(&format!("uploads/{sub}/"), "uploads/someone/", 1);
        let (status, v) = post(&svc, "/v1/downloads", Some(&t), json!({ "key": other }));
        assert_eq!((status, code(&v)), (403, "key_not_granted"), "{sub}: {v}");
    }
}

#[test]
fn cors_only_for_listed_origins() {
    let svc = service(&[]);
    let r = call(
        &svc,
        "OPTIONS",
        "/v1/uploads",
        &[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "POST"),
        ],
        b"",
    );
    assert_eq!(r.status, 204);
    let get = |r: &Response, n: &str| {
        r.headers
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        get(&r, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert_eq!(
        get(&r, "access-control-allow-headers").as_deref(),
        Some("authorization, content-type")
    );
    assert_eq!(get(&r, "access-control-max-age").as_deref(), Some("600"));
    let r = call(
        &svc,
        "OPTIONS",
        "/v1/uploads",
        &[
            ("origin", "https://evil.example.com"),
            ("access-control-request-method", "POST"),
        ],
        b"",
    );
    assert_eq!(r.status, 403);
    assert_eq!(get(&r, "access-control-allow-origin"), None);
    let auth = format!("Bearer {}", alice());
    let body = upload(1, "text/plain").to_string();
    let r = call(
        &svc,
        "POST",
        "/v1/uploads",
        &[
            ("origin", "https://evil.example.com"),
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body.as_bytes(),
    );
    assert_eq!(get(&r, "access-control-allow-origin"), None);
    let r = call(
        &svc,
        "POST",
        "/v1/uploads",
        &[
            ("origin", "https://app.example.com"),
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body.as_bytes(),
    );
    assert_eq!(
        get(&r, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert_eq!(get(&r, "vary").as_deref(), Some("Origin"));
}

#[test]
fn misconfiguration_fails_closed() {
    for (k, v) in [
        ("TARGET_UPLOADS_KIND", "ftp"),
        ("JWT_SECRET", "short"),
        ("URL_TTL", "0"),
        ("TARGET_UPLOADS_ENDPOINT", "nope"),
    ] {
        let vars = vars(&[(k, v)]);
        let err = Service::from_lookup(&|name| vars.get(name).cloned()).unwrap_err();
        let text = err.to_string();
        assert!(
            !text.contains(S3_SECRET) && !text.contains(JWT_SECRET),
            "{text}"
        );
    }
    let r = presign_worker::api::config_invalid_response();
    assert_eq!(r.status, 500);
    assert_eq!(
        code(&serde_json::from_str(&r.body).unwrap()),
        "config_invalid"
    );
}

// ---- POST /v1/sign (Uppy's signRequest shape) ----------------------------------------------

fn sign(svc: &Service, token: &str, body: Value) -> (u16, Value) {
    post(svc, "/v1/sign", Some(token), body)
}

fn query_of(url: &str) -> Vec<(String, String)> {
    url.split_once('?')
        .unwrap()
        .1
        .split('&')
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap();
            (n.to_owned(), v.to_owned())
        })
        .collect()
}

#[test]
fn sign_put_object_makes_the_key_and_signs_the_type() {
    let svc = service(&[]);
    let (status, v) = sign(
        &svc,
        &alice(),
        json!({ "method": "PUT", "key": "photo.png", "contentType": "image/png", "size": 1000 }),
    );
    assert_eq!(status, 200, "{v}");
    let key = v["key"].as_str().unwrap();
    assert!(
        key.starts_with("alice/") && key.ends_with("/photo.png"),
        "{key}"
    );
    // content-length is signed but never handed to a browser to set.
    assert_eq!(v["headers"], json!({ "content-type": "image/png" }));
    let url = v["url"].as_str().unwrap();
    assert!(
        url.contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"),
        "{url}"
    );
    assert_eq!(v["method"], "PUT");
    // The type is checked like /v1/uploads.
    let (status, v) = sign(
        &svc,
        &alice(),
        json!({ "method": "PUT", "key": "x.html", "contentType": "text/html" }),
    );
    assert_eq!((status, code(&v)), (422, "content_type_not_allowed"));
}

#[test]
fn sign_put_object_requires_its_size() {
    // Without a size no content-length is signed and the URL would take a body of any size:
    // refused, even for a type and a name that are allowed.
    let svc = service(&[]);
    for body in [
        json!({ "method": "PUT", "key": "photo.png", "contentType": "image/png" }),
        json!({ "method": "PUT", "key": "photo.png", "contentType": "image/png", "target": "uploads" }),
    ] {
        let (status, v) = sign(&svc, &alice(), body.clone());
        assert_eq!((status, code(&v)), (422, "size_required"), "{body}: {v}");
    }
    // The size is checked against the token's max_size, then signed exactly.
    let small = token(json!({ "sub": "alice", "exp": NOW + 3600, "max_size": 1024 }));
    let (status, v) = sign(
        &svc,
        &small,
        json!({ "method": "PUT", "key": "photo.png", "contentType": "image/png", "size": 1025 }),
    );
    assert_eq!((status, code(&v)), (422, "size_too_large"), "{v}");
    let (status, v) = sign(
        &svc,
        &small,
        json!({ "method": "PUT", "key": "photo.png", "contentType": "image/png", "size": 1024 }),
    );
    assert_eq!(status, 200, "{v}");
    assert!(
        v["url"]
            .as_str()
            .unwrap()
            .contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"),
        "{v}"
    );
    // CreateMultipartUpload needs it too: the worker completes the upload only at that size.
    let (status, v) = sign(
        &svc,
        &alice(),
        json!({ "method": "POST", "key": "movie.png" }),
    );
    assert_eq!((status, code(&v)), (422, "size_required"), "{v}");
    let (status, v) = sign(
        &svc,
        &alice(),
        json!({ "method": "POST", "key": "movie.png", "size": 1024 }),
    );
    assert_eq!(status, 200, "{v}");
}

#[test]
fn sign_multipart_sequence() {
    let svc = service(&[]);
    let t = alice();
    // CreateMultipartUpload: Uppy gives no content type; the extension's is signed and returned.
    let (status, v) = sign(
        &svc,
        &t,
        json!({ "method": "POST", "key": "movie.PNG", "size": 1024 }),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["headers"], json!({ "content-type": "image/png" }));
    // The worker runs the request itself (tests/native/multipart.rs).
    let url = v["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://presign.test/v1/multipart/create?pass="),
        "{url}"
    );
    assert_eq!(v["method"], "POST");
    // A type the extension implies but config refuses.
    let (status, v) = sign(
        &svc,
        &t,
        json!({ "method": "POST", "key": "page.html", "size": 1024 }),
    );
    assert_eq!((status, code(&v)), (422, "content_type_not_allowed"));
    // The later requests need the upload id the worker's create gave (a ticket).
    let id = "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA--";
    for (method, part) in [
        ("PUT", Some(7)),
        ("GET", None),
        ("POST", None),
        ("DELETE", None),
    ] {
        let (status, v) = sign(
            &svc,
            &t,
            json!({ "method": method, "key": "alice/1/movie.PNG", "uploadId": id, "partNumber": part }),
        );
        assert_eq!(
            (status, code(&v)),
            (422, "invalid_upload_id"),
            "{method}: {v}"
        );
    }
}

#[test]
fn sign_refuses_other_subjects_and_bad_parameters() {
    let svc = service(&[]);
    let t = alice();
    let id = "abc123";
    for body in [
        json!({ "method": "PUT", "key": "bob/1/f.bin", "uploadId": id, "partNumber": 1 }),
        json!({ "method": "GET", "key": "bob/1/f.bin", "uploadId": id }),
        json!({ "method": "POST", "key": "bob/1/f.bin", "uploadId": id }),
        json!({ "method": "DELETE", "key": "bob/1/f.bin", "uploadId": id }),
        json!({ "method": "GET", "key": "bob/1/f.bin" }),
    ] {
        let (status, v) = sign(&svc, &t, body.clone());
        assert_eq!((status, code(&v)), (403, "key_not_granted"), "{body}");
    }
    for (body, want) in [
        (
            json!({ "method": "PUT", "key": "alice/f", "uploadId": id, "partNumber": 0 }),
            "invalid_part_number",
        ),
        (
            json!({ "method": "PUT", "key": "alice/f", "uploadId": id, "partNumber": 10_001 }),
            "invalid_part_number",
        ),
        (
            json!({ "method": "PUT", "key": "alice/f", "uploadId": "a b", "partNumber": 1 }),
            "invalid_upload_id",
        ),
        (
            json!({ "method": "PUT", "key": "alice/f", "uploadId": "", "partNumber": 1 }),
            "invalid_upload_id",
        ),
        (
            json!({ "method": "PUT", "key": "alice/f", "uploadId": "x".repeat(1025), "partNumber": 1 }),
            "invalid_upload_id",
        ),
        (
            json!({ "method": "PATCH", "key": "alice/f" }),
            "unsupported_operation",
        ),
        (
            json!({ "method": "PUT", "key": "alice/f", "partNumber": 1 }),
            "unsupported_operation",
        ),
        (
            json!({ "method": "GET", "key": "alice/f", "uploadId": id, "partNumber": 1 }),
            "unsupported_operation",
        ),
        (
            json!({ "method": "PUT", "key": "alice/../bob/f", "uploadId": id, "partNumber": 1 }),
            "invalid_key",
        ),
    ] {
        let (status, v) = sign(&svc, &t, body.clone());
        assert_eq!((status, code(&v)), (422, want), "{body}");
    }
    let (status, v) = sign(
        &svc,
        &t,
        json!({ "method": "PUT", "key": "alice/f", "uploadId": id, "partNumber": 1.5 }),
    );
    assert_eq!((status, code(&v)), (400, "invalid_request"));
    // DeleteObject only when configured.
    let (status, v) = sign(
        &svc,
        &t,
        json!({ "method": "DELETE", "key": "alice/1/f.bin" }),
    );
    assert_eq!((status, code(&v)), (403, "delete_not_allowed"));
    let svc = service(&[("ALLOW_DELETE", "true")]);
    let (status, v) = sign(
        &svc,
        &t,
        json!({ "method": "DELETE", "key": "alice/1/f.bin" }),
    );
    assert_eq!((status, v["method"].as_str()), (200, Some("DELETE")));
    let (status, v) = sign(
        &svc,
        &t,
        json!({ "method": "DELETE", "key": "bob/1/f.bin" }),
    );
    assert_eq!((status, code(&v)), (403, "key_not_granted"));
}

#[test]
fn sign_honours_a_shorter_expires_in_only() {
    let svc = service(&[]);
    let (_, v) = sign(
        &svc,
        &alice(),
        json!({ "method": "GET", "key": "alice/a", "expiresIn": 60 }),
    );
    assert_eq!(v["expires_in"], 60);
    let (_, v) = sign(
        &svc,
        &alice(),
        json!({ "method": "GET", "key": "alice/a", "expiresIn": 86_400 }),
    );
    assert_eq!(v["expires_in"], 300);
}

#[test]
fn sign_keys_with_unicode_and_reserved_characters() {
    let svc = service(&[]);
    let key = "alice/dir/ü ñ+%&=?#.bin";
    let (status, v) = sign(&svc, &alice(), json!({ "method": "GET", "key": key }));
    assert_eq!(status, 200, "{v}");
    let url = v["url"].as_str().unwrap();
    assert!(
        url.starts_with(
            "http://127.0.0.1:9000/uploads/alice/dir/%C3%BC%20%C3%B1%2B%25%26%3D%3F%23.bin?"
        ),
        "{url}"
    );
}

#[test]
fn sign_put_object_as_a_post_policy_when_configured() {
    let svc = service(&[("TARGET_ARCHIVE_POST_POLICY", "true")]);
    let (status, v) = sign(
        &svc,
        &alice(),
        json!({ "method": "PUT", "key": "a.png", "contentType": "image/png", "target": "archive" }),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["method"], "POST");
    assert_eq!(
        v["url"],
        "https://archive-bucket.s3.eu-west-1.amazonaws.com/"
    );
    let fields = v["fields"].as_object().unwrap();
    assert_eq!(fields["key"], v["key"]);
    assert_eq!(fields["Content-Type"], "image/png");
    for f in [
        "policy",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-algorithm",
    ] {
        assert!(fields.contains_key(f), "{f} missing: {v}");
    }
    use base64::Engine as _;
    let doc: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(fields["policy"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    // No size given: up to the configured maximum.
    assert!(doc["conditions"].as_array().unwrap().contains(&json!([
        "content-length-range",
        0,
        1_048_576
    ])));
    // The other target (not configured) still gets a presigned PUT, which needs the size.
    let (status, v) = sign(
        &svc,
        &alice(),
        json!({ "method": "PUT", "key": "a.png", "contentType": "image/png" }),
    );
    assert_eq!((status, code(&v)), (422, "size_required"), "{v}");
    let (_, v) = sign(
        &svc,
        &alice(),
        json!({ "method": "PUT", "key": "a.png", "contentType": "image/png", "size": 10 }),
    );
    assert_eq!(v["method"], "PUT");
    assert!(v.get("fields").is_none());
    // R2 cannot take POST policies: refused at configuration time.
    let vars = vars(&[
        ("TARGET_ARCHIVE_KIND", "r2"),
        (
            "TARGET_ARCHIVE_ACCOUNT_ID",
            "0123456789abcdef0123456789abcdef",
        ),
        ("TARGET_ARCHIVE_REGION", ""),
        ("TARGET_ARCHIVE_POST_POLICY", "true"),
    ]);
    let err =
        Service::from_lookup(&|k| vars.get(k).cloned().filter(|v| !v.is_empty())).unwrap_err();
    assert!(err.to_string().contains("POST_POLICY"), "{err}");
}

#[test]
fn log_line_is_json_with_the_request_fields_and_nothing_else() {
    let svc = service(&[]);
    let t = alice();
    let body = upload(12, "text/plain").to_string();
    let send = |auth: &str| {
        call(
            &svc,
            "POST",
            "/v1/uploads",
            &[
                ("authorization", auth),
                ("content-type", "application/json"),
            ],
            body.as_bytes(),
        )
    };
    let ok = send(&format!("Bearer {t}"));
    let refused = send("Bearer not.a.token");
    let line: Value = serde_json::from_str(&ok.log_line("POST", 3)).expect("JSON");
    assert_eq!(
        line,
        json!({"method": "POST", "route": "/v1/uploads", "status": 200, "duration_ms": 3, "error": null})
    );
    let line_text = refused.log_line("POST", 0);
    let line: Value = serde_json::from_str(&line_text).expect("JSON");
    assert_eq!(line["status"], 401);
    assert_eq!(line["error"], "invalid_token");
    assert!(!line_text.contains("not.a.token"), "{line_text}");
    // A method is whatever the client sent: it stays one JSON string.
    let odd = "P\"O\\ST\n";
    let line: Value = serde_json::from_str(&ok.log_line(odd, 0)).expect("JSON");
    assert_eq!(line["method"], odd);
}

/// The access key id a presigned URL was signed with.
fn credential_id(url: &str) -> &str {
    let cred = url
        .split_once("X-Amz-Credential=")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    cred.split_once("%2F").map_or(cred, |(id, _)| id)
}

#[test]
fn uploads_and_downloads_are_signed_with_their_own_credentials() {
    let svc = service(&[
        ("TARGET_UPLOADS_WRITE_ACCESS_KEY_ID", "AKIDWRITEONLY"),
        (
            "TARGET_UPLOADS_WRITE_SECRET_ACCESS_KEY",
            "write-only-secret",
        ),
        ("TARGET_UPLOADS_READ_ACCESS_KEY_ID", "AKIDREADONLY"),
        ("TARGET_UPLOADS_READ_SECRET_ACCESS_KEY", "read-only-secret"),
    ]);
    assert!(svc.warnings().is_empty(), "{:?}", svc.warnings());
    let t = alice();
    let (status, up) = post(&svc, "/v1/uploads", Some(&t), upload(5, "text/plain"));
    assert_eq!(status, 200, "{up}");
    assert_eq!(credential_id(up["url"].as_str().unwrap()), "AKIDWRITEONLY");
    let key = up["key"].as_str().unwrap();
    let (status, down) = post(&svc, "/v1/downloads", Some(&t), json!({ "key": key }));
    assert_eq!(status, 200, "{down}");
    assert_eq!(credential_id(down["url"].as_str().unwrap()), "AKIDREADONLY");

    // /v1/sign: only GetObject reads; the multipart requests (ListParts too) write.
    let sign = |body: Value| {
        let (status, v) = post(&svc, "/v1/sign", Some(&t), body);
        assert_eq!(status, 200, "{v}");
        credential_id(v["url"].as_str().unwrap()).to_owned()
    };
    assert_eq!(sign(json!({ "method": "GET", "key": key })), "AKIDREADONLY");
    let body = json!({ "method": "PUT", "key": "a.txt", "contentType": "text/plain", "size": 3 });
    assert_eq!(sign(body.clone()), "AKIDWRITEONLY", "{body}");
    // The multipart requests: tests/native/multipart.rs.

    // Without them, one credential signs both, and the custom store is warned about.
    let svc = service(&[]);
    let warnings = svc.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].0, "shared_credentials");
    assert!(warnings[0].1.contains("target uploads"), "{warnings:?}");
    assert!(!warnings[0].1.contains(S3_SECRET));
}
