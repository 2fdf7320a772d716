//! `GET /v1/records/{record_id}`: a record as received — every copy, in bus
//! order, with the core's decision on each — and the line that stands.
//!
//! Who may see it follows the line that stands: the bureau, the entity it
//! names and that entity's city. A revision can move a record from one entity
//! to another; the entity it moved away from (and its city) then gets the
//! same refusal as for a record never received, since every copy and the
//! standing line now belong to the other entity's ledger.

use super::yuan;
use crate::auth::Role;
use crate::error::{ApiError, ApiResult};
use crate::state::ApiState;
use serde::{Deserialize, Serialize};
use subsidy_core::{parse_record, step, CreditCode, Fingerprint, PolicySet, Registry, Standing};
use subsidy_store::{CopyRow, LineRow};
use utoipa::ToSchema;

/// A record's history.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecordHistory {
    /// Record id.
    pub record_id: String,
    /// The line that stands for it.
    pub standing: Option<StandingLine>,
    /// Every copy received, in bus order.
    pub copies: Vec<CopyView>,
}

/// The standing line of a record.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StandingLine {
    /// The user it counts for.
    pub user_credit_code: String,
    /// Settlement month.
    pub period: String,
    /// Standing revision.
    pub revision: u32,
    /// Whether copies of that revision disagree.
    pub conflict: bool,
    /// Whether it earns subsidy.
    pub eligible: bool,
    /// Why not.
    pub reason: Option<String>,
    /// The reason in plain words.
    pub explanation: Option<String>,
    /// Eligible base, yuan.
    pub base: String,
    /// base × rate × uplift, exact.
    pub contribution: String,
    /// Policy version applied.
    pub policy_version: Option<String>,
    /// The user's registry entry the line was judged by: its `valid_from` day, or `undated`
    /// (empty in answers of servers from before registry entries were dated).
    #[serde(default)]
    pub entity_entry: String,
    /// The center's registry entry the line was judged by: its `valid_from` day, or `undated`.
    #[serde(default)]
    pub center_entry: String,
}

/// One copy as received.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CopyView {
    /// Kafka partition it arrived on.
    pub partition: i32,
    /// Kafka offset.
    pub offset: i64,
    /// Its revision.
    pub revision: u32,
    /// Content fingerprint.
    pub fingerprint: String,
    /// What the copy was against what stood when it came: `first`, `replaces`,
    /// `duplicate`, `superseded` or `conflict`.
    pub decision: String,
    /// The platform's record, as received.
    #[schema(value_type = Object)]
    pub record: serde_json::Value,
}

/// A record's history, if `role` may see it: the bureau, or an entity or city that may see
/// the user its standing line names (a record without one is the bureau's alone). The store
/// is read first whoever asks, so an unknown id and another entity's take the same path and
/// get the same refusal; for the bureau an unknown id is a 404.
pub async fn visible(state: &ApiState, role: &Role, record_id: &str) -> ApiResult<RecordHistory> {
    let (history, owner) = history(state, record_id).await?;
    let received = owner.is_some() || !history.copies.is_empty();
    match role {
        Role::Bureau if received => Ok(history),
        Role::Bureau => Err(ApiError::NotFound(format!("no record {record_id:?} has been received"))),
        _ if owner.is_some_and(|u| role.may_see(&u, &state.registry())) => Ok(history),
        _ => Err(state.forbidden()),
    }
}

/// A record's history and the entity its standing line names, if one stands.
async fn history(state: &ApiState, record_id: &str) -> ApiResult<(RecordHistory, Option<CreditCode>)> {
    let ids = [record_id.to_string()];
    let (lines, copies) = tokio::try_join!(state.store.lines_of(&ids), state.store.copies_of(&ids))?;
    let line = lines.into_iter().next();
    let registry = state.registry();
    let copies = replay(&copies, &registry, &state.book().policy.set);
    let history = RecordHistory { record_id: record_id.to_string(), standing: line.as_ref().map(standing), copies };
    Ok((history, line.map(|l| l.user_credit_code)))
}

/// Takes the copies through the core's step in bus order; returns each with its decision.
fn replay(copies: &[CopyRow], registry: &Registry, policy: &PolicySet) -> Vec<CopyView> {
    let mut stands: Option<Standing> = None;
    let mut out = Vec::with_capacity(copies.len());
    for c in copies {
        let record = serde_json::from_str(&c.raw).unwrap_or_else(|_| serde_json::Value::String(c.raw.clone()));
        let decision = match parse_record(c.raw.as_bytes()) {
            Ok(r) => {
                let s = step(stands.as_ref(), &r, Fingerprint::of(&r), registry, policy);
                if let Some(line) = s.line {
                    stands = Some(line.standing);
                }
                s.decision.as_str()
            }
            Err(_) => "unreadable",
        };
        out.push(CopyView { partition: c.position.partition, offset: c.position.offset, revision: c.revision, fingerprint: c.fingerprint.to_string(), decision: decision.to_string(), record });
    }
    out
}

fn standing(l: &LineRow) -> StandingLine {
    StandingLine {
        user_credit_code: l.user_credit_code.to_string(),
        period: l.period.to_string(),
        revision: l.revision,
        conflict: l.conflict,
        eligible: l.reason.is_none(),
        reason: l.reason.map(|r| r.as_str().to_string()),
        explanation: l.reason.map(|r| r.explain().to_string()),
        base: yuan(l.base),
        contribution: l.contribution.normalize().to_string(),
        policy_version: (!l.policy_version.is_empty()).then(|| l.policy_version.clone()),
        entity_entry: super::entry_name(l.entity_entry),
        center_entry: super::entry_name(l.center_entry),
    }
}
