//! `GET /v1/records/{record_id}`: a record as received — every copy, in bus
//! order, with the core's decision on each — and the line that stands.

use super::yuan;
use crate::auth::Role;
use crate::error::{ApiError, ApiResult};
use crate::state::ApiState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
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

/// A record's history, if `role` may see it: an entity or city that may see any user the
/// record has named. The store is read first whoever asks, so an unknown id and another
/// entity's take the same path; for the bureau an unknown id is a 404.
pub async fn visible(state: &ApiState, role: &Role, record_id: &str) -> ApiResult<RecordHistory> {
    let (history, users) = history(state, record_id).await?;
    let registry = state.registry();
    if users.iter().any(|u| role.may_see(u, &registry)) {
        return Ok(history);
    }
    if *role == Role::Bureau {
        return Err(ApiError::NotFound(format!("no record {record_id:?} has been received")));
    }
    Err(state.forbidden())
}

/// A record's history and the entities it has counted for (every user any copy names).
async fn history(state: &ApiState, record_id: &str) -> ApiResult<(RecordHistory, BTreeSet<CreditCode>)> {
    let ids = [record_id.to_string()];
    let (lines, copies) = tokio::try_join!(state.store.lines_of(&ids), state.store.copies_of(&ids))?;
    let line = lines.into_iter().next();
    let registry = state.registry();
    let (copies, mut users) = replay(&copies, &registry, &state.policy);
    users.extend(line.as_ref().map(|l| l.user_credit_code));
    let history = RecordHistory { record_id: record_id.to_string(), standing: line.as_ref().map(standing), copies };
    Ok((history, users))
}

/// Takes the copies through the core's step in bus order; returns each with its decision.
fn replay(copies: &[CopyRow], registry: &Registry, policy: &PolicySet) -> (Vec<CopyView>, BTreeSet<CreditCode>) {
    let mut stands: Option<Standing> = None;
    let mut users = BTreeSet::new();
    let mut out = Vec::with_capacity(copies.len());
    for c in copies {
        let record = serde_json::from_str(&c.raw).unwrap_or_else(|_| serde_json::Value::String(c.raw.clone()));
        let decision = match parse_record(c.raw.as_bytes()) {
            Ok(r) => {
                users.insert(r.user);
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
    (out, users)
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
    }
}
