#![cfg(not(target_arch = "wasm32"))]
//! `presign token` and `presign verify`, run as a process.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm as JAlg, DecodingKey, EncodingKey, Header};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_presign");

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn presign(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("JWT_SECRET")
        .env_remove("JWT_KEYS")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run presign");
    let mut input = child.stdin.take().unwrap();
    // The command may exit before reading (e.g. no key configured): a broken pipe is fine.
    if let Err(e) = input.write_all(stdin.as_bytes()) {
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe,
            "writing stdin: {e}"
        );
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn mint(args: &[&str], secret: &str) -> String {
    let out = presign(&[&["token"], args].concat(), &[("JWT_SECRET", secret)], "");
    assert!(out.status.success(), "token failed: {}", stderr(&out));
    stdout(&out).trim().to_owned()
}

#[test]
fn minted_token_is_accepted_by_jsonwebtoken() {
    let token = mint(
        &[
            "--sub",
            "alice",
            "--ttl",
            "600",
            "--iss",
            "me",
            "--aud",
            "presign",
            "--kid",
            "k1",
            "--claim",
            r#"prefix="uploads/alice/""#,
            "--claim",
            "max_size=1048576",
            "--claim",
            r#"content_types=["image/png"]"#,
        ],
        "cli-secret",
    );
    let mut v = jsonwebtoken::Validation::new(JAlg::HS256);
    v.set_audience(&["presign"]);
    v.set_issuer(&["me"]);
    let data = jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_secret(b"cli-secret"), &v)
        .expect("jsonwebtoken accepts the minted token");
    let c = data.claims;
    assert_eq!(data.header.kid.as_deref(), Some("k1"));
    assert_eq!(c["sub"], "alice");
    assert_eq!(c["prefix"], "uploads/alice/");
    assert_eq!(c["max_size"], 1048576);
    assert_eq!(c["content_types"], json!(["image/png"]));
    let exp = c["exp"].as_u64().unwrap();
    let iat = c["iat"].as_u64().unwrap();
    assert_eq!(exp - iat, 600);
    assert!(iat.abs_diff(now()) < 60);
}

#[test]
fn verify_prints_claims_of_a_jsonwebtoken_token() {
    let claims = json!({"sub": "bob", "exp": now() + 300, "aud": ["x", "presign"], "role": "u"});
    let token = jsonwebtoken::encode(
        &Header::new(JAlg::HS256),
        &claims,
        &EncodingKey::from_secret(b"s3cret"),
    )
    .unwrap();
    let out = presign(
        &["verify", "--aud", "presign"],
        &[("JWT_SECRET", "s3cret")],
        &format!("  {token}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(printed["sub"], "bob");
    assert_eq!(printed["aud"], json!(["x", "presign"]));
    assert_eq!(printed["role"], "u");
}

#[test]
fn verify_reports_expired_with_pinned_clock() {
    let token = mint(&["--sub", "alice", "--ttl", "10"], "k");
    let later = (now() + 3600).to_string();
    let out = presign(&["verify", "--now", &later], &[("JWT_SECRET", "k")], &token);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: expired: "),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
    // A larger leeway accepts it.
    let out = presign(
        &["verify", "--now", &later, "--leeway", "7200"],
        &[("JWT_SECRET", "k")],
        &token,
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn verify_error_codes() {
    let token = mint(&["--sub", "alice"], "right");
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case<'_>; 5] = [
        (&["verify"], &[("JWT_SECRET", "wrong")], "bad_signature"),
        (
            &["verify", "--alg", "HS512"],
            &[("JWT_SECRET", "right")],
            "alg_not_allowed",
        ),
        (
            &["verify", "--aud", "presign"],
            &[("JWT_SECRET", "right")],
            "missing_claim",
        ),
        (
            &["verify", "--iss", "x"],
            &[("JWT_SECRET", "right")],
            "missing_claim",
        ),
        (
            &["verify"],
            &[("JWT_KEYS", r#"{"k1":"right"}"#)],
            "unknown_key",
        ),
    ];
    for (args, env, code) in cases {
        let out = presign(args, env, &token);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("error: {code}: ")),
            "{args:?}: {err}"
        );
        assert!(!err.contains("right"), "secret leaked: {err}");
        assert!(!err.contains(&token[..20]), "token leaked: {err}");
    }
    let out = presign(&["verify"], &[("JWT_SECRET", "right")], "not a token");
    assert!(stderr(&out).starts_with("error: malformed: "));
}

#[test]
fn verify_with_jwt_keys_and_kid() {
    let token = mint(
        &["--sub", "carol", "--kid", "2025", "--alg", "HS384"],
        "base64:c2VjcmV0LTIwMjU=",
    );
    let keys = r#"{"2024":"old-secret","2025":"secret-2025"}"#;
    let out = presign(&["verify", "--alg", "HS384"], &[("JWT_KEYS", keys)], &token);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(r#""sub":"carol""#));
    // Tokens without kid use JWT_SECRET when both are set.
    let plain = mint(&["--sub", "dave"], "default");
    let out = presign(
        &["verify"],
        &[("JWT_KEYS", keys), ("JWT_SECRET", "default")],
        &plain,
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["token"][..],
        &["token", "--sub"],
        &["token", "--sub", "a", "--ttl", "-5"],
        &["token", "--sub", "a", "--claim", "x=not json"],
        &["token", "--sub", "a", "--bogus", "1"],
        &["verify", "--alg", "none"],
        &["verify", "--now", "yesterday"],
        &["verify", "stray"],
    ] {
        let out = presign(args, &[("JWT_SECRET", "k")], "");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("usage: presign"), "{args:?}");
    }
}

#[test]
fn missing_secret_is_reported() {
    let out = presign(&["token", "--sub", "a"], &[], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("JWT_SECRET"));
    let out = presign(&["verify"], &[], "x.y.z");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: invalid_key: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn help_exits_0() {
    for verb in ["token", "verify"] {
        let out = presign(&[verb, "--help"], &[], "");
        assert!(out.status.success());
        assert!(stdout(&out).contains("usage: presign"));
    }
}
