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

/// A compact JWS with `header` and `claims`, signed by `sign` over `header.payload`.
fn signed_token(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = sign(input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

#[test]
fn verify_with_a_jwks_file() {
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
    let dir = std::env::temp_dir().join(format!("presign-cli-jwks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let jwks = dir.join("jwks.json");
    let set = json!({"keys": [
        {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "ed-1", "use": "sig"},
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
    ]});
    std::fs::write(&jwks, set.to_string()).unwrap();
    let jwks = jwks.to_str().unwrap();
    let claims = json!({"sub": "alice", "exp": now() + 600, "aud": "presign"});
    let token = |kid: &str| {
        signed_token(&json!({"alg": "EdDSA", "kid": kid}), &claims, |m| {
            key.sign(m).to_bytes().to_vec()
        })
    };

    let ok = presign(
        &[
            "verify", "--jwks", jwks, "--alg", "EdDSA", "--aud", "presign",
        ],
        &[],
        &token("ed-1"),
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&ok)).unwrap()["sub"],
        "alice"
    );
    // The symmetric key of the set is skipped, and said so.
    assert!(stderr(&ok).contains("kid hmac"), "{}", stderr(&ok));

    for (args, code, needle) in [
        // RS256 is the default with --jwks: an EdDSA token is refused before any key is used.
        (vec!["verify", "--jwks", jwks], 1, "alg_not_allowed"),
        (
            vec!["verify", "--jwks", jwks, "--alg", "EdDSA", "--aud", "other"],
            1,
            "wrong_audience",
        ),
        // HMAC algorithms make no sense with public keys.
        (
            vec!["verify", "--jwks", jwks, "--alg", "HS256"],
            2,
            "supported with --jwks",
        ),
        (
            vec!["verify", "--jwks", "/nonexistent/jwks.json"],
            1,
            "cannot read",
        ),
    ] {
        let out = presign(&args, &[], &token("ed-1"));
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    let unknown = presign(
        &["verify", "--jwks", jwks, "--alg", "EdDSA"],
        &[],
        &token("ed-2"),
    );
    assert!(
        stderr(&unknown).contains("unknown_key"),
        "{}",
        stderr(&unknown)
    );
    // One character in the middle of the signature changed (still canonical base64url).
    let mut tampered = token("ed-1");
    let at = tampered.len() - 20;
    let other = if &tampered[at..=at] == "A" { "B" } else { "A" };
    tampered.replace_range(at..=at, other);
    let bad = presign(
        &["verify", "--jwks", jwks, "--alg", "EdDSA"],
        &[],
        &tampered,
    );
    assert!(stderr(&bad).contains("bad_signature"), "{}", stderr(&bad));
    std::fs::remove_dir_all(&dir).ok();
}
