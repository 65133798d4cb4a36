//! A real browser uploads through the worker: headless Chromium (Debian's `chromium`, driven by
//! npm `playwright-core`) loads a test page running real Uppy 6 (`@uppy/core` + `@uppy/aws-s3`
//! from npm) with the README's `signRequest` glue, which uploads a 20 MiB file as a multipart
//! upload and a 1 MiB file as a single PUT straight to the store with URLs signed by
//! `wrangler dev`; then both objects are checked in the store byte for byte (SHA-256 against the
//! page's own).
//!
//! The pieces, each on its own loopback port (so every browser request is cross-origin):
//!
//! ```text
//! page  http://127.0.0.1:P   tests/browser/run.mjs serves tests/browser/page.js, bundled by esbuild
//! worker                      wrangler dev, CORS_ALLOWED_ORIGINS = the page's origin
//! proxy http://127.0.0.1:X   tests/browser/cors-proxy.mjs: the README's bucket CORS rule, in
//!                             front of s3s-fs (which answers CORS preflights with 501)
//! store                       s3s-fs
//! ```
//!
//! The worker's target endpoint is the proxy's address, so the URLs it signs (SigV4 signs the
//! `host` header) name the proxy. The proxy passes every request through unchanged, its `Host`
//! header included, and s3s-fs verifies the signature over the Host header it receives, whatever
//! address it listens on.
//!
//! Prerequisites (what `make test` does first): `scripts/setup.sh --browser` (Chromium and the
//! npm packages of `tests/browser`) and `scripts/build.sh` (the worker bundle).
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::support::{self, free_port, now_secs, repo_root, Process, S3Store, TempDir, TestEnv};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The whole browser run: bundle, Chromium start, both uploads, report.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// Uppy's part size for a 20 MiB file: its minimum, 5 MiB.
const PART: u64 = 5 * 1024 * 1024;
const SUBJECT: &str = "alice";

pub(crate) fn browser_dir() -> PathBuf {
    repo_root().join("tests/browser")
}

pub(crate) fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM_BIN").map_or_else(|| PathBuf::from("/usr/bin/chromium"), Into::into)
}

pub(crate) fn check_prerequisites() {
    let modules = browser_dir().join("node_modules");
    for package in ["@uppy/core", "@uppy/aws-s3", "playwright-core", "esbuild"] {
        assert!(
            modules.join(package).join("package.json").is_file(),
            "{} is missing: run scripts/setup.sh --browser (make test does)",
            modules.join(package).display()
        );
    }
    assert!(
        chromium().is_file(),
        "{} is missing: run scripts/setup.sh --browser (make test does)",
        chromium().display()
    );
}

pub(crate) fn token(env: &TestEnv) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "sub": SUBJECT, "exp": now_secs() + 900 }),
        &jsonwebtoken::EncodingKey::from_secret(env.jwt_secret.as_bytes()),
    )
    .expect("encode the token")
}

pub(crate) fn node(script: &Path) -> Command {
    let mut cmd = Command::new("node");
    cmd.current_dir(browser_dir()).arg(script);
    cmd
}

/// Everything that helps to understand a failure: the output of each process of `logs` (the
/// browser runner first, with the page's console), then the worker's and the store's.
pub(crate) fn diagnostics(env: &TestEnv, logs: &[(&str, &Process)]) -> String {
    let mut out = String::new();
    let named = logs.iter().map(|(name, p)| ((*name).to_owned(), p.logs()));
    let ours = [
        ("wrangler dev".to_owned(), env.worker.logs()),
        ("s3s-fs".to_owned(), env.store.logs()),
    ];
    for (name, text) in named.chain(ours) {
        out.push_str(&format!(
            "\n----- {name} -----\n{}\n----- end of {name} -----",
            tail(&text, 6000)
        ));
    }
    out
}

/// Waits (at most `limit`) for a browser runner (`run.mjs`, `demo.mjs`) to exit and returns the
/// JSON of its `RESULT` line; panics with `diagnostics()` when it hangs, prints none, or says
/// `"ok": false`.
pub(crate) fn run_report(
    runner: &mut Process,
    limit: Duration,
    diagnostics: &dyn Fn(&Process) -> String,
) -> Value {
    let deadline = Instant::now() + limit;
    while runner.exited().is_none() {
        if Instant::now() > deadline {
            panic!(
                "the browser run did not end within {limit:?}{}",
                diagnostics(runner)
            );
        }
        sleep(Duration::from_millis(200));
    }
    let status = runner.exited().unwrap_or_default();
    let output = runner.logs();
    let report: Value = match output.lines().find_map(|l| l.strip_prefix("RESULT ")) {
        Some(json) => serde_json::from_str(json).unwrap_or_else(|e| {
            panic!(
                "the runner printed a RESULT that is not JSON ({e}){}",
                diagnostics(runner)
            )
        }),
        None => panic!(
            "the runner ({status}) printed no RESULT line{}",
            diagnostics(runner)
        ),
    };
    assert!(
        report["ok"] == json!(true),
        "the page failed: {}{}",
        report["error"].as_str().unwrap_or("(no error given)"),
        diagnostics(runner)
    );
    report
}

pub(crate) fn tail(s: &str, max: usize) -> &str {
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// One request the proxy passed to the store: `proxy METHOD TARGET -> STATUS[ (note)]`.
pub(crate) struct Proxied {
    pub(crate) method: String,
    pub(crate) path: String,
    params: Vec<(String, String)>,
}

impl Proxied {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(crate) fn proxied(proxy_log: &str) -> Vec<Proxied> {
    proxy_log
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("proxy ")?;
            let (method, rest) = rest.split_once(' ')?;
            let (target, _status) = rest.rsplit_once(" -> ")?;
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let params = query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (n, v) = p.split_once('=').unwrap_or((p, ""));
                    (n.to_owned(), v.to_owned())
                })
                .collect();
            Some(Proxied {
                method: method.to_owned(),
                path: path.to_owned(),
                params,
            })
        })
        .collect()
}

/// The requests made to object `key` of `bucket` (path-style, the key as the worker signs it:
/// every byte but unreserved ones and `/` percent-encoded).
pub(crate) fn requests_for<'a>(
    requests: &'a [Proxied],
    bucket: &str,
    key: &str,
) -> Vec<&'a Proxied> {
    let mut path = format!("/{bucket}/");
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            path.push(char::from(b));
        } else {
            path.push_str(&format!("%{b:02X}"));
        }
    }
    requests.iter().filter(|r| r.path == path).collect()
}

#[test]
#[ignore = "end-to-end: needs s3s-fs, wrangler and chromium; run by make test"]
fn uppy_6_in_chromium_uploads_multipart_and_single_put_with_signed_urls() {
    check_prerequisites();
    let t0 = Instant::now();
    let page_port = free_port();
    let page_origin = format!("http://127.0.0.1:{page_port}");
    let dir = TempDir::new("browser");
    // The proxy first: the worker signs for its address.
    let store = S3Store::start_default();
    let (proxy_port, proxy) = support::start_cors_proxy(
        &store.endpoint,
        &page_origin,
        &dir.path().join("cors-proxy.log"),
    );
    let proxy_endpoint = format!("http://127.0.0.1:{proxy_port}");
    let endpoint_var = format!("TARGET_{}_ENDPOINT", support::DEFAULT_TARGET.to_uppercase());
    let env = TestEnv::start_with_store(
        store,
        &[
            (endpoint_var.as_str(), proxy_endpoint.as_str()),
            ("CORS_ALLOWED_ORIGINS", page_origin.as_str()),
            ("ALLOWED_CONTENT_TYPES", "application/octet-stream,image/*"),
            ("MAX_UPLOAD_SIZE", "104857600"),
        ],
    );
    let started_env = t0.elapsed();

    let t_run = Instant::now();
    let mut cmd = node(&browser_dir().join("run.mjs"));
    cmd.args(["--page-port", &page_port.to_string()])
        .args(["--presign", &env.worker.base_url])
        .args(["--token", &token(&env)])
        .args(["--timeout-ms", &RUN_TIMEOUT.as_millis().to_string()])
        .arg("--chromium")
        .arg(chromium())
        // Inside `dir`, removed after the runner's process group (Chromium included) is gone.
        .arg("--profile-dir")
        .arg(dir.path().join("chromium-profile"));
    let mut runner = Process::spawn("run.mjs", cmd, dir.path().join("run.log"));
    let diag = |runner: &Process| {
        diagnostics(
            &env,
            &[
                (
                    "node tests/browser/run.mjs (browser console included)",
                    runner,
                ),
                ("cors-proxy", &proxy),
            ],
        )
    };
    // run.mjs bounds its own wait by RUN_TIMEOUT; this bounds run.mjs (a hung Chromium start).
    let report = run_report(&mut runner, RUN_TIMEOUT + Duration::from_secs(30), &diag);
    let browser_run = t_run.elapsed();

    // Both objects are in the store, byte for byte what the page made.
    let files = report["files"].as_array().expect("files in the report");
    assert_eq!(files.len(), 2, "{report}");
    let mut multipart = None;
    let mut single = None;
    for f in files {
        let name = f["name"].as_str().expect("name");
        let size = f["size"].as_u64().expect("size");
        let key = f["key"]
            .as_str()
            .unwrap_or_else(|| panic!("no key reported for {name}: {report}"));
        assert!(
            key.starts_with(&format!("{SUBJECT}/")) && key.ends_with(&format!("/{name}")),
            "{name}: the key {key:?} is not the worker's {SUBJECT}/{{uuid}}/{name}"
        );
        let stored = env.store.read_object(key).unwrap_or_else(|| {
            panic!(
                "{name}: no object {key:?} in the store ({}){}",
                env.store.object_path(key).display(),
                diag(&runner)
            )
        });
        assert_eq!(
            stored.len() as u64,
            size,
            "{name}: the stored object has {} bytes, the page made {size}",
            stored.len()
        );
        assert_eq!(
            hex::encode(Sha256::digest(&stored)),
            f["sha256"].as_str().expect("sha256"),
            "{name}: the stored bytes differ from the page's"
        );
        if f["multipart"] == json!(true) {
            multipart = Some((key.to_owned(), size));
        } else {
            single = Some((key.to_owned(), size));
        }
    }
    let (mp_key, mp_size) = multipart.expect("a multipart file in the report");
    let (single_key, _) = single.expect("a single-PUT file in the report");

    // And they went the intended ways: what the store was asked, through the proxy.
    let proxy_log = proxy.logs();
    let requests = proxied(&proxy_log);
    let failed: Vec<&str> = proxy_log
        .lines()
        // The cancelled upload's part in flight may be cut off by the browser.
        .filter(|l| !l.contains("cancelled.bin"))
        .filter(|l| {
            let status = l.rsplit_once(" -> ").map_or("", |(_, s)| s);
            (l.starts_with("proxy ") && !status.starts_with('2'))
                || (l.starts_with("preflight ") && status != "204")
        })
        .collect();
    assert!(
        failed.is_empty(),
        "requests to the store failed (Uppy may have retried them):\n{}{}",
        failed.join("\n"),
        diag(&runner)
    );
    // The parts went to the store, each URL signing its exact length; the create and complete
    // requests went to the worker, which ran them at the store itself (its own requests reach
    // the store through the proxy too, as the target's endpoint): create, list, complete, and
    // a HEAD of the completed object (application/octet-stream: no first bytes to read).
    let mp = requests_for(&requests, &env.store.bucket, &mp_key);
    let count = |method: &str, param: &str| {
        mp.iter()
            .filter(|r| r.method == method && r.param(param).is_some())
            .count()
    };
    let parts: BTreeSet<u64> = mp
        .iter()
        .filter(|r| r.method == "PUT")
        .filter_map(|r| r.param("partNumber")?.parse().ok())
        .collect();
    let length_signed = mp
        .iter()
        .filter(|r| r.param("X-Amz-SignedHeaders") == Some("content-length%3Bhost"))
        .count();
    let n_parts = mp_size.div_ceil(PART) as usize;
    assert_eq!(
        (
            count("POST", "uploads"),
            count("PUT", "partNumber"),
            parts.len(),
            length_signed,
            count("GET", "uploadId"),
            count("POST", "uploadId"),
            mp.iter().filter(|r| r.method == "HEAD").count(),
            mp.len()
        ),
        (1, n_parts, n_parts, n_parts, 1, 1, 1, 4 + n_parts),
        "{mp_key}: expected the worker's create, {n_parts} UploadPart each signing \
         content-length, the worker's ListParts and complete, and its HeadObject of the \
         completed object{}",
        diag(&runner)
    );
    // Two creates (the big file, and the one removed mid-upload), one completion.
    let routes = [("/v1/multipart/create", 2), ("/v1/multipart/complete", 1)];
    let answered = |logs: &str, route: &str| {
        let line = format!("\"method\":\"POST\",\"route\":\"{route}\",\"status\":200");
        logs.lines().filter(|l| l.contains(&line)).count()
    };
    // Written a moment after the answers: waited for, then counted.
    let worker_logs = env
        .worker
        .logs_when(|logs| routes.iter().all(|&(r, times)| answered(logs, r) >= times));
    for (route, times) in routes {
        assert_eq!(
            answered(&worker_logs, route),
            times,
            "{route} with 200{}",
            diag(&runner)
        );
    }
    let single_requests = requests_for(&requests, &env.store.bucket, &single_key);
    assert!(
        single_requests.len() == 1
            && single_requests[0].method == "PUT"
            && single_requests[0].param("uploadId").is_none()
            && single_requests[0].param("partNumber").is_none()
            // The glue gave the size, so the URL binds the exact length.
            && single_requests[0].param("X-Amz-SignedHeaders")
                == Some("content-length%3Bcontent-type%3Bhost"),
        "{single_key}: expected one PutObject signing content-length{}",
        diag(&runner)
    );

    // The file removed mid-upload: Uppy had the worker abort it (a cross-origin DELETE, after a
    // preflight that must allow it), and the store keeps nothing of it.
    assert_eq!(
        report["cancelled"]["abortSigned"],
        json!(true),
        "Uppy signed no abort: {report}"
    );
    let aborted = |logs: &str| {
        logs.contains("\"method\":\"DELETE\",\"route\":\"/v1/multipart/abort\",\"status\":204")
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while !aborted(&env.worker.logs()) {
        assert!(
            Instant::now() < deadline,
            "the worker ran no abort for the removed file{}",
            diag(&runner)
        );
        sleep(Duration::from_millis(100));
    }
    let preflight_ok = env
        .worker
        .logs()
        .contains("\"method\":\"OPTIONS\",\"route\":\"/v1/multipart/abort\",\"status\":204");
    assert!(preflight_ok, "no preflight of the abort{}", diag(&runner));
    let left: Vec<PathBuf> = crate::e2e_multipart::walk(&env.store.root)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with(".upload") || p.to_string_lossy().contains("cancelled.bin")
        })
        .collect();
    assert!(left.is_empty(), "the cancelled upload left {left:?}");

    eprintln!(
        "e2e_browser: store + worker started in {:.1}s; browser run {:.1}s (page upload {} ms); \
         {} requests through the proxy; total {:.1}s",
        started_env.as_secs_f64(),
        browser_run.as_secs_f64(),
        report["uploadMs"],
        requests.len(),
        t0.elapsed().as_secs_f64()
    );
}
