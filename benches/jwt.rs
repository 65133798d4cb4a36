//! HS256 verification of a typical ~300-byte token: ours against the `jsonwebtoken` crate on the
//! same token, in the same run. Run with `cargo bench --bench jwt`; medians are in
//! `target/criterion/hs256_verify/*/new/estimates.json`.
#![cfg_attr(target_arch = "wasm32", allow(unused))]

#[cfg(not(target_arch = "wasm32"))]
mod common;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::hint::black_box;
    use std::time::{SystemTime, UNIX_EPOCH};

    use criterion::Criterion;
    use jsonwebtoken::{Algorithm as JAlg, DecodingKey, EncodingKey, Header};
    use presign_worker::jwt::{self, KeySet, Validation};
    use serde::Deserialize;
    use serde_json::{json, Value};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    /// What an application using jsonwebtoken would decode into: the same claims as ours.
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct TheirClaims {
        sub: String,
        iss: String,
        aud: String,
        exp: u64,
        iat: u64,
        prefix: String,
        content_types: Vec<String>,
        max_size: u64,
    }

    pub fn benches(c: &mut Criterion) {
        // jsonwebtoken reads the clock itself, so the token is valid for real.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let claims = json!({
            "sub": "user-4f2a9c",
            "iss": "https://auth.example.com",
            "aud": "presign",
            "exp": now + 3600,
            "iat": now,
            "prefix": "uploads/user-4f2a9c/",
            "content_types": ["image/jpeg"],
            "max_size": 10_485_760u64,
        });
        // Signed by jsonwebtoken, so both sides verify a token neither made specially for itself.
        let token = jsonwebtoken::encode(
            &Header::new(JAlg::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();

        let keys = KeySet::from_secret(SECRET);
        let ours = Validation {
            issuers: vec!["https://auth.example.com".into()],
            audiences: vec!["presign".into()],
            ..Validation::default()
        };
        let decoding_key = DecodingKey::from_secret(SECRET);
        let mut theirs = jsonwebtoken::Validation::new(JAlg::HS256);
        theirs.set_required_spec_claims(&["exp", "sub"]);
        theirs.set_issuer(&["https://auth.example.com"]);
        theirs.set_audience(&["presign"]);

        // Both accept it before anything is timed.
        let verified = jwt::verify(&token, &keys, &ours, now).unwrap();
        assert_eq!(verified.max_size, Some(10_485_760));
        jsonwebtoken::decode::<TheirClaims>(&token, &decoding_key, &theirs).unwrap();

        let mut g = c.benchmark_group("hs256_verify");
        g.throughput(criterion::Throughput::Bytes(token.len() as u64));
        println!("token: {} bytes", token.len());
        g.bench_function("presign_worker", |b| {
            b.iter(|| jwt::verify(black_box(&token), &keys, &ours, black_box(now)).unwrap())
        });
        g.bench_function("jsonwebtoken", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<TheirClaims>(black_box(&token), &decoding_key, &theirs)
                    .unwrap()
            })
        });
        g.bench_function("jsonwebtoken_value", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<Value>(black_box(&token), &decoding_key, &theirs).unwrap()
            })
        });
        g.finish();
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let mut c = criterion::Criterion::default().configure_from_args();
    native::benches(&mut c);
    c.final_summary();
    common::print_ratio("hs256_verify", "presign_worker", "jsonwebtoken");
    common::print_ratio("hs256_verify", "presign_worker", "jsonwebtoken_value");
}

#[cfg(target_arch = "wasm32")]
fn main() {}
