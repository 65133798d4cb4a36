//! `presign url`, the command-line presigner, on the S3 documentation's example.
use std::process::{Command, Output};

fn presign(args: &[&str], token: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_presign"));
    cmd.arg("url")
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        )
        .env_remove("AWS_SESSION_TOKEN");
    if let Some(t) = token {
        cmd.env("AWS_SESSION_TOKEN", t);
    }
    cmd.output().unwrap()
}

const DOC_EXAMPLE: &[&str] = &[
    "--endpoint",
    "https://s3.amazonaws.com",
    "--region",
    "us-east-1",
    "--bucket",
    "examplebucket",
    "--key",
    "test.txt",
    "--expires",
    "86400",
    "--time",
    "20130524T000000Z",
];

#[test]
fn prints_the_documented_url() {
    let out = presign(DOC_EXAMPLE, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
         &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    );
}

#[test]
fn json_output_lists_headers_and_session_token_is_signed() {
    let mut args = DOC_EXAMPLE.to_vec();
    args.extend([
        "--method",
        "PUT",
        "--header",
        "Content-Type: image/png",
        "--json",
        "--path-style",
    ]);
    let out = presign(&args, Some("TOKEN+/="));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["method"], "PUT");
    assert_eq!(v["headers"]["content-type"], "image/png");
    let url = v["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://s3.amazonaws.com/examplebucket/test.txt?"),
        "{url}"
    );
    assert!(
        url.contains("X-Amz-Security-Token=TOKEN%2B%2F%3D&"),
        "{url}"
    );
    assert!(
        url.contains("X-Amz-SignedHeaders=content-type%3Bhost&"),
        "{url}"
    );
}

#[test]
fn bad_input_exits_non_zero_with_a_reason() {
    let mut args = DOC_EXAMPLE.to_vec();
    args.extend(["--expires", "0"]);
    let out = presign(&args, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expires_out_of_range"));
    let out = presign(&["--bucket", "b"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = presign(&["--time", "yesterday"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn options_take_name_equals_value_as_well() {
    let joined: Vec<String> = DOC_EXAMPLE
        .chunks(2)
        .map(|pair| format!("{}={}", pair[0], pair[1]))
        .collect();
    let joined: Vec<&str> = joined.iter().map(String::as_str).collect();
    let separate = presign(DOC_EXAMPLE, None);
    let together = presign(&joined, None);
    assert!(
        together.status.success(),
        "{}",
        String::from_utf8_lossy(&together.stderr)
    );
    assert_eq!(together.stdout, separate.stdout);

    let mut args = joined.clone();
    args.extend(["--method=PUT", "--header=content-type: image/png", "--json"]);
    let out = presign(&args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["method"], "PUT");
    assert_eq!(v["headers"]["content-type"], "image/png");

    // A switch takes no value; an unknown option is named.
    let mut args = joined.clone();
    args.push("--json=yes");
    let out = presign(&args, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--json takes no value"));
    let mut args = joined;
    args.push("--colour=red");
    let out = presign(&args, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option --colour"));
}
