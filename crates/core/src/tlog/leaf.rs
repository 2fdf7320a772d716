//! The canonical leaf of a statement line, and the order of the log's leaves.
//!
//! A leaf is one line of text, fields in a fixed order, amounts as normalized
//! decimals (no trailing zeros, zero as `0`), so a store that keeps amounts at
//! another scale gives the same bytes. The log's leaves are the closed months in
//! closing (calendar) order, and within a month its statement lines in their
//! sorted order: entity, payout month, month it is for, kind, amounts.

use crate::close::Statement;
use crate::credit_code::CreditCode;
use crate::money::Money;
use crate::period::Period;

/// The first word of every leaf: the encoding's name and version.
pub const LEAF_PREFIX: &str = "subsidy-statement/v1";

/// One leaf of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    /// The closed month whose close appended it.
    pub period: Period,
    /// The entity the line pays.
    pub credit_code: CreditCode,
    /// The canonical text (see [`leaf_body`]).
    pub body: String,
}

fn amount(v: Money) -> String {
    if v.is_zero() {
        return "0".to_string();
    }
    v.normalize().to_string()
}

/// The canonical text of one statement line closed under the policy document `policy_hash`.
pub fn leaf_body(s: &Statement, policy_hash: &str) -> String {
    format!(
        "{LEAF_PREFIX} period={} entity={} kind={} for={} base={} subsidy={} policy={}",
        s.payout_period,
        s.credit_code,
        s.kind.as_str(),
        s.for_period,
        amount(s.eligible_base),
        amount(s.subsidy),
        policy_hash
    )
}

/// Every leaf of the log: for each closed month (with the policy hash it closed under) in
/// calendar order, its statement lines sorted. Lines whose payout month is not among
/// `closed` are not in the log. Returns the leaves and, per month, the size after it.
pub fn log_leaves(closed: &[(Period, String)], statements: &[Statement]) -> (Vec<Leaf>, Vec<(Period, u64)>) {
    let mut months: Vec<&(Period, String)> = closed.iter().collect();
    months.sort_by_key(|(p, _)| *p);
    let mut lines: Vec<&Statement> = statements.iter().collect();
    lines.sort();
    let mut leaves = Vec::new();
    let mut ends = Vec::with_capacity(months.len());
    for (period, policy) in months {
        leaves.extend(lines.iter().filter(|s| s.payout_period == *period).map(|s| Leaf { period: *period, credit_code: s.credit_code, body: leaf_body(s, policy) }));
        ends.push((*period, leaves.len() as u64));
    }
    (leaves, ends)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::close::StatementKind;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn line(payout: &str, kind: StatementKind, base: &str, subsidy: &str) -> Statement {
        Statement {
            credit_code: CreditCode::complete("91340100MA0000001").unwrap(),
            payout_period: Period::parse(payout).unwrap(),
            for_period: Period::parse("2026-01").unwrap(),
            kind,
            eligible_base: Decimal::from_str(base).unwrap(),
            subsidy: Decimal::from_str(subsidy).unwrap(),
        }
    }

    #[test]
    fn the_leaf_does_not_depend_on_the_scale_of_amounts() {
        let a = leaf_body(&line("2026-02", StatementKind::Adjustment, "12.5000", "-3.10"), "ab");
        let b = leaf_body(&line("2026-02", StatementKind::Adjustment, "12.5", "-3.1"), "ab");
        assert_eq!(a, b);
        let code = line("2026-02", StatementKind::Adjustment, "0", "0").credit_code;
        assert_eq!(a, format!("subsidy-statement/v1 period=2026-02 entity={code} kind=adjustment for=2026-01 base=12.5 subsidy=-3.1 policy=ab"));
        assert!(leaf_body(&line("2026-02", StatementKind::Settled, "-0.00", "0.0000"), "ab").contains(" base=0 subsidy=0 "));
    }

    #[test]
    fn months_come_in_calendar_order_with_their_own_policy() {
        let s = [line("2026-03", StatementKind::Settled, "1", "1"), line("2026-02", StatementKind::Settled, "2", "2"), line("2026-05", StatementKind::Settled, "3", "3")];
        let closed = [(Period::parse("2026-03").unwrap(), "p3".to_string()), (Period::parse("2026-02").unwrap(), "p2".to_string())];
        let (leaves, ends) = log_leaves(&closed, &s);
        assert_eq!(leaves.len(), 2, "a line of a month not closed is not in the log");
        assert!(leaves[0].body.contains("period=2026-02") && leaves[0].body.ends_with("policy=p2"));
        assert!(leaves[1].body.contains("period=2026-03") && leaves[1].body.ends_with("policy=p3"));
        assert_eq!(ends, [(Period::parse("2026-02").unwrap(), 1), (Period::parse("2026-03").unwrap(), 2)]);
    }
}
