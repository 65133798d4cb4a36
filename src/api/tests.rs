//! Unit tests of the API's own helpers: `url_path` (against the `http` crate's URI parser),
//! `iso8601` (against dates checked with Python's `datetime`), the body parser and the
//! status of a policy refusal. Routes and statuses as a whole are tested through
//! `Service::handle` in `tests/native/api.rs`.

use super::body::parse;
use super::download::DownloadBody;
use super::upload::UploadBody;
use super::{iso8601, url_path, ApiError, Response};
use crate::policy::{self, Refusal};

#[test]
fn url_path_agrees_with_the_http_crate() {
    for url in [
        "https://example.com/",
        "https://example.com",
        "https://example.com/v1/uploads",
        "http://127.0.0.1:8787/v1/uploads?x=1&y=/z",
        "https://example.com:8443/a%3F%23%2Fb?c",
        "https://example.com?query",
        "https://user@example.com/healthz",
        "http://[::1]:8080/v1/sign?",
        "https://example.com//double//slash",
        "https://example.com/a/./b/../c",
        "https://example.com/%E2%82%AC?q=%E2%82%AC",
    ] {
        let uri: http::Uri = url.parse().expect("valid URI");
        assert_eq!(url_path(url), uri.path(), "{url}");
    }
    // Fragments never reach a server, but the path ends before one all the same.
    assert_eq!(url_path("https://example.com/a#/b?c"), "/a");
    assert_eq!(url_path("https://example.com#f"), "/");
}

#[test]
fn iso8601_writes_utc_seconds_as_an_rfc_3339_timestamp() {
    for (unix, text) in [
        (0, "1970-01-01T00:00:00Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
        (1_369_353_600, "2013-05-24T00:00:00Z"),
        (1_767_225_600 + 3_661, "2026-01-01T01:01:01Z"),
        (4_107_542_399, "2100-02-28T23:59:59Z"),
        (253_402_300_799, "9999-12-31T23:59:59Z"),
    ] {
        assert_eq!(iso8601(unix), text, "{unix}");
    }
    // Past year 9999 there is no four-digit year: nothing rather than a wrong date.
    assert_eq!(iso8601(253_402_300_800), "");
    assert_eq!(iso8601(u64::MAX), "");
}

#[test]
fn an_upload_body_takes_exactly_its_fields() {
    let body = br#"{"filename":"a.txt","content_type":"text/plain","size":18446744073709551615,
        "checksum":{"sha256":"x"},"metadata":{},"target":"t","key":"k"}"#;
    let b: UploadBody = parse(body).expect("a valid body");
    assert_eq!(
        (b.filename.as_str(), b.content_type.as_str()),
        ("a.txt", "text/plain")
    );
    assert_eq!(b.size, u64::MAX);
    assert_eq!(b.checksum.map(|c| c.len()), Some(1));
    assert_eq!(b.metadata.map(|m| m.len()), Some(0));
    assert_eq!(
        (b.target.as_deref(), b.key.as_deref()),
        (Some("t"), Some("k"))
    );
    // null is absent: allowed for optional fields, missing for required ones.
    let b: UploadBody = parse(
        br#"{"filename":"a","content_type":"t/p","size":0,"key":null,"target":null,
            "checksum":null,"metadata":null}"#,
    )
    .expect("nulls are absent");
    assert!(b.key.is_none() && b.target.is_none() && b.checksum.is_none());
}

#[test]
fn bodies_that_are_not_what_the_route_reads_are_refused_with_the_reason() {
    let refused = |body: &[u8], wanted: &str| {
        let e = parse::<UploadBody>(body).err().expect("refused");
        assert!(
            e.contains(wanted),
            "{e:?} for {}",
            String::from_utf8_lossy(body)
        );
        assert!(!e.contains("VALUE-7f3a"), "a value is quoted: {e}");
    };
    let ok = r#""filename":"a","content_type":"t/p""#;
    refused(b"[]", "must be a JSON object");
    refused(b"\"VALUE-7f3a\"", "must be a JSON object");
    refused(b"{", "");
    refused(format!("{{{ok}}}").as_bytes(), "missing field `size`");
    refused(
        format!("{{{ok},\"size\":null}}").as_bytes(),
        "missing field `size`",
    );
    for size in [
        "-1",
        "-0.5",
        "1.5",
        "1e-3",
        "\"5\"",
        "18446744073709551616",
        "9007199254740994.0",
        "1e300",
        "true",
    ] {
        refused(
            format!("{{{ok},\"size\":{size},\"key\":\"VALUE-7f3a\"}}").as_bytes(),
            "field `size` must be a whole number",
        );
    }
    refused(
        br#"{"filename":5,"content_type":"t/p","size":1}"#,
        "field `filename` must be a string",
    );
    refused(
        format!("{{{ok},\"size\":1,\"metadata\":[]}}").as_bytes(),
        "field `metadata` must be an object",
    );
    refused(
        format!("{{{ok},\"size\":1,\"extra\":\"VALUE-7f3a\"}}").as_bytes(),
        "unknown field `extra`",
    );
    // Duplicate member names are refused, not resolved to the first or the last.
    assert!(
        parse::<UploadBody>(format!("{{{ok},\"size\":1,\"filename\":\"b\"}}").as_bytes()).is_err()
    );
    assert!(parse::<DownloadBody>(br#"{"key":"a","key":"b"}"#).is_err());
    let d: DownloadBody = parse(br#"{"key":"a","filename":"f"}"#).expect("a download");
    assert_eq!((d.key.as_str(), d.filename.as_deref()), ("a", Some("f")));
}

#[test]
fn a_policy_refusal_is_403_or_422_with_its_code_and_message() {
    let no_grant = policy::Grant {
        sub: "alice".to_owned(),
        prefix: None,
        prefix_from_claim: false,
    };
    let forbidden = no_grant.check_key("alice/a.txt").expect_err("no grant");
    assert_eq!(forbidden.refusal, Refusal::Forbidden);
    let r = Response::from(ApiError::from(forbidden.clone()));
    assert_eq!((r.status, r.error_code), (403, Some("key_not_granted")));
    let body: serde_json::Value = serde_json::from_str(&r.body).expect("JSON");
    assert_eq!(body["error"]["code"], "key_not_granted");
    assert_eq!(
        body["error"]["message"],
        "the token grants no keys to name or read"
    );

    let invalid = policy::validate_part_number(0).expect_err("out of range");
    let r = Response::from(ApiError::from(invalid.clone()));
    assert_eq!((r.status, r.error_code), (422, Some("invalid_part_number")));
}

#[test]
fn whole_numbers_may_be_written_with_a_fraction_or_an_exponent() {
    // JSON Schema's `integer` is any number without a fractional part: `385.0` is 385, as
    // JSON parsers in Python and elsewhere write it. Exact up to 2^53.
    let ok = r#""filename":"a","content_type":"t/p""#;
    for (written, size) in [
        ("385", 385),
        ("385.0", 385),
        ("1e3", 1000),
        ("1E+3", 1000),
        ("0.0", 0),
        ("-0.0", 0),
        ("5368709120.0", 5_368_709_120),
        ("9007199254740992.0", 9_007_199_254_740_992),
        ("18446744073709551615", u64::MAX),
    ] {
        let body = format!("{{{ok},\"size\":{written}}}");
        let b: UploadBody = parse(body.as_bytes()).unwrap_or_else(|e| panic!("{written}: {e}"));
        assert_eq!(b.size, size, "{written}");
    }
}
