//! `openapi.json` against the implementation: every documented route and status is produced by
//! `Service::handle` with a body that validates against the documented schema, every request
//! body sent here validates against its documented schema, and every status the API answers is
//! documented for its route. A small validator covers the JSON Schema keywords the file uses.
use std::collections::BTreeSet;

use crate::api_support::{
    created_upload, hs256, request, request_io, request_with, service_from, xml_text, FakeLedger,
    FakeStore,
};
use presign_worker::api::{config_invalid_response, Response, Service};
use serde_json::{json, Value};

const JWT_SECRET: &str = "openapi-secret-0123456789-abcdefghijklmnop";
/// 2026-01-01T00:00:00Z.
const NOW: u64 = 1_767_225_600;

fn spec() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    let text = std::fs::read_to_string(path).expect("openapi.json");
    serde_json::from_str(&text).expect("openapi.json is JSON")
}

fn service(extra: &[(&str, &str)]) -> Service {
    let base = [
        ("TARGETS", "uploads,forms"),
        ("TARGET_UPLOADS_KIND", "custom"),
        ("TARGET_UPLOADS_ENDPOINT", "http://127.0.0.1:9000"),
        ("TARGET_UPLOADS_BUCKET", "uploads"),
        ("TARGET_FORMS_KIND", "s3"),
        ("TARGET_FORMS_REGION", "eu-west-1"),
        ("TARGET_FORMS_BUCKET", "forms"),
        ("TARGET_FORMS_POST_POLICY", "true"),
        ("S3_ACCESS_KEY_ID", "AKIDOPENAPI"),
        ("S3_SECRET_ACCESS_KEY", "openapi-s3-secret"),
        ("JWT_SECRET", JWT_SECRET),
        ("ALLOWED_CONTENT_TYPES", "image/*,text/plain"),
        ("MAX_UPLOAD_SIZE", "1048576"),
        ("MAX_BODY_BYTES", "1024"),
    ];
    service_from(&[&base[..], extra].concat())
}

fn token(claims: Value) -> String {
    hs256(JWT_SECRET, &claims)
}

fn call(
    svc: &Service,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    request(svc, method, path, headers, body, NOW * 1000)
}

/// Follows a local `$ref` (`#/a/b`).
fn resolve<'a>(spec: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let target = spec
                .pointer(r.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("dangling $ref {r}"));
            resolve(spec, target)
        }
        None => node,
    }
}

/// A `pattern` of the document, compiled (the document's patterns use only syntax that
/// ECMA-262, Python's `re` and the `regex` crate read alike: classes, `\uXXXX`, `\s`, repeats).
fn pattern(p: &str) -> regex::Regex {
    regex::Regex::new(p).unwrap_or_else(|e| panic!("pattern {p} does not compile: {e}"))
}

/// Validates `v` against `schema` (the keywords openapi.json uses); `Err` names the path.
fn validate(spec: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(spec, schema);
    let fail = |why: String| Err(format!("{at}: {why} (value {v})"));
    match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return fail("not allowed here".to_owned()),
        _ => {}
    }
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => v.is_object(),
            "string" => v.is_string(),
            "integer" => v.is_u64() || v.is_i64(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "null" => v.is_null(),
            other => return fail(format!("unknown type {other} in the schema")),
        };
        if !ok {
            return fail(format!("not {t}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(v) {
            return fail(format!("not one of {options:?}"));
        }
    }
    if schema.get("const").is_some_and(|c| c != v) {
        return fail(format!("not {}", schema["const"]));
    }
    if let Some(s) = v.as_str() {
        // JSON Schema counts characters (code points), not bytes.
        let chars = s.chars().count() as u64;
        if schema
            .get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| chars < m)
        {
            return fail("too short".to_owned());
        }
        if schema
            .get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| chars > m)
        {
            return fail("too long".to_owned());
        }
        if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
            if !pattern(p).is_match(s) {
                return fail(format!("does not match {p}"));
            }
        }
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = options
            .iter()
            .filter(|o| validate(spec, o, v, at).is_ok())
            .count();
        if matching != 1 {
            return fail(format!("matches {matching} of the oneOf cases, not 1"));
        }
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_i64), v.as_i64()) {
        if n < min {
            return fail(format!("below {min}"));
        }
    }
    if let (Some(max), Some(n)) = (schema.get("maximum").and_then(Value::as_i64), v.as_i64()) {
        if n > max {
            return fail(format!("above {max}"));
        }
    }
    if schema.get("format").and_then(Value::as_str) == Some("date-time") {
        let s = v.as_str().unwrap_or_default();
        let shape_ok = s.len() == 20 && s.ends_with('Z') && s.as_bytes().get(10) == Some(&b'T');
        if !shape_ok {
            return fail("not an RFC 3339 UTC date-time".to_owned());
        }
    }
    if let Some(items) = v.as_array() {
        let n = items.len() as u64;
        if schema
            .get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| n < m)
            || schema
                .get("maxItems")
                .and_then(Value::as_u64)
                .is_some_and(|m| n > m)
        {
            return fail("wrong number of items".to_owned());
        }
        if let Some(item) = schema.get("items") {
            for (i, member) in items.iter().enumerate() {
                validate(spec, item, member, &format!("{at}[{i}]"))?;
            }
        }
    }
    let Some(obj) = v.as_object() else {
        return Ok(());
    };
    let props = schema.get("properties").and_then(Value::as_object);
    for name in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = name.as_str().unwrap_or_default();
        if !obj.contains_key(name) {
            return fail(format!("missing required {name}"));
        }
    }
    let count = obj.len() as u64;
    if schema
        .get("minProperties")
        .and_then(Value::as_u64)
        .is_some_and(|m| count < m)
        || schema
            .get("maxProperties")
            .and_then(Value::as_u64)
            .is_some_and(|m| count > m)
    {
        return fail("wrong number of members".to_owned());
    }
    for (name, member) in obj {
        let sub = format!("{at}.{name}");
        if let Some(names) = schema.get("propertyNames") {
            validate(
                spec,
                names,
                &Value::String(name.clone()),
                &format!("{sub} (name)"),
            )?;
        }
        match props.and_then(|p| p.get(name)) {
            Some(s) => validate(spec, s, member, &sub)?,
            None => match schema.get("additionalProperties") {
                Some(Value::Bool(false)) => return fail(format!("undocumented member {name}")),
                Some(s @ Value::Object(_)) => validate(spec, s, member, &sub)?,
                _ => {}
            },
        }
    }
    Ok(())
}

/// The documented response schema for `path`/`method`/`status`; panics if undocumented.
fn response_schema<'a>(spec: &'a Value, path: &str, method: &str, status: u16) -> &'a Value {
    let op = &spec["paths"][path][method.to_ascii_lowercase()];
    assert!(op.is_object(), "{method} {path} is not documented");
    let resp = op["responses"]
        .get(status.to_string())
        .unwrap_or_else(|| panic!("{method} {path} answered {status}, which is not documented"));
    let resp = resolve(spec, resp);
    let media = if resp["content"].get("application/xml").is_some() {
        "application/xml"
    } else {
        "application/json"
    };
    &resp["content"][media]["schema"]
}

/// Asserts that `r` (an answer to `method path`) is documented and matches its schema.
#[track_caller]
fn check_answer(spec: &Value, path: &str, method: &str, r: &Response, seen: &mut BTreeSet<String>) {
    if r.body.is_empty() {
        // A bodiless answer (204) is documented without content.
        let op = &spec["paths"][path][method.to_ascii_lowercase()];
        let documented = op["responses"]
            .get(r.status.to_string())
            .unwrap_or_else(|| panic!("{method} {path} answered {}, undocumented", r.status));
        assert!(
            documented.get("content").is_none(),
            "{method} {path} {}: no body",
            r.status
        );
        seen.insert(format!("{path} {method} {}", r.status));
        return;
    }
    check_headers(spec, path, method, r);
    let schema = response_schema(spec, path, method, r.status);
    let xml = r
        .headers
        .iter()
        .any(|(n, v)| *n == "content-type" && v == "application/xml");
    if xml {
        // The S3 answers of the worker-run multipart requests: documented as XML text.
        let op = &spec["paths"][path][method.to_ascii_lowercase()];
        let documented = &op["responses"][r.status.to_string()]["content"]["application/xml"];
        assert!(
            documented.is_object(),
            "{method} {path} {}: XML is not documented",
            r.status
        );
        assert!(r.body.starts_with("<?xml"), "{}", r.body);
        seen.insert(format!("{path} {method} {}", r.status));
        return;
    }
    let body: Value = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body));
    if let Err(e) = validate(spec, schema, &body, "body") {
        panic!("{method} {path} {}: {e}", r.status);
    }
    seen.insert(format!("{path} {method} {}", r.status));
}

/// Asserts that the answer carries every header its documented response requires, and that a
/// `Retry-After` it carries is documented for that response.
#[track_caller]
fn check_headers(spec: &Value, path: &str, method: &str, r: &Response) {
    let op = &spec["paths"][path][method.to_ascii_lowercase()];
    let documented = resolve(spec, &op["responses"][r.status.to_string()]);
    let headers = documented["headers"].as_object();
    for (name, h) in headers.into_iter().flatten() {
        let required = resolve(spec, h)["required"] == json!(true);
        let sent = r.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name));
        if required {
            assert!(sent.is_some(), "{method} {path} {}: no {name}", r.status);
        }
        if let Some((_, v)) = sent {
            let schema = &resolve(spec, h)["schema"];
            let value = v
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(v.clone()));
            if let Err(e) = validate(spec, schema, &value, name) {
                panic!("{method} {path} {}: {e}", r.status);
            }
        }
    }
    if r.headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("retry-after"))
    {
        assert!(
            headers.is_some_and(|h| h.contains_key("Retry-After")),
            "{method} {path} {} sends Retry-After, which its document does not name",
            r.status
        );
    }
}

/// Asserts that a wrong method on `path` is a 405 error whose `Allow` names the documented
/// methods (and OPTIONS for the JSON routes, the CORS preflight).
#[track_caller]
fn check_wrong_method(spec: &Value, path: &str, r: &Response, seen: &mut BTreeSet<String>) {
    assert_eq!(r.status, 405, "{}", r.body);
    let body: Value = serde_json::from_str(&r.body).unwrap();
    if let Err(e) = validate(
        spec,
        &json!({"$ref": "#/components/schemas/Error"}),
        &body,
        "body",
    ) {
        panic!("405 on {path}: {e}");
    }
    let allow = r
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("allow"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    for method in spec["paths"][path].as_object().unwrap().keys() {
        let m = method.to_ascii_uppercase();
        assert!(
            allow.split(", ").any(|a| a == m),
            "Allow `{allow}` lacks {m} on {path}"
        );
    }
    seen.insert(format!("{path} wrong method 405"));
}

/// Sends a JSON body after checking it against the documented request schema.
fn post(spec: &Value, svc: &Service, path: &str, auth: Option<&str>, body: &Value) -> Response {
    let schema =
        &spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"];
    if let Err(e) = validate(spec, schema, body, "request") {
        panic!("the request sent to {path} does not match its documented schema: {e}");
    }
    post_unchecked(svc, path, auth, body)
}

/// Sends a JSON body without checking it against the document (for requests off the schema).
fn post_unchecked(svc: &Service, path: &str, auth: Option<&str>, body: &Value) -> Response {
    post_raw(
        svc,
        path,
        auth,
        body.to_string().as_bytes(),
        "application/json",
    )
}

fn post_raw(svc: &Service, path: &str, auth: Option<&str>, body: &[u8], ctype: &str) -> Response {
    let bearer = auth.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", ctype)];
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_str()));
    }
    call(svc, "POST", path, &headers, body)
}

#[test]
fn the_document_is_openapi_3_1_with_the_ten_routes() {
    let spec = spec();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths: BTreeSet<&str> = spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        paths,
        BTreeSet::from([
            "/healthz",
            "/v1/downloads",
            "/v1/sign",
            "/v1/multipart/abort",
            "/v1/multipart/complete",
            "/v1/multipart/create",
            "/v1/receipts/jwks.json",
            "/v1/uploads",
            "/v1/uploads/complete",
            "/v1/usage"
        ])
    );
    for (path, method) in [
        ("/v1/multipart/create", "post"),
        ("/v1/multipart/complete", "post"),
        ("/v1/multipart/abort", "delete"),
        ("/v1/receipts/jwks.json", "get"),
    ] {
        assert_eq!(spec["paths"][path][method]["security"], json!([]), "{path}");
    }
    assert_eq!(
        spec["paths"]["/v1/usage"]["get"]["security"],
        json!([{ "bearer": [] }])
    );
    for path in [
        "/v1/uploads",
        "/v1/uploads/complete",
        "/v1/downloads",
        "/v1/sign",
    ] {
        assert_eq!(
            spec["paths"][path]["post"]["security"],
            json!([{ "bearer": [] }]),
            "{path}"
        );
    }
    // Every $ref resolves.
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&spec, &mut all);
    for r in all {
        assert!(
            spec.pointer(r.trim_start_matches('#')).is_some(),
            "dangling {r}"
        );
    }
}

#[test]
fn every_answer_matches_the_document() {
    let spec = spec();
    let svc = service(&[]);
    let alice = token(json!({ "sub": "alice", "exp": NOW + 3600 }));
    let mut seen = BTreeSet::new();

    // /healthz
    check_answer(
        &spec,
        "/healthz",
        "GET",
        &call(&svc, "GET", "/healthz", &[], b""),
        &mut seen,
    );
    let post_health = call(&svc, "POST", "/healthz", &[], b"");
    check_wrong_method(&spec, "/healthz", &post_health, &mut seen);

    // /v1/uploads
    let up = |body: &Value| post(&spec, &svc, "/v1/uploads", Some(&alice), body);
    let ok = json!({ "filename": "a.png", "content_type": "image/png", "size": 10 });
    check_answer(&spec, "/v1/uploads", "POST", &up(&ok), &mut seen);
    let full = json!({
        "filename": "a.png", "content_type": "image/png", "size": 10,
        "checksum": { "sha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" },
        "metadata": { "album": "summer" }, "target": "uploads", "key": "alice/x/a.png"
    });
    let r = up(&full);
    assert_eq!(r.status, 200, "{}", r.body);
    check_answer(&spec, "/v1/uploads", "POST", &r, &mut seen);
    let too_big = json!({ "filename": "a.png", "content_type": "image/png", "size": 2_000_000 });
    check_answer(&spec, "/v1/uploads", "POST", &up(&too_big), &mut seen);
    let outside =
        json!({ "filename": "a.png", "content_type": "image/png", "size": 1, "key": "bob/a.png" });
    check_answer(&spec, "/v1/uploads", "POST", &up(&outside), &mut seen);
    let cases: [(Option<&str>, &[u8], &str); 5] = [
        (
            None,
            br#"{"filename":"a.png","content_type":"image/png","size":1}"#,
            "application/json",
        ),
        (Some("not.a.token"), b"{}", "application/json"),
        (Some(&alice), b"{not json", "application/json"),
        (
            Some(&alice),
            b"filename=a.png",
            "application/x-www-form-urlencoded",
        ),
        (Some(&alice), &[b' '; 2000], "application/json"),
    ];
    for (auth, body, ctype) in cases {
        let r = post_raw(&svc, "/v1/uploads", auth, body, ctype);
        check_answer(&spec, "/v1/uploads", "POST", &r, &mut seen);
    }
    let get = call(&svc, "GET", "/v1/uploads", &[], b"");
    check_wrong_method(&spec, "/v1/uploads", &get, &mut seen);

    // /v1/downloads
    let down = |body: &Value| post(&spec, &svc, "/v1/downloads", Some(&alice), body);
    check_answer(
        &spec,
        "/v1/downloads",
        "POST",
        &down(&json!({ "key": "alice/x/a.png", "filename": "a.png" })),
        &mut seen,
    );
    check_answer(
        &spec,
        "/v1/downloads",
        "POST",
        &down(&json!({ "key": "bob/a.png" })),
        &mut seen,
    );
    check_answer(
        &spec,
        "/v1/downloads",
        "POST",
        &down(&json!({ "key": "alice/a", "target": "nope" })),
        &mut seen,
    );

    // /v1/sign: every operation, and a POST policy form.
    let sign = |body: &Value| post(&spec, &svc, "/v1/sign", Some(&alice), body);
    let (m, upload_id) = created_upload(&svc, &alice, "/uploads/", ("m.png", 1 << 20), NOW * 1000);
    let upload_id = upload_id.as_str();
    for body in [
        json!({ "method": "PUT", "key": "movie.mp4", "contentType": "image/png", "size": 10 }),
        json!({ "method": "POST", "key": "movie.png", "size": 10 }),
        json!({ "method": "POST", "key": "movie.png", "size": 1 << 20, "partSize": 8 << 20 }),
        json!({ "method": "PUT", "key": m, "uploadId": upload_id, "partNumber": 1 }),
        json!({ "method": "GET", "key": m, "uploadId": upload_id }),
        json!({ "method": "POST", "key": m, "uploadId": upload_id }),
        json!({ "method": "DELETE", "key": m, "uploadId": upload_id }),
        json!({ "method": "GET", "key": "alice/m.png", "expiresIn": 60 }),
        json!({ "method": "PUT", "key": "photo.png", "contentType": "image/png", "size": 10, "target": "forms" }),
    ] {
        let r = sign(&body);
        assert_eq!(r.status, 200, "{body}: {}", r.body);
        check_answer(&spec, "/v1/sign", "POST", &r, &mut seen);
    }
    let form: Value = serde_json::from_str(&sign(&json!({
        "method": "PUT", "key": "photo.png", "contentType": "image/png", "size": 10, "target": "forms"
    })).body).unwrap();
    assert!(form["fields"]["policy"].is_string(), "{form}");
    // Refusals: a documented request the policy forbids, and requests off the schema.
    let r = sign(&json!({ "method": "DELETE", "key": "alice/m.png" }));
    check_answer(&spec, "/v1/sign", "POST", &r, &mut seen);
    for body in [
        json!({ "method": "PATCH", "key": "a" }),
        json!({ "method": "PUT", "key": "alice/m.png", "uploadId": upload_id, "partNumber": 0 }),
    ] {
        let r = post_unchecked(&svc, "/v1/sign", Some(&alice), &body);
        check_answer(&spec, "/v1/sign", "POST", &r, &mut seen);
    }

    // /v1/multipart/create and /v1/multipart/complete, against a store in memory.
    let store = FakeStore::new("/uploads/");
    let at = |method: &str, url: &str| {
        request_io(
            &svc,
            &FakeLedger::default(),
            &store,
            (method, url),
            &[],
            b"",
            NOW * 1000,
        )
    };
    let create: Value = serde_json::from_str(
        &sign(&json!({ "method": "POST", "key": "big.png", "size": 1 << 20 })).body,
    )
    .unwrap();
    let create = create["url"].as_str().unwrap();
    let r = at("POST", create);
    assert_eq!(r.status, 200, "{}", r.body);
    check_answer(&spec, "/v1/multipart/create", "POST", &r, &mut seen);
    let id = xml_text(&r.body, "UploadId");
    let key = xml_text(&r.body, "Key");
    let complete = |id: &str| {
        let v: Value = serde_json::from_str(
            &sign(&json!({ "method": "POST", "key": key, "uploadId": id })).body,
        )
        .unwrap();
        v["url"].as_str().unwrap().to_owned()
    };
    let url = complete(&id);
    // No part yet: 422 size_mismatch (left open); then the parts, and the upload completes.
    check_answer(
        &spec,
        "/v1/multipart/complete",
        "POST",
        &at("POST", &url),
        &mut seen,
    );
    store.put_part(&FakeStore::store_id(&id), 1, 1 << 20);
    let r = at("POST", &url);
    assert_eq!(r.status, 200, "{}", r.body);
    check_answer(&spec, "/v1/multipart/complete", "POST", &r, &mut seen);
    // Completed: completing again answers the same (the answer may have been lost).
    let again = at("POST", &url);
    assert_eq!((again.status, &again.body), (200, &r.body));
    // An upload the store no longer knows, with no object in its place: 404.
    let r = at("POST", create);
    let gone = xml_text(&r.body, "UploadId");
    store.uploads.borrow_mut().clear();
    store.files.borrow_mut().clear();
    check_answer(
        &spec,
        "/v1/multipart/complete",
        "POST",
        &at("POST", &complete(&gone)),
        &mut seen,
    );
    for path in ["/v1/multipart/create", "/v1/multipart/complete"] {
        let r = at("POST", &format!("{path}?pass=nope.nope"));
        check_answer(&spec, path, "POST", &r, &mut seen);
        check_wrong_method(&spec, path, &at("GET", path), &mut seen);
    }
    // /v1/multipart/abort (DELETE), of an upload that has a part.
    let r = at("POST", create);
    assert_eq!(r.status, 200, "{}", r.body);
    let abort_id = xml_text(&r.body, "UploadId");
    let v: Value = serde_json::from_str(
        &sign(&json!({ "method": "DELETE", "key": key, "uploadId": abort_id })).body,
    )
    .unwrap();
    let abort = v["url"].as_str().unwrap().to_owned();
    check_answer(
        &spec,
        "/v1/multipart/abort",
        "DELETE",
        &at("DELETE", &abort),
        &mut seen,
    );
    check_answer(
        &spec,
        "/v1/multipart/abort",
        "DELETE",
        &at("DELETE", "/v1/multipart/abort?pass=a.b"),
        &mut seen,
    );
    check_wrong_method(&spec, "/v1/multipart/abort", &at("POST", &abort), &mut seen);
    *store.fail.borrow_mut() = Some(presign_worker::store::StoreError::Timeout);
    check_answer(
        &spec,
        "/v1/multipart/create",
        "POST",
        &at("POST", create),
        &mut seen,
    );

    // A misconfigured worker, and an identity provider whose keys cannot be had.
    let broken = config_invalid_response();
    check_answer(&spec, "/v1/uploads", "POST", &broken, &mut seen);
    let idp = service(&[
        ("ISSUERS", "idp"),
        ("ISSUER_IDP_ISS", "https://idp.example"),
        ("ISSUER_IDP_JWKS_URL", "https://idp.example/jwks.json"),
        ("ISSUER_IDP_AUDIENCE", "presign"),
        ("ISSUER_IDP_ALGORITHMS", "EdDSA"),
    ]);
    let header = base64url(br#"{"alg":"EdDSA","kid":"k"}"#);
    let claims = base64url(
        format!(
            r#"{{"sub":"a","exp":{},"iss":"https://idp.example","aud":"presign"}}"#,
            NOW + 60
        )
        .as_bytes(),
    );
    let idp_token = format!("{header}.{claims}.{}", base64url(&[0u8; 64]));
    let r = post(&spec, &idp, "/v1/uploads", Some(&idp_token), &ok);
    assert_eq!(r.status, 503, "{}", r.body);
    check_answer(&spec, "/v1/uploads", "POST", &r, &mut seen);

    let expected = [
        "/healthz GET 200",
        "/healthz wrong method 405",
        "/v1/uploads POST 200",
        "/v1/uploads POST 400",
        "/v1/uploads POST 401",
        "/v1/uploads POST 403",
        "/v1/uploads POST 413",
        "/v1/uploads POST 415",
        "/v1/uploads POST 422",
        "/v1/uploads POST 500",
        "/v1/uploads POST 503",
        "/v1/uploads wrong method 405",
        "/v1/downloads POST 200",
        "/v1/downloads POST 403",
        "/v1/downloads POST 422",
        "/v1/sign POST 200",
        "/v1/sign POST 403",
        "/v1/sign POST 422",
        "/v1/multipart/create POST 200",
        "/v1/multipart/create POST 403",
        "/v1/multipart/create POST 504",
        "/v1/multipart/create wrong method 405",
        "/v1/multipart/complete POST 200",
        "/v1/multipart/complete POST 403",
        "/v1/multipart/complete POST 404",
        "/v1/multipart/complete POST 422",
        "/v1/multipart/complete wrong method 405",
        "/v1/multipart/abort DELETE 204",
        "/v1/multipart/abort DELETE 403",
        "/v1/multipart/abort wrong method 405",
    ];
    for e in expected {
        assert!(seen.contains(e), "not exercised: {e} (seen: {seen:?})");
    }
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn the_validator_refuses_what_it_should() {
    // The checks above are only as good as the validator: it must say no.
    let spec = spec();
    let grant = json!({"$ref": "#/components/schemas/UploadGrant"});
    let good = json!({
        "method": "PUT", "url": "u", "headers": {"content-type": "image/png"}, "key": "k",
        "bucket": "b", "target": "t", "expires_at": "2026-01-01T00:05:00Z", "expires_in": 300
    });
    assert!(validate(&spec, &grant, &good, "g").is_ok());
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("key");
    let mut extra = good.clone();
    extra["secret"] = json!("x");
    let mut bad_type = good.clone();
    bad_type["expires_in"] = json!("300");
    let mut bad_enum = good.clone();
    bad_enum["method"] = json!("PATCH");
    let mut bad_date = good.clone();
    bad_date["expires_at"] = json!("2026-01-01 00:05");
    let mut bad_header = good.clone();
    bad_header["headers"]["content-length"] = json!(5);
    for (name, v) in [
        ("missing", missing),
        ("extra", extra),
        ("type", bad_type),
        ("enum", bad_enum),
        ("date", bad_date),
        ("header", bad_header),
    ] {
        assert!(validate(&spec, &grant, &v, "g").is_err(), "{name} passed");
    }
    // Arrays: their items and their number (the receipts' key set: the current public key and
    // up to 16 previous ones).
    let keys = json!({"$ref": "#/components/schemas/ReceiptKeys"});
    let jwk = json!({
        "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "kid": "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", "alg": "EdDSA", "use": "sig"
    });
    assert!(validate(&spec, &keys, &json!({ "keys": [jwk] }), "k").is_ok());
    assert!(validate(&spec, &keys, &json!({ "keys": vec![jwk.clone(); 17] }), "k").is_ok());
    let mut private = jwk.clone();
    private["d"] = json!("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A");
    let mut rsa = jwk.clone();
    rsa["kty"] = json!("RSA");
    for (name, v) in [
        ("private", json!({ "keys": [private] })),
        ("kty", json!({ "keys": [rsa] })),
        ("none", json!({ "keys": [] })),
        ("eighteen", json!({ "keys": vec![jwk; 18] })),
    ] {
        assert!(validate(&spec, &keys, &v, "k").is_err(), "{name} passed");
    }
}

#[test]
fn the_validator_refuses_what_the_request_schemas_forbid() {
    let spec = spec();
    let upload = json!({"$ref": "#/components/schemas/UploadRequest"});
    let good = json!({ "filename": "a.png", "content_type": "image/png", "size": 1 });
    assert!(validate(&spec, &upload, &good, "u").is_ok());
    let with = |name: &str, v: Value| {
        let mut b = good.clone();
        b[name] = v;
        b
    };
    for bad in [
        with("filename", json!("")),
        with("filename", json!("dir/..")),
        with("filename", json!("a\u{202E}gnp.exe")),
        with("content_type", json!("image")),
        with("size", json!(5_368_709_121_u64)),
        with("key", json!("alice//a")),
        with("target", json!("Uploads")),
        with("metadata", json!({ "Album": "x" })),
        with("metadata", json!({ "album": "caf\u{e9}" })),
        with("checksum", json!({ "sha256": "AAAA" })),
    ] {
        assert!(validate(&spec, &upload, &bad, "u").is_err(), "{bad} passed");
    }
    let download = json!({"$ref": "#/components/schemas/DownloadRequest"});
    assert!(validate(&spec, &download, &json!({ "key": "alice/a" }), "d").is_ok());
    assert!(validate(&spec, &download, &json!({ "key": "" }), "d").is_err());
    let sign = json!({"$ref": "#/components/schemas/SignRequest"});
    let part =
        json!({ "method": "PUT", "key": "alice/a", "uploadId": "u1.5.-.9.AAAA", "partNumber": 1 });
    assert!(validate(&spec, &sign, &part, "s").is_ok());
    for bad in [
        json!({ "method": "PUT", "key": "alice/a", "uploadId": "", "partNumber": 1 }),
        json!({ "method": "PUT", "key": "alice/a", "uploadId": "u1" }),
        json!({ "method": "GET", "key": "alice/a", "partNumber": 1 }),
        json!({ "method": "PUT", "key": "" }),
        json!({ "method": "GET", "key": "a//b" }),
    ] {
        assert!(validate(&spec, &sign, &bad, "s").is_err(), "{bad} passed");
    }
}

#[test]
fn the_sign_cases_are_the_operations_the_worker_signs() {
    // Every combination of method, uploadId and partNumber: schema-valid exactly when the
    // worker does not refuse it as `unsupported_operation`.
    let spec = spec();
    let svc = service(&[("ALLOW_DELETE", "true"), ("ALLOWED_CONTENT_TYPES", "*/*")]);
    let alice = token(json!({ "sub": "alice", "exp": NOW + 3600 }));
    let schema = json!({"$ref": "#/components/schemas/SignRequest"});
    let mut valid = 0;
    let (key, id) = created_upload(&svc, &alice, "/uploads/", ("m.png", 5), NOW * 1000);
    for method in ["PUT", "POST", "GET", "DELETE"] {
        for upload_id in [None, Some(id.as_str())] {
            for part in [None, Some(1)] {
                // With a size: PutObject and CreateMultipartUpload require one (422
                // `size_required`).
                let mut body = json!({ "method": method, "key": key, "size": 5 });
                if let Some(id) = upload_id {
                    body["uploadId"] = json!(id);
                }
                if let Some(n) = part {
                    body["partNumber"] = json!(n);
                }
                let documented = validate(&spec, &schema, &body, "sign").is_ok();
                let r = post_unchecked(&svc, "/v1/sign", Some(&alice), &body);
                let refused = r.body.contains("\"unsupported_operation\"");
                assert_eq!(documented, !refused, "{body}: {} {}", r.status, r.body);
                if documented {
                    assert_eq!(r.status, 200, "{body}: {}", r.body);
                    valid += 1;
                }
            }
        }
    }
    assert_eq!(valid, 8, "the eight operations of the /v1/sign table");
}

/// The policy of a service that allows every media type.
fn any_type_policy() -> presign_worker::config::PolicyConfig {
    let vars = crate::api_support::vars_from(&[
        ("TARGET_UPLOADS_KIND", "custom"),
        ("TARGET_UPLOADS_ENDPOINT", "http://127.0.0.1:9000"),
        ("TARGET_UPLOADS_BUCKET", "uploads"),
        ("S3_ACCESS_KEY_ID", "AKIDOPENAPI"),
        ("S3_SECRET_ACCESS_KEY", "openapi-s3-secret"),
        ("JWT_SECRET", JWT_SECRET),
        ("ALLOWED_CONTENT_TYPES", "*/*"),
    ]);
    presign_worker::config::Config::from_lookup(&|k| vars.get(k).cloned())
        .expect("valid config")
        .policy
}

/// Whether the document's schema `name` (under `components/schemas`) accepts the string `s`.
fn documented(spec: &Value, name: &str, s: &str) -> bool {
    let schema = json!({ "$ref": format!("#/components/schemas/{name}") });
    validate(spec, &schema, &json!(s), name).is_ok()
}

#[test]
fn checksums_are_documented_exactly() {
    use base64::Engine as _;
    let spec = spec();
    let props = &spec["components"]["schemas"]["UploadRequest"]["properties"]["checksum"];
    let of =
        |alg: &str, s: &str| validate(&spec, &props["properties"][alg], &json!(s), alg).is_ok();
    // Every last character before the padding (only some leave no stray bits), and lengths.
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_.";
    for (alg, len) in [("sha256", 32), ("crc32", 4)] {
        let valid = base64::engine::general_purpose::STANDARD.encode(vec![0x5a; len]);
        let body = valid.trim_end_matches('=');
        let pad = &valid[body.len()..];
        let head = &body[..body.len() - 1];
        for c in alphabet.chars() {
            let s = format!("{head}{c}{pad}");
            let worker = presign_worker::policy::checksum_header(alg, &s).is_ok();
            assert_eq!(of(alg, &s), worker, "{alg} {s}");
        }
        for s in [
            body.to_owned(),
            format!("{valid}="),
            format!("A{valid}"),
            String::new(),
        ] {
            let worker = presign_worker::policy::checksum_header(alg, &s).is_ok();
            assert_eq!(of(alg, &s), worker, "{alg} {s}");
        }
    }
}

/// Short strings over the characters the rules are about.
fn tricky_string() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let chars = vec![
        'a', 'Z', '0', '.', '.', '/', '/', '\\', ' ', '\t', '\u{3000}', '\u{a0}', '\0', '\u{7f}',
        '\u{85}', '\u{9f}', '\u{200e}', '\u{202e}', '\u{2066}', '\u{feff}', 'é', 'e', '\u{301}',
        '~', '+', '=', '-', '_', ';', '%', '*', '"',
    ];
    proptest::collection::vec(proptest::sample::select(chars), 0..12)
        .prop_map(|v| v.into_iter().collect::<String>())
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(2000))]

    /// What the document accepts, the worker accepts: file names, keys, upload ids, media
    /// types, metadata. Keys and upload ids (of these lengths) are documented exactly.
    #[test]
    fn documented_strings_pass_the_workers_checks(s in tricky_string(), t in tricky_string()) {
        use presign_worker::policy;
        use unicode_normalization::UnicodeNormalization as _;
        static SPEC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
        let spec = SPEC.get_or_init(spec);
        let nfc: String = s.nfc().collect();
        if documented(spec, "FileName", &s) {
            proptest::prop_assert!(policy::sanitize_filename(&nfc).is_ok(), "filename {:?}", s);
        }
        proptest::prop_assert_eq!(
            documented(spec, "ObjectKey", &s),
            policy::validate_key(&s).is_ok(),
            "key {:?}", s
        );
        // A documented upload id has the ticket's shape: the worker may find its MAC is not
        // its own (403), never that it is malformed (422).
        if documented(spec, "UploadId", &s) {
            use presign_worker::store::ticket::{Ticket, TicketError};
            proptest::prop_assert!(policy::validate_upload_id(&s).is_ok(), "uploadId {:?}", s);
            proptest::prop_assert_ne!(
                Ticket::open(b"secret", "k", &s, 0),
                Err(TicketError::Malformed),
                "uploadId {:?}", s
            );
        }
        let media = format!("{s}/{t}");
        if documented(spec, "MediaType", &media) {
            let claims = presign_worker::jwt::Claims::default();
            proptest::prop_assert!(
                policy::content_type(&any_type_policy(), &claims, &media).is_ok(),
                "content type {:?}", media
            );
        }
        let metadata = &spec["components"]["schemas"]["UploadRequest"]["properties"]["metadata"];
        let member = json!({ s.clone(): t.clone() });
        if validate(spec, metadata, &member, "metadata").is_ok() {
            let map = member.as_object().cloned().unwrap_or_default();
            proptest::prop_assert!(policy::metadata_headers(&map).is_ok(), "metadata {}", member);
        }
    }
}

/// The ledger's answers (budgets, single-use tokens, `/v1/usage`) are documented, with a fake
/// ledger (the real rules in memory).
#[test]
fn ledger_answers_match_the_document() {
    let spec = spec();
    let svc = service(&[
        ("QUOTA_BYTES_PER_DAY", "100"),
        ("SINGLE_USE_TOKENS", "true"),
    ]);
    let ledger = FakeLedger::default();
    ledger.now.set(NOW);
    let mut seen = BTreeSet::new();
    let send = |method: &str, path: &str, claims: Value, body: &Value| {
        let auth = format!("Bearer {}", token(claims));
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        let body = body.to_string();
        request_with(
            &svc,
            &ledger,
            (method, path),
            &headers,
            body.as_bytes(),
            NOW * 1000,
        )
    };
    let once = |jti: &str| json!({ "sub": "alice", "exp": NOW + 600, "jti": jti });
    let up = |size: u64| json!({ "filename": "a.png", "content_type": "image/png", "size": size });
    let r = send("POST", "/v1/uploads", once("1"), &up(60));
    assert_eq!(r.status, 200, "{}", r.body);
    // Over the budget, and larger than the whole budget (no retry_after).
    for (jti, size) in [("2", 60), ("3", 101)] {
        let r = send("POST", "/v1/uploads", once(jti), &up(size));
        assert_eq!(r.status, 429, "{}", r.body);
        check_answer(&spec, "/v1/uploads", "POST", &r, &mut seen);
    }
    let sign = json!({ "method": "PUT", "key": "b.png", "contentType": "image/png", "size": 60 });
    let r = send("POST", "/v1/sign", once("4"), &sign);
    assert_eq!(r.status, 429, "{}", r.body);
    check_answer(&spec, "/v1/sign", "POST", &r, &mut seen);
    // A replay.
    for path in ["/v1/uploads", "/v1/downloads"] {
        let body = match path {
            "/v1/uploads" => up(1),
            _ => json!({ "key": "alice/a.png" }),
        };
        let r = send("POST", path, once("1"), &body);
        assert_eq!(r.status, 401, "{}", r.body);
        check_answer(&spec, path, "POST", &r, &mut seen);
    }
    // Usage: the subject's own, a wrong method, a token the ledger cannot serve.
    let r = send("GET", "/v1/usage", once("5"), &Value::Null);
    assert_eq!(r.status, 200, "{}", r.body);
    check_answer(&spec, "/v1/usage", "GET", &r, &mut seen);
    let unlimited = service(&[]);
    let auth = format!(
        "Bearer {}",
        token(json!({ "sub": "bob", "exp": NOW + 600 }))
    );
    let r = request(
        &unlimited,
        "GET",
        "/v1/usage",
        &[("authorization", &auth)],
        b"",
        NOW * 1000,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    check_answer(&spec, "/v1/usage", "GET", &r, &mut seen);
    check_wrong_method(
        &spec,
        "/v1/usage",
        &send("POST", "/v1/usage", once("6"), &json!({})),
        &mut seen,
    );
    let r = send(
        "GET",
        "/v1/usage",
        json!({ "sub": "alice", "exp": NOW + 600 }),
        &Value::Null,
    );
    assert_eq!(r.status, 401, "{}", r.body);
    check_answer(&spec, "/v1/usage", "GET", &r, &mut seen);
    ledger.down.set(true);
    for (method, path, body) in [
        ("POST", "/v1/uploads", up(1)),
        ("GET", "/v1/usage", Value::Null),
    ] {
        let r = send(method, path, once("7"), &body);
        assert_eq!(r.status, 503, "{}", r.body);
        check_answer(&spec, path, method, &r, &mut seen);
    }
    assert_eq!(seen.len(), 9, "{seen:?}");
}

/// `/v1/uploads/complete`: the receipt, every refusal, against a store in memory.
#[test]
fn completion_answers_match_the_document() {
    use presign_worker::store::StoreError;
    const RECEIPT_SECRET: &str = "openapi-receipt-secret-0123456789abcdef";
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";
    let spec = spec();
    let svc = service(&[("RECEIPT_SECRET", RECEIPT_SECRET)]);
    let alice = token(json!({ "sub": "alice", "exp": NOW + 3600 }));
    let store = FakeStore::new("/uploads/");
    store.put_file("alice/a.png", "image/png", PNG);
    store.put_file("alice/fake.png", "image/png", b"GIF89a");
    store.put_file("alice/sum.png", "image/png", PNG);
    store
        .files
        .borrow_mut()
        .get_mut("alice/sum.png")
        .unwrap()
        .checksum = Some(("x-amz-checksum-crc32".into(), "AAAAAA==".into()));
    let path = "/v1/uploads/complete";
    let mut seen = BTreeSet::new();
    let send = |svc: &Service, auth: Option<&str>, body: &[u8], ctype: &str| {
        let bearer = auth.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", ctype)];
        if let Some(b) = &bearer {
            headers.push(("authorization", b.as_str()));
        }
        request_io(
            svc,
            &FakeLedger::default(),
            &store,
            ("POST", path),
            &headers,
            body,
            NOW * 1000,
        )
    };
    let schema =
        &spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"];
    let checked = |svc: &Service, body: Value| {
        validate(&spec, schema, &body, "request").unwrap_or_else(|e| panic!("{e}"));
        send(
            svc,
            Some(&alice),
            body.to_string().as_bytes(),
            "application/json",
        )
    };
    for (key, status) in [
        ("alice/a.png", 200),
        ("alice/sum.png", 200),
        ("alice/none.png", 409),
        ("alice/fake.png", 422),
        ("bob/a.png", 403),
    ] {
        let r = checked(&svc, json!({ "key": key, "target": "uploads" }));
        assert_eq!(r.status, status, "{key}: {}", r.body);
        check_answer(&spec, path, "POST", &r, &mut seen);
    }
    let deleting = service(&[
        ("RECEIPT_SECRET", RECEIPT_SECRET),
        ("DELETE_MISMATCHED", "true"),
    ]);
    let r = checked(&deleting, json!({ "key": "alice/fake.png" }));
    assert!(r.body.contains("\"deleted\":true"), "{}", r.body);
    check_answer(&spec, path, "POST", &r, &mut seen);
    for (auth, body, ctype) in [
        (
            None,
            br#"{"key":"alice/a.png"}"#.as_slice(),
            "application/json",
        ),
        (
            Some(alice.as_str()),
            b"{\"key\":1}".as_slice(),
            "application/json",
        ),
        (Some(alice.as_str()), b"key=a".as_slice(), "text/plain"),
        (Some(alice.as_str()), &[b' '; 2000], "application/json"),
    ] {
        check_answer(
            &spec,
            path,
            "POST",
            &send(&svc, auth, body, ctype),
            &mut seen,
        );
    }
    let unsigned = service(&[]);
    check_answer(
        &spec,
        path,
        "POST",
        &checked(&unsigned, json!({ "key": "alice/a.png" })),
        &mut seen,
    );
    for fail in [
        StoreError::Unreachable,
        StoreError::Timeout,
        StoreError::Malformed("x"),
    ] {
        *store.fail.borrow_mut() = Some(fail);
        check_answer(
            &spec,
            path,
            "POST",
            &checked(&svc, json!({ "key": "alice/a.png" })),
            &mut seen,
        );
    }
    *store.fail.borrow_mut() = None;
    check_answer(&spec, path, "POST", &config_invalid_response(), &mut seen);
    let get = request_io(
        &svc,
        &FakeLedger::default(),
        &store,
        ("GET", path),
        &[],
        b"",
        NOW * 1000,
    );
    check_wrong_method(&spec, path, &get, &mut seen);
    let documented: BTreeSet<String> = spec["paths"][path]["post"]["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(|s| format!("{path} POST {s}"))
        .chain([format!("{path} wrong method 405")])
        .collect();
    assert_eq!(seen, documented);
}

#[test]
fn receipt_key_set_answers_match_the_document() {
    let spec = spec();
    let path = "/v1/receipts/jwks.json";
    // RFC 8410 §10.3's Ed25519 key.
    let pem = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
        -----END PRIVATE KEY-----\n";
    let svc = service(&[("RECEIPT_SIGNING_KEY", pem)]);
    let mut seen = BTreeSet::new();
    let r = call(&svc, "GET", path, &[], b"");
    assert_eq!(r.status, 200, "{}", r.body);
    check_answer(&spec, path, "GET", &r, &mut seen);
    let documented = &spec["paths"][path]["get"]["responses"]["200"]["headers"]["Cache-Control"];
    let cache_control = r.headers.iter().find(|(n, _)| *n == "cache-control");
    assert_eq!(
        cache_control.map(|(_, v)| json!(v)).as_ref(),
        documented["schema"].get("const")
    );
    for unsigned in [
        service(&[]),
        service(&[("RECEIPT_SECRET", "openapi-receipt-secret-0123456789abcdef")]),
    ] {
        check_answer(
            &spec,
            path,
            "GET",
            &call(&unsigned, "GET", path, &[], b""),
            &mut seen,
        );
    }
    check_answer(&spec, path, "GET", &config_invalid_response(), &mut seen);
    check_wrong_method(&spec, path, &call(&svc, "POST", path, &[], b""), &mut seen);
    // An EdDSA receipt matches the completion's schema too.
    let store = FakeStore::new("/uploads/");
    store.put_file(
        "alice/a.png",
        "image/png",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    );
    let alice = format!(
        "Bearer {}",
        token(json!({ "sub": "alice", "exp": NOW + 3600 }))
    );
    let r = request_io(
        &svc,
        &FakeLedger::default(),
        &store,
        ("POST", "/v1/uploads/complete"),
        &[
            ("authorization", &alice),
            ("content-type", "application/json"),
        ],
        br#"{"key":"alice/a.png"}"#,
        NOW * 1000,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    check_answer(
        &spec,
        "/v1/uploads/complete",
        "POST",
        &r,
        &mut BTreeSet::new(),
    );
    let documented: BTreeSet<String> = spec["paths"][path]["get"]["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(|s| format!("{path} GET {s}"))
        .chain([format!("{path} wrong method 405")])
        .collect();
    assert_eq!(seen, documented);
}

/// The error codes the document lists: exactly those of the README's Errors table, and every
/// code of the layers below that can reach an answer (the signer's, the token's, the store's,
/// the tickets', the completion checks').
#[test]
fn the_error_codes_are_the_readme_s_and_the_layers_codes() {
    use presign_worker::jwt::ErrorKind;
    use presign_worker::sigv4::SignError;
    use presign_worker::store::ticket::TicketError;
    use presign_worker::store::StoreError;
    let spec = spec();
    let listed = |member: &str| -> BTreeSet<String> {
        spec["components"]["schemas"]["Error"]["properties"]["error"]["properties"][member]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("error.{member} has no enum"))
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect()
    };
    let codes = listed("code");
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let table = readme
        .split("### Errors")
        .nth(1)
        .and_then(|s| s.split("\n### ").next())
        .expect("README.md has an Errors section");
    let mut in_readme = BTreeSet::new();
    for row in table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| status"))
    {
        // The codes are the backquoted snake_case names of the second column, outside
        // parentheses and before the first colon (what follows explains them).
        let mut col = row.split('|').nth(2).unwrap_or_default().to_owned();
        while let Some(close) = col.find(')') {
            let open = col[..close].rfind('(').expect("balanced parentheses");
            col.replace_range(open..=close, "");
        }
        let col = col.split(':').next().unwrap_or_default();
        for (i, piece) in col.split('`').enumerate() {
            let code_shaped = piece.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            if i % 2 == 1 && code_shaped {
                assert!(
                    in_readme.insert(piece.to_owned()),
                    "{piece} is listed twice"
                );
            }
        }
    }
    assert_eq!(
        codes, in_readme,
        "openapi.json's codes against the README's table"
    );
    let sign = [
        SignError::EmptyBucket,
        SignError::InvalidBucket,
        SignError::BucketNotVirtualHostable,
        SignError::EmptyKey,
        SignError::KeyTooLong,
        SignError::KeyControlCharacter,
        SignError::InvalidHeaderName,
        SignError::InvalidHeaderValue,
        SignError::ReservedHeader,
        SignError::ReservedQueryParameter,
        SignError::ExpiresOutOfRange,
        SignError::TimeOutOfRange,
        SignError::InvalidEndpoint,
        SignError::InvalidRegion,
        SignError::InvalidAccessKey,
        SignError::InvalidMethod,
    ];
    let store = [
        StoreError::Unreachable,
        StoreError::Timeout,
        StoreError::Malformed("x"),
        StoreError::Refused {
            status: 404,
            code: "NoSuchUpload".to_owned(),
        },
        StoreError::Refused {
            status: 412,
            code: String::new(),
        },
        StoreError::Refused {
            status: 500,
            code: "InternalError".to_owned(),
        },
    ];
    let tickets = [
        TicketError::Malformed,
        TicketError::Forged,
        TicketError::Expired,
    ];
    let below = sign
        .iter()
        .map(SignError::code)
        .chain(store.iter().map(StoreError::code))
        .chain(tickets.iter().map(|t| t.code()));
    for code in below {
        assert!(
            codes.contains(code),
            "{code} can be answered but is not documented"
        );
    }
    let reasons = listed("reason");
    for kind in ErrorKind::ALL {
        assert!(
            reasons.contains(kind.code()),
            "reason {} is not documented",
            kind.code()
        );
    }
    for budget in ["bytes_per_day", "grants_per_hour", "open_multipart"] {
        assert!(
            reasons.contains(budget),
            "reason {budget} is not documented"
        );
    }
}
