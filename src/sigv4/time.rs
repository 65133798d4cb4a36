//! The `X-Amz-Date` timestamp (`YYYYMMDD'T'HHMMSS'Z'`, UTC), computed from Unix seconds passed in.

use core::fmt;

/// A SigV4 timestamp, e.g. `20130524T000000Z`. Its first eight characters are the scope date.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AmzDate {
    buf: [u8; 16],
    unix: u64,
}

/// Seconds in a day.
const DAY: u64 = 86_400;
/// 9999-12-31T23:59:59Z: the last instant a four-digit year can write.
const MAX_UNIX: u64 = 253_402_300_799;

impl AmzDate {
    /// The timestamp for `unix` seconds since 1970-01-01T00:00:00Z, or `None` past year 9999.
    pub fn from_unix(unix: u64) -> Option<Self> {
        if unix > MAX_UNIX {
            return None;
        }
        let (y, m, d) = civil_from_days(unix / DAY);
        let secs = unix % DAY;
        let mut buf = *b"00000000T000000Z";
        put_digits(&mut buf[0..4], y);
        put_digits(&mut buf[4..6], m);
        put_digits(&mut buf[6..8], d);
        put_digits(&mut buf[9..11], secs / 3600);
        put_digits(&mut buf[11..13], secs % 3600 / 60);
        put_digits(&mut buf[13..15], secs % 60);
        Some(Self { buf, unix })
    }

    /// Parses `YYYYMMDDTHHMMSSZ` (and the ISO form `YYYY-MM-DDTHH:MM:SSZ`).
    pub fn parse(s: &str) -> Option<Self> {
        let compact: String = s.chars().filter(|c| *c != '-' && *c != ':').collect();
        let b = compact.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let num = |r: core::ops::Range<usize>| -> Option<u64> {
            let part = compact.get(r)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
        let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
        if !(1970..=9999).contains(&y)
            || !(1..=12).contains(&m)
            || d == 0
            || hh > 23
            || mm > 59
            || ss > 59
        {
            return None;
        }
        let days = days_from_civil(y, m, d);
        let parsed = Self::from_unix(days * DAY + hh * 3600 + mm * 60 + ss)?;
        // Reject dates such as February 30th, which would silently roll over.
        (parsed.as_str() == compact).then_some(parsed)
    }

    /// The full timestamp, `YYYYMMDDTHHMMSSZ`.
    pub fn as_str(&self) -> &str {
        super::encode::ascii_str(&self.buf)
    }

    /// The scope date, `YYYYMMDD`.
    pub fn date(&self) -> &str {
        super::encode::ascii_str(&self.buf[..8])
    }

    /// Seconds since the Unix epoch.
    pub fn unix(&self) -> u64 {
        self.unix
    }
}

impl fmt::Debug for AmzDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for AmzDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn put_digits(out: &mut [u8], mut v: u64) {
    for slot in out.iter_mut().rev() {
        // `v % 10` is below 10, so the cast cannot truncate.
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// (year ≥ 1970, month, day) to days since 1970-01-01.
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y % 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        // 2013-05-24T00:00:00Z (the S3 documentation's example) is 1369353600.
        let d = AmzDate::from_unix(1_369_353_600).unwrap();
        assert_eq!(d.as_str(), "20130524T000000Z");
        assert_eq!(d.date(), "20130524");
        // 2015-08-30T12:36:00Z (the SigV4 test suite's timestamp) is 1440938160.
        assert_eq!(
            AmzDate::from_unix(1_440_938_160).unwrap().as_str(),
            "20150830T123600Z"
        );
        assert_eq!(AmzDate::from_unix(0).unwrap().as_str(), "19700101T000000Z");
        // 2000-02-29 (leap day of a century leap year) is 951782400.
        assert_eq!(
            AmzDate::from_unix(951_782_400).unwrap().as_str(),
            "20000229T000000Z"
        );
        assert_eq!(
            AmzDate::from_unix(MAX_UNIX).unwrap().as_str(),
            "99991231T235959Z"
        );
        assert!(AmzDate::from_unix(MAX_UNIX + 1).is_none());
    }

    #[test]
    fn parse_round_trips_and_rejects_nonsense() {
        for unix in [0u64, 951_782_400, 1_369_353_600, 1_700_000_000, MAX_UNIX] {
            let d = AmzDate::from_unix(unix).unwrap();
            assert_eq!(AmzDate::parse(d.as_str()).unwrap().unix(), unix);
        }
        assert_eq!(
            AmzDate::parse("2015-08-30T12:36:00Z").unwrap().unix(),
            1_440_938_160
        );
        for bad in [
            "",
            "20130230T000000Z",
            "20131301T000000Z",
            "20130524T240000Z",
            "20130524 000000Z",
            "2013052AT000000Z",
            "19691231T235959Z",
        ] {
            assert!(AmzDate::parse(bad).is_none(), "{bad}");
        }
    }
}
