//! The demo pages of `make dev`, served as `make dev` serves them (`demo/serve.mjs`, the same
//! server code `scripts/dev.sh` starts, here on free ports), used in headless Chromium as a user
//! would (`tests/browser/demo.mjs`): files dropped on the real Uppy 6 Dashboard go up through the
//! README's glue (1 MiB as a single PUT, 20 MiB as multipart), both progress bars reach 100 %,
//! the store holds the same bytes (SHA-256 against the fixture files written here), each file
//! comes back through the page's download link byte for byte, a refused type is shown in words,
//! and the plain-fetch page uploads both files too and words the refusals of an expired token
//! and of a `max_size` smaller than the file. Screenshots (at rest, mid-upload, done,
//! refused, fetch page, other tokens) and the browser's log are kept in `target/e2e-demo/`.
//!
//! ```text
//! page   http://127.0.0.1:P   demo/serve.mjs (bundles demo/*.js with esbuild at start)
//! worker                      wrangler dev, CORS_ALLOWED_ORIGINS = the page's origin
//! proxy  http://127.0.0.1:X   tests/browser/cors-proxy.mjs in front of s3s-fs, as in make dev
//! store                       s3s-fs
//! ```
//!
//! Also here, without processes: the pages' glue is the README's text.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::e2e_browser::{self, chromium, diagnostics, run_report};
use crate::support::{
    self, free_port, now_secs, random_hex, repo_root, Process, S3Store, TempDir, TestEnv,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The whole browser run (both pages).
const RUN_TIMEOUT: Duration = Duration::from_secs(150);
/// How long demo/serve.mjs may take to bundle and listen.
const SERVER_READY_TIMEOUT: Duration = Duration::from_secs(60);
const MIB: usize = 1024 * 1024;

fn demo_dir() -> PathBuf {
    repo_root().join("demo")
}

/// The fixture files the browser drops (names as in tests/browser/demo.mjs) and their SHA-256.
struct Fixture {
    name: &'static str,
    sha256: String,
}

fn write_fixture(dir: &Path, name: &'static str, len: usize) -> Fixture {
    let mut bytes = Vec::with_capacity(len);
    while bytes.len() < len {
        bytes.extend_from_slice(&hex::decode(random_hex(4096)).expect("hex"));
    }
    bytes.truncate(len);
    std::fs::write(dir.join(name), &bytes).expect("write a fixture");
    Fixture {
        name,
        sha256: hex::encode(Sha256::digest(&bytes)),
    }
}

fn sha256_of(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    hex::encode(Sha256::digest(bytes))
}

/// The rows of one page's upload list in the report.
fn rows<'a>(report: &'a Value, list: &str) -> &'a [Value] {
    report[list].as_array().map_or(&[], Vec::as_slice)
}

fn row<'a>(rows: &'a [Value], name: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no row for {name} in {rows:?}"))
}

/// Every file under `dir`, as paths relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    out
}

#[test]
#[ignore = "end-to-end: needs s3s-fs, wrangler, chromium and demo/node_modules; run by make test"]
fn demo_pages_upload_show_progress_download_and_refuse_in_words() {
    e2e_browser::check_prerequisites();
    for package in ["@uppy/core", "@uppy/dashboard", "@uppy/aws-s3", "esbuild"] {
        let p = demo_dir()
            .join("node_modules")
            .join(package)
            .join("package.json");
        assert!(
            p.is_file(),
            "{} is missing: run scripts/setup.sh (make dev does)",
            p.display()
        );
    }
    let page_port = free_port();
    let origin = format!("http://127.0.0.1:{page_port}");
    let dir = TempDir::new("demo");
    // The proxy first: the worker signs for its address.
    let store = S3Store::start_default();
    let (proxy_port, proxy) =
        support::start_cors_proxy(&store.endpoint, &origin, &dir.path().join("cors-proxy.log"));
    let endpoint_var = format!("TARGET_{}_ENDPOINT", support::DEFAULT_TARGET.to_uppercase());
    // wrangler.toml's own policy (types, 100 MiB, URL_TTL): what the page shows from it.
    let env = TestEnv::start_with_store(
        store,
        &[
            (
                endpoint_var.as_str(),
                &format!("http://127.0.0.1:{proxy_port}"),
            ),
            ("CORS_ALLOWED_ORIGINS", origin.as_str()),
        ],
    );
    let mut cmd = Command::new("node");
    cmd.current_dir(repo_root())
        .arg(demo_dir().join("serve.mjs"))
        .args(["--port", &page_port.to_string()])
        .args(["--presign", &env.worker.base_url]);
    let mut server = Process::spawn("demo/serve.mjs", cmd, dir.path().join("serve.log"));
    server.wait_listening(page_port, SERVER_READY_TIMEOUT);

    let fixtures = dir.path().join("fixtures");
    std::fs::create_dir_all(&fixtures).expect("fixtures dir");
    let small = write_fixture(&fixtures, "photo.png", MIB);
    let big = write_fixture(&fixtures, "big video.bin", 20 * MIB);
    std::fs::write(
        fixtures.join("page.html"),
        "<!doctype html><p>not allowed</p>\n",
    )
    .expect("write");
    write_fixture(&fixtures, "late.png", 1000);
    write_fixture(&fixtures, "huge.png", 5000);
    let shots = repo_root().join("target/e2e-demo");
    let _ = std::fs::remove_dir_all(&shots);

    let mut cmd = e2e_browser::node(&e2e_browser::browser_dir().join("demo.mjs"));
    cmd.args(["--origin", &origin])
        .args(["--token", &e2e_browser::token(&env)])
        .args([
            "--expired-token",
            &hs256(&env, &json!({ "sub": "alice", "exp": now_secs() - 600 })),
        ])
        .args([
            "--small-token",
            &hs256(
                &env,
                &json!({ "sub": "alice", "exp": now_secs() + 900, "max_size": 4096 }),
            ),
        ])
        .arg("--fixtures")
        .arg(&fixtures)
        .arg("--out")
        .arg(dir.path().join("downloads"))
        .arg("--shots")
        .arg(&shots)
        .args(["--timeout-ms", &RUN_TIMEOUT.as_millis().to_string()])
        .arg("--chromium")
        .arg(chromium())
        .arg("--profile-dir")
        .arg(dir.path().join("chromium-profile"));
    let mut runner = Process::spawn("demo.mjs", cmd, dir.path().join("demo.log"));
    let diag = |runner: &Process| {
        diagnostics(
            &env,
            &[
                (
                    "node tests/browser/demo.mjs (browser console included)",
                    runner,
                ),
                ("demo/serve.mjs", &server),
                ("cors-proxy", &proxy),
            ],
        )
    };
    let report = run_report(&mut runner, RUN_TIMEOUT + Duration::from_secs(30), &diag);
    // The browser's log (timings, console) next to the screenshots, as a test artifact.
    let _ = std::fs::copy(dir.path().join("demo.log"), shots.join("demo.log"));

    // The grant panel shows the token's subject and its expiry (to come).
    assert_eq!(report["grant"]["sub"], "alice", "{}", report["grant"]);
    let exp = report["grant"]["exp"].as_str().unwrap_or_default();
    assert!(exp.contains("(in "), "expiry shown as {exp:?}");
    assert_eq!(
        report["grant"]["worker_max"], "100 MiB",
        "the worker's MAX_UPLOAD_SIZE from wrangler.toml: {}",
        report["grant"]
    );

    // Both pages: each file done at 100 %, its key the worker's, its bytes in the store.
    let mut keys = Vec::new();
    for list in ["uploaded", "fetched"] {
        for f in [&small, &big] {
            let r = row(rows(&report, list), f.name);
            assert_eq!(
                (r["state"].as_str(), r["progress"].as_f64()),
                (Some("done"), Some(100.0)),
                "{list}: {r}{}",
                diag(&runner)
            );
            let key = r["key"].as_str().expect("a key on a done row");
            assert!(
                key.starts_with("alice/") && key.ends_with(&format!("/{}", f.name)),
                "{list}: key {key:?}"
            );
            let stored = env
                .store
                .read_object(key)
                .unwrap_or_else(|| panic!("{list}: no object {key:?}"));
            assert_eq!(
                hex::encode(Sha256::digest(&stored)),
                f.sha256,
                "{list}: {key}: stored bytes differ"
            );
            keys.push(key.to_owned());
        }
    }
    // And the ways they went, in what the store was asked (through the proxy): one PutObject for
    // the small files; CreateMultipartUpload, the parts (Uppy's 5 MiB, the fetch page's 8 MiB)
    // and CompleteMultipartUpload for the big ones.
    let requests = e2e_browser::proxied(&proxy.logs());
    let ops = |key: &str| -> (usize, usize, usize, usize) {
        let rs = e2e_browser::requests_for(&requests, &env.store.bucket, key);
        let count = |f: &dyn Fn(&e2e_browser::Proxied) -> bool| rs.iter().filter(|r| f(r)).count();
        (
            count(&|r| r.method == "PUT" && r.param("uploadId").is_none()),
            count(&|r| r.method == "POST" && r.param("uploads").is_some()),
            count(&|r| r.method == "PUT" && r.param("partNumber").is_some()),
            count(&|r| r.method == "POST" && r.param("uploadId").is_some()),
        )
    };
    let expected = [(1, 0, 0, 0), (0, 1, 4, 1), (1, 0, 0, 0), (0, 1, 3, 1)];
    for (key, want) in keys.iter().zip(expected) {
        assert_eq!(
            ops(key),
            want,
            "{key}: (PutObject, Create, UploadPart, Complete){}",
            diag(&runner)
        );
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 4, "four uploads, four keys: {keys:?}");

    // The page's download links give the same bytes back, under the file's name.
    let downloads = rows(&report, "downloads");
    assert_eq!(downloads.len(), 2, "{downloads:?}");
    for f in [&small, &big] {
        let d = row(downloads, f.name);
        assert_eq!(d["suggested"], f.name, "{d}");
        assert_eq!(
            sha256_of(Path::new(d["file"].as_str().expect("file"))),
            f.sha256,
            "{d}"
        );
    }

    // The refused type: words on the page, nothing in the store.
    let refused = &report["refused"];
    let words = refused["words"].as_str().unwrap_or_default();
    assert_eq!(refused["state"], "error", "{refused}");
    assert!(
        words.contains("Type not allowed") && words.contains("text/html"),
        "the refusal in words: {words:?}"
    );
    let stored = files_under(&env.store.bucket_dir());
    assert!(
        !stored.iter().any(|f| f.contains("page.html")),
        "a refused file reached the store: {stored:?}"
    );

    // The other tokens' refusals, in words.
    for (which, expected) in [
        ("expired-token", "Token expired"),
        ("small-token", "Too large"),
    ] {
        let r = &report["otherTokens"][which];
        assert_eq!(r["state"], "error", "{which}: {r}");
        let words = r["words"].as_str().unwrap_or_default();
        assert!(words.starts_with(expected), "{which}: {words:?}");
    }

    for shot in [
        "rest.png",
        "done.png",
        "refused.png",
        "fetch.png",
        "tokens.png",
    ] {
        let p = shots.join(shot);
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        assert!(len > 10_000, "screenshot {} missing or empty", p.display());
    }
    eprintln!(
        "e2e_demo: browser run {} ms; mid-upload progress {}; screenshots in {}",
        report["runMs"],
        report["midProgress"],
        shots.display()
    );
}

fn hs256(env: &TestEnv, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(env.jwt_secret.as_bytes()),
    )
    .expect("encode a token")
}

/// The text from `start` to the end of the block (the first `end` after it).
fn block<'a>(text: &'a str, start: &str, end: &str, what: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{what}: no {start:?}"));
    let len = text[from..]
        .find(end)
        .unwrap_or_else(|| panic!("{what}: no end {end:?}"))
        + end.len();
    &text[from..from + len]
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The demo's Uppy page and the browser test's page run the README's Uppy glue as written: the
/// block from `const sizes` to the end of the `AwsS3` options is the same text in all three.
#[test]
fn the_uppy_pages_use_the_readme_glue_verbatim() {
    let glue =
        |path: &str| block(&read(path), "const sizes = new Map()", "\n})\n", path).to_owned();
    let readme = glue("README.md");
    assert_eq!(glue("demo/uppy.js"), readme, "demo/uppy.js");
    assert_eq!(
        glue("tests/browser/page.js"),
        readme,
        "tests/browser/page.js"
    );
    assert!(readme.contains("signRequest") && readme.contains("size"));
}

/// The plain-fetch page's `sign` and `send` are the README's.
#[test]
fn the_fetch_page_uses_the_readme_helpers_verbatim() {
    let helpers = |text: &str, what: &str| {
        block(text, "async function sign(req) {", "\nconst send = ", what).to_owned()
            + block(text, "\nconst send = ", "\n", what)
    };
    assert_eq!(
        helpers(&read("demo/fetch.js"), "demo/fetch.js"),
        helpers(&read("README.md"), "README.md")
    );
}
