//! The `rust-min` baseline of `make bench` (see Cargo.toml): the full job of POST /v1/uploads
//! (HS256 JWT, the policy of bench/workers/common.js, a SigV4 query-signed PUT) in about the
//! least Rust a worker can run, for the bench to read presign-worker's start-up and CPU
//! against. `prepare` takes the configuration once per isolate (shim.js, at module
//! evaluation); `handle` does one request and answers its status and JSON body as one string,
//! so that a request crosses into wasm once. Unlike presign-worker it does not NFC-normalise
//! file names, accepts only HS256, and has no other routes or settings.
#![forbid(unsafe_code)]
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

type H = Hmac<Sha256>;

/// The isolate's settings and the day's SigV4 signing key.
struct Cfg {
    jwt: H,
    access: String,
    secret: String,
    endpoint: String,
    host: String,
    bucket: String,
    region: String,
    target: String,
    allowed: Vec<String>,
    max: u64,
    ttl: u64,
    leeway: u64,
    day_key: RefCell<Option<(String, [u8; 32])>>,
}

thread_local! { static CFG: RefCell<Option<Cfg>> = const { RefCell::new(None) }; }

/// Sets the isolate's configuration; a problem with it, if any, as a message.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    jwt_secret: &str,
    access: &str,
    secret: &str,
    endpoint: &str,
    bucket: &str,
    region: &str,
    target: &str,
    allowed: &str,
    max: &str,
    ttl: &str,
    leeway: &str,
) -> Option<String> {
    if jwt_secret.len() < 32 {
        return Some("JWT_SECRET must be at least 32 bytes".into());
    }
    let host = endpoint
        .split("://")
        .nth(1)
        .unwrap_or(endpoint)
        .trim_end_matches('/')
        .to_string();
    let cfg = Cfg {
        jwt: H::new_from_slice(jwt_secret.as_bytes()).ok()?,
        access: access.into(),
        secret: secret.into(),
        endpoint: endpoint.trim_end_matches('/').into(),
        host,
        bucket: bucket.into(),
        region: if region.is_empty() {
            "us-east-1".into()
        } else {
            region.into()
        },
        target: target.into(),
        allowed: allowed
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .collect(),
        max: max.parse().unwrap_or(104857600),
        ttl: ttl.parse().unwrap_or(300),
        leeway: leeway.parse().unwrap_or(60),
        day_key: RefCell::new(None),
    };
    CFG.with(|c| *c.borrow_mut() = Some(cfg));
    None
}

#[derive(Deserialize)]
struct Header<'a> {
    alg: &'a str,
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    exp: Option<f64>,
    nbf: Option<f64>,
    max_size: Option<f64>,
}

#[derive(Deserialize)]
struct Body {
    filename: String,
    content_type: String,
    size: u64,
}

fn err(status: u16, code: &str, message: &str) -> String {
    format!(
        "{status}{{\"error\":{{\"code\":\"{code}\",\"message\":{}}}}}",
        q(message)
    )
}

fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn b64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
}

fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

fn enc(s: &str, slash: bool, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if slash => out.push('/'),
            _ => {
                out.push('%');
                out.push_str(&format!("{b:02X}"));
            }
        }
    }
}

fn mac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = H::new_from_slice(key).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}

fn allowed(cfg: &Cfg, essence: &str) -> bool {
    let ty = essence.split('/').next().unwrap_or("");
    cfg.allowed
        .iter()
        .any(|p| p == "*/*" || p == essence || (p.ends_with("/*") && &p[..p.len() - 2] == ty))
}

fn sanitize(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    if base.chars().any(|c| c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')) {
        return None;
    }
    let clean = base.trim().trim_end_matches(['.', ' ']);
    if clean.is_empty() || clean == "." || clean == ".." {
        return None;
    }
    Some(clean.chars().take(200).collect())
}

/// The whole job; the answer is "STATUS" followed by the JSON body.
#[wasm_bindgen]
pub fn handle(auth: &str, content_type: &str, body: &[u8], now: f64, uuid: &str) -> String {
    let now = now as u64;
    CFG.with(|c| match &*c.borrow() {
        Some(cfg) => job(cfg, auth, content_type, body, now, uuid),
        None => err(500, "not_configured", "the worker is not configured"),
    })
}

fn job(cfg: &Cfg, auth: &str, ct: &str, body: &[u8], now: u64, uuid: &str) -> String {
    let a = auth.trim();
    let token = match a.split_once(' ') {
        Some((s, t)) if s.eq_ignore_ascii_case("bearer") && !t.trim().contains(' ') => t.trim(),
        _ => return err(401, "missing_token", "use Authorization: Bearer <token>"),
    };
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return err(401, "invalid_token", "the token was refused: malformed");
    };
    let Some(hb) = b64(h) else {
        return err(401, "invalid_token", "the token was refused: header");
    };
    match serde_json::from_slice::<Header>(&hb) {
        Ok(hd) if hd.alg == "HS256" => {}
        _ => return err(401, "invalid_token", "the token was refused: algorithm"),
    }
    let Some(sig) = b64(s) else {
        return err(401, "invalid_token", "the token was refused: signature");
    };
    let mut m = cfg.jwt.clone();
    m.update(&token.as_bytes()[..h.len() + 1 + p.len()]);
    if m.verify_slice(&sig).is_err() {
        return err(401, "invalid_token", "the token was refused: signature");
    }
    let Some(pb) = b64(p) else {
        return err(401, "invalid_token", "the token was refused: payload");
    };
    let Ok(claims) = serde_json::from_slice::<Claims>(&pb) else {
        return err(401, "invalid_token", "the token was refused: claims");
    };
    let (Some(sub), Some(exp)) = (claims.sub, claims.exp) else {
        return err(
            401,
            "invalid_token",
            "the token was refused: missing claims",
        );
    };
    let nowf = now as f64;
    if exp + (cfg.leeway as f64) <= nowf {
        return err(401, "invalid_token", "the token was refused: expired");
    }
    if claims.nbf.is_some_and(|n| n > nowf + cfg.leeway as f64) {
        return err(401, "invalid_token", "the token was refused: not yet valid");
    }
    if sub.is_empty() || sub.contains('/') {
        return err(
            403,
            "invalid_subject",
            "the token's subject cannot name a key",
        );
    }
    if !ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/json")
    {
        return err(
            415,
            "unsupported_media_type",
            "send the body as application/json",
        );
    }
    let Ok(b) = serde_json::from_slice::<Body>(body) else {
        return err(
            400,
            "invalid_request",
            "filename, content_type (strings) and size (integer) are required",
        );
    };
    let value = b.content_type.trim();
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence.split('/').count() != 2 {
        return err(
            422,
            "invalid_content_type",
            "content_type is not a media type like image/png",
        );
    }
    if !allowed(cfg, &essence) {
        return err(
            422,
            "content_type_not_allowed",
            &format!("content type {essence} is not allowed"),
        );
    }
    let max = claims.max_size.map_or(cfg.max, |m| (m as u64).min(cfg.max));
    if b.size > max {
        return err(
            422,
            "size_too_large",
            &format!("size {} is over the maximum of {max} bytes", b.size),
        );
    }
    let Some(name) = sanitize(&b.filename) else {
        return err(422, "invalid_filename", "filename is not usable");
    };
    let ttl = cfg.ttl.min((exp as i64 - now as i64).max(0) as u64);
    if ttl == 0 {
        return err(
            403,
            "token_expiring",
            "the token expires now; get a fresh one",
        );
    }
    let key = format!("{sub}/{uuid}/{name}");

    // SigV4, query-signed PUT.
    let (y, mo, d, hh, mi, ss) = civil(now);
    let date = format!("{y:04}{mo:02}{d:02}");
    let amz = format!("{date}T{hh:02}{mi:02}{ss:02}Z");
    let scope = format!("{date}/{}/s3/aws4_request", cfg.region);
    let mut path = String::from("/");
    enc(&cfg.bucket, false, &mut path);
    path.push('/');
    enc(&key, true, &mut path);
    let mut query = String::from("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
    enc(&format!("{}/{scope}", cfg.access), false, &mut query);
    query.push_str(&format!(
        "&X-Amz-Date={amz}&X-Amz-Expires={ttl}&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"
    ));
    let canonical = format!(
        "PUT\n{path}\n{query}\ncontent-length:{}\ncontent-type:{value}\nhost:{}\n\ncontent-length;content-type;host\nUNSIGNED-PAYLOAD",
        b.size, cfg.host
    );
    let sts = format!(
        "AWS4-HMAC-SHA256\n{amz}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut dk = cfg.day_key.borrow_mut();
    let k = match &*dk {
        Some((d, k)) if *d == date => *k,
        _ => {
            let k1 = mac(format!("AWS4{}", cfg.secret).as_bytes(), date.as_bytes());
            let k2 = mac(&k1, cfg.region.as_bytes());
            let k3 = mac(&k2, b"s3");
            let k4 = mac(&k3, b"aws4_request");
            *dk = Some((date.clone(), k4));
            k4
        }
    };
    let signature = hex::encode(mac(&k, sts.as_bytes()));
    let url = format!("{}{path}?{query}&X-Amz-Signature={signature}", cfg.endpoint);
    let (ey, emo, ed, eh, emi, es) = civil(now + ttl);
    format!(
        "200{{\"method\":\"PUT\",\"url\":{},\"headers\":{{\"content-length\":\"{}\",\"content-type\":{}}},\"key\":{},\"bucket\":{},\"target\":{},\"expires_at\":\"{ey:04}-{emo:02}-{ed:02}T{eh:02}:{emi:02}:{es:02}Z\",\"expires_in\":{ttl}}}",
        q(&url),
        b.size,
        q(value),
        q(&key),
        q(&cfg.bucket),
        q(&cfg.target)
    )
}
