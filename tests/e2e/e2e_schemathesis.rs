//! The API contract against the running worker: schemathesis (an independent, schema-driven
//! fuzzer from PyPI, installed by `scripts/setup.sh --browser`) generates requests from
//! `openapi.json` and sends them to `wrangler dev` in front of `s3s-fs`, with a valid token.
//!
//! It checks that no request gets a 5xx (`not_a_server_error`), that every answer's status,
//! content type and body are as documented (`status_code_conformance`,
//! `content_type_conformance`, `response_schema_conformance`), and that no request the
//! document allows is refused as malformed (`positive_data_acceptance`: a 400 or 422 to a
//! schema-valid request fails; 401 and 403 are refusals of the token, allowed). So every
//! constraint the worker enforces on its input must be in the document.
//!
//! What a deployment configures is set wide here, so that the document's own limits are the
//! binding ones: every media type, the 5 GiB upload maximum, the 1 MiB body limit. The one
//! list the document cannot know, the configured target names, is added to a copy of it as an
//! `enum` of `TargetName` (the worker answers 422 `unknown_target` to other names).
//!
//! The run is bounded and reproducible: a fixed number of examples per operation, and
//! deterministic generation (the same cases on every run, no example database).
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::{now_secs, openssl_ed25519_key, repo_root, Process, TempDir, TestEnv};
use serde_json::{json, Value};

/// The version `scripts/setup.sh` installs (the test reports what it finds).
const SCHEMATHESIS_VERSION: &str = "4.32.5";
/// Generated cases per operation in the fuzzing phase (the whole run takes well under a
/// minute; the coverage phase adds its own cases at the limits of every constraint).
const MAX_EXAMPLES: &str = "100";
/// Longest the whole run may take before the test fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// `SCHEMATHESIS_BIN`, else `.venv/bin/schemathesis` (where `scripts/setup.sh` puts it), else
/// `schemathesis` on the `PATH`.
fn schemathesis() -> PathBuf {
    if let Some(p) = std::env::var_os("SCHEMATHESIS_BIN") {
        return PathBuf::from(p);
    }
    let venv = repo_root().join(".venv/bin/schemathesis");
    if venv.is_file() {
        return venv;
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join("schemathesis"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("schemathesis not found: run scripts/setup.sh --browser (make test does)")
        })
}

/// `openapi.json` with the worker's target names as the `enum` of `TargetName`.
fn document_for(targets: &[&str]) -> String {
    let path = repo_root().join("openapi.json");
    let text = std::fs::read_to_string(&path).expect("read openapi.json");
    let mut spec: Value = serde_json::from_str(&text).expect("openapi.json is JSON");
    let target = &mut spec["components"]["schemas"]["TargetName"];
    assert!(target.is_object(), "openapi.json has no TargetName schema");
    target["enum"] = json!(targets);
    serde_json::to_string_pretty(&spec).expect("serialise the document")
}

/// Runs schemathesis with `args` from `dir` (so that nothing lands in the repository), at
/// most [`RUN_TIMEOUT`]; returns whether it passed and what it printed.
fn run(dir: &TempDir, args: &[&str]) -> (bool, String) {
    let mut cmd = std::process::Command::new(schemathesis());
    cmd.current_dir(dir.path())
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("SCHEMATHESIS_HOOKS");
    let mut process = Process::spawn("schemathesis", cmd, dir.path().join("schemathesis.log"));
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = process.exited() {
            break status;
        }
        if Instant::now() > deadline {
            process.fail(&format!("did not finish within {RUN_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    (status == "exit status: 0", process.logs())
}

/// The last `n` lines of `text`.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[test]
#[ignore = "end-to-end: needs s3s-fs, wrangler and schemathesis; run by make test"]
fn schemathesis_finds_the_worker_as_documented() {
    // Else /v1/uploads/complete answers 501 receipts_not_configured, a server error (and
    // /v1/receipts/jwks.json 404).
    let (receipt_key, _) = openssl_ed25519_key();
    let env = TestEnv::start(&[
        ("ALLOWED_CONTENT_TYPES", "*/*"),
        ("MAX_UPLOAD_SIZE", "5368709120"),
        ("MAX_BODY_BYTES", "1048576"),
        ("ALLOW_DELETE", "true"),
        ("RECEIPT_SIGNING_KEY", receipt_key.as_str()),
    ]);
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "sub": "alice", "exp": now_secs() + 3600 }),
        &jsonwebtoken::EncodingKey::from_secret(env.jwt_secret.as_bytes()),
    )
    .expect("HS256 token");
    let dir = TempDir::new("schemathesis");
    let document = dir.path().join("openapi.json");
    std::fs::write(&document, document_for(&["uploads"])).expect("write the document");

    let (ok, version) = run(&dir, &["--version"]);
    assert!(ok, "schemathesis --version failed: {version}");
    if !version.contains(SCHEMATHESIS_VERSION) {
        eprintln!(
            "note: {} (scripts/setup.sh installs {SCHEMATHESIS_VERSION})",
            version.trim()
        );
    }
    let auth = format!("Authorization: Bearer {token}");
    let document = document.to_string_lossy();
    let (ok, output) = run(
        &dir,
        &[
            "run",
            &document,
            "--url",
            &env.worker.base_url,
            "--header",
            &auth,
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,positive_data_acceptance",
            "--max-examples",
            MAX_EXAMPLES,
            "--generation-deterministic",
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--no-color",
        ],
    );
    assert!(
        !output.contains(&token) && !output.contains(&env.jwt_secret),
        "schemathesis printed the token or the secret"
    );
    assert!(
        ok,
        "schemathesis found requests the worker answers other than documented:\n{output}\n\
         ----- the end of wrangler's output -----\n{}",
        last_lines(&env.worker.logs(), 40)
    );
    // Not a vacuous pass: the ten operations were run, with many cases.
    assert!(
        output.contains("Selected: 10/10") && output.contains("Tested: 10"),
        "not every operation was tested:\n{output}"
    );
    let generated: u64 = output
        .lines()
        .find_map(|l| l.trim().split_once(" generated"))
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count of generated cases in:\n{output}"));
    assert!(
        generated >= 400,
        "only {generated} cases generated:\n{output}"
    );
    eprintln!("schemathesis: {generated} cases, no issues");
}
