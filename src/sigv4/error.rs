//! Errors of the signer: every bad input is a typed error, never a panic.

use core::fmt;

/// Why a request could not be signed. The text never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// The bucket name is empty.
    EmptyBucket,
    /// The bucket name has characters or a shape S3 does not allow.
    InvalidBucket,
    /// The bucket name is valid for path-style requests but cannot be a DNS label
    /// (upper case, `_`, a `.` under https, an IP-address shape): use path-style addressing.
    BucketNotVirtualHostable,
    /// The object key is empty.
    EmptyKey,
    /// The object key is longer than 1024 bytes.
    KeyTooLong,
    /// The object key contains a control character.
    KeyControlCharacter,
    /// A header name is not an HTTP token.
    InvalidHeaderName,
    /// A header value holds a control character or non-ASCII text.
    InvalidHeaderValue,
    /// A header that the signer sets itself (`host`, `authorization`, `x-amz-date`, …) was given.
    ReservedHeader,
    /// A query parameter name is reserved for the signature (`X-Amz-*`).
    ReservedQueryParameter,
    /// The expiry is outside 1 ..= 604 800 seconds.
    ExpiresOutOfRange,
    /// The time is past year 9999.
    TimeOutOfRange,
    /// The endpoint is not `http(s)://host[:port]`.
    InvalidEndpoint,
    /// The region is empty or has characters other than `a-z`, `0-9`, `-`.
    InvalidRegion,
    /// The access key id is empty or has characters that do not belong in one.
    InvalidAccessKey,
    /// The method is not one S3 uses.
    InvalidMethod,
}

impl SignError {
    /// A stable snake_case code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::EmptyBucket => "empty_bucket",
            Self::InvalidBucket => "invalid_bucket",
            Self::BucketNotVirtualHostable => "bucket_not_virtual_hostable",
            Self::EmptyKey => "empty_key",
            Self::KeyTooLong => "key_too_long",
            Self::KeyControlCharacter => "key_control_character",
            Self::InvalidHeaderName => "invalid_header_name",
            Self::InvalidHeaderValue => "invalid_header_value",
            Self::ReservedHeader => "reserved_header",
            Self::ReservedQueryParameter => "reserved_query_parameter",
            Self::ExpiresOutOfRange => "expires_out_of_range",
            Self::TimeOutOfRange => "time_out_of_range",
            Self::InvalidEndpoint => "invalid_endpoint",
            Self::InvalidRegion => "invalid_region",
            Self::InvalidAccessKey => "invalid_access_key",
            Self::InvalidMethod => "invalid_method",
        }
    }
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::EmptyBucket => "the bucket name is empty",
            Self::InvalidBucket => "the bucket name is not a valid S3 bucket name",
            Self::BucketNotVirtualHostable => {
                "the bucket name cannot be used in a host name; use path-style addressing"
            }
            Self::EmptyKey => "the object key is empty",
            Self::KeyTooLong => "the object key is longer than 1024 bytes",
            Self::KeyControlCharacter => "the object key contains a control character",
            Self::InvalidHeaderName => "a header name is not a valid HTTP token",
            Self::InvalidHeaderValue => "a header value contains a control or non-ASCII character",
            Self::ReservedHeader => "a header the signer sets itself was given",
            Self::ReservedQueryParameter => {
                "query parameters named X-Amz-* are reserved for the signature"
            }
            Self::ExpiresOutOfRange => "the expiry must be between 1 and 604800 seconds",
            Self::TimeOutOfRange => "the signing time is out of range",
            Self::InvalidEndpoint => "the endpoint must be http(s)://host[:port] with no path",
            Self::InvalidRegion => "the region must be non-empty and use only a-z, 0-9 and -",
            Self::InvalidAccessKey => "the access key id is empty or malformed",
            Self::InvalidMethod => "the method is not GET, HEAD, PUT, POST or DELETE",
        };
        f.write_str(text)
    }
}

impl std::error::Error for SignError {}
