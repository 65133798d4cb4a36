//! Presigning a PUT with two signed headers (content-type, content-length): ours against the
//! `aws-sigv4` crate on the same input, in the same run. Run with `cargo bench --bench sigv4`.
#![cfg_attr(target_arch = "wasm32", allow(unused))]

#[cfg(not(target_arch = "wasm32"))]
mod common;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::hint::black_box;
    use std::time::{Duration, UNIX_EPOCH};

    use aws_sigv4::http_request::{
        sign, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
        SigningSettings, UriPathNormalizationMode,
    };
    use aws_sigv4::sign::v4;
    use aws_smithy_runtime_api::client::identity::Identity;
    use criterion::Criterion;
    use presign_worker::sigv4::{
        AddressingStyle, Bucket, Credentials, Endpoint, Method, ObjectRequest, Signer,
    };

    const NOW: u64 = 1_764_000_000;
    const KEY: &str = "alice/0b9f3c1e-6d2a-4c1b-9e57-3f0e2a9d4b21/holiday photo.jpg";
    const HEADERS: [(&str, &str); 2] = [
        ("content-type", "image/jpeg"),
        ("content-length", "2483911"),
    ];

    pub fn benches(c: &mut Criterion) {
        let mut g = c.benchmark_group("presign_put");
        let signer = Signer::s3(
            Credentials::new(
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                None,
            ),
            "auto",
        )
        .unwrap();
        let bucket = Bucket::new(
            &Endpoint::r2("0123456789abcdef0123456789abcdef").unwrap(),
            "uploads",
            AddressingStyle::Path,
        )
        .unwrap();
        g.bench_function("ours", |b| {
            b.iter(|| {
                let req = ObjectRequest {
                    method: Method::Put,
                    key: black_box(KEY),
                    query: &[],
                    headers: &HEADERS,
                };
                signer.presign(&bucket, &req, 300, black_box(NOW)).unwrap()
            })
        });

        let identity: Identity = aws_credential_types::Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "bench",
        )
        .into();
        // What the SDK does for S3: the key is URL-encoded first, then signed without re-encoding.
        let uri = format!(
            "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com/uploads/{}",
            aws_smithy_http::label::fmt_string(
                KEY,
                aws_smithy_http::label::EncodingStrategy::Greedy
            )
        );
        g.bench_function("aws-sigv4", |b| {
            b.iter(|| {
                let mut settings = SigningSettings::default();
                settings.percent_encoding_mode = PercentEncodingMode::Single;
                settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
                settings.signature_location = SignatureLocation::QueryParams;
                settings.expires_in = Some(Duration::from_secs(300));
                let params = v4::SigningParams::builder()
                    .identity(&identity)
                    .region("auto")
                    .name("s3")
                    .time(UNIX_EPOCH + Duration::from_secs(black_box(NOW)))
                    .settings(settings)
                    .build()
                    .unwrap()
                    .into();
                let req = SignableRequest::new(
                    "PUT",
                    black_box(uri.as_str()),
                    HEADERS.iter().copied(),
                    SignableBody::UnsignedPayload,
                )
                .unwrap();
                let (instructions, _sig) = sign(req, &params).unwrap().into_parts();
                // Build the final URL as a caller would.
                let mut url = uri.clone();
                for (i, (n, v)) in instructions.params().iter().enumerate() {
                    url.push(if i == 0 { '?' } else { '&' });
                    url.push_str(n);
                    url.push('=');
                    url.push_str(&aws_smithy_http::query::fmt_string(v));
                }
                url
            })
        });
        // A cold signing key (first request of the day): four extra HMACs.
        g.bench_function("ours-cold-key", |b| {
            b.iter(|| {
                let s = Signer::s3(
                    Credentials::new(
                        "AKIDEXAMPLE",
                        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                        None,
                    ),
                    "auto",
                )
                .unwrap();
                let req = ObjectRequest {
                    method: Method::Put,
                    key: black_box(KEY),
                    query: &[],
                    headers: &HEADERS,
                };
                s.presign(&bucket, &req, 300, black_box(NOW)).unwrap()
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
    common::print_ratio("presign_put", "ours", "aws-sigv4");
}

#[cfg(target_arch = "wasm32")]
fn main() {}
