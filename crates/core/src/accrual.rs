//! Accruals: the running, exact (unrounded) totals of eligible lines per
//! entity and month.
//!
//! A line's [`Effect`] is added when it stands and subtracted when another
//! line of the same record replaces it, so totals never depend on arrival
//! order. Stores keep no accruals: they sum the standing lines instead
//! ([`Accruals::insert`]), which gives the same totals.

use crate::credit_code::CreditCode;
use crate::money::Money;
use crate::period::Period;
use ahash::AHashMap;
use rust_decimal::Decimal;

/// Entity and month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccrualKey {
    /// The compute user.
    pub user: CreditCode,
    /// The settlement month.
    pub period: Period,
}

/// What one eligible line adds to its entity's month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effect {
    /// Where it accrues.
    pub key: AccrualKey,
    /// The paid base.
    pub base: Money,
    /// base × rate × uplift, exact.
    pub contribution: Decimal,
}

/// Totals of one entity and month.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accrual {
    /// Eligible lines counted.
    pub eligible_records: u64,
    /// Σ base, exact.
    pub eligible_base: Money,
    /// Σ contribution, exact.
    pub contribution: Decimal,
}

impl Accrual {
    fn add(&mut self, e: &Effect) {
        self.eligible_records += 1;
        self.eligible_base += e.base;
        self.contribution += e.contribution;
    }

    fn sub(&mut self, e: &Effect) {
        self.eligible_records -= 1;
        self.eligible_base -= e.base;
        self.contribution -= e.contribution;
    }
}

/// Accruals of many entities and months.
#[derive(Debug, Clone, Default)]
pub struct Accruals {
    map: AHashMap<AccrualKey, Accrual>,
}

impl Accruals {
    /// No accruals.
    pub fn new() -> Accruals {
        Accruals::default()
    }

    /// Replaces a record's old effect (if any) with its new one (if any).
    pub fn apply(&mut self, old: Option<&Effect>, new: Option<&Effect>) {
        if let Some(o) = old {
            if let std::collections::hash_map::Entry::Occupied(mut slot) = self.map.entry(o.key) {
                slot.get_mut().sub(o);
                if slot.get().eligible_records == 0 {
                    slot.remove();
                }
            }
        }
        if let Some(n) = new {
            self.map.entry(n.key).or_default().add(n);
        }
    }

    /// Adds totals summed elsewhere (a store's sums of its standing lines).
    pub fn insert(&mut self, key: AccrualKey, accrual: &Accrual) {
        let a = self.map.entry(key).or_default();
        a.eligible_records += accrual.eligible_records;
        a.eligible_base += accrual.eligible_base;
        a.contribution += accrual.contribution;
    }

    /// The totals of one entity and month.
    pub fn get(&self, key: &AccrualKey) -> Option<&Accrual> {
        self.map.get(key)
    }

    /// Number of entity-months with at least one eligible line.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every entity-month, unordered.
    pub fn iter(&self) -> impl Iterator<Item = (&AccrualKey, &Accrual)> {
        self.map.iter()
    }
}
