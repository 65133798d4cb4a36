//! The ticket that binds the later requests of a multipart upload to what its creation granted,
//! with no server state: an HMAC-SHA256 over the key, the store's upload id, the declared total
//! size, the part size (when given) and the expiry.
//!
//! The client only ever sees one `uploadId`: the store's id followed by the ticket,
//! `<store id>.<size>.<part size or ->.<expiry>.<mac>` (the MAC in unpadded base64url). Uppy
//! carries it unchanged into every part, list, complete and abort request. The store's own id
//! may contain dots, so the ticket is split off from the right.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a ticket grants: the upload of `key` under the store's `upload_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The object key.
    pub key: String,
    /// The store's upload id (without the ticket).
    pub upload_id: String,
    /// The declared total size in bytes: the completed object must have exactly this size.
    pub size: u64,
    /// Each part's exact size (the last one may be smaller), when declared.
    pub part_size: Option<u64>,
    /// Unix seconds after which the ticket is refused.
    pub expires: u64,
}

/// Why a ticketed upload id is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketError {
    /// Not of the ticket's shape (a bare store id, a truncated ticket, bad numbers).
    Malformed,
    /// The MAC does not match: altered, or issued for another key or upload.
    Forged,
    /// Past its expiry.
    Expired,
}

impl TicketError {
    /// The stable error code of the API answer.
    pub fn code(self) -> &'static str {
        match self {
            Self::Malformed => "invalid_upload_id",
            Self::Forged => "ticket_invalid",
            Self::Expired => "ticket_expired",
        }
    }
}

/// The keyed MAC over the ticket's fields, length-prefixed so that no two tickets share an input.
fn mac(secret: &[u8], t: &Ticket) -> Hmac<Sha256> {
    let part = t
        .part_size
        .map_or_else(|| "-".to_owned(), |p| p.to_string());
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    m.update(b"presign-worker multipart ticket v1\0");
    for field in [
        t.key.as_str(),
        t.upload_id.as_str(),
        &t.size.to_string(),
        &part,
        &t.expires.to_string(),
    ] {
        m.update(&(field.len() as u64).to_be_bytes());
        m.update(field.as_bytes());
    }
    m
}

impl Ticket {
    /// The upload id the client sees: the store's id with this ticket appended.
    pub fn client_upload_id(&self, secret: &[u8]) -> String {
        let part = self
            .part_size
            .map_or_else(|| "-".to_owned(), |p| p.to_string());
        format!(
            "{}.{}.{}.{}.{}",
            self.upload_id,
            self.size,
            part,
            self.expires,
            URL_SAFE_NO_PAD.encode(mac(secret, self).finalize().into_bytes())
        )
    }

    /// Checks a client's `upload_id` for `key` at `now`: the ticket it carries, when its MAC
    /// is ours and it has not expired.
    pub fn open(secret: &[u8], key: &str, upload_id: &str, now: u64) -> Result<Self, TicketError> {
        let mut fields = upload_id.rsplitn(5, '.');
        let (Some(mac_b64), Some(expires), Some(part), Some(size), Some(store_id)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(TicketError::Malformed);
        };
        let number = |s: &str| -> Result<u64, TicketError> {
            if s.is_empty()
                || s.len() > 20
                || !s.bytes().all(|b| b.is_ascii_digit())
                || (s.len() > 1 && s.starts_with('0'))
            {
                return Err(TicketError::Malformed);
            }
            s.parse().map_err(|_| TicketError::Malformed)
        };
        let ticket = Ticket {
            key: key.to_owned(),
            upload_id: store_id.to_owned(),
            size: number(size)?,
            part_size: if part == "-" {
                None
            } else {
                Some(number(part)?)
            },
            expires: number(expires)?,
        };
        if store_id.is_empty() {
            return Err(TicketError::Malformed);
        }
        // A MAC that is not even base64url of some length is not ours either.
        let given = URL_SAFE_NO_PAD
            .decode(mac_b64)
            .map_err(|_| TicketError::Forged)?;
        // verify_slice compares in constant time.
        if mac(secret, &ticket).verify_slice(&given).is_err() {
            return Err(TicketError::Forged);
        }
        if now > ticket.expires {
            return Err(TicketError::Expired);
        }
        Ok(ticket)
    }

    /// The most parts the upload may have: `ceil(size / part size)` with a part size, else
    /// what S3's 5 MiB minimum part allows, at most 10 000.
    pub fn max_parts(&self) -> u16 {
        const MIN_PART: u64 = 5 * 1024 * 1024;
        let per = self.part_size.unwrap_or(MIN_PART).max(1);
        let n = self.size.div_ceil(per).clamp(1, 10_000);
        u16::try_from(n).unwrap_or(10_000)
    }

    /// The exact length of part `n` (1-based) when the part size is declared: the part size,
    /// or what is left for the last part. `None` without a part size or past the last part.
    pub fn part_length(&self, n: u16) -> Option<u64> {
        let per = self.part_size?;
        let before = per.checked_mul(u64::from(n.checked_sub(1)?))?;
        // A 0-byte upload has one (empty) part.
        (before < self.size.max(1)).then(|| per.min(self.size - before))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test ticket secret";

    fn ticket() -> Ticket {
        Ticket {
            key: "alice/1/movie.mp4".into(),
            upload_id: "VXBsb2FkIElE.with.dots~".into(),
            size: 12_000_000,
            part_size: Some(5_242_880),
            expires: 1_000,
        }
    }

    #[test]
    fn a_ticket_opens_for_its_key_and_upload_only() {
        let t = ticket();
        let id = t.client_upload_id(SECRET);
        assert!(
            id.starts_with("VXBsb2FkIElE.with.dots~.12000000.5242880.1000."),
            "{id}"
        );
        assert_eq!(Ticket::open(SECRET, &t.key, &id, 999), Ok(t.clone()));
        assert_eq!(Ticket::open(SECRET, &t.key, &id, 1_000), Ok(t.clone()));
        assert_eq!(
            Ticket::open(SECRET, &t.key, &id, 1_001),
            Err(TicketError::Expired)
        );
        assert_eq!(
            Ticket::open(SECRET, "alice/1/other.mp4", &id, 0),
            Err(TicketError::Forged)
        );
        assert_eq!(
            Ticket::open(b"another secret", &t.key, &id, 0),
            Err(TicketError::Forged)
        );
        // Any altered field: size, part size, expiry, store id, MAC.
        for (from, to) in [
            (".12000000.", ".12000001."),
            (".5242880.", ".-."),
            (".1000.", ".9999999999."),
            ("VXBsb2FkIElE", "VXBsb2FkIElF"),
        ] {
            let altered = id.replacen(from, to, 1);
            assert_eq!(
                Ticket::open(SECRET, &t.key, &altered, 0),
                Err(TicketError::Forged),
                "{altered}"
            );
        }
        let mut flipped = id.clone();
        let last = flipped.pop().unwrap();
        flipped.push(if last == 'A' { 'B' } else { 'A' });
        assert!(Ticket::open(SECRET, &t.key, &flipped, 0).is_err());
        // A MAC of a length base64url cannot have, or of other characters: forged too.
        for mac in ["A", "!!"] {
            let (rest, _) = id.rsplit_once('.').unwrap();
            let odd = format!("{rest}.{mac}");
            assert_eq!(
                Ticket::open(SECRET, &t.key, &odd, 0),
                Err(TicketError::Forged)
            );
        }
        let none = Ticket {
            part_size: None,
            ..t
        };
        let id = none.client_upload_id(SECRET);
        assert_eq!(Ticket::open(SECRET, &none.key, &id, 0), Ok(none));
    }

    #[test]
    fn malformed_ids_are_refused_not_panicked_on() {
        for id in [
            "",
            "bare-store-id",
            "a.1.2.3",
            ".1.-.3.AAAA",
            "a.01.-.3.AAAA",
            "a.1.x.3.AAAA",
            "a.99999999999999999999999.-.3.AAAA",
            "a.18446744073709551616.-.3.AAAA",
        ] {
            assert_eq!(
                Ticket::open(SECRET, "k", id, 0),
                Err(TicketError::Malformed),
                "{id}"
            );
        }
    }

    #[test]
    fn part_counts_and_lengths() {
        let t = ticket();
        assert_eq!(t.max_parts(), 3);
        assert_eq!(t.part_length(1), Some(5_242_880));
        assert_eq!(t.part_length(3), Some(12_000_000 - 2 * 5_242_880));
        assert_eq!((t.part_length(4), t.part_length(0)), (None, None));
        let none = Ticket {
            part_size: None,
            ..t
        };
        assert_eq!((none.max_parts(), none.part_length(1)), (3, None));
        let empty = Ticket {
            size: 0,
            ..ticket()
        };
        assert_eq!((empty.max_parts(), empty.part_length(1)), (1, Some(0)));
    }
}
