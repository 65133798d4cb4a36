//! The object key template (`KEY_TEMPLATE`): literal text and placeholders that the policy fills
//! in per upload ([`upload_key`](super::upload_key)) and that give a token its default grant.

use crate::config::{escaped, show};

/// A parsed object key template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    /// The template as configured.
    pub raw: String,
    /// Literal text and placeholders, in order.
    pub parts: Vec<KeyTemplatePart>,
}

/// One piece of a [`KeyTemplate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyTemplatePart {
    /// Text copied as is.
    Literal(String),
    /// A value filled in per request.
    Placeholder(Placeholder),
}

/// A key template placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// `{sub}`: the token subject.
    Sub,
    /// `{uuid}`: a random UUID.
    Uuid,
    /// `{filename}`: the sanitised file name.
    Filename,
    /// `{date}`: the UTC date, `YYYY-MM-DD`.
    Date,
    /// `{ext}`: the file name's extension.
    Ext,
    /// `{iss}`: the short name of the token's issuer (`local` for the HMAC keys, the `ISSUERS`
    /// entry, `access`), never the raw `iss` claim. Filled in once per issuer by
    /// [`KeyTemplate::for_issuer`].
    Iss,
}

impl Placeholder {
    /// Every placeholder.
    pub const ALL: [Placeholder; 6] = [
        Placeholder::Sub,
        Placeholder::Uuid,
        Placeholder::Filename,
        Placeholder::Date,
        Placeholder::Ext,
        Placeholder::Iss,
    ];

    /// The name between braces.
    pub fn as_str(self) -> &'static str {
        match self {
            Placeholder::Sub => "sub",
            Placeholder::Uuid => "uuid",
            Placeholder::Filename => "filename",
            Placeholder::Date => "date",
            Placeholder::Ext => "ext",
            Placeholder::Iss => "iss",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Placeholder::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl KeyTemplate {
    /// Parses a template: placeholders in braces, literal text of `A-Z a-z 0-9 / - _ . =`; no
    /// leading or trailing `/`, no `//`, no `.` or `..` segment; `{sub}` and one of `{uuid}`,
    /// `{filename}` present; `{iss}` at most once, as a whole segment with only literal text
    /// before it; at most 256 bytes. The error is the problem, for the configuration
    /// error of `KEY_TEMPLATE` (it quotes the template's text, which is not secret).
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() > 256 {
            return Err("longer than 256 bytes".to_owned());
        }
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            match c {
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some('{') | None => return Err("has an unclosed '{'".to_owned()),
                            Some(n) => name.push(n),
                        }
                    }
                    let Some(p) = Placeholder::parse(&name) else {
                        return Err(format!(
                            "unknown placeholder {{{}}}; use {{sub}}, {{iss}}, {{uuid}}, {{filename}}, {{date}} or {{ext}}",
                            escaped(&name)
                        ));
                    };
                    if !literal.is_empty() {
                        parts.push(KeyTemplatePart::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(KeyTemplatePart::Placeholder(p));
                }
                '}' => return Err("has a '}' without '{'".to_owned()),
                c if c.is_ascii_alphanumeric() || "/-_.=".contains(c) => literal.push(c),
                c => {
                    return Err(format!(
                    "character {} is not allowed outside placeholders (use A-Z a-z 0-9 / - _ . =)",
                    show(&c.to_string())
                ))
                }
            }
        }
        if !literal.is_empty() {
            parts.push(KeyTemplatePart::Literal(literal));
        }
        if raw.starts_with('/') || raw.ends_with('/') {
            return Err("must not start or end with '/'".to_owned());
        }
        if raw.contains("//") {
            return Err("must not contain '//'".to_owned());
        }
        if raw.split('/').any(|seg| seg == "." || seg == "..") {
            return Err("must not contain a '.' or '..' segment".to_owned());
        }
        let has = |p: Placeholder| parts.contains(&KeyTemplatePart::Placeholder(p));
        if !has(Placeholder::Sub) {
            return Err("must contain {sub} so that keys stay per subject".to_owned());
        }
        if !has(Placeholder::Uuid) && !has(Placeholder::Filename) {
            return Err("must contain {uuid} or {filename}".to_owned());
        }
        check_iss_segment(&parts)?;
        Ok(KeyTemplate {
            raw: raw.to_owned(),
            parts,
        })
    }
}

/// `{iss}`, when present, is one whole segment with only literal text before it
/// (`{iss}/{sub}/…`, `uploads/{iss}/{sub}/…`): then every issuer's keys lie under a prefix of
/// their own (the text up to that segment), whatever the other placeholders hold.
fn check_iss_segment(parts: &[KeyTemplatePart]) -> Result<(), String> {
    let iss = KeyTemplatePart::Placeholder(Placeholder::Iss);
    let Some(at) = parts.iter().position(|p| *p == iss) else {
        return Ok(());
    };
    fn literal(p: Option<&KeyTemplatePart>) -> Option<&str> {
        match p {
            Some(KeyTemplatePart::Literal(text)) => Some(text),
            _ => None,
        }
    }
    let before_ok =
        at == 0 || (at == 1 && literal(parts.first()).is_some_and(|t| t.ends_with('/')));
    let after_ok = literal(parts.get(at + 1)).is_some_and(|t| t.starts_with('/'));
    if before_ok && after_ok && !parts[at + 1..].contains(&iss) {
        Ok(())
    } else {
        Err(
            "must hold {iss} at most once, as a whole segment with only literal text before \
             it (like {iss}/{sub}/{uuid}/{filename} or uploads/{iss}/{sub}/{uuid}), so that \
             each issuer's keys lie under a prefix of their own"
                .to_owned(),
        )
    }
}

impl KeyTemplate {
    /// This template for the tokens of issuer `name` (a configured, key-safe issuer name):
    /// `{iss}` replaced by `name`; and when `separate` (tokens of several issuers are accepted)
    /// and the template has no `{iss}`, `name/` put in front of it. What remains has no
    /// `{iss}`, so the grant and the keys of one issuer's tokens hold that issuer's name.
    pub fn for_issuer(&self, name: &str, separate: bool) -> KeyTemplate {
        let mut parts = Vec::with_capacity(self.parts.len() + 1);
        let raw = if let Some(at) = self.raw.find("{iss}") {
            format!("{}{name}{}", &self.raw[..at], &self.raw[at + 5..])
        } else if separate {
            parts.push(KeyTemplatePart::Literal(format!("{name}/")));
            format!("{name}/{}", self.raw)
        } else {
            self.raw.clone()
        };
        // Literal text may now come in two parts in a row: the grant and the keys read them
        // one after the other all the same.
        parts.extend(self.parts.iter().map(|p| match p {
            KeyTemplatePart::Placeholder(Placeholder::Iss) => {
                KeyTemplatePart::Literal(name.to_owned())
            }
            p => p.clone(),
        }));
        KeyTemplate { raw, parts }
    }

    /// The prefix under which every key of issuer `name`'s tokens lies when tokens of several
    /// issuers are accepted: the text of [`for_issuer`](Self::for_issuer) up to and with the
    /// `/` after the issuer's segment (`name/`, or `uploads/name/` for `uploads/{iss}/…`).
    pub fn issuer_namespace(&self, name: &str) -> String {
        match self.parts.as_slice() {
            [KeyTemplatePart::Literal(before), KeyTemplatePart::Placeholder(Placeholder::Iss), ..] =>
            {
                format!("{before}{name}/")
            }
            _ => format!("{name}/"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_KEY_TEMPLATE;
    use KeyTemplatePart::{Literal, Placeholder as P};

    #[test]
    fn templates_are_split_into_literals_and_placeholders() {
        let t = KeyTemplate::parse(DEFAULT_KEY_TEMPLATE).expect("valid");
        assert_eq!(t.raw, DEFAULT_KEY_TEMPLATE);
        assert_eq!(
            t.parts,
            vec![
                P(Placeholder::Sub),
                Literal("/".into()),
                P(Placeholder::Uuid),
                Literal("/".into()),
                P(Placeholder::Filename),
            ]
        );
        let t = KeyTemplate::parse("in/{date}/{sub}/{uuid}.{ext}").expect("valid");
        assert_eq!(
            t.parts,
            vec![
                Literal("in/".into()),
                P(Placeholder::Date),
                Literal("/".into()),
                P(Placeholder::Sub),
                Literal("/".into()),
                P(Placeholder::Uuid),
                Literal(".".into()),
                P(Placeholder::Ext),
            ]
        );
    }

    #[test]
    fn placeholder_names_round_trip() {
        for p in Placeholder::ALL {
            assert_eq!(Placeholder::parse(p.as_str()), Some(p));
        }
        assert_eq!(Placeholder::parse("Sub"), None);
        assert_eq!(Placeholder::parse(""), None);
    }
}
