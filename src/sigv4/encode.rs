//! Step 0 of SigV4: URI encoding.
//!
//! AWS's `UriEncode`: RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`) are kept, every other
//! byte of the UTF-8 form becomes `%XX` with upper-case hex. A space is `%20`, never `+`. In an S3
//! object path `/` is kept; everywhere else (query names and values) it is encoded as `%2F`.

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Whether `b` is an RFC 3986 unreserved character.
#[inline]
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Appends the AWS `UriEncode` form of `s` to `out`; `keep_slash` keeps `/` as it is (paths).
pub(crate) fn uri_encode_into(out: &mut String, s: &str, keep_slash: bool) {
    let bytes = s.as_bytes();
    let mut run_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            continue;
        }
        // The run before `i` is ASCII only, so both of its ends are char boundaries.
        if let Some(run) = s.get(run_start..i) {
            out.push_str(run);
        }
        out.push('%');
        out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
        out.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
        run_start = i + 1;
    }
    if let Some(run) = s.get(run_start..) {
        out.push_str(run);
    }
}

/// The AWS `UriEncode` form of `s` as a new string: every byte but the unreserved characters
/// `A-Z a-z 0-9 - _ . ~` (and `/` when `keep_slash`) as `%XX` with upper-case hex.
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 2);
    uri_encode_into(&mut out, s, keep_slash);
    out
}

/// Lower-case hex of `bytes` into a fixed buffer (`N` must be twice `bytes.len()`).
#[inline]
pub(crate) fn hex_lower<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    // Lengths always match at every call site; on a mismatch the buffer stays zeroed.
    let _ = hex::encode_to_slice(bytes, &mut out);
    out
}

/// `&str` view of an ASCII buffer produced by this module (hex digits, dates).
#[inline]
pub(crate) fn ascii_str(buf: &[u8]) -> &str {
    core::str::from_utf8(buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_unreserved_and_encodes_the_rest_upper_case() {
        assert_eq!(uri_encode("AZaz09-._~", false), "AZaz09-._~");
        assert_eq!(uri_encode("a b+c%d/e", false), "a%20b%2Bc%25d%2Fe");
        assert_eq!(uri_encode("a b/c", true), "a%20b/c");
        assert_eq!(uri_encode("ሴ", false), "%E1%88%B4");
        assert_eq!(uri_encode("é/ü", true), "%C3%A9/%C3%BC");
        assert_eq!(uri_encode("", true), "");
        assert_eq!(uri_encode("=&?#", true), "%3D%26%3F%23");
    }

    #[test]
    fn hex_is_lower_case() {
        let h: [u8; 4] = hex_lower(&[0xAB, 0x01]);
        assert_eq!(ascii_str(&h), "ab01");
    }
}
