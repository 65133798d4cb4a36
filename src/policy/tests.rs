//! Unit tests of the policy rules (`src/policy.rs`): each public function on its own.
//! Expected values are written out by hand (dates checked against Python's `datetime`,
//! base64 and percent-encoding against Python's `base64` and `urllib.parse.quote`), never
//! taken from this module's output.

use super::*;
use crate::config::Config;

/// 2026-01-01T00:00:00Z.
const NOW: u64 = 1_767_225_600;

/// The policy of a minimal configuration plus `extra` (later pairs win).
fn config(extra: &[(&str, &str)]) -> PolicyConfig {
    let base = [
        ("TARGET_UPLOADS_KIND", "custom"),
        ("TARGET_UPLOADS_ENDPOINT", "http://127.0.0.1:9000"),
        ("TARGET_UPLOADS_BUCKET", "uploads"),
        ("S3_ACCESS_KEY_ID", "AKIDTEST"),
        ("S3_SECRET_ACCESS_KEY", "s3-secret-0123456789"),
        ("JWT_SECRET", "policy-test-secret-0123456789-abcdef"),
    ];
    let all = [&base[..], extra].concat();
    let lookup = |name: &str| {
        all.iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    };
    Config::from_lookup(&lookup)
        .unwrap_or_else(|e| panic!("test configuration refused: {e}"))
        .policy
}

fn template(raw: &str) -> KeyTemplate {
    config(&[("KEY_TEMPLATE", raw)]).key_template
}

fn claims(sub: Option<&str>, prefix: Option<&str>) -> Claims {
    Claims {
        sub: sub.map(str::to_owned),
        prefix: prefix.map(str::to_owned),
        ..Claims::default()
    }
}

fn grant(sub: &str, prefix: Option<&str>, raw_template: &str) -> Result<Grant, PolicyError> {
    Grant::new(&claims(Some(sub), prefix), &template(raw_template))
}

/// The error code of a refusal, and whether it is a 403 or a 422.
fn refusal<T: fmt::Debug>(r: Result<T, PolicyError>) -> (Refusal, &'static str) {
    let e = r.expect_err("a refusal");
    (e.refusal, e.code)
}

const DEFAULT_TEMPLATE: &str = "{sub}/{uuid}/{filename}";

#[test]
fn sanitize_filename_keeps_the_last_path_component_trimmed() {
    for (given, kept) in [
        ("a.png", "a.png"),
        ("C:\\fakepath\\a.png", "a.png"),
        ("../../etc/passwd", "passwd"),
        ("dir/sub\\mixed/b.txt", "b.txt"),
        ("  report.pdf. . ", "report.pdf"),
        ("name with spaces.txt", "name with spaces.txt"),
        ("résumé.pdf", "résumé.pdf"),
        (".bashrc", ".bashrc"),
    ] {
        assert_eq!(sanitize_filename(given).as_deref(), Ok(kept), "{given:?}");
    }
}

#[test]
fn sanitize_filename_refuses_empty_dots_and_invisible_characters() {
    for given in [
        "",
        " ",
        ".",
        "..",
        "...",
        "a/",
        "a/..",
        "a\\.",
        "dir/ . ",
        "a\u{0}b",
        "a\nb.txt",
        "tab\t.txt",
        "a\u{7f}",
        "evil\u{202E}gnp.exe",
        "a\u{200F}b",
        "\u{FEFF}a.txt",
        "a\u{2066}b",
    ] {
        assert_eq!(
            refusal(sanitize_filename(given)),
            (Refusal::Invalid, "invalid_filename"),
            "{given:?}"
        );
    }
    // Only the last component is looked at: a bad directory name does not matter.
    assert_eq!(sanitize_filename("a\u{0}/b.txt").as_deref(), Ok("b.txt"));
}

#[test]
fn sanitize_filename_shortens_to_200_bytes_keeping_the_extension() {
    let long = format!("{}.jpeg", "a".repeat(300));
    let short = sanitize_filename(&long).unwrap();
    assert_eq!(short, format!("{}.jpeg", "a".repeat(195)));
    assert_eq!(short.len(), MAX_FILENAME_BYTES);
    // Exactly 200 bytes stays as it is.
    let exact = format!("{}.txt", "b".repeat(196));
    assert_eq!(sanitize_filename(&exact).unwrap(), exact);
    // No usable extension (too long, or not alphanumeric): the first 200 bytes.
    let ext_too_long = format!("{}.{}", "c".repeat(250), "x".repeat(17));
    assert_eq!(sanitize_filename(&ext_too_long).unwrap(), "c".repeat(200));
    let odd_ext = format!("{}.a-b", "d".repeat(250));
    assert_eq!(sanitize_filename(&odd_ext).unwrap(), "d".repeat(200));
    // The cut never splits a character: "a" + 150 × "é" (2 bytes each) + ".png" is cut to
    // 196 bytes of stem, which falls inside an "é", so 195 bytes are kept.
    let multibyte = format!("a{}.png", "é".repeat(150));
    let cut = sanitize_filename(&multibyte).unwrap();
    assert_eq!(cut, format!("a{}.png", "é".repeat(97)));
    assert_eq!(cut.len(), 199);
}

#[test]
fn extension_is_short_alphanumeric_and_lower_case() {
    for (name, ext) in [
        ("photo.JPG", "jpg"),
        ("archive.tar.gz", "gz"),
        ("a.b.C0", "c0"),
        (".bashrc", ""),
        ("noext", ""),
        ("trailing.", ""),
        ("a.b-c", ""),
        ("a.ünï", ""),
        ("x.abcdefghijklmnop", "abcdefghijklmnop"),
        ("x.abcdefghijklmnopq", ""),
    ] {
        assert_eq!(extension(name), ext, "{name:?}");
    }
}

#[test]
fn validate_key_refuses_what_s3_or_a_path_would_misread() {
    for ok in [
        "a",
        "a/b",
        "alice/x y/é.txt",
        "a.b/..c/d..",
        &"k".repeat(1024),
    ] {
        assert_eq!(validate_key(ok), Ok(()), "{ok:?}");
    }
    for bad in [
        "",
        "/a",
        "a/",
        "a//b",
        "a/./b",
        "a/../b",
        "..",
        ".",
        "a\\b",
        "a\u{0}",
        "a\u{202E}b",
        &"k".repeat(1025),
    ] {
        assert_eq!(
            refusal(validate_key(bad)),
            (Refusal::Invalid, "invalid_key"),
            "{bad:?}"
        );
    }
}

#[test]
fn the_implicit_grant_is_the_template_up_to_its_first_other_placeholder() {
    for (raw, prefix) in [
        (DEFAULT_TEMPLATE, Some("alice/")),
        ("users/{sub}/{filename}", Some("users/alice/")),
        ("users/{sub}/in/{uuid}", Some("users/alice/in/")),
        ("t/{sub}/{date}/{sub}/{uuid}", Some("t/alice/")),
        // The cut is after the last '/': a partial segment is not granted.
        ("{sub}-{uuid}", None),
        // No segment names the subject: nothing to name or read.
        ("uploads/{date}/{sub}/{uuid}", None),
        ("{uuid}/{sub}", None),
    ] {
        let g = grant("alice", None, raw).unwrap();
        assert_eq!(g.prefix.as_deref(), prefix, "{raw}");
        assert!(!g.prefix_from_claim);
        assert_eq!(g.sub, "alice");
    }
}

#[test]
fn a_prefix_claim_is_the_grant_whatever_the_template() {
    for p in [
        "team-a/",
        "team-a/partial",
        "a",
        "a/b/c/",
        "x/.hidden",
        "a/b..c",
    ] {
        let g = grant("alice", Some(p), DEFAULT_TEMPLATE).unwrap();
        assert_eq!(g.prefix.as_deref(), Some(p), "{p:?}");
        assert!(g.prefix_from_claim);
    }
    let long = "p".repeat(MAX_PREFIX_BYTES);
    assert!(grant("alice", Some(&long), DEFAULT_TEMPLATE).is_ok());
}

#[test]
fn unusable_prefix_claims_and_subjects_are_403() {
    let too_long = "p".repeat(MAX_PREFIX_BYTES + 1);
    for p in [
        "",
        "/abs",
        "a//b/",
        "a/./b",
        "a/../b",
        "../a",
        "a/..",
        "a/.",
        "..",
        "a\\b",
        "a\u{1}b",
        "a\u{202E}",
        too_long.as_str(),
    ] {
        assert_eq!(
            refusal(grant("alice", Some(p), DEFAULT_TEMPLATE)),
            (Refusal::Forbidden, "invalid_prefix_claim"),
            "{p:?}"
        );
    }
    let tpl = template(DEFAULT_TEMPLATE);
    assert_eq!(
        refusal(Grant::new(&claims(None, None), &tpl)),
        (Refusal::Forbidden, "no_subject")
    );
    let too_long = "s".repeat(257);
    for sub in [
        "",
        ".",
        "..",
        "a/b",
        "a\\b",
        "a\u{0}",
        "a\u{202E}b",
        too_long.as_str(),
    ] {
        assert_eq!(
            refusal(grant(sub, None, DEFAULT_TEMPLATE)),
            (Refusal::Forbidden, "invalid_subject"),
            "{sub:?}"
        );
    }
    assert!(grant(&"s".repeat(256), None, DEFAULT_TEMPLATE).is_ok());
}

#[test]
fn check_key_allows_only_keys_inside_the_grant() {
    let g = grant("alice", None, DEFAULT_TEMPLATE).unwrap();
    assert_eq!(g.check_key("alice/x/a.txt"), Ok(()));
    for outside in ["bob/a.txt", "alice", "alicex/a.txt", "Alice/a.txt"] {
        assert_eq!(
            refusal(g.check_key(outside)),
            (Refusal::Forbidden, "key_not_granted"),
            "{outside:?}"
        );
    }
    // The key's own form is checked first (a 422, not a 403).
    assert_eq!(
        refusal(g.check_key("alice/../bob/a.txt")),
        (Refusal::Invalid, "invalid_key")
    );
    // A partial last segment in a claim grants every key that starts with it.
    let partial = grant("alice", Some("team/pre"), DEFAULT_TEMPLATE).unwrap();
    assert_eq!(partial.check_key("team/prefix/a"), Ok(()));
    assert_eq!(
        refusal(partial.check_key("team/other")),
        (Refusal::Forbidden, "key_not_granted")
    );
    // No grant: nothing may be named or read.
    let none = grant("alice", None, "{uuid}/{sub}").unwrap();
    assert_eq!(
        refusal(none.check_key("alice/a")),
        (Refusal::Forbidden, "key_not_granted")
    );
}

#[test]
fn upload_key_fills_the_template() {
    let g = grant("alice", None, DEFAULT_TEMPLATE).unwrap();
    let tpl = template(DEFAULT_TEMPLATE);
    // The version (4) and variant (10xx) bits are set whatever the random bytes.
    assert_eq!(
        upload_key(&g, &tpl, "a.png", [0; 16], NOW).unwrap(),
        "alice/00000000-0000-4000-8000-000000000000/a.png"
    );
    assert_eq!(
        upload_key(&g, &tpl, "a.png", [0xff; 16], NOW).unwrap(),
        "alice/ffffffff-ffff-4fff-bfff-ffffffffffff/a.png"
    );
    let bytes: [u8; 16] = core::array::from_fn(|i| i as u8 * 17);
    assert_eq!(
        upload_key(&g, &tpl, "a.png", bytes, NOW).unwrap(),
        "alice/00112233-4455-4677-8899-aabbccddeeff/a.png"
    );
    let dated = template("{date}/{sub}/{ext}/{filename}");
    let g = grant("bob", None, "{date}/{sub}/{ext}/{filename}").unwrap();
    // 951782400 is 2000-02-29T00:00:00Z, 4107542399 is 2100-02-28T23:59:59Z.
    assert_eq!(
        upload_key(&g, &dated, "Photo.JPG", [0; 16], 951_782_400).unwrap(),
        "2000-02-29/bob/jpg/Photo.JPG"
    );
    assert_eq!(
        upload_key(&g, &dated, "x.tar", [0; 16], 4_107_542_399).unwrap(),
        "2100-02-28/bob/tar/x.tar"
    );
    // A name without extension leaves an empty segment here: refused, never signed.
    assert_eq!(
        refusal(upload_key(&g, &dated, "x", [0; 16], NOW)),
        (Refusal::Invalid, "invalid_key")
    );
}

#[test]
fn upload_key_goes_inside_a_prefix_claim() {
    let tpl = template(DEFAULT_TEMPLATE);
    let g = grant("alice", Some("team/"), DEFAULT_TEMPLATE).unwrap();
    assert_eq!(
        upload_key(&g, &tpl, "a.txt", [0; 16], NOW).unwrap(),
        "team/alice/00000000-0000-4000-8000-000000000000/a.txt"
    );
    // Not prepended again when the template already starts with the prefix.
    let own = template("team/{sub}/{filename}");
    let g = grant("alice", Some("team/"), "team/{sub}/{filename}").unwrap();
    assert_eq!(
        upload_key(&g, &own, "a.txt", [0; 16], NOW).unwrap(),
        "team/alice/a.txt"
    );
    // An implicit grant never changes the key.
    let g = grant("alice", None, "users/{sub}/{filename}").unwrap();
    let users = template("users/{sub}/{filename}");
    assert_eq!(
        upload_key(&g, &users, "a.txt", [0; 16], NOW).unwrap(),
        "users/alice/a.txt"
    );
}

#[test]
fn upload_key_refuses_keys_over_1024_bytes_and_unusable_clocks() {
    let raw = "{sub}/{filename}{filename}{filename}{filename}{filename}{filename}";
    let (tpl, g) = (template(raw), grant("alice", None, raw).unwrap());
    let name = "n".repeat(MAX_FILENAME_BYTES);
    assert_eq!(
        refusal(upload_key(&g, &tpl, &name, [0; 16], NOW)),
        (Refusal::Invalid, "key_too_long")
    );
    // 6 × 169 + "alice/" = 1020 bytes: fits.
    assert!(upload_key(&g, &tpl, &"n".repeat(169), [0; 16], NOW).is_ok());
    let dated = template("{sub}/{date}/{uuid}");
    let g = grant("alice", None, "{sub}/{date}/{uuid}").unwrap();
    assert_eq!(
        refusal(upload_key(&g, &dated, "a", [0; 16], u64::MAX)),
        (Refusal::Invalid, "invalid_time")
    );
}

#[test]
fn media_type_essence_is_the_lower_case_type_and_subtype() {
    for (value, essence) in [
        ("image/png", Some("image/png")),
        ("Image/PNG; charset=x", Some("image/png")),
        ("  text/plain  ;q=1", Some("text/plain")),
        ("application/vnd.api+json", Some("application/vnd.api+json")),
        ("text", None),
        ("text/", None),
        ("/plain", None),
        ("te xt/plain", None),
        ("text/pl(ain", None),
        ("", None),
        ("text/plain; charset=\"utf-8\"", Some("text/plain")),
        ("text/plain;;a=b;", Some("text/plain")),
        ("image/png; a=b, text/html", None),
        ("image/png, text/html", None),
        ("image/png; a=\"x,y\"", None),
        ("text/plain; charset", None),
        ("text/plain; charset=\"utf-8", None),
        ("text/plain; charset=utf 8", None),
    ] {
        assert_eq!(media_type_essence(value).as_deref(), essence, "{value:?}");
    }
}

#[test]
fn content_type_must_be_allowed_and_granted() {
    let cfg = config(&[("ALLOWED_CONTENT_TYPES", "text/plain,image/*")]);
    let any = claims(Some("alice"), None);
    assert_eq!(
        content_type(&cfg, &any, " text/plain; charset=utf-8 ").as_deref(),
        Ok("text/plain; charset=utf-8")
    );
    assert_eq!(
        refusal(content_type(&cfg, &any, "application/pdf")),
        (Refusal::Invalid, "content_type_not_allowed")
    );
    let too_long = format!("text/{}", "p".repeat(252));
    for bad in [
        "text/plain\u{7f}",
        "text/plain\u{e9}",
        "nope",
        too_long.as_str(),
    ] {
        assert_eq!(
            refusal(content_type(&cfg, &any, bad)),
            (Refusal::Invalid, "invalid_content_type"),
            "{bad:?}"
        );
    }
    // A claim narrows what the configuration allows, never widens it.
    let images = Claims {
        content_types: Some(vec!["image/*".to_owned()]),
        ..any.clone()
    };
    assert!(content_type(&cfg, &images, "image/png").is_ok());
    assert_eq!(
        refusal(content_type(&cfg, &images, "text/plain")),
        (Refusal::Forbidden, "content_type_not_granted")
    );
    let wider = Claims {
        content_types: Some(vec!["*/*".to_owned()]),
        ..any
    };
    assert_eq!(
        refusal(content_type(&cfg, &wider, "application/pdf")),
        (Refusal::Invalid, "content_type_not_allowed")
    );
}

#[test]
fn sizes_are_bounded_by_the_configuration_and_the_claim() {
    let cfg = config(&[("MAX_UPLOAD_SIZE", "1000")]);
    let no_claim = claims(Some("alice"), None);
    let narrower = Claims {
        max_size: Some(10),
        ..no_claim.clone()
    };
    let wider = Claims {
        max_size: Some(5000),
        ..no_claim.clone()
    };
    assert_eq!(max_upload_size(&cfg, &no_claim), 1000);
    assert_eq!(max_upload_size(&cfg, &narrower), 10);
    assert_eq!(max_upload_size(&cfg, &wider), 1000);
    assert_eq!(check_size(&cfg, &no_claim, 0), Ok(()));
    assert_eq!(check_size(&cfg, &no_claim, 1000), Ok(()));
    assert_eq!(
        refusal(check_size(&cfg, &no_claim, 1001)),
        (Refusal::Invalid, "size_too_large")
    );
    assert_eq!(check_size(&cfg, &narrower, 10), Ok(()));
    assert_eq!(
        refusal(check_size(&cfg, &narrower, 11)),
        (Refusal::Invalid, "size_too_large")
    );
    assert_eq!(
        refusal(check_size(&cfg, &wider, 1001)),
        (Refusal::Invalid, "size_too_large")
    );
}

#[test]
fn url_ttl_is_cut_to_the_token_life_unless_allowed() {
    let cfg = config(&[("URL_TTL", "3600")]);
    let exp = |e: f64| Claims {
        exp: Some(e),
        ..claims(Some("alice"), None)
    };
    assert_eq!(url_ttl(&cfg, &claims(Some("a"), None), NOW), Ok(3600));
    assert_eq!(url_ttl(&cfg, &exp((NOW + 7200) as f64), NOW), Ok(3600));
    assert_eq!(url_ttl(&cfg, &exp((NOW + 600) as f64), NOW), Ok(600));
    // A fractional exp counts down to its whole second.
    assert_eq!(url_ttl(&cfg, &exp(NOW as f64 + 1.9), NOW), Ok(1));
    for gone in [NOW as f64, NOW as f64 + 0.5, (NOW - 10) as f64] {
        assert_eq!(
            refusal(url_ttl(&cfg, &exp(gone), NOW)),
            (Refusal::Forbidden, "token_expiring"),
            "{gone}"
        );
    }
    let past = config(&[
        ("URL_TTL", "604800"),
        ("ALLOW_URL_PAST_TOKEN_EXPIRY", "true"),
    ]);
    assert_eq!(url_ttl(&past, &exp((NOW + 600) as f64), NOW), Ok(604_800));
    assert_eq!(url_ttl(&past, &exp(NOW as f64), NOW), Ok(604_800));
}

#[test]
fn metadata_becomes_x_amz_meta_headers_within_s3_limits() {
    let meta = |v: serde_json::Value| v.as_object().cloned().unwrap();
    assert_eq!(
        metadata_headers(&meta(serde_json::json!({ "a-b_1": " v ", "z": "" }))),
        Ok(vec![
            ("x-amz-meta-a-b_1".to_owned(), "v".to_owned()),
            ("x-amz-meta-z".to_owned(), String::new()),
        ])
    );
    let long_name = "n".repeat(65);
    for bad in [
        serde_json::json!({ "": "v" }),
        serde_json::json!({ "Upper": "v" }),
        serde_json::json!({ "a.b": "v" }),
        serde_json::json!({ long_name: "v" }),
        serde_json::json!({ "n": 1 }),
        serde_json::json!({ "n": null }),
        serde_json::json!({ "n": "caf\u{e9}" }),
        serde_json::json!({ "n": "a\nb" }),
        // 2 + 2047 bytes: one over S3's 2 KiB.
        serde_json::json!({ "n1": "v".repeat(2047) }),
    ] {
        assert_eq!(
            refusal(metadata_headers(&meta(bad.clone()))),
            (Refusal::Invalid, "invalid_metadata"),
            "{bad}"
        );
    }
    assert!(metadata_headers(&meta(serde_json::json!({ "n1": "v".repeat(2046) }))).is_ok());
    assert!(metadata_headers(&meta(serde_json::json!({ "n".repeat(64): "v" }))).is_ok());
}

#[test]
fn checksum_header_takes_sha256_or_crc32_in_standard_base64() {
    // SHA-256 of the empty string, and a CRC32 of 4 zero bytes, in standard base64.
    let sha = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    assert_eq!(
        checksum_header("sha256", sha),
        Ok(("x-amz-checksum-sha256", sha.to_owned()))
    );
    assert_eq!(
        checksum_header("crc32", "AAAAAA=="),
        Ok(("x-amz-checksum-crc32", "AAAAAA==".to_owned()))
    );
    for (alg, value) in [
        ("sha256", "AAAAAA=="),
        ("crc32", sha),
        // The URL-safe alphabet and missing padding are not standard base64.
        ("sha256", "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="),
        ("crc32", "AAAAAA"),
        ("sha256", ""),
        ("md5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
        ("SHA256", sha),
    ] {
        assert_eq!(
            refusal(checksum_header(alg, value)),
            (Refusal::Invalid, "invalid_checksum"),
            "{alg} {value}"
        );
    }
}

#[test]
fn content_disposition_has_an_ascii_fallback_and_the_utf8_form() {
    assert_eq!(
        content_disposition("a b.txt"),
        "attachment; filename=\"a b.txt\""
    );
    assert_eq!(
        content_disposition("résumé \"x\".pdf"),
        "attachment; filename=\"r_sum_ _x_.pdf\"; \
         filename*=UTF-8''r%C3%A9sum%C3%A9%20%22x%22.pdf"
    );
    assert_eq!(
        content_disposition("back\\slash"),
        "attachment; filename=\"back_slash\"; filename*=UTF-8''back%5Cslash"
    );
}

#[test]
fn guess_content_type_knows_the_common_extensions() {
    for (name, ty) in [
        ("a.avif", "image/avif"),
        ("a.bmp", "image/bmp"),
        ("a.csv", "text/csv"),
        ("a.gif", "image/gif"),
        ("a.tar.gz", "application/gzip"),
        ("a.heic", "image/heic"),
        ("a.htm", "text/html"),
        ("a.HTML", "text/html"),
        ("a.jpeg", "image/jpeg"),
        ("Photo.JPG", "image/jpeg"),
        ("a.js", "text/javascript"),
        ("a.json", "application/json"),
        ("a.m4a", "audio/mp4"),
        ("a.mov", "video/quicktime"),
        ("a.mp3", "audio/mpeg"),
        ("a.mp4", "video/mp4"),
        ("a.pdf", "application/pdf"),
        ("a.png", "image/png"),
        ("a.svg", "image/svg+xml"),
        ("a.tar", "application/x-tar"),
        ("a.tif", "image/tiff"),
        ("a.tiff", "image/tiff"),
        ("a.txt", "text/plain"),
        ("a.wav", "audio/wav"),
        ("a.webm", "video/webm"),
        ("a.webp", "image/webp"),
        ("a.xml", "application/xml"),
        ("a.zip", "application/zip"),
        ("a.exe", "application/octet-stream"),
        ("noext", "application/octet-stream"),
        (".png", "application/octet-stream"),
    ] {
        assert_eq!(guess_content_type(name), ty, "{name}");
    }
}

#[test]
fn upload_ids_and_part_numbers_have_s3_ranges() {
    let longest = "A".repeat(1024);
    for ok in ["a", "abc.DEF_0~9+/=-", longest.as_str()] {
        assert_eq!(validate_upload_id(ok), Ok(()), "{ok}");
    }
    let too_long = "A".repeat(1025);
    for bad in ["", "a b", "a%20", "a?b", "a&b", "é", too_long.as_str()] {
        assert_eq!(
            refusal(validate_upload_id(bad)),
            (Refusal::Invalid, "invalid_upload_id"),
            "{bad:?}"
        );
    }
    assert_eq!(validate_part_number(1), Ok(1));
    assert_eq!(validate_part_number(10_000), Ok(10_000));
    for bad in [0, 10_001, 65_536 + 1, u64::MAX] {
        assert_eq!(
            refusal(validate_part_number(bad)),
            (Refusal::Invalid, "invalid_part_number"),
            "{bad}"
        );
    }
}
