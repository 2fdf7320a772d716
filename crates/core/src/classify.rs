//! Eligibility: a record's facts against the registry and the policy,
//! giving its period, policy version, rate, uplift, base and contribution,
//! or the one reason it earns nothing. Place names on both sides are in
//! canonical form (see [`crate::place`]), so spelling never decides.

use crate::funding::funding_exclusion;
use crate::money::{Money, CONTRIBUTION_SCALE};
use crate::period::Period;
use crate::policy::PolicySet;
use crate::reason::ReasonCode;
use crate::record::PaymentStatus;
use crate::registry::Registry;
use crate::standing::Facts;
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// What the rules make of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assessment {
    /// The month of `usage_end` in China Standard Time.
    pub period: Period,
    /// Index of the policy version in force, if any covers the date.
    pub version: Option<u8>,
    /// The version's rate (zero when no version applies).
    pub rate: Decimal,
    /// The uplift factor (1 when none applies).
    pub uplift: Decimal,
    /// Paid amount when paid, else zero.
    pub base: Money,
    /// base × rate × uplift when eligible, else zero. Exact, not rounded.
    pub contribution: Decimal,
    /// `None` when eligible; otherwise why not.
    pub reason: Option<ReasonCode>,
    /// The day of the user's registry entry the record was judged by (`None`: undated, or no entry).
    pub entity_entry: Option<NaiveDate>,
    /// The day of the center's registry entry the record was judged by (`None`: undated, or no entry).
    pub center_entry: Option<NaiveDate>,
}

impl Assessment {
    /// Whether the record earns subsidy.
    pub fn is_eligible(&self) -> bool {
        self.reason.is_none()
    }
}

/// Classifies a record's facts against the registry entries standing on its usage day. Checks
/// run in a fixed order and the first that fails gives the reason: unknown entity, unknown
/// center, policy window, entity kind, province, self-built, related party, funded elsewhere,
/// claimed by the center's owner as supplier ([`crate::funding`]), then payment status.
pub fn classify(record: &Facts, registry: &Registry, policy: &PolicySet) -> Assessment {
    let date = record.usage_date;
    let period = Period::of_date(date);
    let mut a = Assessment {
        period,
        version: None,
        rate: Decimal::ZERO,
        uplift: Decimal::ONE,
        base: Decimal::ZERO,
        contribution: Decimal::ZERO,
        reason: None,
        entity_entry: None,
        center_entry: None,
    };
    let found = policy.version_for(date);
    if let Some((index, version)) = found {
        a.version = Some(index as u8);
        a.rate = version.rate;
    }
    if record.payment_status == PaymentStatus::Paid {
        a.base = record.paid_amount;
    }
    let reason = 'check: {
        let Some(user) = registry.entity_on(&record.user, date) else { break 'check Some(ReasonCode::UnknownEntity) };
        a.entity_entry = user.valid_from;
        let Some(center) = registry.center_on(&record.center_id, date) else { break 'check Some(ReasonCode::UnknownCenter) };
        a.center_entry = center.valid_from;
        let Some((_, version)) = found else { break 'check Some(ReasonCode::OutsidePolicyWindow) };
        a.uplift = version.uplift_for(&user.city);
        if !version.eligible_kinds.contains(&user.kind) {
            break 'check Some(ReasonCode::IneligibleEntityKind);
        }
        if version.required_province.as_ref().is_some_and(|p| *p != user.province) {
            break 'check Some(ReasonCode::OutsideProvince);
        }
        if center.owner_credit_code == record.user {
            break 'check Some(ReasonCode::SelfBuiltSelfUsed);
        }
        if let Some(group) = &user.related_group {
            let owner_group = registry.entity_on(&center.owner_credit_code, date).and_then(|o| o.related_group.as_ref());
            if owner_group == Some(group) {
                break 'check Some(ReasonCode::RelatedParty);
            }
        }
        if let Some(funded) = funding_exclusion(record, registry) {
            break 'check Some(funded.reason);
        }
        match record.payment_status {
            PaymentStatus::Paid => None,
            PaymentStatus::Unpaid => Some(ReasonCode::Unpaid),
            PaymentStatus::Refunded => Some(ReasonCode::Refunded),
        }
    };
    a.reason = reason;
    if reason.is_none() {
        let mut c = a.base * (a.rate * a.uplift);
        c.rescale(CONTRIBUTION_SCALE);
        a.contribution = c;
    }
    a
}
