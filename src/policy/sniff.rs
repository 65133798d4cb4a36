//! Content sniffing: whether an object's first bytes are of the content type it is stored
//! with, by the magic numbers of the format (pure; the bytes come from a ranged GET of at
//! most [`SNIFF_BYTES`](crate::store::get_range::SNIFF_BYTES)).
//!
//! | content type | the first bytes must be |
//! | --- | --- |
//! | `image/png` | `89 50 4E 47 0D 0A 1A 0A` |
//! | `image/jpeg` (`image/jpg`, `image/pjpeg`) | `FF D8 FF` |
//! | `image/gif` | `GIF87a` or `GIF89a` |
//! | `image/webp` | `RIFF`, 4 bytes of size, `WEBP` |
//! | `image/avif` | an ISO BMFF `ftyp` box whose major or a compatible brand is `avif` or `avis` |
//! | `application/pdf` | `%PDF-` |
//! | `application/zip`, `application/x-zip-compressed`, the OOXML types (`.docx`, `.xlsx`, `.pptx`), the OpenDocument text, spreadsheet and presentation types | a ZIP local file header `PK\x03\x04` (an empty `application/zip`: `PK\x05\x06`) |
//! | `application/epub+zip` | a ZIP whose first entry is the stored file `mimetype` holding `application/epub+zip` (EPUB's OCF rule) |
//! | `text/*`, `application/json`, `*/*+json` | valid UTF-8 without NUL bytes (a character cut at the end of the bytes read passes); a `charset` parameter other than `utf-8` or `us-ascii` has no rule |
//!
//! Every other type has no rule and passes ([`Verdict::NoRule`]): the worker cannot tell what
//! `application/octet-stream` should look like.

/// What the first bytes say about the content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The bytes are of the type.
    Matches,
    /// The bytes are not of the type; the text says what they lack.
    Differs(&'static str),
    /// There is no rule for the type: it passes.
    NoRule,
}

/// The rule of one content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Png,
    Jpeg,
    Gif,
    Webp,
    Avif,
    Pdf,
    Zip,
    Epub,
    Utf8Text,
}

/// The OOXML and OpenDocument types: ZIP archives.
const ZIP_TYPES: &[&str] = &[
    "application/zip",
    "application/x-zip-compressed",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
];

/// The rule for a `Content-Type` value (parameters allowed), if there is one.
fn rule(content_type: &str) -> Option<Rule> {
    let essence = super::media_type_essence(content_type)?;
    Some(match essence.as_str() {
        "image/png" => Rule::Png,
        "image/jpeg" | "image/jpg" | "image/pjpeg" => Rule::Jpeg,
        "image/gif" => Rule::Gif,
        "image/webp" => Rule::Webp,
        "image/avif" => Rule::Avif,
        "application/pdf" => Rule::Pdf,
        "application/epub+zip" => Rule::Epub,
        e if ZIP_TYPES.contains(&e) => Rule::Zip,
        e if e.starts_with("text/") || e == "application/json" || e.ends_with("+json") => {
            match charset(content_type) {
                None => Rule::Utf8Text,
                Some(c)
                    if c.eq_ignore_ascii_case("utf-8") || c.eq_ignore_ascii_case("us-ascii") =>
                {
                    Rule::Utf8Text
                }
                Some(_) => return None,
            }
        }
        _ => return None,
    })
}

/// The `charset` parameter of a `Content-Type` value, unquoted.
fn charset(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// Whether the worker has a rule for `content_type` (else it need not read any byte).
pub fn has_rule(content_type: &str) -> bool {
    rule(content_type).is_some()
}

/// Checks `head`, the object's first bytes, against `content_type` (the object's stored
/// `Content-Type` value). `whole` is true when `head` is the whole object (a character cut at
/// its end is then broken text, not the cut of the read).
pub fn sniff(content_type: &str, head: &[u8], whole: bool) -> Verdict {
    let Some(rule) = rule(content_type) else {
        return Verdict::NoRule;
    };
    let ok = match rule {
        Rule::Png => head.starts_with(b"\x89PNG\r\n\x1a\n"),
        Rule::Jpeg => head.starts_with(b"\xff\xd8\xff"),
        Rule::Gif => head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a"),
        Rule::Webp => head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP",
        Rule::Avif => is_avif(head),
        Rule::Pdf => head.starts_with(b"%PDF-"),
        Rule::Zip => {
            head.starts_with(b"PK\x03\x04")
                || (head.starts_with(b"PK\x05\x06")
                    && super::media_type_essence(content_type).as_deref()
                        == Some("application/zip"))
        }
        Rule::Epub => {
            head.starts_with(b"PK\x03\x04")
                && head.get(30..58) == Some(b"mimetypeapplication/epub+zip".as_slice())
        }
        Rule::Utf8Text => is_text(head, whole),
    };
    if ok {
        return Verdict::Matches;
    }
    Verdict::Differs(match rule {
        Rule::Png => "no PNG signature",
        Rule::Jpeg => "no JPEG start of image",
        Rule::Gif => "no GIF header",
        Rule::Webp => "no RIFF WEBP header",
        Rule::Avif => "no ftyp box of brand avif or avis",
        Rule::Pdf => "no %PDF- header",
        Rule::Zip => "no ZIP local file header",
        Rule::Epub => "not a ZIP starting with the EPUB mimetype entry",
        Rule::Utf8Text => "not UTF-8 text without NUL bytes",
    })
}

/// An ISO BMFF `ftyp` box first, with `avif` or `avis` as its major or a compatible brand.
fn is_avif(head: &[u8]) -> bool {
    if head.len() < 16 || &head[4..8] != b"ftyp" {
        return false;
    }
    let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if size < 16 || size % 4 != 0 {
        return false;
    }
    let end = size.min(head.len());
    let brand = |b: &[u8]| b == b"avif" || b == b"avis";
    // Major brand at 8, minor version at 12, then compatible brands.
    brand(&head[8..12]) || head[16..end].chunks_exact(4).any(brand)
}

/// Valid UTF-8 (but for a character cut at the end when `head` is not the whole object)
/// without a NUL byte.
fn is_text(head: &[u8], whole: bool) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // `error_len() == None`: the bytes end inside a character, which the read may have cut.
        Err(e) => !whole && e.error_len().is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The first bytes of real files (from `xxd -l 64` of files made by common tools).
    /// A 1x1 PNG (ImageMagick).
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89";
    /// A JPEG/JFIF (libjpeg).
    const JPEG: &[u8] =
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb\x00C\x00";
    /// A JPEG/Exif (a phone camera).
    const JPEG_EXIF: &[u8] = b"\xff\xd8\xff\xe1\x1c\x45Exif\x00\x00MM\x00*";
    const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04";
    /// A lossy WebP (cwebp).
    const WEBP: &[u8] = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x000\x01\x00\x9d\x01\x2a";
    /// An AVIF of libavif: `ftyp` of size 0x20, major brand `avif`.
    const AVIF: &[u8] =
        b"\x00\x00\x00\x20ftypavif\x00\x00\x00\x00avifmif1miafMA1B\x00\x00\x00\xf2meta";
    /// An AVIF whose major brand is `mif1`, `avif` compatible (some encoders).
    const AVIF_MIF1: &[u8] =
        b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf\x00\x00\x00\xf2meta";
    /// A HEIC photo: ISO BMFF too, but not AVIF.
    const HEIC: &[u8] = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic\x00\x00\x01\xfemeta";
    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<</Type/Catalog/Pages 2 0 R>>";
    /// A .docx (Word): the first entry is `[Content_Types].xml`.
    const DOCX: &[u8] = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xdf\xa4\xd2lZ\x01\x00\x00 \x05\x00\x00\x13\x00\x08\x02[Content_Types].xml";
    /// An EPUB: the stored `mimetype` entry first.
    const EPUB: &[u8] = b"PK\x03\x04\x0a\x00\x00\x00\x00\x00\x00\x00!\x00o a,\x14\x00\x00\x00\x14\x00\x00\x00\x08\x00\x00\x00mimetypeapplication/epub+zipPK\x03\x04";
    const EMPTY_ZIP: &[u8] =
        b"PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";

    const OOXML: [&str; 3] = [
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ];

    #[test]
    fn real_headers_match_their_types() {
        for (ty, head) in [
            ("image/png", PNG),
            ("image/jpeg", JPEG),
            ("image/jpeg", JPEG_EXIF),
            ("IMAGE/JPG", JPEG),
            ("image/gif", GIF),
            ("image/gif", b"GIF87a\x01\x00".as_slice()),
            ("image/webp", WEBP),
            ("image/avif", AVIF),
            ("image/avif", AVIF_MIF1),
            ("application/pdf", PDF),
            ("application/zip", DOCX),
            ("application/zip", EMPTY_ZIP),
            ("application/epub+zip", EPUB),
            ("application/zip", EPUB),
            ("text/plain", b"hello\n".as_slice()),
            (
                "text/plain; charset=utf-8",
                "gr\u{fc}\u{df}e \u{1f600}".as_bytes(),
            ),
            ("application/json", br#"{"a":[1,2]}"#.as_slice()),
            ("application/ld+json", b"{}".as_slice()),
            ("text/csv", b"".as_slice()),
        ] {
            assert_eq!(sniff(ty, head, false), Verdict::Matches, "{ty}");
        }
        for ty in OOXML {
            assert_eq!(sniff(ty, DOCX, false), Verdict::Matches, "{ty}");
            assert!(matches!(sniff(ty, PDF, false), Verdict::Differs(_)), "{ty}");
            assert!(
                matches!(sniff(ty, EMPTY_ZIP, false), Verdict::Differs(_)),
                "{ty}"
            );
        }
    }

    #[test]
    fn other_bytes_do_not() {
        let html = b"<!DOCTYPE html><script>alert(1)</script>".as_slice();
        for (ty, head, why) in [
            ("image/png", html, "no PNG signature"),
            ("image/png", JPEG, "no PNG signature"),
            // A PNG signature cut short, as in a truncated upload.
            ("image/png", &PNG[..7], "no PNG signature"),
            ("image/jpeg", PNG, "no JPEG start of image"),
            ("image/gif", b"GIF88a".as_slice(), "no GIF header"),
            (
                "image/webp",
                b"RIFF\x24\x00\x00\x00WAVEfmt ".as_slice(),
                "no RIFF WEBP header",
            ),
            ("image/avif", HEIC, "no ftyp box of brand avif or avis"),
            (
                "image/avif",
                b"\x00\x00\x00\x20ftyp".as_slice(),
                "no ftyp box of brand avif or avis",
            ),
            (
                "application/pdf",
                b" %PDF-1.4".as_slice(),
                "no %PDF- header",
            ),
            ("application/zip", PDF, "no ZIP local file header"),
            (
                "application/epub+zip",
                DOCX,
                "not a ZIP starting with the EPUB mimetype entry",
            ),
            ("text/plain", PNG, "not UTF-8 text without NUL bytes"),
            (
                "text/plain",
                b"a\x00b".as_slice(),
                "not UTF-8 text without NUL bytes",
            ),
            (
                "application/json",
                b"\xc3\x28".as_slice(),
                "not UTF-8 text without NUL bytes",
            ),
            ("image/png", b"".as_slice(), "no PNG signature"),
        ] {
            assert_eq!(sniff(ty, head, false), Verdict::Differs(why), "{ty}");
        }
    }

    #[test]
    fn a_character_cut_by_the_read_passes_a_broken_one_does_not() {
        let text = "\u{1f600}".repeat(128);
        // 511 bytes: the last character cut after 3 of its 4 bytes.
        let head = &text.as_bytes()[..511];
        assert_eq!(sniff("text/plain", head, false), Verdict::Matches);
        // The whole object ends there: broken text.
        assert!(matches!(
            sniff("text/plain", head, true),
            Verdict::Differs(_)
        ));
        // An invalid byte before the end is never a cut.
        let mut bad = head.to_vec();
        bad[100] = 0xff;
        assert!(matches!(
            sniff("text/plain", &bad, false),
            Verdict::Differs(_)
        ));
    }

    #[test]
    fn types_without_a_rule_pass() {
        for ty in [
            "application/octet-stream",
            "video/mp4",
            "audio/mpeg",
            "image/svg+xml",
            "text/plain; charset=utf-16le",
            "not a type",
        ] {
            assert_eq!(sniff(ty, PNG, false), Verdict::NoRule, "{ty}");
            assert!(!has_rule(ty), "{ty}");
        }
        assert!(has_rule("text/plain; charset=\"UTF-8\""));
        assert!(has_rule("image/png"));
    }
}
