//! Decoding of stored keys and codes, shared by both stores: anything that
//! does not parse back is `Corrupt`.

use crate::{StoreError, StoreResult};
use subsidy_core::{CreditCode, Period, ReasonCode};

/// A stored credit code.
pub(crate) fn credit_code(text: &str) -> StoreResult<CreditCode> {
    CreditCode::parse(text).ok_or_else(|| StoreError::Corrupt(format!("bad credit code {text:?} in store")))
}

/// A stored `yyyymm` period.
pub(crate) fn period(yyyymm: u32) -> StoreResult<Period> {
    Period::from_yyyymm(yyyymm).ok_or_else(|| StoreError::Corrupt(format!("bad period {yyyymm} in store")))
}

/// A stored line reason: `''` is the eligible line's.
pub(crate) fn line_reason(text: &str) -> StoreResult<Option<ReasonCode>> {
    if text.is_empty() {
        return Ok(None);
    }
    reason(text).map(Some)
}

/// A stored reason code that must be present.
pub(crate) fn reason(text: &str) -> StoreResult<ReasonCode> {
    ReasonCode::parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown reason code {text:?} in store")))
}

/// The storage form of a line reason.
pub(crate) fn line_reason_text(reason: Option<ReasonCode>) -> &'static str {
    reason.map_or("", ReasonCode::as_str)
}

/// Version of a held row: a release replaces the held row of its revision;
/// a later revision replaces both.
pub(crate) fn held_version(revision: u32, released: bool) -> u64 {
    u64::from(revision) * 2 + u64::from(released)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decodes_or_reports_corruption() {
        assert_eq!(line_reason("").unwrap(), None);
        assert_eq!(line_reason("unpaid").unwrap(), Some(ReasonCode::Unpaid));
        assert_eq!(line_reason("nope").unwrap_err().kind(), "corrupt");
        assert_eq!(period(202513).unwrap_err().kind(), "corrupt");
        assert_eq!(credit_code("x").unwrap_err().kind(), "corrupt");
        assert!(held_version(1, true) > held_version(1, false));
        assert!(held_version(2, false) > held_version(1, true));
    }
}
