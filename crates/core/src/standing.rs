//! What stands for one record id, and the ledger line the rules make of it.
//!
//! A [`Standing`] is the record's state as the records alone decide it: the
//! highest revision seen, the fingerprint of the copy that represents it,
//! whether two copies of that revision disagree, and the [`Facts`] the rules
//! read. A [`Line`] is that standing classified against a registry and a
//! policy. Every store, cache and in-memory ledger keeps this one shape.

use crate::accrual::{AccrualKey, Effect};
use crate::classify::{classify, Assessment};
use crate::fingerprint::Fingerprint;
use crate::money::Money;
use crate::period::cst_date;
use crate::policy::PolicySet;
use crate::reason::{ReasonClass, ReasonCode};
use crate::record::{PaymentStatus, UsageRecord};
use crate::registry::Registry;
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// What the rules read from a record — who used which center, on which day, and what was
/// paid — and the accelerator the ledger reports the line under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The platform's record id: a funded-elsewhere entry or a supplier claim may name it.
    pub record_id: String,
    /// The contract the usage was bought under, when given: a funded-elsewhere entry may name it.
    pub contract_id: Option<String>,
    /// The compute user.
    pub user: crate::CreditCode,
    /// Where the job ran.
    pub center_id: String,
    /// The day `usage_end` falls on in China Standard Time: it picks the period and the policy version.
    pub usage_date: NaiveDate,
    /// Payment state.
    pub payment_status: PaymentStatus,
    /// Amount paid, yuan.
    pub paid_amount: Money,
    /// Accelerator model (reported, not read by the rules).
    pub accelerator: String,
}

impl Facts {
    /// The facts of a checked record.
    pub fn of(record: &UsageRecord) -> Facts {
        Facts {
            record_id: record.record_id.clone(),
            contract_id: record.contract_id.clone(),
            user: record.user,
            center_id: record.center_id.clone(),
            usage_date: cst_date(&record.usage_end),
            payment_status: record.payment_status,
            paid_amount: record.paid_amount,
            accelerator: record.accelerator.clone(),
        }
    }
}

/// What stands for one record id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The highest revision seen.
    pub revision: u32,
    /// The representing copy of that revision: the one with the smallest fingerprint.
    pub fingerprint: Fingerprint,
    /// Whether copies of that revision disagree in content.
    pub conflict: bool,
    /// The representing copy's facts.
    pub facts: Facts,
}

impl Standing {
    /// The standing of a record's first copy.
    pub fn of(record: &UsageRecord, fingerprint: Fingerprint) -> Standing {
        Standing { revision: record.revision, fingerprint, conflict: false, facts: Facts::of(record) }
    }

    /// The row version of a line standing on this, classified with the registry at
    /// `registry_position` (see [`line_version`]).
    pub fn version(&self, registry_position: u64) -> u64 {
        line_version(self.revision, self.conflict, registry_position)
    }
}

/// Largest registry position a version can carry; beyond it registry re-settlements
/// of one revision share a version and the last written stands.
pub const MAX_VERSION_REGISTRY_POSITION: u64 = (1 << 31) - 1;

/// The version of a ledger line, highest stands: the revision first, then the
/// position in the registry topics the line was classified at, then the conflict
/// flag (a conflict found at one revision replaces the line it was found against).
/// Made of data positions only, so the same history gives the same order on any host.
/// Revisions are at most [`crate::record::MAX_REVISION`], so versions stay below 2^63.
pub fn line_version(revision: u32, conflict: bool, registry_position: u64) -> u64 {
    (u64::from(revision) << 32) | (registry_position.min(MAX_VERSION_REGISTRY_POSITION) << 1) | u64::from(conflict)
}

/// The registry position a line of this version was classified at: a member must have
/// read the registry at least that far before it replaces the line, or its version
/// could fall below the one it replaces.
pub fn version_registry_position(version: u64) -> u64 {
    (version >> 1) & MAX_VERSION_REGISTRY_POSITION
}

/// What decides which of two stored rows of one record's line stands: data only, never the
/// order the rows were written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRank {
    /// The row's version ([`line_version`]).
    pub version: u64,
    /// The fingerprint of the copy the line stands on.
    pub fingerprint: Fingerprint,
    /// That copy's bus position: partition, offset.
    pub position: (i32, i64),
}

/// Which of two rows of one record's line stands, `Greater` when `a` does: the higher
/// version; at an equal version the smaller fingerprint (a conflicted revision is
/// represented by its smallest copy, see [`crate::step`]); then the earlier bus position
/// (the first of identical copies). `Equal` only for rows of one key, a replay: the stores
/// keep the later write. Both stores keep the rows this order puts first.
pub fn line_order(a: &LineRank, b: &LineRank) -> std::cmp::Ordering {
    a.version.cmp(&b.version).then_with(|| b.fingerprint.cmp(&a.fingerprint)).then_with(|| b.position.cmp(&a.position))
}

/// Whether a row ranked `new` replaces a stored row ranked `old`: it stands over it, or
/// it has the same key (a replay).
pub fn replaces(new: &LineRank, old: &LineRank) -> bool {
    line_order(new, old) != std::cmp::Ordering::Less
}

/// A standing record classified: the ledger line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// What stands.
    pub standing: Standing,
    /// What the rules make of it.
    pub assessment: Assessment,
}

impl Line {
    /// Classifies a standing record. A conflicted revision stands excluded as
    /// `revision_conflict`, whatever the rules would make of either copy.
    pub fn settle(standing: Standing, registry: &Registry, policy: &PolicySet) -> Line {
        let mut assessment = classify(&standing.facts, registry, policy);
        if standing.conflict {
            assessment.reason = Some(ReasonCode::RevisionConflict);
            assessment.contribution = Decimal::ZERO;
        }
        Line { standing, assessment }
    }

    /// The line classified again against another registry, if that changes it.
    pub fn resettle(&self, registry: &Registry, policy: &PolicySet) -> Option<Line> {
        let again = Line::settle(self.standing.clone(), registry, policy);
        (again.assessment != self.assessment).then_some(again)
    }

    /// What the line adds to its entity's month, when it is eligible.
    pub fn effect(&self) -> Option<Effect> {
        if self.assessment.reason.is_some() {
            return None;
        }
        Some(Effect {
            key: AccrualKey { user: self.standing.facts.user, period: self.assessment.period },
            base: self.assessment.base,
            contribution: self.assessment.contribution,
        })
    }

    /// Whether the line waits for the registry to learn its entity or center.
    pub fn is_held(&self) -> bool {
        self.assessment.reason.is_some_and(|r| r.class() == ReasonClass::Held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    fn rank(version: u64, fingerprint: u128, offset: i64) -> LineRank {
        LineRank { version, fingerprint: Fingerprint(fingerprint), position: (0, offset) }
    }

    #[test]
    fn the_higher_version_then_the_smaller_fingerprint_then_the_earlier_copy_stands() {
        let v = line_version(1, true, 7);
        assert_eq!(line_order(&rank(v + 2, 9, 9), &rank(v, 1, 1)), Ordering::Greater);
        assert_eq!(line_order(&rank(v, 1, 9), &rank(v, 2, 1)), Ordering::Greater);
        assert_eq!(line_order(&rank(v, 2, 1), &rank(v, 1, 9)), Ordering::Less);
        assert_eq!(line_order(&rank(v, 1, 3), &rank(v, 1, 4)), Ordering::Greater);
        assert_eq!(line_order(&rank(v, 1, 3), &rank(v, 1, 3)), Ordering::Equal);
        assert!(replaces(&rank(v, 1, 3), &rank(v, 1, 3)), "a replay replaces");
        assert!(!replaces(&rank(v, 2, 3), &rank(v, 1, 3)));
    }
}
