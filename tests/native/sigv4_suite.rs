//! The AWS SigV4 test suite (awslabs/aws-c-auth, read from `../shared/sigv4-suite/v4`): for every
//! case, the canonical request, the string to sign and the signature are compared, both for
//! header signing and for presigning in the query.
//!
//! The suite uses the generic service rules. Our signer implements S3's rules (path encoded once,
//! never normalised). Cases with `"normalize": true` are run with the path normalised first
//! (RFC 3986 dot-segment removal and `//` folding, done by this test as the suite's README
//! allows); everything else about them is signed by our code unchanged.
use std::fs;
use std::path::{Path, PathBuf};

use presign_worker::sigv4::{
    AmzDate, Credentials, HeaderSignOptions, RawRequest, Signer, Trace, EMPTY_SHA256,
};
use sha2::{Digest, Sha256};

use crate::shared_data;

fn suite_dir() -> Option<PathBuf> {
    shared_data::shared_path("sigv4-suite/v4")
}

struct Case {
    name: String,
    ctx: serde_json::Value,
    method: String,
    path: String,
    query: Vec<(String, String)>,
    host: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).expect("utf-8 query")
}

/// RFC 3986 §5.2.4 remove_dot_segments, plus folding of empty segments (the generic rule).
fn normalize_path(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut p = String::from("/");
    p.push_str(&out.join("/"));
    if path.ends_with('/') && p.len() > 1 {
        p.push('/');
    }
    p
}

fn load(dir: &Path) -> Case {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let ctx: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("context.json")).unwrap()).unwrap();
    let raw = fs::read(dir.join("request.txt")).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = match text.find("\n\n") {
        Some(i) => (&text[..i], text.as_bytes()[i + 2..].to_vec()),
        None => (text.trim_end_matches('\n'), Vec::new()),
    };
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let (method, rest) = request_line.split_once(' ').unwrap();
    let target = rest.strip_suffix(" HTTP/1.1").unwrap();
    let (path, query_text) = target.split_once('?').unwrap_or((target, ""));
    let query = query_text
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(n), percent_decode(v))
        })
        .collect();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // obs-fold: a continuation line is the same value after a space.
            let last = headers.last_mut().unwrap();
            last.1.push(' ');
            last.1.push_str(line);
        } else {
            let (n, v) = line.split_once(':').unwrap();
            headers.push((n.to_string(), v.to_string()));
        }
    }
    let host_idx = headers
        .iter()
        .position(|(n, _)| n.eq_ignore_ascii_case("host"))
        .unwrap();
    let host = headers.remove(host_idx).1;
    let normalize = ctx["normalize"].as_bool().unwrap();
    let path = if normalize {
        normalize_path(path)
    } else {
        path.to_string()
    };
    Case {
        name,
        ctx,
        method: method.to_string(),
        path,
        query,
        host,
        headers,
        body,
    }
}

fn signer(case: &Case, with_token: bool) -> Signer {
    let c = &case.ctx["credentials"];
    let token = c["token"].as_str().filter(|_| with_token);
    let creds = Credentials::new(
        c["access_key_id"].as_str().unwrap(),
        c["secret_access_key"].as_str().unwrap(),
        token,
    );
    Signer::new(
        creds,
        case.ctx["region"].as_str().unwrap(),
        case.ctx["service"].as_str().unwrap(),
    )
    .unwrap()
}

fn expected(dir: &Path, file: &str) -> String {
    fs::read_to_string(dir.join(file)).unwrap()
}

fn run_case(dir: &Path) {
    let case = load(dir);
    let now = AmzDate::parse(case.ctx["timestamp"].as_str().unwrap())
        .unwrap()
        .unix();
    let q: Vec<(&str, &str)> = case
        .query
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let h: Vec<(&str, &str)> = case
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let req = RawRequest {
        method: &case.method,
        origin: "https://example.amazonaws.com",
        host: &case.host,
        path: &case.path,
        query: &q,
        headers: &h,
    };
    let body_hash = hex::encode(Sha256::digest(&case.body));
    let sign_body = case.ctx["sign_body"].as_bool().unwrap();
    let omit_token = case.ctx["omit_session_token"].as_bool().unwrap_or(false);

    // Header signing.
    let opts = HeaderSignOptions {
        payload_hash: &body_hash,
        content_sha256_header: sign_body,
        sign_session_token: !omit_token,
    };
    let mut trace = Trace::default();
    let (_, sent) = signer(&case, true)
        .sign_raw(&req, &opts, now, Some(&mut trace))
        .unwrap();
    assert_eq!(
        trace.canonical_request,
        expected(dir, "header-canonical-request.txt"),
        "{}: header canonical request",
        case.name
    );
    assert_eq!(
        trace.string_to_sign,
        expected(dir, "header-string-to-sign.txt"),
        "{}: header string to sign",
        case.name
    );
    assert_eq!(
        trace.signature,
        expected(dir, "header-signature.txt").trim(),
        "{}: header signature",
        case.name
    );
    let auth = &sent.iter().find(|(n, _)| n == "authorization").unwrap().1;
    assert!(
        auth.ends_with(&format!("Signature={}", trace.signature)),
        "{}",
        case.name
    );
    if omit_token {
        assert!(
            sent.iter().any(|(n, _)| n == "x-amz-security-token"),
            "{}: token added after signing",
            case.name
        );
    }

    // Query signing (presigned URL). An omitted token is not part of what is signed.
    let expires = u32::try_from(case.ctx["expiration_in_seconds"].as_u64().unwrap()).unwrap();
    let payload = if sign_body {
        body_hash.as_str()
    } else {
        EMPTY_SHA256
    };
    let mut trace = Trace::default();
    let url = signer(&case, !omit_token)
        .presign_raw(&req, expires, payload, now, Some(&mut trace))
        .unwrap();
    let want_sig = expected(dir, "query-signature.txt");
    assert_eq!(
        trace.canonical_request,
        expected(dir, "query-canonical-request.txt"),
        "{}: query canonical request",
        case.name
    );
    assert_eq!(
        trace.string_to_sign,
        expected(dir, "query-string-to-sign.txt"),
        "{}: query string to sign",
        case.name
    );
    assert!(
        url.ends_with(&format!("&X-Amz-Signature={}", want_sig.trim())),
        "{}: query signature in {url}",
        case.name
    );
    // Every parameter of the suite's signed request is in our URL (ours is in canonical order).
    let signed_req = expected(dir, "query-signed-request.txt");
    let target = signed_req.lines().next().unwrap();
    let their_query = target
        .split_once('?')
        .unwrap()
        .1
        .rsplit_once(" HTTP/1.1")
        .unwrap()
        .0;
    let theirs: Vec<&str> = their_query
        .split('&')
        .filter(|p| !(omit_token && p.starts_with("X-Amz-Security-Token=")))
        .collect();
    let our_query = url.split_once('?').unwrap().1;
    let ours: Vec<&str> = our_query.split('&').collect();
    // The suite writes non-ASCII query names raw in request lines; compare decoded forms.
    let dec = |v: Vec<&str>| {
        let mut d: Vec<String> = v.into_iter().map(percent_decode).collect();
        d.sort_unstable();
        d
    };
    assert_eq!(dec(ours), dec(theirs), "{}: query parameters", case.name);
}

#[test]
fn aws_sigv4_test_suite() {
    let Some(dir) = suite_dir() else { return };
    let mut cases: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 38, "the suite has 38 cases");
    for case in &cases {
        run_case(case);
    }
}
