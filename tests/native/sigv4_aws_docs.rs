//! Known answers from AWS's S3 documentation ("Authenticating Requests: Using Query Parameters"
//! and "Examples: Signature Calculations in AWS Signature Version 4"), computed by AWS.
use presign_worker::sigv4::{
    AddressingStyle, Bucket, Credentials, Endpoint, HeaderSignOptions, Method, ObjectRequest,
    Payload, RawRequest, SignError, Signer, Trace, EMPTY_SHA256,
};

/// The S3 documentation's secret has `/` where the SigV4 suite's has `+`.
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
/// 2013-05-24T00:00:00Z.
const NOW: u64 = 1_369_353_600;

fn signer() -> Signer {
    Signer::s3(Credentials::new(ACCESS_KEY, SECRET, None), "us-east-1").unwrap()
}

fn bucket() -> Bucket {
    Bucket::new(
        &Endpoint::parse("https://s3.amazonaws.com").unwrap(),
        "examplebucket",
        AddressingStyle::VirtualHosted,
    )
    .unwrap()
}

#[test]
fn query_auth_example_get_test_txt() {
    let req = ObjectRequest {
        method: Method::Get,
        key: "test.txt",
        query: &[],
        headers: &[],
    };
    let p = signer().presign(&bucket(), &req, 86_400, NOW).unwrap();
    // The documentation's URL, byte for byte.
    assert_eq!(
        p.url,
        "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
         &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    );
    assert!(p.headers.is_empty());
}

fn header_signed(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    payload_hash: &str,
) -> Trace {
    let req = RawRequest {
        method,
        origin: "https://examplebucket.s3.amazonaws.com",
        host: "examplebucket.s3.amazonaws.com",
        path,
        query,
        headers,
    };
    let opts = HeaderSignOptions {
        payload_hash,
        content_sha256_header: true,
        sign_session_token: true,
    };
    let mut trace = Trace::default();
    signer()
        .sign_raw(&req, &opts, NOW, Some(&mut trace))
        .unwrap();
    trace
}

#[test]
fn header_auth_example_get_object() {
    let t = header_signed(
        "GET",
        "/test.txt",
        &[],
        &[("Range", "bytes=0-9")],
        EMPTY_SHA256,
    );
    assert_eq!(
        t.canonical_request,
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
         x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
         x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        t.string_to_sign,
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
         7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
    );
    assert_eq!(
        t.signature,
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );

    // The same through the object-level API, which also builds the Authorization header.
    let req = ObjectRequest {
        method: Method::Get,
        key: "test.txt",
        query: &[],
        headers: &[("Range", "bytes=0-9")],
    };
    let s = signer()
        .sign(&bucket(), &req, Payload::Bytes(b""), NOW)
        .unwrap();
    assert_eq!(s.url, "https://examplebucket.s3.amazonaws.com/test.txt");
    let auth = &s
        .headers
        .iter()
        .find(|(n, _)| n == "authorization")
        .unwrap()
        .1;
    assert_eq!(
        *auth,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
         SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
         Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
            .replace(",S", ", S")
    );
}

#[test]
fn header_auth_example_put_object() {
    let body = b"Welcome to Amazon S3.";
    let req = ObjectRequest {
        method: Method::Put,
        key: "test$file.text",
        query: &[],
        headers: &[
            ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ],
    };
    let s = signer()
        .sign(&bucket(), &req, Payload::Bytes(body), NOW)
        .unwrap();
    assert_eq!(
        s.url,
        "https://examplebucket.s3.amazonaws.com/test%24file.text"
    );
    let get = |n: &str| s.headers.iter().find(|(k, _)| k == n).unwrap().1.clone();
    assert_eq!(
        get("x-amz-content-sha256"),
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
    );
    assert!(get("authorization").ends_with(
        "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, \
         Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
    ));
}

#[test]
fn header_auth_example_get_bucket_lifecycle() {
    let t = header_signed("GET", "/", &[("lifecycle", "")], &[], EMPTY_SHA256);
    assert!(t.canonical_request.starts_with("GET\n/\nlifecycle=\n"));
    assert_eq!(
        t.signature,
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
    );
}

#[test]
fn header_auth_example_list_objects() {
    let t = header_signed(
        "GET",
        "/",
        &[("prefix", "J"), ("max-keys", "2")],
        &[],
        EMPTY_SHA256,
    );
    assert!(t
        .canonical_request
        .starts_with("GET\n/\nmax-keys=2&prefix=J\n"));
    assert_eq!(
        t.signature,
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
    );
}

#[test]
fn bad_input_is_a_typed_error() {
    let s = signer();
    let b = bucket();
    let req = |key, headers| ObjectRequest {
        method: Method::Put,
        key,
        query: &[],
        headers,
    };
    assert_eq!(
        s.presign(&b, &req("", &[]), 60, NOW),
        Err(SignError::EmptyKey)
    );
    let (long, max) = ("k".repeat(1025), "k".repeat(1024));
    assert_eq!(
        s.presign(&b, &req(&long, &[]), 60, NOW),
        Err(SignError::KeyTooLong)
    );
    assert!(s.presign(&b, &req(&max, &[]), 60, NOW).is_ok());
    assert_eq!(
        s.presign(&b, &req("a\nb", &[]), 60, NOW),
        Err(SignError::KeyControlCharacter)
    );
    assert_eq!(
        s.presign(&b, &req("a\u{0}b", &[]), 60, NOW),
        Err(SignError::KeyControlCharacter)
    );
    assert_eq!(
        s.presign(&b, &req("k", &[]), 0, NOW),
        Err(SignError::ExpiresOutOfRange)
    );
    assert_eq!(
        s.presign(&b, &req("k", &[]), 604_801, NOW),
        Err(SignError::ExpiresOutOfRange)
    );
    assert!(s.presign(&b, &req("k", &[]), 604_800, NOW).is_ok());
    assert_eq!(
        s.presign(&b, &req("k", &[("bad name", "v")]), 60, NOW),
        Err(SignError::InvalidHeaderName)
    );
    assert_eq!(
        s.presign(&b, &req("k", &[("x", "v\r\nInjected: 1")]), 60, NOW),
        Err(SignError::InvalidHeaderValue)
    );
    assert_eq!(
        s.presign(&b, &req("k", &[("Host", "evil")]), 60, NOW),
        Err(SignError::ReservedHeader)
    );
    assert_eq!(
        s.presign(&b, &req("k", &[("X-Amz-Date", "x")]), 60, NOW),
        Err(SignError::ReservedHeader)
    );
    let q = ObjectRequest {
        method: Method::Get,
        key: "k",
        query: &[("X-Amz-Signature", "x")],
        headers: &[],
    };
    assert_eq!(
        s.presign(&b, &q, 60, NOW),
        Err(SignError::ReservedQueryParameter)
    );
    assert_eq!(
        s.presign(&b, &req("k", &[]), 60, u64::MAX),
        Err(SignError::TimeOutOfRange)
    );
    assert!(Signer::s3(Credentials::new("", SECRET, None), "us-east-1").is_err());
    assert!(Signer::s3(Credentials::new(ACCESS_KEY, SECRET, None), "").is_err());
    assert!(Signer::s3(Credentials::new(ACCESS_KEY, SECRET, None), "US_EAST").is_err());
}

#[test]
fn keys_are_encoded_once_and_never_normalised() {
    let local = Bucket::new(
        &Endpoint::parse("http://127.0.0.1:9000").unwrap(),
        "b",
        AddressingStyle::Path,
    );
    // "b" is too short for a bucket; use a valid one.
    assert_eq!(local, Err(SignError::InvalidBucket));
    let local = Bucket::new(
        &Endpoint::parse("http://127.0.0.1:9000").unwrap(),
        "bkt",
        AddressingStyle::Path,
    )
    .unwrap();
    let req = ObjectRequest {
        method: Method::Get,
        key: "a//b/./../c d+e%f~ü",
        query: &[],
        headers: &[],
    };
    let p = signer().presign(&local, &req, 60, NOW).unwrap();
    assert!(
        p.url.starts_with(
            "http://127.0.0.1:9000/bkt/a//b/./../c%20d%2Be%25f~%C3%BC?X-Amz-Algorithm="
        ),
        "{}",
        p.url
    );
}

#[test]
fn debug_output_hides_secrets() {
    let creds = Credentials::new(ACCESS_KEY, SECRET, Some("SESSIONTOKEN"));
    let s = Signer::s3(creds.clone(), "us-east-1").unwrap();
    for text in [format!("{creds:?}"), format!("{s:?}")] {
        assert!(
            !text.contains(SECRET) && !text.contains("SESSIONTOKEN"),
            "{text}"
        );
        assert!(text.contains(ACCESS_KEY));
    }
}

/// "Example: Browser-Based Upload using HTTP POST (Using AWS Signature Version 4)": the policy
/// document exactly as AWS shows it (CRLF line ends), its base64 form and its signature.
#[test]
fn post_policy_example() {
    let document = [
        r#"{ "expiration": "2015-12-30T12:00:00.000Z","#,
        r#"  "conditions": ["#,
        r#"    {"bucket": "sigv4examplebucket"},"#,
        r#"    ["starts-with", "$key", "user/user1/"],"#,
        r#"    {"acl": "public-read"},"#,
        r#"    {"success_action_redirect": "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html"},"#,
        r#"    ["starts-with", "$Content-Type", "image/"],"#,
        r#"    {"x-amz-meta-uuid": "14365123651274"},"#,
        r#"    {"x-amz-server-side-encryption": "AES256"},"#,
        r#"    ["starts-with", "$x-amz-meta-tag", ""],"#,
        "",
        r#"    {"x-amz-credential": "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"},"#,
        r#"    {"x-amz-algorithm": "AWS4-HMAC-SHA256"},"#,
        r#"    {"x-amz-date": "20151229T000000Z" }"#,
        r#"  ]"#,
        r#"}"#,
    ]
    .join("\r\n");
    // 2015-12-29T00:00:00Z.
    let (policy, signature) = signer()
        .sign_policy_document(&document, 1_451_347_200)
        .unwrap();
    assert_eq!(
        policy,
        "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9"
    );
    assert_eq!(
        signature,
        "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
    );
}

#[test]
fn post_policy_form_fields() {
    use presign_worker::sigv4::PostConditions;
    let cond = PostConditions {
        key: "user/a b.png",
        content_type: "image/png",
        min_size: 1,
        max_size: 1000,
    };
    let form = signer().post_policy(&bucket(), &cond, 600, NOW).unwrap();
    assert_eq!(form.url, "https://examplebucket.s3.amazonaws.com/");
    let get = |n: &str| {
        form.fields
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(get("key"), "user/a b.png");
    assert_eq!(
        get("x-amz-credential"),
        "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"
    );
    assert_eq!(get("x-amz-date"), "20130524T000000Z");
    use base64::Engine as _;
    let doc: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(get("policy"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(doc["expiration"], "2013-05-24T00:10:00.000Z");
    let conds = doc["conditions"].as_array().unwrap();
    assert!(conds.contains(&serde_json::json!(["content-length-range", 1, 1000])));
    assert!(conds.contains(&serde_json::json!(["eq", "$key", "user/a b.png"])));
    // The signature is the documented HMAC of the base64 policy with the day's key.
    let (_, sig) = signer()
        .sign_policy_document(
            &String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(get("policy"))
                    .unwrap(),
            )
            .unwrap(),
            NOW,
        )
        .unwrap();
    assert_eq!(get("x-amz-signature"), sig);
    let path = Bucket::new(
        &Endpoint::parse("http://127.0.0.1:9000").unwrap(),
        "bkt",
        AddressingStyle::Path,
    )
    .unwrap();
    assert_eq!(
        signer().post_policy(&path, &cond, 600, NOW).unwrap().url,
        "http://127.0.0.1:9000/bkt"
    );
}
