//! The little XML the store's multipart answers need: the text of flat elements, the inner XML
//! of repeated ones (`<Part>`), and escaping for the body we send. S3's answers are generated,
//! flat and attribute-free below the root, so no general parser is linked into the worker.

/// The inner XML of each `<tag>…</tag>` in `xml`, in order; the start tag may carry attributes
/// (`xmlns` on a root), and `<tag/>` gives `""`.
pub(crate) fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(at) = rest.find(&open) {
        let after = &rest[at + open.len()..];
        // `<PartNumber` is not `<Part`: the name must end here.
        if !after.starts_with(['>', '/', ' ', '\t', '\r', '\n']) {
            rest = after;
            continue;
        }
        let Some(end_of_start) = after.find('>') else {
            break;
        };
        if after[..end_of_start].ends_with('/') {
            out.push("");
            rest = &after[end_of_start + 1..];
            continue;
        }
        let inner = &after[end_of_start + 1..];
        let Some(end) = inner.find(&close) else {
            break;
        };
        out.push(&inner[..end]);
        rest = &inner[end + close.len()..];
    }
    out
}

/// The decoded text of the first `<tag>` in `xml`; `None` when absent or when it holds markup
/// or an unknown entity.
pub(crate) fn text(xml: &str, tag: &str) -> Option<String> {
    let raw = elements(xml, tag).into_iter().next()?;
    unescape(raw)
}

/// `raw` with the five predefined entities and numeric references decoded.
fn unescape(raw: &str) -> Option<String> {
    if raw.contains('<') {
        return None;
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';')?;
        let entity = &after[..semi];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = match entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => entity.strip_prefix('#')?.parse().ok()?,
                };
                char::from_u32(code)?
            }
        };
        out.push(c);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// `s` escaped for element text.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_elements_and_their_text() {
        let xml = "<R><Part><PartNumber>1</PartNumber></Part><PartNumberMarker/>\
                   <Part><PartNumber>2</PartNumber></Part></R>";
        let parts = elements(xml, "Part");
        assert_eq!(parts.len(), 2);
        assert_eq!(text(parts[1], "PartNumber").as_deref(), Some("2"));
        assert_eq!(text(xml, "PartNumberMarker").as_deref(), Some(""));
        assert_eq!(text(xml, "Missing"), None);
        assert_eq!(elements("<Part>unclosed", "Part"), Vec::<&str>::new());
        assert_eq!(elements("<R xmlns=\"x\"><A>1</A></R>", "R"), ["<A>1</A>"]);
        assert_eq!(elements("<R a=\"1\"/>", "R"), [""]);
    }

    #[test]
    fn entities_round_trip_and_bad_ones_are_refused() {
        assert_eq!(
            text("<E>&quot;a&amp;b&quot; &#60;&#x3E;</E>", "E").as_deref(),
            Some("\"a&b\" <>")
        );
        for bad in [
            "<E>&nope;</E>",
            "<E>&amp</E>",
            "<E><b/></E>",
            "<E>&#xD800;</E>",
        ] {
            assert_eq!(text(bad, "E"), None, "{bad}");
        }
        let s = "\"etag\" & <'x'>";
        assert_eq!(unescape(&escape(s)).as_deref(), Some(s));
    }
}
