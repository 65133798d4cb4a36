//! The upload ledger (`src/ledger.rs`): per-subject budgets (`QUOTA_BYTES_PER_DAY`,
//! `QUOTA_GRANTS_PER_HOUR`, `QUOTA_OPEN_MULTIPART`) and single-use tokens (`SINGLE_USE_TOKENS`). With none of them set
//! the ledger is off: no Durable Object is called.

use super::{Result, Vars};
use crate::ledger::Limits;

/// Largest budget value accepted (bytes or grants): 2^53, exact in JavaScript numbers.
const MAX_QUOTA: u64 = 1 << 53;

/// The ledger's settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaConfig {
    /// The budgets every subject gets; tokens may narrow them.
    pub limits: Limits,
    /// Whether every token must carry a `jti` and grants once.
    pub single_use_tokens: bool,
}

impl QuotaConfig {
    /// Whether the ledger is consulted at all.
    pub fn enabled(&self) -> bool {
        self.limits != Limits::default() || self.single_use_tokens
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
        };
        assert_eq!(on, Ok(expected));
    }
}
