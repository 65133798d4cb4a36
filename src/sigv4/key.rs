//! Step 3 of SigV4: the signing key, `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
//! "aws4_request")`, and the final HMAC of the string to sign.

use core::fmt;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// An HMAC-SHA256 instance keyed with `key` (HMAC accepts keys of any length).
pub(crate) fn hmac_with_key(key: &[u8]) -> HmacSha256 {
    match <HmacSha256 as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        // Unreachable: HMAC takes keys of every length.
        Err(_) => <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()),
    }
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = hmac_with_key(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// A derived SigV4 signing key for one (secret, date, region, service). Its `Debug` is redacted.
#[derive(Clone)]
pub struct SigningKey {
    date: [u8; 8],
    /// HMAC state already keyed with the derived key, cloned for each signature.
    mac: HmacSha256,
    bytes: [u8; 32],
}

impl SigningKey {
    /// Derives the key for `date` (`YYYYMMDD`), `region` and `service` from the secret access key.
    pub fn derive(secret_access_key: &str, date: &str, region: &str, service: &str) -> Self {
        let mut k_secret = Vec::with_capacity(4 + secret_access_key.len());
        k_secret.extend_from_slice(b"AWS4");
        k_secret.extend_from_slice(secret_access_key.as_bytes());
        let k_date = hmac(&k_secret, date.as_bytes());
        // Do not leave a copy of the secret in freed memory longer than needed.
        k_secret.iter_mut().for_each(|b| *b = 0);
        let k_region = hmac(&k_date, region.as_bytes());
        let k_service = hmac(&k_region, service.as_bytes());
        let bytes = hmac(&k_service, b"aws4_request");
        let mut d = [0u8; 8];
        for (slot, b) in d.iter_mut().zip(date.bytes()) {
            *slot = b;
        }
        Self {
            date: d,
            mac: hmac_with_key(&bytes),
            bytes,
        }
    }

    /// The raw 32-byte key (for tests against published signing keys).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Whether this key was derived for `date` (`YYYYMMDD`).
    pub(crate) fn is_for_date(&self, date: &str) -> bool {
        self.date == date.as_bytes()
    }

    /// Lower-case hex HMAC-SHA256 of the string to sign, fed in pieces.
    pub(crate) fn sign(&self, string_to_sign_parts: &[&str]) -> [u8; 64] {
        let mut mac = self.mac.clone();
        for part in string_to_sign_parts {
            mac.update(part.as_bytes());
        }
        super::encode::hex_lower(&mac.finalize().into_bytes())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_documented_signing_key() {
        // From AWS's "Examples of how to derive a signing key for Signature Version 4".
        let key = SigningKey::derive(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key.as_bytes()),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
        assert!(key.is_for_date("20120215"));
        assert!(!key.is_for_date("20120216"));
        assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
    }
}
