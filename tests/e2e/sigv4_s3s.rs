//! End to end against a real S3-compatible server (`s3s-fs`, which verifies SigV4): objects
//! go up and come back through our presigned URLs, and the server refuses every URL that was
//! tampered with or used against what it signs.
use crate::support::{http, multipart_form, now_secs, S3Store};
use presign_worker::sigv4::{
    AddressingStyle, Bucket, Credentials, Endpoint, Method, ObjectRequest, Payload, Signer,
};

fn setup() -> (S3Store, Signer, Bucket) {
    let store = S3Store::start_default();
    let signer = Signer::s3(
        Credentials::new(&store.access_key, &store.secret_key, None),
        "us-east-1",
    )
    .unwrap();
    let bucket = Bucket::new(
        &Endpoint::parse(&store.endpoint).unwrap(),
        &store.bucket,
        AddressingStyle::Path,
    )
    .unwrap();
    (store, signer, bucket)
}

fn presign(
    signer: &Signer,
    bucket: &Bucket,
    method: Method,
    key: &str,
    headers: &[(&str, &str)],
    expires: u32,
    now: u64,
) -> String {
    let req = ObjectRequest {
        method,
        key,
        query: &[],
        headers,
    };
    signer.presign(bucket, &req, expires, now).unwrap().url
}

#[test]
#[ignore = "end-to-end: needs s3s-fs; run by make test"]
fn put_and_get_through_presigned_urls() {
    let (store, signer, bucket) = setup();
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let len = body.len().to_string();
    for key in [
        "plain.bin",
        "dir/sub dir/ünï cødé + %20 (1).bin",
        "a~b_c-d.e!'*.bin",
    ] {
        let headers = [
            ("content-type", "application/octet-stream"),
            ("content-length", len.as_str()),
        ];
        let url = presign(
            &signer,
            &bucket,
            Method::Put,
            key,
            &headers,
            300,
            now_secs(),
        );
        let r = http("PUT", &url, &headers, &body);
        assert_eq!(r.status, 200, "PUT {key}: {}", r.text());
        assert_eq!(
            store.read_object(key).as_deref(),
            Some(&body[..]),
            "stored bytes of {key}"
        );

        let url = presign(&signer, &bucket, Method::Get, key, &[], 300, now_secs());
        let r = http("GET", &url, &[], b"");
        assert_eq!(r.status, 200, "GET {key}: {}", r.text());
        assert_eq!(r.body, body, "downloaded bytes of {key}");

        let url = presign(&signer, &bucket, Method::Head, key, &[], 300, now_secs());
        assert_eq!(http("HEAD", &url, &[], b"").status, 200);
    }
}

#[test]
#[ignore = "end-to-end: needs s3s-fs; run by make test"]
fn header_signed_requests_are_accepted() {
    let (store, signer, bucket) = setup();
    let body = b"signed in the Authorization header";
    let req = ObjectRequest {
        method: Method::Put,
        key: "header/signed.txt",
        query: &[],
        headers: &[("content-type", "text/plain")],
    };
    let signed = signer
        .sign(&bucket, &req, Payload::Bytes(body), now_secs())
        .unwrap();
    let headers: Vec<(&str, &str)> = signed
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let r = http("PUT", &signed.url, &headers, body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        store.read_object("header/signed.txt").as_deref(),
        Some(&body[..])
    );
    // The payload hash is signed: another body with the same headers is refused.
    let r = http(
        "PUT",
        &signed.url,
        &headers,
        b"signed in the Authorization headeR",
    );
    assert!(
        r.status >= 400,
        "a different body was accepted: {}",
        r.status
    );
}

#[test]
#[ignore = "end-to-end: needs s3s-fs; run by make test"]
fn the_store_refuses_what_was_not_signed() {
    let (store, signer, bucket) = setup();
    let body = b"exactly 24 bytes of text";
    let headers = [("content-type", "text/plain"), ("content-length", "24")];
    let url = presign(
        &signer,
        &bucket,
        Method::Put,
        "guarded.txt",
        &headers,
        300,
        now_secs(),
    );

    // A tampered signature.
    let sig_at = url.rfind("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut tampered = url.clone();
    let flipped = if &url[sig_at..=sig_at] == "0" {
        "1"
    } else {
        "0"
    };
    tampered.replace_range(sig_at..=sig_at, flipped);
    let r = http("PUT", &tampered, &headers, body);
    assert_eq!(r.status, 403, "tampered signature: {}", r.text());

    // Another content type than the signed one.
    let r = http(
        "PUT",
        &url,
        &[("content-type", "text/html"), ("content-length", "24")],
        body,
    );
    assert_eq!(r.status, 403, "wrong content-type: {}", r.text());

    // Another size than the signed one.
    let r = http(
        "PUT",
        &url,
        &[("content-type", "text/plain")],
        b"a longer body than the 24 signed",
    );
    assert_eq!(r.status, 403, "wrong content-length: {}", r.text());

    // Another key than the signed one (the path is signed).
    let other = url.replacen("/guarded.txt?", "/other.txt?", 1);
    assert_eq!(http("PUT", &other, &headers, body).status, 403, "other key");

    // Expired: signed 10 minutes ago for 60 seconds.
    let old = presign(
        &signer,
        &bucket,
        Method::Put,
        "guarded.txt",
        &headers,
        60,
        now_secs() - 600,
    );
    let r = http("PUT", &old, &headers, body);
    assert_eq!(r.status, 403, "expired URL: {}", r.text());

    // Another secret.
    let wrong = Signer::s3(
        Credentials::new(&store.access_key, "not-the-secret", None),
        "us-east-1",
    )
    .unwrap();
    let url2 = presign(
        &wrong,
        &bucket,
        Method::Put,
        "guarded.txt",
        &headers,
        300,
        now_secs(),
    );
    assert_eq!(
        http("PUT", &url2, &headers, body).status,
        403,
        "wrong secret"
    );

    assert_eq!(store.read_object("guarded.txt"), None, "nothing was stored");
    assert_eq!(store.read_object("other.txt"), None);

    // And the untouched URL works.
    let r = http("PUT", &url, &headers, body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(store.read_object("guarded.txt").as_deref(), Some(&body[..]));
}

#[test]
#[ignore = "end-to-end: needs s3s-fs; run by make test"]
fn post_policy_uploads_and_bounds_the_size() {
    use presign_worker::sigv4::PostConditions;
    let (store, signer, bucket) = setup();
    let cond = PostConditions {
        key: "posted/ok.png",
        content_type: "image/png",
        min_size: 1,
        max_size: 100,
    };
    let form = signer.post_policy(&bucket, &cond, 300, now_secs()).unwrap();
    let (ctype, body) = multipart_form(&pairs(&form.fields), &[7u8; 100]);
    let r = http("POST", &form.url, &[("content-type", &ctype)], &body);
    assert!(
        r.status == 204 || r.status == 200 || r.status == 201,
        "POST: {} {}",
        r.status,
        r.text()
    );
    assert_eq!(
        store.read_object("posted/ok.png").as_deref(),
        Some(&[7u8; 100][..])
    );

    // One byte over the range.
    let cond = PostConditions {
        key: "posted/big.png",
        ..cond
    };
    let form = signer.post_policy(&bucket, &cond, 300, now_secs()).unwrap();
    let (ctype, body) = multipart_form(&pairs(&form.fields), &[7u8; 101]);
    let r = http("POST", &form.url, &[("content-type", &ctype)], &body);
    assert!(
        r.status >= 400,
        "an oversized file was accepted: {}",
        r.status
    );
    assert_eq!(store.read_object("posted/big.png"), None);

    // A tampered field (another key than the policy's).
    let form = signer.post_policy(&bucket, &cond, 300, now_secs()).unwrap();
    let mut fields = form.fields.clone();
    fields
        .iter_mut()
        .filter(|(k, _)| k == "key")
        .for_each(|(_, v)| *v = "posted/evil.png".into());
    let (ctype, body) = multipart_form(&pairs(&fields), &[7u8; 10]);
    let r = http("POST", &form.url, &[("content-type", &ctype)], &body);
    assert!(
        r.status >= 400,
        "a key outside the policy was accepted: {}",
        r.status
    );
    assert_eq!(store.read_object("posted/evil.png"), None);
}

fn pairs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}
