//! Steps 1 and 2 of SigV4: the canonical request (method, URI, query, headers, signed header
//! names, payload hash) and the string to sign. Both are streamed into a [`Sink`], which is a
//! SHA-256 state on the hot path (no buffer is built) and also a `String` when tracing.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use super::encode::uri_encode_into;
use super::SignError;

/// The algorithm name of SigV4 with HMAC-SHA256.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Something the canonical request can be written to.
pub(crate) trait Sink {
    fn put(&mut self, s: &str);
}

impl Sink for Sha256 {
    #[inline]
    fn put(&mut self, s: &str) {
        self.update(s.as_bytes());
    }
}

impl Sink for String {
    #[inline]
    fn put(&mut self, s: &str) {
        self.push_str(s);
    }
}

/// Hashes and keeps a copy of what was written (for [`super::Trace`]).
pub(crate) struct Tee<'a>(pub(crate) Sha256, pub(crate) &'a mut String);

impl Sink for Tee<'_> {
    fn put(&mut self, s: &str) {
        self.0.update(s.as_bytes());
        self.1.push_str(s);
    }
}

/// One header in canonical form: lower-case name, value trimmed with inner runs of spaces folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CanonicalHeader<'a> {
    pub(crate) name: Cow<'a, str>,
    pub(crate) value: Cow<'a, str>,
}

/// An HTTP token character (RFC 9110 `tchar`).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Validates and canonicalises a caller's header (name must be a token; value visible ASCII,
/// spaces and tabs only).
pub(crate) fn canonical_header<'a>(
    name: &'a str,
    value: &'a str,
) -> Result<CanonicalHeader<'a>, SignError> {
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(SignError::InvalidHeaderName);
    }
    if !value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return Err(SignError::InvalidHeaderValue);
    }
    let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    };
    Ok(CanonicalHeader {
        name,
        value: fold_spaces(value),
    })
}

/// Trims the value and folds each inner run of spaces and tabs into one space.
fn fold_spaces(value: &str) -> Cow<'_, str> {
    let trimmed = value.trim_matches([' ', '\t']);
    let b = trimmed.as_bytes();
    let needs_fold = trimmed.contains('\t') || b.windows(2).any(|w| w == b"  ");
    if !needs_fold {
        return Cow::Borrowed(trimmed);
    }
    let mut out = String::with_capacity(trimmed.len());
    let mut in_space = false;
    for c in trimmed.chars() {
        if c == ' ' || c == '\t' {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    Cow::Owned(out)
}

/// Sorts by name and joins repeated names with `,` (values in their original order).
pub(crate) fn sort_and_merge(headers: &mut Vec<CanonicalHeader<'_>>) {
    sort_small(headers, |a, b| a.name < b.name);
    let mut i = 1;
    while i < headers.len() {
        if headers[i].name == headers[i - 1].name {
            let next = headers.remove(i);
            let prev = headers[i - 1].value.to_mut();
            prev.push(',');
            prev.push_str(&next.value);
        } else {
            i += 1;
        }
    }
}

/// A query parameter, encoded, for the canonical query string.
pub(crate) struct EncodedParam {
    pub(crate) name: String,
    pub(crate) value: String,
}

/// Encodes the caller's query parameters and sorts them by encoded name, then value.
pub(crate) fn encode_query(query: &[(&str, &str)]) -> Vec<EncodedParam> {
    let mut params: Vec<EncodedParam> = query
        .iter()
        .map(|(n, v)| {
            let mut name = String::with_capacity(n.len());
            uri_encode_into(&mut name, n, false);
            let mut value = String::with_capacity(v.len());
            uri_encode_into(&mut value, v, false);
            EncodedParam { name, value }
        })
        .collect();
    sort_small(&mut params, |a, b| {
        (&a.name, &a.value) < (&b.name, &b.value)
    });
    params
}

/// A stable insertion sort by `less`. Signed requests have a handful of headers and query
/// parameters (the API's bodies bound them to a few hundred at most), and the standard library's
/// stable sort would add about 8 KB to the worker's wasm for nothing.
fn sort_small<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && less(&v[j], &v[j - 1]) {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// Writes the canonical request. `canonical_uri` and `canonical_query` are already encoded.
pub(crate) fn write_canonical_request<S: Sink + ?Sized>(
    sink: &mut S,
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    headers: &[CanonicalHeader<'_>],
    payload_hash: &str,
) {
    sink.put(method);
    sink.put("\n");
    sink.put(if canonical_uri.is_empty() {
        "/"
    } else {
        canonical_uri
    });
    sink.put("\n");
    sink.put(canonical_query);
    sink.put("\n");
    for h in headers {
        sink.put(&h.name);
        sink.put(":");
        sink.put(&h.value);
        sink.put("\n");
    }
    sink.put("\n");
    write_signed_header_names(sink, headers, ";");
    sink.put("\n");
    sink.put(payload_hash);
}

/// Writes the header names joined by `sep` (`;`, or `%3B` inside a query string).
pub(crate) fn write_signed_header_names<S: Sink + ?Sized>(
    sink: &mut S,
    headers: &[CanonicalHeader<'_>],
    sep: &str,
) {
    for (i, h) in headers.iter().enumerate() {
        if i > 0 {
            sink.put(sep);
        }
        sink.put(&h.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_trimmed_and_folded() {
        let h = canonical_header("My-Header", "  a   b \t c  ").unwrap();
        assert_eq!((h.name.as_ref(), h.value.as_ref()), ("my-header", "a b c"));
        assert!(matches!(
            canonical_header("x", "plain").unwrap().value,
            Cow::Borrowed(_)
        ));
        assert_eq!(
            canonical_header("bad name", "v"),
            Err(SignError::InvalidHeaderName)
        );
        assert_eq!(canonical_header("", "v"), Err(SignError::InvalidHeaderName));
        assert_eq!(
            canonical_header("x", "a\nb"),
            Err(SignError::InvalidHeaderValue)
        );
        assert_eq!(
            canonical_header("x", "caf\u{e9}"),
            Err(SignError::InvalidHeaderValue)
        );
        assert_eq!(
            canonical_header("x", "a\u{7f}"),
            Err(SignError::InvalidHeaderValue)
        );
    }

    #[test]
    fn duplicates_merge_in_order() {
        let mut hs = vec![
            canonical_header("b", "2").unwrap(),
            canonical_header("A", "1").unwrap(),
            canonical_header("b", "1").unwrap(),
        ];
        sort_and_merge(&mut hs);
        let got: Vec<(String, String)> = hs
            .iter()
            .map(|h| (h.name.to_string(), h.value.to_string()))
            .collect();
        assert_eq!(got, [("a".into(), "1".into()), ("b".into(), "2,1".into())]);
    }

    #[test]
    fn query_sorted_by_encoded_name_then_value() {
        let p = encode_query(&[("b", "2"), ("a", "z"), ("a", "y"), ("A b", "")]);
        let got: Vec<String> = p
            .iter()
            .map(|p| format!("{}={}", p.name, p.value))
            .collect();
        assert_eq!(got, ["A%20b=", "a=y", "a=z", "b=2"]);
    }
}
