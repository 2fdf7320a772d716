//! Accruals: the running, exact (unrounded) totals per entity and period,
//! kept per policy version so caps can be applied at settlement.
//!
//! A record's [`Effect`] is added when it becomes the winning revision and
//! subtracted when a higher revision replaces it, so totals never depend on
//! arrival order.

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

/// What one eligible record adds to its entity's month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effect {
    /// Where it accrues.
    pub key: AccrualKey,
    /// Policy version index.
    pub version: u8,
    /// The paid base.
    pub base: Money,
    /// base × rate × uplift, exact.
    pub contribution: Decimal,
}

/// Totals of one entity and month.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accrual {
    /// Eligible records counted.
    pub eligible_records: u64,
    /// Σ base, exact.
    pub eligible_base: Money,
    /// Σ contribution per policy version index, exact.
    pub by_version: Vec<(u8, Decimal)>,
}

impl Accrual {
    /// Σ contribution over every version, exact.
    pub fn contribution(&self) -> Decimal {
        self.by_version.iter().map(|(_, c)| *c).sum()
    }

    fn add(&mut self, e: &Effect) {
        self.eligible_records += 1;
        self.eligible_base += e.base;
        match self.by_version.iter_mut().find(|(v, _)| *v == e.version) {
            Some((_, c)) => *c += e.contribution,
            None => self.by_version.push((e.version, e.contribution)),
        }
    }

    fn sub(&mut self, e: &Effect) {
        self.eligible_records -= 1;
        self.eligible_base -= e.base;
        if let Some(i) = self.by_version.iter().position(|(v, _)| *v == e.version) {
            self.by_version[i].1 -= e.contribution;
        }
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

    /// Inserts totals as they are (used when rebuilding state from a store).
    pub fn insert(&mut self, key: AccrualKey, accrual: Accrual) {
        self.map.insert(key, accrual);
    }

    /// The totals of one entity and month.
    pub fn get(&self, key: &AccrualKey) -> Option<&Accrual> {
        self.map.get(key)
    }

    /// Number of entity-months with at least one eligible record.
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
