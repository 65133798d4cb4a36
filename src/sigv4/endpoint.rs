//! Where requests go: the endpoint (`http(s)://host[:port]`), the bucket and the addressing style,
//! which together give the URL origin, the `host` header and the path prefix.

use core::fmt;

use super::encode::uri_encode_into;
use super::SignError;

/// An S3-compatible endpoint: scheme, host and an explicit port when not the scheme's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    https: bool,
    host: String,
    port: Option<u16>,
}

/// Why a text is not `http(s)://host[:port]` ([`Endpoint::parse_checked`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointError {
    /// The scheme is neither `http://` nor `https://`.
    Scheme,
    /// A `/` follows the authority where none is allowed.
    TrailingSlash,
    /// A path, query or fragment follows the authority.
    Path,
    /// The authority has user info (`user@`).
    UserInfo,
    /// The host is not a DNS name (labels of 1 to 63 letters, digits and inner `-`).
    Host,
    /// A `[` opens an IPv6 address that no `]` closes.
    UnclosedBracket,
    /// The text in brackets is not an IPv6 address.
    Ipv6,
    /// Something other than `:port` follows the `]` of an IPv6 address.
    AfterBracket,
    /// The port is not a number from 1 to 65535 (digits only, no leading zero).
    Port,
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Scheme => "the scheme must be http:// or https://",
            Self::TrailingSlash => "no trailing '/'",
            Self::Path => "no path, query or fragment",
            Self::UserInfo => "no user info",
            Self::Host => "invalid host name",
            Self::UnclosedBracket => "unclosed '[' in the host",
            Self::Ipv6 => "invalid IPv6 address",
            Self::AfterBracket => "unexpected text after ']'",
            Self::Port => "the port must be a number from 1 to 65535",
        })
    }
}

impl std::error::Error for EndpointError {}

impl From<EndpointError> for SignError {
    fn from(_: EndpointError) -> Self {
        SignError::InvalidEndpoint
    }
}

impl Endpoint {
    /// Parses `http://host[:port]` or `https://host[:port]` (a trailing `/` is allowed; a path,
    /// query, fragment or user info is not). Host names are lower-cased; default ports dropped.
    pub fn parse(url: &str) -> Result<Self, SignError> {
        Ok(Self::parse_checked(url, true)?)
    }

    /// [`Endpoint::parse`] that says what is wrong; `trailing_slash` is whether one `/` after
    /// the authority is accepted (and dropped). The scheme is case-insensitive.
    pub fn parse_checked(url: &str, trailing_slash: bool) -> Result<Self, EndpointError> {
        let (https, rest) = if let Some(r) = strip_prefix_ci(url, "https://") {
            (true, r)
        } else if let Some(r) = strip_prefix_ci(url, "http://") {
            (false, r)
        } else {
            return Err(EndpointError::Scheme);
        };
        let authority = match rest.strip_suffix('/') {
            Some(r) if trailing_slash => r,
            Some(_) => return Err(EndpointError::TrailingSlash),
            None => rest,
        };
        if authority.contains(['/', '?', '#']) {
            return Err(EndpointError::Path);
        }
        if authority.contains('@') {
            return Err(EndpointError::UserInfo);
        }
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            None => None,
            Some(p) => Some(parse_port(p).ok_or(EndpointError::Port)?),
        };
        Ok(Self::checked(https, host, port))
    }

    /// An endpoint from its parts; `port` equal to the scheme's default is dropped.
    pub fn new(https: bool, host: &str, port: Option<u16>) -> Result<Self, SignError> {
        if !is_valid_host(host) || port == Some(0) {
            return Err(SignError::InvalidEndpoint);
        }
        Ok(Self::checked(https, host, port))
    }

    /// An endpoint from a valid host and a port other than 0.
    fn checked(https: bool, host: &str, port: Option<u16>) -> Self {
        let default_port = if https { 443 } else { 80 };
        Self {
            https,
            host: host.to_ascii_lowercase(),
            port: port.filter(|&p| p != default_port),
        }
    }

    /// Cloudflare R2: `https://<account_id>.r2.cloudflarestorage.com` (region `auto`). A
    /// Cloudflare account id is 32 hex digits (either case; the host is lower case).
    pub fn r2(account_id: &str) -> Result<Self, SignError> {
        if account_id.len() != 32 || !account_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SignError::InvalidEndpoint);
        }
        Self::new(
            true,
            &format!("{account_id}.r2.cloudflarestorage.com"),
            None,
        )
    }

    /// AWS S3 in `region`: `https://s3.<region>.amazonaws.com`, or `.amazonaws.com.cn` for the
    /// China regions (`cn-*`).
    pub fn aws(region: &str) -> Result<Self, SignError> {
        if !super::is_valid_region(region) {
            return Err(SignError::InvalidRegion);
        }
        let suffix = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        Self::new(true, &format!("s3.{region}.{suffix}"), None)
    }

    /// Whether the scheme is https.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The scheme: `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.https {
            "https"
        } else {
            "http"
        }
    }

    /// The host name (lower case, IPv6 literals in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The explicit port, when it is not the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// `host[:port]`, as sent in the `host` header of path-style requests.
    pub fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }

    /// Whether the host is an IP address literal (IPv4, or IPv6 in brackets), where no
    /// virtual-hosted bucket can be.
    pub fn is_ip_address(&self) -> bool {
        self.host.starts_with('[') || looks_like_ipv4(&self.host)
    }
}

impl fmt::Display for Endpoint {
    /// `scheme://host[:port]`, the origin a browser sends.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme(), self.authority())
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Splits `host[:port]` (IPv6 in brackets) and checks the host.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), EndpointError> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or(EndpointError::UnclosedBracket)?;
        if !is_ipv6_literal(addr) {
            return Err(EndpointError::Ipv6);
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(EndpointError::AfterBracket)?),
        };
        return Ok((&authority[..addr.len() + 2], port));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if !is_dns_host(host) {
        return Err(EndpointError::Host);
    }
    Ok((host, port))
}

/// 1 to 65535 in plain decimal digits (no sign, no leading zero).
fn parse_port(p: &str) -> Option<u16> {
    let digits = !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits || (p.len() > 1 && p.starts_with('0')) {
        return None;
    }
    p.parse::<u16>().ok().filter(|&n| n != 0)
}

/// The inside of `[...]`: hex digits, `:` and `.` (for an embedded IPv4 address).
fn is_ipv6_literal(addr: &str) -> bool {
    !addr.is_empty()
        && addr
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
}

/// A DNS name (or dotted IPv4 address): at most 253 characters of labels of 1 to 63 letters,
/// digits and `-`, no label starting or ending with `-`.
fn is_dns_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn is_valid_host(host: &str) -> bool {
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(inner) => is_ipv6_literal(inner),
        None => is_dns_host(host),
    }
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
        host_header.push_str(&endpoint.authority());
        let origin = format!("{}://{host_header}", endpoint.scheme());
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
    // Virtual-hosted: a DNS-compatible name that TLS wildcards also cover.
    if is_dns_bucket_name(name) && !(https && name.contains('.')) {
        Ok(())
    } else {
        Err(SignError::BucketNotVirtualHostable)
    }
}

/// S3's naming rules for general purpose buckets, which make the name usable in a host name:
/// 3 to 63 characters of `a-z`, `0-9`, `.` and `-`, starting and ending with a letter or
/// digit, no `..`, `.-` or `-.`, not shaped like an IPv4 address.
pub fn is_dns_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=63).contains(&name.len())
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && !name.contains("..")
        && !name.contains(".-")
        && !name.contains("-.")
        && !looks_like_ipv4(name)
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
            Endpoint::aws("eu-west-1").unwrap().host(),
            "s3.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            Endpoint::aws("cn-north-1").unwrap().host(),
            "s3.cn-north-1.amazonaws.com.cn"
        );
        for bad in ["EU", "", "-x", "x-", "eu west", &"a".repeat(33)] {
            assert_eq!(Endpoint::aws(bad), Err(SignError::InvalidRegion), "{bad}");
        }
        assert!(Endpoint::aws(&"a".repeat(32)).is_ok());
    }

    #[test]
    fn r2_account_ids_are_32_hex_digits() {
        let e = Endpoint::r2("0123456789ABCDEF0123456789abcdef").unwrap();
        assert_eq!(
            e.to_string(),
            "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com"
        );
        for bad in [
            "",
            "abc123",
            "a.b",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "0123456789abcdef0123456789abcdeg",
            "0123456789abcdef0123456789abcd.f",
        ] {
            assert_eq!(Endpoint::r2(bad), Err(SignError::InvalidEndpoint), "{bad}");
        }
    }

    #[test]
    fn endpoint_errors_say_what_is_wrong() {
        use EndpointError as E;
        for (bad, why) in [
            ("127.0.0.1:9000", E::Scheme),
            ("ftp://x.example", E::Scheme),
            ("http://x.example/path", E::Path),
            ("http://x.example?q", E::Path),
            ("http://user@x.example", E::UserInfo),
            ("http://", E::Host),
            ("http://x..example", E::Host),
            ("http://-x.example", E::Host),
            ("http://x-.example", E::Host),
            ("http://x_y.example", E::Host),
            ("http://x.example:0", E::Port),
            ("http://x.example:65536", E::Port),
            ("http://x.example:", E::Port),
            ("http://x.example:+80", E::Port),
            ("http://x.example:080", E::Port),
            ("http://[::1", E::UnclosedBracket),
            ("http://[]:80", E::Ipv6),
            ("http://[::1]x", E::AfterBracket),
        ] {
            assert_eq!(Endpoint::parse_checked(bad, true), Err(why), "{bad}");
        }
        assert_eq!(
            Endpoint::parse_checked("https://a.example/", false),
            Err(E::TrailingSlash)
        );
        let e = Endpoint::parse_checked("HTTPS://A.Example:443/", true).unwrap();
        assert_eq!(e.to_string(), "https://a.example");
        let e = Endpoint::parse_checked("http://[::1]:9000", false).unwrap();
        assert_eq!(
            (e.authority().as_str(), e.is_ip_address()),
            ("[::1]:9000", true)
        );
        assert!(Endpoint::parse("http://10.0.0.1").unwrap().is_ip_address());
        assert!(!Endpoint::parse("http://10.0.0.1.example")
            .unwrap()
            .is_ip_address());
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
        for name in ["abc", "my.bucket", "a-b.c1", &"a".repeat(63)] {
            assert!(is_dns_bucket_name(name), "{name}");
        }
        for name in [
            "ab",
            "a.-b",
            "a-.b",
            "10.0.0.1",
            "Abc",
            "a_b",
            &"a".repeat(64),
        ] {
            assert!(!is_dns_bucket_name(name), "{name}");
        }
    }
}
