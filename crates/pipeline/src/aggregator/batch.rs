//! One batch through the rules: parse, look up the standing revisions,
//! decide, classify, accrue, and settle what the batch touched. Produces the
//! rows to write; writes nothing itself.

use super::state::{effect_of, HeldRecord, OwnedState};
use std::collections::{BTreeSet, HashMap};
use subsidy_core::adjust::target_period;
use subsidy_core::revision::{decide, Decision};
use subsidy_core::settle::settle_entries;
use subsidy_core::{classify, parse_record, AccrualKey, Effect, PolicySet, ReasonCode, Registry, Rejection, Settlement, UsageRecord};
use subsidy_store::{AcceptedRecordRow, AdjustmentRow, BusPosition, HeldRow, LineRow, RejectionRow, SettlementRow, StandingLine, WriteBatch};

/// A message taken from the records topic (or a held record retried).
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Where it arrived.
    pub position: BusPosition,
    /// The platform's bytes.
    pub payload: Vec<u8>,
}

/// Everything a batch produced.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Rows for `write_batch`.
    pub write: WriteBatch,
    /// Settlements of the touched entity-months.
    pub settlements: Vec<SettlementRow>,
    /// Lines refused by the parser, for the dead-letter topic.
    pub dead_letters: Vec<(Vec<u8>, Rejection)>,
    /// Standing records that earn subsidy.
    pub accepted: u64,
    /// Standing records excluded, by reason.
    pub excluded: HashMap<ReasonCode, u64>,
    /// Rejected, held, duplicate and superseded lines, by reason.
    pub rejected: HashMap<ReasonCode, u64>,
}

/// What the store said stands for each record id of the batch.
pub type Standing = HashMap<String, StandingLine>;

/// Record ids that need a standing-line lookup.
pub fn record_ids(parsed: &[(BusPosition, &[u8], Result<UsageRecord, Rejection>)]) -> Vec<String> {
    let set: BTreeSet<&str> = parsed.iter().filter_map(|(_, _, r)| r.as_ref().ok().map(|r| r.record_id.as_str())).collect();
    set.into_iter().map(str::to_string).collect()
}

/// Parses every message.
pub fn parse_all(messages: &[Incoming]) -> Vec<(BusPosition, &[u8], Result<UsageRecord, Rejection>)> {
    messages.iter().map(|m| (m.position, m.payload.as_slice(), parse_record(&m.payload))).collect()
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a parsed batch through the rules against the standing lines, updating `state`.
pub fn prepare(
    parsed: Vec<(BusPosition, &[u8], Result<UsageRecord, Rejection>)>,
    mut standing: Standing,
    state: &mut OwnedState,
    registry: &Registry,
    policy: &PolicySet,
    version: u64,
) -> Prepared {
    let mut out = Prepared::default();
    let mut touched: BTreeSet<AccrualKey> = BTreeSet::new();
    let reject = |out: &mut Prepared, position, record_id: Option<String>, revision, reason: ReasonCode, field: Option<&str>, detail: String, raw: String| {
        *out.rejected.entry(reason).or_default() += 1;
        out.write.rejections.push(RejectionRow { position, record_id, revision, reason, field: field.map(str::to_string), detail, raw });
    };
    for (position, bytes, result) in parsed {
        let record = match result {
            Ok(r) => r,
            Err(rej) => {
                reject(&mut out, position, None, None, rej.reason, rej.field, rej.detail.clone(), lossy(bytes));
                out.dead_letters.push((bytes.to_vec(), rej));
                continue;
            }
        };
        let current = standing.get(&record.record_id);
        match decide(current.map(|c| c.revision), record.revision) {
            Decision::Duplicate => {
                reject(&mut out, position, Some(record.record_id.clone()), Some(record.revision), ReasonCode::Duplicate, None, "revision already seen".into(), String::new());
                continue;
            }
            Decision::Stale => {
                reject(&mut out, position, Some(record.record_id.clone()), Some(record.revision), ReasonCode::Superseded, None, "a higher revision stands".into(), String::new());
                continue;
            }
            Decision::First | Decision::Replaces => {}
        }
        let assessment = classify(&record, registry, policy);
        if let Some(reason @ (ReasonCode::UnknownEntity | ReasonCode::UnknownCenter)) = assessment.reason {
            // Held, not lost: retried when the registry learns the entity or center.
            let newer = state.held.get(&record.record_id).is_none_or(|h| h.record.revision < record.revision);
            if newer {
                let raw = lossy(bytes);
                out.write.held.push(HeldRow { record_id: record.record_id.clone(), revision: record.revision, reason, raw: raw.clone(), position, released: false });
                state.held.insert(record.record_id.clone(), HeldRecord { record, raw, position });
            }
            *out.rejected.entry(reason).or_default() += 1;
            continue;
        }
        if let Some(h) = state.held.get(&record.record_id) {
            if h.record.revision <= record.revision {
                let h = state.held.remove(&record.record_id).map(|h| h.position).unwrap_or(position);
                out.write.held.push(HeldRow { record_id: record.record_id.clone(), revision: record.revision, reason: ReasonCode::UnknownEntity, raw: String::new(), position: h, released: true });
            }
        }
        let old_effect = current.and_then(|c| effect_of(c, policy));
        let new_effect = match (assessment.reason, assessment.version) {
            (None, Some(version)) => Some(Effect { key: AccrualKey { user: record.user, period: assessment.period }, version, base: assessment.base, contribution: assessment.contribution }),
            _ => None,
        };
        state.accruals.apply(old_effect.as_ref(), new_effect.as_ref());
        if let Some(e) = &old_effect {
            touched.insert(e.key);
        }
        if let Some(e) = &new_effect {
            touched.insert(e.key);
        }
        // A change to a closed month is booked in the earliest open month after it.
        if let Some(c) = current {
            let old_period = c.period;
            for period in [old_period, assessment.period] {
                if state.closed.contains(&period) {
                    let old_in = old_effect.filter(|e| e.key.period == period);
                    let new_in = new_effect.filter(|e| e.key.period == period);
                    let delta_base = new_in.map_or(rust_decimal::Decimal::ZERO, |e| e.base) - old_in.map_or(rust_decimal::Decimal::ZERO, |e| e.base);
                    let delta_contribution = new_in.map_or(rust_decimal::Decimal::ZERO, |e| e.contribution) - old_in.map_or(rust_decimal::Decimal::ZERO, |e| e.contribution);
                    if !delta_contribution.is_zero() || !delta_base.is_zero() {
                        out.write.adjustments.push(AdjustmentRow {
                            record_id: record.record_id.clone(),
                            revision: record.revision,
                            credit_code: record.user,
                            original_period: period,
                            target_period: target_period(period, &state.closed),
                            delta_base,
                            delta_contribution,
                        });
                    }
                }
                if old_period == assessment.period {
                    break;
                }
            }
        }
        match assessment.reason {
            None => out.accepted += 1,
            Some(r) => *out.excluded.entry(r).or_default() += 1,
        }
        let version_id = assessment.version.and_then(|v| policy.version(v as usize)).map(|v| v.id.clone()).unwrap_or_default();
        out.write.lines.push(LineRow {
            record_id: record.record_id.clone(),
            revision: record.revision,
            user_credit_code: record.user,
            center_id: record.center_id.clone(),
            period: assessment.period,
            policy_version: version_id.clone(),
            rate: assessment.rate,
            uplift: assessment.uplift,
            base: assessment.base,
            contribution: assessment.contribution,
            reason: assessment.reason,
            position,
        });
        out.write.records.push(AcceptedRecordRow {
            record_id: record.record_id.clone(),
            revision: record.revision,
            user_credit_code: record.user,
            center_id: record.center_id.clone(),
            usage_end: record.usage_end,
            updated_at: record.updated_at,
            amount: record.amount,
            paid_amount: record.paid_amount,
            payment_status: record.payment_status.as_str().to_string(),
            raw: lossy(bytes),
            position,
        });
        standing.insert(
            record.record_id.clone(),
            StandingLine {
                record_id: record.record_id,
                revision: record.revision,
                user_credit_code: record.user,
                period: assessment.period,
                policy_version: version_id,
                base: assessment.base,
                contribution: assessment.contribution,
                reason: assessment.reason,
            },
        );
    }
    out.settlements = settle_touched(state, &touched, policy, version);
    out
}

/// Settlements of the touched entity-months (all months of the entity's year when caps apply);
/// a month left with no eligible record gets a zero row that hides the earlier one.
pub fn settle_touched(state: &OwnedState, touched: &BTreeSet<AccrualKey>, policy: &PolicySet, version: u64) -> Vec<SettlementRow> {
    let entries: Vec<(AccrualKey, &subsidy_core::Accrual)> = if policy.has_caps() {
        let years: BTreeSet<_> = touched.iter().map(|k| (k.user, k.period.year())).collect();
        state.accruals.iter().filter(|(k, _)| years.contains(&(k.user, k.period.year()))).map(|(k, a)| (*k, a)).collect()
    } else {
        touched.iter().filter_map(|k| state.accruals.get(k).map(|a| (*k, a))).collect()
    };
    let mut rows: Vec<SettlementRow> = settle_entries(entries, policy).into_iter().map(|settlement| SettlementRow { settlement, version }).collect();
    for k in touched {
        if state.accruals.get(k).is_none() {
            rows.push(SettlementRow {
                settlement: Settlement {
                    credit_code: k.user,
                    period: k.period,
                    eligible_records: 0,
                    eligible_base: rust_decimal::Decimal::ZERO,
                    uncapped: rust_decimal::Decimal::ZERO,
                    subsidy: rust_decimal::Decimal::ZERO,
                },
                version,
            });
        }
    }
    rows
}
