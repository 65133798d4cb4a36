//! `presign doctor` against a real store (s3s-fs), configured as the worker is: a
//! `wrangler.toml` with `[vars]` and a `.dev.vars` with the secrets. The table must say what
//! s3s-fs 0.14.1 really enforces (signatures, expiry, signed content type and length, conditional
//! writes) and what it does not (it executes an unsigned `x-amz-copy-source`; it has no CORS),
//! leave no object behind and never print a secret.
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::{S3Store, TempDir};

fn doctor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_presign"))
        .arg("doctor")
        .args(args)
        .output()
        .expect("run presign doctor")
}

/// Every file (not directory) under `dir`.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

#[test]
#[ignore = "end-to-end: needs s3s-fs, run by make test"]
fn reports_what_s3s_fs_enforces_and_cleans_up() {
    let store = S3Store::start_default();
    let dir = TempDir::new("doctor");
    let config = dir.path().join("wrangler.toml");
    let vars = dir.path().join(".dev.vars");
    fs::write(
        &config,
        format!(
            "name = \"presign-worker\"\n\n[vars]\nTARGETS = \"uploads\"\n\
             TARGET_UPLOADS_KIND = \"custom\"\nTARGET_UPLOADS_ENDPOINT = \"{}\"\n\
             TARGET_UPLOADS_BUCKET = \"{}\"\nCORS_ALLOWED_ORIGINS = \"http://127.0.0.1:8080\"\n",
            store.endpoint, store.bucket
        ),
    )
    .unwrap();
    fs::write(
        &vars,
        format!(
            "S3_ACCESS_KEY_ID={}\nS3_SECRET_ACCESS_KEY=\"{}\"\nJWT_SECRET=doctor-test-secret-0123456789abcdef\n",
            store.access_key, store.secret_key
        ),
    )
    .unwrap();
    let out = doctor(&[
        "--config",
        config.to_str().unwrap(),
        &format!("--vars={}", vars.display()),
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stdout.contains(&store.secret_key) && !stderr.contains(&store.secret_key));
    // copy-source and cors fail on s3s-fs: exit code 1.
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    assert_eq!(report[0]["target"], "uploads");
    let results: Vec<(String, String)> = report[0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap().to_owned(),
                c["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("signature", "ok"),
        ("expiry", "ok"),
        ("content-type", "ok"),
        ("content-length", "ok"),
        ("copy-source", "FAIL"),
        ("overwrite", "ok"),
        ("cors", "FAIL"),
        ("clock", "ok"),
        ("cleanup", "ok"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(c, r)| (c.to_string(), r.to_string()))
        .collect();
    assert_eq!(results, expected, "{stdout}");
    assert_eq!(files_under(&store.bucket_dir()), Vec::<String>::new());

    // The plain table names every check too.
    let out = doctor(&[
        "--config",
        config.to_str().unwrap(),
        "--vars",
        vars.to_str().unwrap(),
        "--target=uploads",
    ]);
    let table = String::from_utf8_lossy(&out.stdout);
    for (check, _) in &expected {
        assert!(table.contains(check.as_str()), "{table}");
    }
}

#[test]
fn a_bad_configuration_is_a_usage_error_without_secrets() {
    let dir = TempDir::new("doctor-bad");
    let config = dir.path().join("wrangler.toml");
    fs::write(
        &config,
        "[vars]\nTARGETS = \"uploads\"\nTARGET_UPLOADS_KIND = \"custom\"\n\
         TARGET_UPLOADS_BUCKET = \"uploads\"\nS3_ACCESS_KEY_ID = \"AKID\"\n\
         S3_SECRET_ACCESS_KEY = \"doctor-secret-never-printed\"\n\
         JWT_SECRET = \"doctor-test-secret-0123456789abcdef\"\n",
    )
    .unwrap();
    let out = doctor(&[
        "--config",
        config.to_str().unwrap(),
        "--vars",
        "/nonexistent/.dev.vars",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("TARGET_UPLOADS_ENDPOINT"), "{stderr}");
    assert!(!stderr.contains("doctor-secret-never-printed"), "{stderr}");
    let out = doctor(&["--config", "/nonexistent/wrangler.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = doctor(&["--target"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Files that do not parse are named with where they fail, never quoted: the parsers' own
/// messages print the line (a `.dev.vars` with an unclosed quote: the rest of the file), and
/// these files hold the secrets. An environment variable that is not UTF-8 is left out, not a
/// panic that quotes it. A `[vars]` value that is not text is refused, as the worker does.
#[test]
fn files_that_do_not_parse_are_named_never_quoted() {
    let dir = TempDir::new("doctor-parse");
    let good = dir.path().join("wrangler.toml");
    fs::write(&good, "[vars]\nTARGETS = \"uploads\"\n").unwrap();
    let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    let vars = dir.path().join(".dev.vars");
    for text in [
        format!("JWT_SECRET=correct horse {secret}\n"),
        format!("JWT_SECRET=\"unterminated\nS3_SECRET_ACCESS_KEY={secret}\n"),
    ] {
        fs::write(&vars, text).unwrap();
        let out = doctor(&[
            "--config",
            good.to_str().unwrap(),
            "--vars",
            vars.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(".dev.vars"), "{stderr}");
        assert!(
            !stderr.contains(secret) && !stderr.contains("horse"),
            "{stderr}"
        );
    }
    let broken = dir.path().join("broken.toml");
    fs::write(
        &broken,
        format!("[vars]\nTARGETS = \"uploads\"\nS3_SECRET_ACCESS_KEY = \"{secret}\n"),
    )
    .unwrap();
    let out = doctor(&[
        "--config",
        broken.to_str().unwrap(),
        "--vars",
        "/nonexistent",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(!stderr.contains(secret), "{stderr}");
    let unquoted = dir.path().join("unquoted.toml");
    fs::write(&unquoted, "[vars]\nMAX_UPLOAD_SIZE = 10\n").unwrap();
    let out = doctor(&[
        "--config",
        unquoted.to_str().unwrap(),
        "--vars",
        "/nonexistent",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("MAX_UPLOAD_SIZE is not text"), "{stderr}");
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let odd = std::ffi::OsStr::from_bytes(b"\xffnot-text-secret");
        let out = Command::new(env!("CARGO_BIN_EXE_presign"))
            .args(["doctor", "--from-environment"])
            .env("ODD_VALUE", odd)
            .output()
            .expect("run presign doctor");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            !stderr.contains("not-text-secret") && !stderr.contains("panicked"),
            "{stderr}"
        );
    }
}
