//! `presign token` (mint a development token) and `presign verify` (explain why a token is
//! accepted or refused).

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use presign_worker::jwt::{self, Algorithm, KeySet, Validation};

use crate::opts::{wants_help, Opts};
use serde_json::{Map, Value};

const TOKEN_USAGE: &str = "\
usage: presign token --sub SUBJECT [--ttl SECONDS] [--iss ISSUER] [--aud AUDIENCE]...
                     [--kid KID] [--alg HS256|HS384|HS512] [--claim NAME=JSON]...

Mints a token signed with the secret in JWT_SECRET (raw text, or base64:...) and prints it.
Claims: sub, iat (now), exp (now + ttl, default 3600), iss, aud (one value: a string, several:
an array), then every --claim, whose value is JSON and may override the others, e.g.
  --claim prefix='\"uploads/alice/\"' --claim max_size=1048576 --claim exp=0";

const VERIFY_USAGE: &str = "\
usage: presign verify [--alg HS256]... [--iss ISSUER]... [--aud AUDIENCE]... [--leeway SECONDS]
                      [--max-age SECONDS] [--now UNIX_SECONDS] [--jwks FILE]  < token

Reads a token on stdin and verifies it with JWT_KEYS (JSON object kid -> secret) and/or
JWT_SECRET (the key for tokens without kid). Secrets are raw text or base64:....
With --jwks, verifies it with the public keys of a JWK set file instead (an identity
provider's, e.g. saved from its JWKS URL); --alg then names RS256, RS384, RS512, PS256,
PS384, PS512, ES256, ES384 or EdDSA (default RS256).
Prints the verified claims as JSON and exits 0, or prints `error: CODE: reason` and exits 1
(2 for usage errors). Defaults: --alg HS256, leeway 60, required claims exp and sub, the clock.";

fn usage_error(message: &str, usage: &str) -> i32 {
    eprintln!("error: {message}\n{usage}");
    2
}

fn now_seconds() -> Result<u64, String> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| "the system clock is before 1970".to_owned())
}

/// An `--alg` value: HMAC for secrets, the public-key algorithms for a JWK set (`public`).
fn parse_algorithm(name: &str, public: bool) -> Result<Algorithm, String> {
    Algorithm::from_name(name)
        .filter(|a| a.is_hmac() != public)
        .ok_or_else(|| {
            let names: Vec<&str> = Algorithm::ALL
                .iter()
                .filter(|a| a.is_hmac() != public)
                .map(Algorithm::name)
                .collect();
            format!(
                "unknown algorithm `{name}` (supported{}: {})",
                if public { " with --jwks" } else { "" },
                names.join(", ")
            )
        })
}

/// `presign token ...`: prints a freshly minted token. Returns the exit code.
pub fn run_token(args: &[String]) -> i32 {
    if wants_help(args) {
        println!("{TOKEN_USAGE}");
        return 0;
    }
    let opts = match Opts::parse(
        args,
        &["sub", "ttl", "iss", "aud", "kid", "alg", "claim"],
        &[],
    ) {
        Ok(opts) => opts,
        Err(e) => return usage_error(&e, TOKEN_USAGE),
    };
    match mint(&opts) {
        Ok(token) => {
            println!("{token}");
            0
        }
        Err(Failure::Usage(e)) => usage_error(&e, TOKEN_USAGE),
        Err(Failure::Run(e)) => {
            eprintln!("error: {e}");
            1
        }
    }
}

enum Failure {
    Usage(String),
    Run(String),
}

fn mint(opts: &Opts) -> Result<String, Failure> {
    let sub = opts
        .last("sub")
        .ok_or_else(|| Failure::Usage("--sub is required".to_owned()))?;
    let ttl = opts.number("ttl").map_err(Failure::Usage)?.unwrap_or(3600);
    let alg = match opts.last("alg") {
        Some(name) => parse_algorithm(name, false).map_err(Failure::Usage)?,
        None => Algorithm::HS256,
    };
    let secret = std::env::var("JWT_SECRET")
        .map_err(|_| Failure::Run("JWT_SECRET is not set".to_owned()))?;
    let secret = jwt::parse_secret(&secret)
        .map_err(|e| Failure::Run(format!("JWT_SECRET: {}: {e}", e.code())))?;
    let now = now_seconds().map_err(Failure::Run)?;

    let mut claims = Map::new();
    claims.insert("sub".to_owned(), Value::from(sub));
    if let Some(iss) = opts.last("iss") {
        claims.insert("iss".to_owned(), Value::from(iss));
    }
    let auds: Vec<Value> = opts.all("aud").map(Value::from).collect();
    match auds.len() {
        0 => {}
        1 => {
            claims.insert("aud".to_owned(), auds[0].clone());
        }
        _ => {
            claims.insert("aud".to_owned(), Value::Array(auds));
        }
    }
    claims.insert("iat".to_owned(), Value::from(now));
    claims.insert("exp".to_owned(), Value::from(now.saturating_add(ttl)));
    for claim in opts.all("claim") {
        let (name, json) = claim
            .split_once('=')
            .ok_or_else(|| Failure::Usage(format!("--claim `{claim}` is not NAME=JSON")))?;
        let value: Value = serde_json::from_str(json).map_err(|_| {
            Failure::Usage(format!(
                "--claim {name}: the value is not JSON (quote strings: {name}='\"text\"')"
            ))
        })?;
        claims.insert(name.to_owned(), value);
    }
    Ok(jwt::sign_hs(alg, &secret, opts.last("kid"), &claims))
}

/// `presign verify ...`: verifies the token on stdin. Returns the exit code.
pub fn run_verify(args: &[String]) -> i32 {
    if wants_help(args) {
        println!("{VERIFY_USAGE}");
        return 0;
    }
    let known = ["alg", "iss", "aud", "leeway", "max-age", "now", "jwks"];
    let opts = match Opts::parse(args, &known, &[]) {
        Ok(opts) => opts,
        Err(e) => return usage_error(&e, VERIFY_USAGE),
    };
    let validation = match validation_from(&opts) {
        Ok(v) => v,
        Err(e) => return usage_error(&e, VERIFY_USAGE),
    };
    let now = match opts.number("now") {
        Ok(Some(now)) => now,
        Ok(None) => match now_seconds() {
            Ok(now) => now,
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        },
        Err(e) => return usage_error(&e, VERIFY_USAGE),
    };

    let keys = match opts.last("jwks") {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => match KeySet::from_jwks(&text) {
                Ok(jwks) => {
                    for skipped in &jwks.skipped {
                        let kid = skipped.kid.as_deref().unwrap_or("-");
                        eprintln!(
                            "note: key {} (kid {kid}) skipped: {}",
                            skipped.index, skipped.error
                        );
                    }
                    jwks.keys
                }
                Err(e) => {
                    eprintln!("error: {}: {path}: {e}", e.code());
                    return 1;
                }
            },
            Err(e) => {
                eprintln!("error: cannot read {path}: {e}");
                return 1;
            }
        },
        None => {
            let secret = std::env::var("JWT_SECRET").ok();
            let keys_json = std::env::var("JWT_KEYS").ok();
            match KeySet::from_config(secret.as_deref(), keys_json.as_deref()) {
                Ok(keys) => keys,
                Err(e) => {
                    eprintln!("error: {}: {e} (set JWT_SECRET and/or JWT_KEYS)", e.code());
                    return 1;
                }
            }
        }
    };

    // Read a little more than the limit so that an oversized token is reported as such.
    let mut input = Vec::new();
    let limit = (jwt::MAX_TOKEN_LEN as u64) * 2 + 1024;
    if let Err(e) = std::io::stdin().take(limit).read_to_end(&mut input) {
        eprintln!("error: cannot read stdin: {e}");
        return 1;
    }
    let Ok(text) = std::str::from_utf8(&input) else {
        eprintln!("error: malformed: token is not UTF-8 text");
        return 1;
    };
    let token = text.trim();

    match jwt::verify(token, &keys, &validation, now) {
        Ok(claims) => match serde_json::to_string(&claims) {
            Ok(json) => {
                println!("{json}");
                0
            }
            Err(e) => {
                eprintln!("error: cannot print the claims: {e}");
                1
            }
        },
        Err(e) => {
            eprintln!("error: {}: {e}", e.code());
            1
        }
    }
}

fn validation_from(opts: &Opts) -> Result<Validation, String> {
    let mut v = Validation::default();
    let public = opts.last("jwks").is_some();
    let algs = opts
        .all("alg")
        .map(|a| parse_algorithm(a, public))
        .collect::<Result<Vec<_>, _>>()?;
    if !algs.is_empty() {
        v.algorithms = algs;
    } else if public {
        v.algorithms = vec![Algorithm::RS256];
    }
    v.issuers = opts.all("iss").map(str::to_owned).collect();
    v.audiences = opts.all("aud").map(str::to_owned).collect();
    if let Some(leeway) = opts.number("leeway")? {
        v.leeway = leeway;
    }
    v.max_age = opts.number("max-age")?;
    Ok(v)
}
