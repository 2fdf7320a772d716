//! What a close of one month does, judged from the ledger and the time it is
//! asked at: which months it closes (the month asked for and every earlier
//! month still open with no lines), whether the month has ended in China
//! Standard Time, and, among closes that raced for the same months, which one
//! stands. Pure: "now" is an argument, the order of claims is the log's.

use super::{close_month, CloseError, CloseInput, Statement, STATEMENTS_CSV_HEADER};
use crate::period::{cst_date, Period};
use chrono::{DateTime, FixedOffset};
use std::collections::{BTreeMap, BTreeSet};
use xxhash_rust::xxh3::Xxh3;

/// What a closer asks for.
#[derive(Debug, Clone, Copy)]
pub struct CloseRequest<'a> {
    /// The month to close.
    pub period: Period,
    /// When the close is asked (the caller reads the clock).
    pub now: DateTime<FixedOffset>,
    /// Why a month that has not ended is closed anyway (`None`: it must have ended).
    pub early_reason: Option<&'a str>,
}

/// What a close fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosePlan {
    /// The month asked for.
    pub period: Period,
    /// Earlier months still open with no lines, closed with it at nothing, oldest first.
    pub also_closed: Vec<Period>,
    /// Its statement lines, sorted (all carry `period` as payout period).
    pub statements: Vec<Statement>,
    /// Why it closed before the month ended, when it did.
    pub early_reason: Option<String>,
}

impl ClosePlan {
    /// Every month this close closes, oldest first.
    pub fn periods(&self) -> Vec<Period> {
        let mut all = self.also_closed.clone();
        all.push(self.period);
        all
    }
}

/// The close of `request.period`: refused when the month is closed, has not ended in
/// China Standard Time and no reason is given, or earlier months with lines are open.
pub fn plan_close(request: CloseRequest<'_>, input: CloseInput<'_>) -> Result<ClosePlan, CloseError> {
    let period = request.period;
    if input.closed.contains(&period) {
        return Err(CloseError::AlreadyClosed(period));
    }
    let current = Period::of_date(cst_date(&request.now));
    let early_reason = request.early_reason.map(str::trim).filter(|r| !r.is_empty()).map(str::to_string);
    if period >= current && early_reason.is_none() {
        return Err(CloseError::NotEnded { period, current });
    }
    let also_closed = empty_open_months(period, input);
    let mut closed: Vec<Period> = input.closed.to_vec();
    closed.extend(&also_closed);
    let statements = close_month(period, CloseInput { closed: &closed, ..input })?;
    Ok(ClosePlan { period, also_closed, statements, early_reason })
}

/// Open months before `period`, from the earliest month the ledger knows, that have no lines.
fn empty_open_months(period: Period, input: CloseInput<'_>) -> Vec<Period> {
    let known = input.closed.iter().chain(input.months_with_lines).copied().filter(|m| *m < period).min();
    let Some(mut month) = known else { return Vec::new() };
    let mut out = Vec::new();
    while month < period {
        if !input.closed.contains(&month) && !input.months_with_lines.contains(&month) {
            out.push(month);
        }
        month = month.next();
    }
    out
}

/// A stable digest of statement lines: what a claim says the closer wrote, so a
/// close completed by another run can check it finds the very same lines.
pub fn statements_digest(statements: &[Statement]) -> String {
    let csv = super::statements_csv(statements);
    debug_assert!(csv.starts_with(STATEMENTS_CSV_HEADER));
    let mut h = Xxh3::new();
    h.update(csv.as_bytes());
    format!("{:032x}", h.digest128())
}

/// Which claims stand, given every claim in the order of the log of closes: a claim
/// stands when none of its months was claimed by a claim that stands before it.
/// Returns, per month, the index of the claim that closed it.
pub fn standing_claims<'a>(claims: impl IntoIterator<Item = &'a [Period]>) -> BTreeMap<Period, usize> {
    let mut taken: BTreeMap<Period, usize> = BTreeMap::new();
    for (i, periods) in claims.into_iter().enumerate() {
        let months: BTreeSet<Period> = periods.iter().copied().collect();
        if !months.is_empty() && months.iter().all(|m| !taken.contains_key(m)) {
            taken.extend(months.into_iter().map(|m| (m, i)));
        }
    }
    taken
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::credit_code::CreditCode;
    use crate::money::Money;
    use crate::settle::Settlement;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn p(s: &str) -> Period {
        Period::parse(s).unwrap()
    }

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn settlement(period: &str) -> Settlement {
        let e = CreditCode::complete("91340100MA0000001").unwrap();
        let d = |s: &str| Money::from_str(s).unwrap();
        Settlement { credit_code: e, period: p(period), eligible_records: 1, eligible_base: d("10"), uncapped: d("2"), subsidy: d("2") }
    }

    const LATE: &str = "2026-12-05T07:00:00Z";

    #[test]
    fn empty_earlier_months_close_with_the_month_at_nothing() {
        let s = [settlement("2025-09"), settlement("2025-12")];
        let months = [p("2025-09"), p("2025-12")];
        let closed = [p("2025-09")];
        let september = close_month(p("2025-09"), CloseInput { settlements: &s, booked: &[], closed: &[], months_with_lines: &[p("2025-09")] }).unwrap();
        let input = CloseInput { settlements: &s, booked: &september, closed: &closed, months_with_lines: &months };
        let plan = plan_close(CloseRequest { period: p("2025-12"), now: at(LATE), early_reason: None }, input).unwrap();
        assert_eq!(plan.also_closed, [p("2025-10"), p("2025-11")]);
        assert_eq!(plan.periods(), [p("2025-10"), p("2025-11"), p("2025-12")]);
        assert!(plan.statements.iter().all(|l| l.for_period == p("2025-12")), "nothing frozen for the empty months: {:?}", plan.statements);
        // A late record of an empty month closed so becomes an adjustment at the next close.
        let closed = [p("2025-09"), p("2025-10"), p("2025-11"), p("2025-12")];
        let s = [settlement("2025-09"), settlement("2025-10"), settlement("2025-12"), settlement("2026-01")];
        let months = [p("2025-09"), p("2025-10"), p("2025-12"), p("2026-01")];
        let booked_all: Vec<Statement> = september.iter().chain(&plan.statements).cloned().collect();
        let next = plan_close(CloseRequest { period: p("2026-01"), now: at(LATE), early_reason: None }, CloseInput { settlements: &s, booked: &booked_all, closed: &closed, months_with_lines: &months }).unwrap();
        let adj: Vec<_> = next.statements.iter().filter(|l| l.for_period == p("2025-10")).collect();
        assert_eq!(adj.len(), 1, "{:?}", next.statements);
        assert_eq!(adj[0].kind, super::super::StatementKind::Adjustment);
        assert!(next.also_closed.is_empty());
    }

    #[test]
    fn the_first_month_of_a_ledger_closes_nothing_before_it() {
        let s = [settlement("2025-09")];
        let input = CloseInput { settlements: &s, booked: &[], closed: &[], months_with_lines: &[p("2025-09")] };
        let plan = plan_close(CloseRequest { period: p("2025-11"), now: at(LATE), early_reason: None }, input).unwrap_err();
        assert_eq!(plan, CloseError::EarlierOpen { period: p("2025-11"), open: vec![p("2025-09")] });
        let plan = plan_close(CloseRequest { period: p("2025-09"), now: at(LATE), early_reason: None }, input).unwrap();
        assert!(plan.also_closed.is_empty());
    }

    #[test]
    fn a_month_that_has_not_ended_in_china_closes_only_with_a_reason() {
        let s = [settlement("2026-11")];
        let input = CloseInput { settlements: &s, booked: &[], closed: &[], months_with_lines: &[p("2026-11")] };
        let ask = |now: &str, reason: Option<&'static str>| plan_close(CloseRequest { period: p("2026-11"), now: at(now), early_reason: reason }, input);
        // 2026-11-30 15:59:59 UTC is 23:59:59 on the 30th in China: not ended.
        assert_eq!(ask("2026-11-30T15:59:59Z", None).unwrap_err(), CloseError::NotEnded { period: p("2026-11"), current: p("2026-11") });
        assert!(ask("2026-11-30T15:59:59Z", Some("  ")).is_err(), "a blank reason is no reason");
        let err = ask("2026-11-10T00:00:00Z", None).unwrap_err();
        assert!(err.to_string().contains("--force-early"), "{err}");
        // 16:00 UTC is midnight of December 1st in China: ended.
        assert_eq!(ask("2026-11-30T16:00:00Z", None).unwrap().early_reason, None);
        let forced = ask("2026-11-30T15:59:59Z", Some(" bureau asked for the figure early ")).unwrap();
        assert_eq!(forced.early_reason.as_deref(), Some("bureau asked for the figure early"));
        assert_eq!(forced.statements.len(), 1);
    }

    #[test]
    fn the_first_standing_claim_of_a_month_wins() {
        let claims: Vec<Vec<Period>> = vec![vec![p("2025-09")], vec![p("2025-09")], vec![p("2025-10"), p("2025-11")], vec![p("2025-11")], vec![p("2025-09"), p("2025-12")], vec![p("2025-12")]];
        let won = standing_claims(claims.iter().map(Vec::as_slice));
        assert_eq!(won.get(&p("2025-09")), Some(&0));
        assert_eq!(won.get(&p("2025-10")), Some(&2));
        assert_eq!(won.get(&p("2025-11")), Some(&2));
        assert_eq!(won.get(&p("2025-12")), Some(&5), "a claim that lost one month claims none");
    }

    #[test]
    fn the_digest_names_the_lines() {
        let s = [settlement("2025-09")];
        let lines = close_month(p("2025-09"), CloseInput { settlements: &s, booked: &[], closed: &[], months_with_lines: &[p("2025-09")] }).unwrap();
        assert_eq!(statements_digest(&lines), statements_digest(&lines.clone()));
        assert_ne!(statements_digest(&lines), statements_digest(&[]));
    }

    proptest! {
        /// Whatever months have lines and are closed, a close that succeeds leaves no
        /// open month without lines before it, closes only months that were open, and
        /// refuses exactly the months that have not ended unless a reason is given.
        #[test]
        fn closes_leave_no_gap(lines in proptest::collection::btree_set(0u32..24, 0..8), closed_n in 0usize..4, target in 0u32..30, day in 0u32..40, forced in any::<bool>()) {
            let month = |i: u32| p(&format!("{}-{:02}", 2025 + i / 12, i % 12 + 1));
            let months: Vec<Period> = lines.iter().map(|i| month(*i)).collect();
            let closed: Vec<Period> = months.iter().take(closed_n).copied().collect();
            let s: Vec<Settlement> = months.iter().map(|m| settlement(&m.to_string())).collect();
            let now = at("2025-01-01T00:00:00+08:00") + chrono::TimeDelta::days(i64::from(day) * 20);
            let period = month(target);
            let input = CloseInput { settlements: &s, booked: &[], closed: &closed, months_with_lines: &months };
            let got = plan_close(CloseRequest { period, now, early_reason: forced.then_some("test") }, input);
            let ended = period < Period::of_date(cst_date(&now));
            match got {
                Ok(plan) => {
                    prop_assert!(ended || forced);
                    prop_assert_eq!(plan.early_reason.is_some(), forced);
                    prop_assert!(!closed.contains(&period));
                    let done: BTreeSet<Period> = closed.iter().copied().chain(plan.periods()).collect();
                    for m in plan.also_closed.iter() { prop_assert!(!closed.contains(m) && !months.contains(m) && *m < period); }
                    if let Some(first) = done.iter().next().copied() {
                        let mut m = first;
                        while m < period { prop_assert!(done.contains(&m), "{} left open", m); m = m.next(); }
                    }
                }
                Err(CloseError::NotEnded { .. }) => prop_assert!(!ended && !forced),
                Err(CloseError::AlreadyClosed(m)) => prop_assert!(closed.contains(&m)),
                Err(CloseError::EarlierOpen { open, .. }) => prop_assert!(open.iter().all(|m| months.contains(m) && !closed.contains(m) && *m < period)),
            }
        }
    }
}
