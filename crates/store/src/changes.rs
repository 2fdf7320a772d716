//! The ledger's change log and its fold: what a reader keeps up to date from
//! the changes since its last read instead of summing every line again.
//!
//! Every write of a ledger line is logged, in the same atomic unit as the line,
//! as a [`LineChange`]: the effect of the line it replaced (none for a first
//! line) and its own. [`LedgerSums`] folds changes (`-prior +new`) into the
//! sums `line_sums` returns and the per-center-day figures `ledger_counts`
//! returns, so its size grows with the keys (user × month × reason × policy
//! document, month × day × center), never with the lines. A store answers the
//! sums of its lines as they stand with the [`ChangeMark`] they include
//! ([`LedgerBase`]); the changes after a mark bring them up to date. The same
//! fold serves both stores and the API's book.

use crate::decimal::{exact, yuan};
use crate::{LineRow, LineSum, StoreError, StoreResult};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use subsidy_core::{CreditCode, DayCount, Period, ReasonCode};

/// What one standing line adds to the sums: the keys it is summed under and its amounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineEffect {
    /// The user.
    pub user_credit_code: CreditCode,
    /// Settlement month.
    pub period: Period,
    /// `None` when eligible.
    pub reason: Option<ReasonCode>,
    /// The policy document it was settled under.
    pub policy_hash: String,
    /// The center.
    pub center_id: String,
    /// Day of usage (China Standard Time).
    pub usage_date: NaiveDate,
    /// Amount paid.
    pub paid_amount: Decimal,
    /// Paid base.
    pub base: Decimal,
    /// Exact contribution.
    pub contribution: Decimal,
}

impl LineEffect {
    /// The effect of a stored line.
    pub fn of(line: &LineRow) -> LineEffect {
        LineEffect {
            user_credit_code: line.user_credit_code,
            period: line.period,
            reason: line.reason,
            policy_hash: line.policy_hash.clone(),
            center_id: line.center_id.clone(),
            usage_date: line.usage_date,
            paid_amount: line.paid_amount,
            base: line.base,
            contribution: line.contribution,
        }
    }
}

/// One logged write of a ledger line: what it took away and what it added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineChange {
    /// The record.
    pub record_id: String,
    /// The line it replaced (`None`: the record's first line).
    pub prior: Option<LineEffect>,
    /// The line now standing (`None`: the line was removed).
    pub new: Option<LineEffect>,
}

impl LineChange {
    /// The users whose sums the change moves (none when it moves nothing).
    pub fn users(&self) -> impl Iterator<Item = CreditCode> + '_ {
        let moves = self.prior != self.new;
        self.prior.iter().chain(self.new.iter()).filter(move |_| moves).map(|e| e.user_credit_code)
    }
}

/// How far into a store's change log a reader has folded: the last sequence number
/// folded per stream (one stream on SQLite). Opaque to readers; only its store reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeMark(pub BTreeMap<String, u64>);

impl ChangeMark {
    /// The mark of a store with one stream, at `seq`.
    pub fn single(seq: u64) -> ChangeMark {
        ChangeMark(BTreeMap::from([(String::new(), seq)]))
    }

    /// Where `stream` stands (0: nothing folded).
    pub fn of(&self, stream: &str) -> u64 {
        self.0.get(stream).copied().unwrap_or(0)
    }
}

/// Changes after a mark, in the order they were written, and the mark they lead to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// The changes.
    pub changes: Vec<LineChange>,
    /// The mark after the last of them (the given mark when there are none).
    pub mark: ChangeMark,
    /// Whether more changes follow (the read stopped at its limit).
    pub more: bool,
}

/// The sums of the standing lines as they stand, and the mark of the changes they include.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LedgerBase {
    /// The sums.
    pub sums: LedgerSums,
    /// The changes they include.
    pub mark: ChangeMark,
}

/// Lines and their amounts under one key.
#[derive(Debug, Clone, Default, PartialEq)]
struct Tally {
    records: i64,
    paid: Decimal,
    base: Decimal,
    contribution: Decimal,
}

impl Tally {
    /// No lines and no amounts: what a key whose lines all left holds.
    fn is_empty(&self) -> bool {
        self.records == 0 && self.paid.is_zero() && self.base.is_zero() && self.contribution.is_zero()
    }

    fn add(&mut self, e: &LineEffect, sign: i64) -> StoreResult<()> {
        let signed = |v: Decimal| if sign < 0 { -v } else { v };
        self.records += sign;
        self.paid = checked(self.paid, signed(e.paid_amount), "paid_amount")?;
        self.base = checked(self.base, signed(e.base), "base")?;
        self.contribution = checked(self.contribution, signed(e.contribution), "contribution")?;
        Ok(())
    }
}

/// `a + b`; a zero result is positive (a line taken away leaves `0`, never `-0`).
fn checked(a: Decimal, b: Decimal, what: &str) -> StoreResult<Decimal> {
    let mut sum = a.checked_add(b).ok_or_else(|| StoreError::rejected(format!("{what} sum overflows")))?;
    if sum.is_zero() {
        sum.set_sign_positive(true);
    }
    Ok(sum)
}

/// (month, reason, policy document) of one user's sums.
type UserKey = (Period, Option<ReasonCode>, String);

/// Lines and their paid sum per (usage day, center) of one month.
type DayFigures = BTreeMap<(NaiveDate, String), (i64, Decimal)>;

/// The fold of the ledger: sums per user, month, reason and policy document, and lines
/// and paid amounts per month, day and center. A key whose lines all left is removed, so
/// it holds what a full read of the standing lines returns, key for key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LedgerSums {
    users: BTreeMap<CreditCode, BTreeMap<UserKey, Tally>>,
    days: BTreeMap<Period, DayFigures>,
}

impl LedgerSums {
    /// Adds one standing line (a full read folds every line so).
    pub fn add(&mut self, effect: &LineEffect) -> StoreResult<()> {
        self.put(effect, 1)
    }

    /// Applies one change: takes its prior line away and adds its new one.
    pub fn apply(&mut self, change: &LineChange) -> StoreResult<()> {
        if change.prior == change.new {
            return Ok(());
        }
        if let Some(prior) = &change.prior {
            self.put(prior, -1)?;
        }
        if let Some(new) = &change.new {
            self.put(new, 1)?;
        }
        Ok(())
    }

    /// Adds the lines one `line_sums` group sums (a full read that sums in the store).
    pub fn add_sum(&mut self, sum: &LineSum) -> StoreResult<()> {
        let records = i64::try_from(sum.records).map_err(|_| StoreError::corrupt(format!("{} lines in one sum", sum.records)))?;
        let key = (sum.period, sum.reason, sum.policy_hash.clone());
        let tally = self.users.entry(sum.user_credit_code).or_default().entry(key).or_default();
        tally.records += records;
        tally.paid = checked(tally.paid, sum.paid_amount, "paid_amount")?;
        tally.base = checked(tally.base, sum.base, "base")?;
        tally.contribution = checked(tally.contribution, sum.contribution, "contribution")?;
        Ok(())
    }

    /// Adds the lines of one center-day of `period` (a full read that counts in the store).
    pub fn add_day(&mut self, period: Period, count: &DayCount) -> StoreResult<()> {
        let records = i64::try_from(count.records).map_err(|_| StoreError::corrupt(format!("{} lines on one center-day", count.records)))?;
        let figures = self.days.entry(period).or_default().entry((count.day, count.center_id.clone())).or_insert((0, Decimal::ZERO));
        figures.0 += records;
        figures.1 = checked(figures.1, count.paid, "paid_amount")?;
        Ok(())
    }

    /// Adds one standing line to the per-user sums only (a base read puts back, part by
    /// part, lines its queries saw written after its mark).
    pub fn add_to_users(&mut self, effect: &LineEffect) -> StoreResult<()> {
        self.put_user(effect, 1)
    }

    /// Adds one standing line to the center-day figures only.
    pub fn add_to_days(&mut self, effect: &LineEffect) -> StoreResult<()> {
        self.put_day(effect, 1)
    }

    fn put(&mut self, e: &LineEffect, sign: i64) -> StoreResult<()> {
        self.put_user(e, sign)?;
        self.put_day(e, sign)
    }

    fn put_user(&mut self, e: &LineEffect, sign: i64) -> StoreResult<()> {
        let user = self.users.entry(e.user_credit_code).or_default();
        let key = (e.period, e.reason, e.policy_hash.clone());
        let tally = user.entry(key.clone()).or_default();
        tally.add(e, sign)?;
        if tally.is_empty() {
            user.remove(&key);
            if user.is_empty() {
                self.users.remove(&e.user_credit_code);
            }
        }
        Ok(())
    }

    fn put_day(&mut self, e: &LineEffect, sign: i64) -> StoreResult<()> {
        let month = self.days.entry(e.period).or_default();
        let day = (e.usage_date, e.center_id.clone());
        let figures = month.entry(day.clone()).or_insert((0, Decimal::ZERO));
        figures.0 += sign;
        figures.1 = checked(figures.1, if sign < 0 { -e.paid_amount } else { e.paid_amount }, "paid_amount")?;
        // Changes of several writers are folded in their streams' order, not the order they
        // happened in, so a key may pass through no lines with amounts left: only a key
        // with nothing left goes.
        if figures.0 == 0 && figures.1.is_zero() {
            month.remove(&day);
            if month.is_empty() {
                self.days.remove(&e.period);
            }
        }
        Ok(())
    }

    /// Every sum, as `line_sums` returns it (sorted by user, month, reason with eligible
    /// first, then policy document).
    pub fn line_sums(&self) -> Vec<LineSum> {
        self.users.keys().flat_map(|u| self.user_sums(u)).collect()
    }

    /// The sums of one user, sorted as [`line_sums`](LedgerSums::line_sums).
    pub fn user_sums(&self, user: &CreditCode) -> Vec<LineSum> {
        let Some(sums) = self.users.get(user) else { return Vec::new() };
        sums.iter()
            .map(|((period, reason, hash), t)| LineSum {
                user_credit_code: *user,
                period: *period,
                reason: *reason,
                records: u64::try_from(t.records).unwrap_or(0),
                paid_amount: yuan(t.paid),
                base: yuan(t.base),
                contribution: exact(t.contribution),
                policy_hash: hash.clone(),
            })
            .collect()
    }

    /// The users with lines.
    pub fn users(&self) -> impl Iterator<Item = &CreditCode> + '_ {
        self.users.keys()
    }

    /// The months with lines.
    pub fn months(&self) -> BTreeSet<Period> {
        self.days.keys().copied().collect()
    }

    /// The figures of `period` per center and usage day, as `ledger_counts` returns them.
    pub fn day_counts(&self, period: Period) -> Vec<DayCount> {
        let Some(days) = self.days.get(&period) else { return Vec::new() };
        days.iter()
            .map(|((day, center_id), (records, paid))| DayCount { center_id: center_id.clone(), day: *day, records: u64::try_from(*records).unwrap_or(0), paid: yuan(*paid) })
            .collect()
    }

    /// Whether any key holds a negative number of lines: changes folded out of order or
    /// a log that lost a change. A sound fold never does.
    pub fn is_negative(&self) -> bool {
        self.users.values().flat_map(BTreeMap::values).any(|t| t.records < 0) || self.days.values().flat_map(BTreeMap::values).any(|f| f.0 < 0)
    }

    /// How many keys hold different figures here and in `other` (a key only one holds counts
    /// once): 0 when the two folds agree.
    pub fn differing_keys(&self, other: &LedgerSums) -> usize {
        fn differ<K: Ord, V: PartialEq>(a: &BTreeMap<K, V>, b: &BTreeMap<K, V>) -> usize {
            a.iter().filter(|(k, v)| b.get(k) != Some(v)).count() + b.keys().filter(|k| !a.contains_key(k)).count()
        }
        fn nested<K: Ord, L: Ord, V: PartialEq>(a: &BTreeMap<K, BTreeMap<L, V>>, b: &BTreeMap<K, BTreeMap<L, V>>) -> usize {
            let empty = BTreeMap::new();
            let ours: usize = a.iter().map(|(k, m)| differ(m, b.get(k).unwrap_or(&empty))).sum();
            ours + b.iter().filter(|(k, _)| !a.contains_key(k)).map(|(_, m)| m.len()).sum::<usize>()
        }
        nested(&self.users, &other.users) + nested(&self.days, &other.days)
    }

    /// Keys held (what the fold's memory grows with).
    pub fn keys(&self) -> usize {
        self.users.values().map(BTreeMap::len).sum::<usize>() + self.days.values().map(BTreeMap::len).sum::<usize>()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn effect(user: u32, reason: Option<ReasonCode>, paid: &str) -> LineEffect {
        LineEffect {
            user_credit_code: CreditCode::complete(&format!("913401000000{user:05}")).unwrap(),
            period: Period::parse("2025-09").unwrap(),
            reason,
            policy_hash: "d0c".to_string(),
            center_id: "hefei-01".to_string(),
            usage_date: NaiveDate::from_ymd_opt(2025, 9, 3).unwrap(),
            paid_amount: Decimal::from_str(paid).unwrap(),
            base: Decimal::from_str(paid).unwrap(),
            contribution: Decimal::from_str(paid).unwrap() * Decimal::from_str("0.36").unwrap(),
        }
    }

    #[test]
    fn a_replaced_line_leaves_no_key_behind() {
        let (a, b) = (effect(1, None, "10.00"), effect(2, Some(ReasonCode::Refunded), "10.00"));
        let mut sums = LedgerSums::default();
        sums.apply(&LineChange { record_id: "r".into(), prior: None, new: Some(a.clone()) }).unwrap();
        sums.apply(&LineChange { record_id: "r".into(), prior: Some(a.clone()), new: Some(b.clone()) }).unwrap();
        let mut only_b = LedgerSums::default();
        only_b.add(&b).unwrap();
        assert_eq!(sums, only_b);
        assert_eq!(sums.differing_keys(&only_b), 0);
        assert_eq!(sums.differing_keys(&LedgerSums::default()), 2, "one sum and one center-day");
        sums.apply(&LineChange { record_id: "r".into(), prior: Some(b), new: None }).unwrap();
        assert_eq!(sums, LedgerSums::default());
        assert!(sums.line_sums().is_empty() && sums.months().is_empty());
    }

    #[test]
    fn changes_of_two_writers_fold_to_the_same_sums_in_either_order() {
        // One line stands under the key; a second record's line is written by one writer (d)
        // and replaced by another (s), whose stream is folded first.
        let (a, d, s) = (effect(1, None, "10.00"), effect(1, None, "4.00"), effect(2, None, "7.00"));
        let first = LineChange { record_id: "r2".into(), prior: None, new: Some(d.clone()) };
        let then = LineChange { record_id: "r2".into(), prior: Some(d), new: Some(s.clone()) };
        let mut expected = LedgerSums::default();
        expected.add(&a).unwrap();
        expected.add(&s).unwrap();
        for order in [[&first, &then], [&then, &first]] {
            let mut sums = LedgerSums::default();
            sums.add(&a).unwrap();
            for c in order {
                sums.apply(c).unwrap();
            }
            assert_eq!(sums, expected, "the key passed through no lines with amounts left, and kept them");
        }
    }

    #[test]
    fn a_change_that_moves_nothing_touches_no_user() {
        let a = effect(1, None, "10.00");
        let same = LineChange { record_id: "r".into(), prior: Some(a.clone()), new: Some(a.clone()) };
        assert_eq!(same.users().count(), 0);
        let moved = LineChange { record_id: "r".into(), prior: Some(a), new: Some(effect(2, None, "10.00")) };
        assert_eq!(moved.users().count(), 2);
    }
}
