//! The upload ledger (`src/ledger.rs`): per-subject budgets (`QUOTA_BYTES_PER_DAY`,
//! `QUOTA_GRANTS_PER_HOUR`, `QUOTA_OPEN_MULTIPART`), single-use tokens (`SINGLE_USE_TOKENS`) and
//! the cleanups (`MULTIPART_CLEANUP_GRACE`, `DELETE_UNCOMPLETED_AFTER`). With none of them set
//! (nor webhooks) the ledger is off: no Durable Object is called.

use super::{Result, Vars};
use crate::ledger::Limits;

/// Largest budget value accepted (bytes or grants): 2^53, exact in JavaScript numbers.
const MAX_QUOTA: u64 = 1 << 53;
/// Longest `MULTIPART_CLEANUP_GRACE`: 30 days.
const MAX_CLEANUP_GRACE: u64 = 30 * 86_400;

/// The ledger's settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaConfig {
    /// The budgets every subject gets; tokens may narrow them.
    pub limits: Limits,
    /// Whether every token must carry a `jti` and grants once.
    pub single_use_tokens: bool,
    /// Seconds after a multipart upload's ticket expired (`MULTIPART_LIFETIME`) that its
    /// subject's ledger aborts it at the store if it was neither completed nor aborted
    /// (`MULTIPART_CLEANUP_GRACE`); `None`: no cleanup.
    pub cleanup_grace_secs: Option<u64>,
    /// Seconds after a grant that its subject's ledger deletes the object at the store if the
    /// upload was never completed (`DELETE_UNCOMPLETED_AFTER`, at least `URL_TTL`); `None`:
    /// never.
    pub delete_uncompleted_secs: Option<u64>,
}

impl QuotaConfig {
    /// Whether the ledger is consulted at all.
    pub fn enabled(&self) -> bool {
        self.limits != Limits::default()
            || self.single_use_tokens
            || self.cleanup_grace_secs.is_some()
            || self.delete_uncompleted_secs.is_some()
    }
}

fn optional(vars: &Vars<'_>, name: &str) -> Result<Option<u64>> {
    match vars.get(name) {
        None => Ok(None),
        Some(v) => super::parse_number(name, &v, 1, MAX_QUOTA).map(Some),
    }
}

/// `QUOTA_BYTES_PER_DAY`, `QUOTA_GRANTS_PER_HOUR`, `QUOTA_OPEN_MULTIPART` (whole numbers
/// from 1) and `SINGLE_USE_TOKENS`.
pub(super) fn parse_quota(vars: &Vars<'_>) -> Result<QuotaConfig> {
    let cfg = QuotaConfig {
        limits: Limits {
            bytes_per_day: optional(vars, "QUOTA_BYTES_PER_DAY")?,
            grants_per_hour: optional(vars, "QUOTA_GRANTS_PER_HOUR")?,
            open_multipart: optional(vars, "QUOTA_OPEN_MULTIPART")?,
        },
        single_use_tokens: vars.boolean("SINGLE_USE_TOKENS", false)?,
        cleanup_grace_secs: match vars.get("MULTIPART_CLEANUP_GRACE") {
            None => None,
            Some(v) => Some(super::parse_number(
                "MULTIPART_CLEANUP_GRACE",
                &v,
                0,
                MAX_CLEANUP_GRACE,
            )?),
        },
        delete_uncompleted_secs: match vars.get("DELETE_UNCOMPLETED_AFTER") {
            None => None,
            Some(v) => Some(super::parse_number(
                "DELETE_UNCOMPLETED_AFTER",
                &v,
                1,
                MAX_CLEANUP_GRACE,
            )?),
        },
    };
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn quota_values() {
        for (var, bad) in [
            ("QUOTA_BYTES_PER_DAY", "0"),
            ("QUOTA_BYTES_PER_DAY", "-1"),
            ("QUOTA_GRANTS_PER_HOUR", "ten"),
            ("QUOTA_GRANTS_PER_HOUR", "9007199254740993"),
            ("SINGLE_USE_TOKENS", "yes please"),
            ("QUOTA_OPEN_MULTIPART", "0"),
            ("MULTIPART_CLEANUP_GRACE", "-1"),
            ("MULTIPART_CLEANUP_GRACE", "2592001"),
            ("DELETE_UNCOMPLETED_AFTER", "0"),
            ("DELETE_UNCOMPLETED_AFTER", "2592001"),
        ] {
            rejects(with(&[(var, bad)]), var, "");
        }
        let off = parse(&base()).map(|c| c.quota);
        assert!(matches!(off, Ok(q) if !q.enabled()), "{off:?}");
        let on = parse(&with(&[
            ("QUOTA_BYTES_PER_DAY", "1000"),
            ("SINGLE_USE_TOKENS", "true"),
        ]))
        .map(|c| c.quota);
        let expected = QuotaConfig {
            limits: crate::ledger::Limits {
                bytes_per_day: Some(1000),
                grants_per_hour: None,
                open_multipart: None,
            },
            single_use_tokens: true,
            cleanup_grace_secs: None,
            delete_uncompleted_secs: None,
        };
        assert_eq!(on, Ok(expected));
    }
}
