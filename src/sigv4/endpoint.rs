//! Where requests go: the endpoint (`http(s)://host[:port]`), the bucket and the addressing style,
//! which together give the URL origin, the `host` header and the path prefix.

use super::encode::uri_encode_into;
use super::SignError;

/// An S3-compatible endpoint: scheme, host and an explicit port when not the scheme's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    https: bool,
    host: String,
    port: Option<u16>,
}

impl Endpoint {
    /// Parses `http://host[:port]` or `https://host[:port]` (a trailing `/` is allowed; a path,
    /// query, fragment or user info is not). Host names are lower-cased; default ports dropped.
    pub fn parse(url: &str) -> Result<Self, SignError> {
        let (https, rest) = if let Some(r) = strip_prefix_ci(url, "https://") {
            (true, r)
        } else if let Some(r) = strip_prefix_ci(url, "http://") {
            (false, r)
        } else {
            return Err(SignError::InvalidEndpoint);
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
            return Err(SignError::InvalidEndpoint);
        }
        let (host, port) = split_host_port(authority)?;
        Self::new(https, host, port)
    }

    /// An endpoint from its parts; `port` equal to the scheme's default is dropped.
    pub fn new(https: bool, host: &str, port: Option<u16>) -> Result<Self, SignError> {
        if !is_valid_host(host) {
            return Err(SignError::InvalidEndpoint);
        }
        let default_port = if https { 443 } else { 80 };
        let port = match port {
            Some(0) => return Err(SignError::InvalidEndpoint),
            Some(p) if p == default_port => None,
            p => p,
        };
        Ok(Self {
            https,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// Cloudflare R2: `https://<account_id>.r2.cloudflarestorage.com` (region `auto`).
    pub fn r2(account_id: &str) -> Result<Self, SignError> {
        if account_id.is_empty()
            || account_id.len() > 63
            || !account_id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(SignError::InvalidEndpoint);
        }
        Self::new(
            true,
            &format!("{account_id}.r2.cloudflarestorage.com"),
            None,
        )
    }

    /// AWS S3 in `region`: `https://s3.<region>.amazonaws.com`.
    pub fn aws(region: &str) -> Result<Self, SignError> {
        if !super::is_valid_region(region) {
            return Err(SignError::InvalidRegion);
        }
        Self::new(true, &format!("s3.{region}.amazonaws.com"), None)
    }

    /// Whether the scheme is https.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The host name (lower case, IPv6 literals in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The explicit port, when it is not the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.port
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), SignError> {
    let (host, port) = if authority.starts_with('[') {
        // IPv6 literal: `[::1]` or `[::1]:9000`.
        let end = authority.find(']').ok_or(SignError::InvalidEndpoint)?;
        let (h, rest) = authority.split_at(end + 1);
        match rest.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if rest.is_empty() => (h, None),
            None => return Err(SignError::InvalidEndpoint),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u16>().map_err(|_| SignError::InvalidEndpoint)?)
        }
        Some(_) => return Err(SignError::InvalidEndpoint),
    };
    Ok((host, port))
}

fn is_valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    }
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !host.starts_with(['.', '-'])
        && !host.contains("..")
}

/// How the bucket appears in the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressingStyle {
    /// `https://bucket.host/key` (AWS's default).
    VirtualHosted,
    /// `https://host/bucket/key` (R2, MinIO and most local stores).
    Path,
}

/// A bucket at an endpoint, with everything the signer needs precomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    name: String,
    style: AddressingStyle,
    /// `scheme://host[:port]`.
    origin: String,
    /// The `host` header value: host and the explicit port.
    host_header: String,
    /// The encoded path before the key: `/` or `/bucket/`.
    path_prefix: String,
}

impl Bucket {
    /// Validates `name` for `style` at `endpoint` and precomputes the URL parts.
    pub fn new(endpoint: &Endpoint, name: &str, style: AddressingStyle) -> Result<Self, SignError> {
        validate_bucket(name, style, endpoint.is_https())?;
        let mut host_header = String::with_capacity(name.len() + endpoint.host.len() + 7);
        if style == AddressingStyle::VirtualHosted {
            host_header.push_str(name);
            host_header.push('.');
        }
        host_header.push_str(&endpoint.host);
        if let Some(port) = endpoint.port {
            host_header.push(':');
            host_header.push_str(&port.to_string());
        }
        let scheme = if endpoint.https {
            "https://"
        } else {
            "http://"
        };
        let origin = format!("{scheme}{host_header}");
        let mut path_prefix = String::from("/");
        if style == AddressingStyle::Path {
            uri_encode_into(&mut path_prefix, name, false);
            path_prefix.push('/');
        }
        Ok(Self {
            name: name.to_owned(),
            style,
            origin,
            host_header,
            path_prefix,
        })
    }

    /// The bucket name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The addressing style.
    pub fn style(&self) -> AddressingStyle {
        self.style
    }

    /// `scheme://host[:port]` of the URLs for this bucket.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The `host` header value signed for this bucket.
    pub fn host_header(&self) -> &str {
        &self.host_header
    }

    /// The encoded path before the key (`/` or `/bucket/`).
    pub fn path_prefix(&self) -> &str {
        &self.path_prefix
    }
}

fn validate_bucket(name: &str, style: AddressingStyle, https: bool) -> Result<(), SignError> {
    if name.is_empty() {
        return Err(SignError::EmptyBucket);
    }
    // Path-style: the legacy rules (3..=255 of letters, digits, `.`, `-`, `_`) that local stores accept.
    let legacy_ok = (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !legacy_ok {
        return Err(SignError::InvalidBucket);
    }
    if style == AddressingStyle::Path {
        return Ok(());
    }
    // Virtual-hosted: a DNS-compatible name (S3's current rules) that TLS wildcards also cover.
    let bytes = name.as_bytes();
    let dns_ok = name.len() <= 63
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && !name.contains("..")
        && !name.contains(".-")
        && !name.contains("-.")
        && !looks_like_ipv4(name)
        && !(https && name.contains('.'));
    if dns_ok {
        Ok(())
    } else {
        Err(SignError::BucketNotVirtualHostable)
    }
}

fn looks_like_ipv4(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        let e = Endpoint::parse("http://127.0.0.1:9000").unwrap();
        assert_eq!(
            (e.is_https(), e.host(), e.port()),
            (false, "127.0.0.1", Some(9000))
        );
        let e = Endpoint::parse("HTTPS://S3.Example.com:443/").unwrap();
        assert_eq!(
            (e.is_https(), e.host(), e.port()),
            (true, "s3.example.com", None)
        );
        let e = Endpoint::parse("http://[::1]:9000").unwrap();
        assert_eq!((e.host(), e.port()), ("[::1]", Some(9000)));
        for bad in [
            "",
            "ftp://x",
            "https://",
            "https://host/path",
            "https://a b",
            "https://h:0",
            "https://h:70000",
            "https://h:",
            "https://u@h",
            "https://h?x",
            "https://-h",
            "https://h..x",
            "https://[::1]x",
        ] {
            assert_eq!(
                Endpoint::parse(bad),
                Err(SignError::InvalidEndpoint),
                "{bad}"
            );
        }
        assert_eq!(
            Endpoint::r2("abc123").unwrap().host(),
            "abc123.r2.cloudflarestorage.com"
        );
        assert!(Endpoint::r2("a.b").is_err());
        assert_eq!(
            Endpoint::aws("eu-west-1").unwrap().host(),
            "s3.eu-west-1.amazonaws.com"
        );
        assert_eq!(Endpoint::aws("EU"), Err(SignError::InvalidRegion));
    }

    #[test]
    fn buckets_by_style() {
        let aws = Endpoint::aws("us-east-1").unwrap();
        let b = Bucket::new(&aws, "examplebucket", AddressingStyle::VirtualHosted).unwrap();
        assert_eq!(
            b.origin(),
            "https://examplebucket.s3.us-east-1.amazonaws.com"
        );
        assert_eq!(b.path_prefix(), "/");
        let local = Endpoint::parse("http://localhost:9000").unwrap();
        let b = Bucket::new(&local, "My_Bucket", AddressingStyle::Path).unwrap();
        assert_eq!(b.origin(), "http://localhost:9000");
        assert_eq!(b.host_header(), "localhost:9000");
        assert_eq!(b.path_prefix(), "/My_Bucket/");
        let vh = AddressingStyle::VirtualHosted;
        assert_eq!(Bucket::new(&aws, "", vh), Err(SignError::EmptyBucket));
        assert_eq!(Bucket::new(&aws, "ab", vh), Err(SignError::InvalidBucket));
        assert_eq!(
            Bucket::new(&aws, "a/b/c", AddressingStyle::Path),
            Err(SignError::InvalidBucket)
        );
        for not_dns in [
            "My_Bucket",
            "my.bucket",
            "192.168.1.1",
            "-abc",
            "abc-",
            "a..b",
        ] {
            assert_eq!(
                Bucket::new(&aws, not_dns, vh),
                Err(SignError::BucketNotVirtualHostable),
                "{not_dns}"
            );
        }
        // Dots are fine in virtual-hosted names over plain http.
        assert!(Bucket::new(&local, "my.bucket", vh).is_ok());
    }
}
