//! Closing a month: what is fixed for payment, computed from the ledger as it
//! stands, never from the events that led there.
//!
//! Closing month M freezes, per entity, M's settled figure (a `settled`
//! statement). At the same time every month closed before is settled again
//! from the lines as they stand now, and the difference from what was already
//! fixed for it (its frozen figure plus the adjustments booked since) is
//! booked in M, one `adjustment` per entity and original month. Both figures
//! come from [`crate::settle()`] (capped, floored to the fen), so for every
//! entity and closed month, frozen + adjustments equals the settlement of the
//! ledger as it stood at the last close, to the fen; frozen figures never move.
//! A change that lands while a close runs is either in what it read or in
//! the next close's difference, never in neither.
//!
//! [`plan_close`] is the way in for a closer: it also closes every earlier
//! month still open with no lines, refuses a month that has not ended in
//! China Standard Time unless a reason is given, and [`standing_claims`]
//! says which of several racing closes stands (the first in the log of closes).

mod plan;

pub use plan::{plan_close, standing_claims, statements_digest, ClosePlan, CloseRequest};

use crate::credit_code::CreditCode;
use crate::money::{format_yuan, Money};
use crate::period::Period;
use crate::settle::Settlement;
use std::collections::BTreeMap;
use std::fmt::Write;

/// What a statement line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatementKind {
    /// A booked correction to an earlier closed month (ordered first: "adjustment" < "settled").
    Adjustment,
    /// A closed month's frozen figure.
    Settled,
}

impl StatementKind {
    /// The stable name used in files and tables.
    pub const fn as_str(self) -> &'static str {
        match self {
            StatementKind::Adjustment => "adjustment",
            StatementKind::Settled => "settled",
        }
    }

    /// Parses the stable name.
    pub fn parse(text: &str) -> Option<StatementKind> {
        match text {
            "adjustment" => Some(StatementKind::Adjustment),
            "settled" => Some(StatementKind::Settled),
            _ => None,
        }
    }
}

/// One line of what has been fixed for payment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Statement {
    /// The entity paid.
    pub credit_code: CreditCode,
    /// The closed month whose payment carries the line.
    pub payout_period: Period,
    /// The month the figure is for.
    pub for_period: Period,
    /// Frozen figure or adjustment.
    pub kind: StatementKind,
    /// Eligible base (for an adjustment: its change).
    pub eligible_base: Money,
    /// Subsidy, whole fen (for an adjustment: its change, possibly negative).
    pub subsidy: Money,
}

/// Why a month cannot be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseError {
    /// It is closed already; closed figures never move.
    #[error("{0} is already closed")]
    AlreadyClosed(Period),
    /// The month has not ended in China Standard Time, and no reason to close it early was given.
    #[error("{period} has not ended in China Standard Time (it is {current} there); close it early only with --force-early --reason \"why\"")]
    NotEnded {
        /// The month asked for.
        period: Period,
        /// The month it is now in China Standard Time.
        current: Period,
    },
    /// Months close in order: earlier months with ledger lines are still open.
    #[error("{period} cannot close while earlier months with ledger lines are open: {}; close them first, oldest first", list(.open))]
    EarlierOpen {
        /// The month asked for.
        period: Period,
        /// The open earlier months.
        open: Vec<Period>,
    },
}

fn list(periods: &[Period]) -> String {
    periods.iter().map(Period::to_string).collect::<Vec<_>>().join(", ")
}

/// What is already known about the ledger when a month closes.
#[derive(Debug, Clone, Copy)]
pub struct CloseInput<'a> {
    /// The settlements of the ledger as it stands (every entity and month).
    pub settlements: &'a [Settlement],
    /// Every statement line booked so far.
    pub booked: &'a [Statement],
    /// The months closed so far.
    pub closed: &'a [Period],
    /// Every month that has at least one ledger line.
    pub months_with_lines: &'a [Period],
}

/// The statement lines closing `period` books, sorted; or why it cannot close.
pub fn close_month(period: Period, input: CloseInput<'_>) -> Result<Vec<Statement>, CloseError> {
    if input.closed.contains(&period) {
        return Err(CloseError::AlreadyClosed(period));
    }
    let mut open: Vec<Period> = input.months_with_lines.iter().copied().filter(|m| *m < period && !input.closed.contains(m)).collect();
    open.sort_unstable();
    open.dedup();
    if !open.is_empty() {
        return Err(CloseError::EarlierOpen { period, open });
    }
    let mut out: Vec<Statement> = input
        .settlements
        .iter()
        .filter(|s| s.period == period)
        .map(|s| Statement {
            credit_code: s.credit_code,
            payout_period: period,
            for_period: period,
            kind: StatementKind::Settled,
            eligible_base: s.eligible_base,
            subsidy: s.subsidy,
        })
        .collect();
    out.extend(adjustments(period, input));
    out.sort();
    Ok(out)
}

/// For every closed month: settled now minus already fixed, per entity, where it differs.
fn adjustments(period: Period, input: CloseInput<'_>) -> Vec<Statement> {
    let mut diff: BTreeMap<(CreditCode, Period), (Money, Money)> = BTreeMap::new();
    for s in input.settlements.iter().filter(|s| input.closed.contains(&s.period)) {
        let d = diff.entry((s.credit_code, s.period)).or_default();
        d.0 += s.eligible_base;
        d.1 += s.subsidy;
    }
    for (key, (base, subsidy)) in fixed(input.booked) {
        let d = diff.entry(key).or_default();
        d.0 -= base;
        d.1 -= subsidy;
    }
    diff.into_iter()
        .filter(|(_, (base, subsidy))| !base.is_zero() || !subsidy.is_zero())
        .map(|((credit_code, for_period), (eligible_base, subsidy))| Statement {
            credit_code,
            payout_period: period,
            for_period,
            kind: StatementKind::Adjustment,
            eligible_base,
            subsidy,
        })
        .collect()
}

/// What has been fixed per entity and month: Σ eligible base and Σ subsidy of its statement lines.
pub fn fixed(statements: &[Statement]) -> BTreeMap<(CreditCode, Period), (Money, Money)> {
    let mut out: BTreeMap<(CreditCode, Period), (Money, Money)> = BTreeMap::new();
    for s in statements {
        let t = out.entry((s.credit_code, s.for_period)).or_default();
        t.0 += s.eligible_base;
        t.1 += s.subsidy;
    }
    out
}

/// The header of the statements CSV, without newline.
pub const STATEMENTS_CSV_HEADER: &str = "credit_code,payout_period,for_period,kind,eligible_base,subsidy";

/// Renders statement lines as CSV (header included, `\n` line ends), sorted by credit
/// code, payout period, for period and kind, amounts with two decimals.
pub fn statements_csv(statements: &[Statement]) -> String {
    let mut rows: Vec<&Statement> = statements.iter().collect();
    rows.sort_by_key(|s| (s.credit_code, s.payout_period, s.for_period, s.kind.as_str()));
    let mut out = String::with_capacity(64 * (rows.len() + 1));
    out.push_str(STATEMENTS_CSV_HEADER);
    out.push('\n');
    for s in rows {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{},{},{},{},{},{}", s.credit_code, s.payout_period, s.for_period, s.kind.as_str(), format_yuan(s.eligible_base), format_yuan(s.subsidy));
    }
    out
}

/// The statements CSV with one more column, `policy_document`: the hash of the policy
/// document each line was computed under, that of the close of its payout month
/// (`documents`, by month; "" for a close made before documents were recorded).
pub fn statements_csv_documented(statements: &[Statement], documents: &BTreeMap<Period, String>) -> String {
    let mut rows: Vec<&Statement> = statements.iter().collect();
    rows.sort_by_key(|s| (s.credit_code, s.payout_period, s.for_period, s.kind.as_str()));
    let mut out = String::with_capacity(128 * (rows.len() + 1));
    out.push_str(STATEMENTS_CSV_HEADER);
    out.push_str(",policy_document\n");
    for s in rows {
        let document = documents.get(&s.payout_period).map_or("", String::as_str);
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{document}",
            s.credit_code,
            s.payout_period,
            s.for_period,
            s.kind.as_str(),
            format_yuan(s.eligible_base),
            format_yuan(s.subsidy)
        );
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn p(s: &str) -> Period {
        Period::parse(s).unwrap()
    }

    fn settlement(code: CreditCode, period: &str, base: &str, subsidy: &str) -> Settlement {
        let d = |s: &str| Money::from_str(s).unwrap();
        Settlement { credit_code: code, period: p(period), eligible_records: 1, eligible_base: d(base), uncapped: d(subsidy), subsidy: d(subsidy) }
    }

    #[test]
    fn later_changes_become_adjustments_and_fixed_equals_settled() {
        let e = CreditCode::complete("91340100MA0000001").unwrap();
        let sep = [settlement(e, "2025-09", "250.55", "60.13")];
        let first = close_month(p("2025-09"), CloseInput { settlements: &sep, booked: &[], closed: &[], months_with_lines: &[p("2025-09")] }).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].kind, StatementKind::Settled);
        // r11 corrected to 500.00: September is now 120.00; October closes.
        let now = [settlement(e, "2025-09", "500.00", "120.00"), settlement(e, "2025-10", "10.00", "2.00")];
        let second = close_month(p("2025-10"), CloseInput { settlements: &now, booked: &first, closed: &[p("2025-09")], months_with_lines: &[p("2025-09"), p("2025-10")] }).unwrap();
        let adj: Vec<_> = second.iter().filter(|s| s.kind == StatementKind::Adjustment).collect();
        assert_eq!(adj.len(), 1);
        assert_eq!((adj[0].for_period, adj[0].payout_period), (p("2025-09"), p("2025-10")));
        assert_eq!(adj[0].subsidy.to_string(), "59.87", "120.00 − 60.13, not an unrounded 59.868");
        let all: Vec<Statement> = first.iter().chain(&second).cloned().collect();
        assert_eq!(fixed(&all).get(&(e, p("2025-09"))).map(|t| t.1.to_string()), Some("120.00".into()));
        assert!(statements_csv(&all).contains(",2025-10,2025-09,adjustment,249.45,59.87\n"));
        // Each line names the document of the close of its payout month.
        let documents = BTreeMap::from([(p("2025-09"), "aaa".to_string()), (p("2025-10"), "bbb".to_string())]);
        let csv = statements_csv_documented(&all, &documents);
        assert!(csv.starts_with(&format!("{STATEMENTS_CSV_HEADER},policy_document\n")));
        assert!(csv.contains(",2025-09,2025-09,settled,250.55,60.13,aaa\n"), "{csv}");
        assert!(csv.contains(",2025-10,2025-09,adjustment,249.45,59.87,bbb\n"), "{csv}");
        assert_eq!(csv.lines().count(), statements_csv(&all).lines().count(), "one row per line");
    }

    #[test]
    fn months_close_in_order_and_once() {
        let e = CreditCode::complete("91340100MA0000001").unwrap();
        let s = [settlement(e, "2025-09", "1", "0.20")];
        let input = CloseInput { settlements: &s, booked: &[], closed: &[], months_with_lines: &[p("2025-08"), p("2025-09")] };
        let err = close_month(p("2025-09"), input).unwrap_err();
        assert_eq!(err, CloseError::EarlierOpen { period: p("2025-09"), open: vec![p("2025-08")] });
        assert!(err.to_string().contains("2025-08"), "{err}");
        let closed = [p("2025-08"), p("2025-09")];
        let err = close_month(p("2025-09"), CloseInput { closed: &closed, ..input }).unwrap_err();
        assert_eq!(err, CloseError::AlreadyClosed(p("2025-09")));
    }
}
