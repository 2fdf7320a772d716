//! The transparency log over HTTP: the newest signed checkpoint with its
//! cosignatures, consistency proofs for witnesses, cities' cosignatures, and an
//! entity's proof of its own lines (C2SP tlog-proof). Every answer is read from
//! the store and built by the core (`subsidy_core::tlog`); an entity sees its
//! own lines and hashes, nothing of others.

use crate::auth::Role;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::{caller, RawParams};
use crate::state::ApiState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use subsidy_core::tlog::{encode_bundle, TlogError};
use subsidy_core::{CreditCode, Period};
use subsidy_store::{read_log, StoredLog, TlogCosignatureRow};
use utoipa::ToSchema;

/// A consistency proof between two sizes of the log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProof {
    /// The older size.
    pub old: u64,
    /// The newer size.
    pub new: u64,
    /// The proof's hashes, base64 (RFC 6962 consistency proof).
    pub hashes: Vec<String>,
}

/// A witness's cosignature of the checkpoint of `size`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CosignatureRequest {
    /// The size of the checkpoint cosigned.
    pub size: u64,
    /// The cosignature line, `— <witness key name> <base64>` (C2SP tlog-cosignature).
    pub line: String,
}

fn one<'a>(q: &'a [(String, String)], name: &'static str) -> ApiResult<Option<&'a str>> {
    let mut found = q.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let first = found.next();
    if found.next().is_some() {
        return Err(ApiError::bad(name, format!("{name} is given more than once")));
    }
    Ok(first)
}

fn size_param(q: &[(String, String)], name: &'static str) -> ApiResult<u64> {
    let text = one(q, name)?.ok_or_else(|| ApiError::bad(name, format!("{name} is required")))?;
    text.parse().map_err(|_| ApiError::bad(name, format!("{name} must be a log size (a whole number)")))
}

async fn log(state: &ApiState) -> ApiResult<StoredLog> {
    Ok(read_log(state.store.as_ref()).await?)
}

fn log_error(e: TlogError) -> ApiError {
    match e {
        TlogError::OutOfRange(m) => ApiError::NotFound(m),
        other => ApiError::Store { detail: other.to_string(), retry: false },
    }
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// The newest signed checkpoint (C2SP tlog-checkpoint) with every witness cosignature.
#[utoipa::path(get, path = "/v1/log/checkpoint", tag = "log",
    responses((status = 200, description = "The signed note", content_type = "text/plain", body = String), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_checkpoint(State(state): State<ApiState>, headers: HeaderMap) -> ApiResult<Response> {
    caller(&state, &headers)?;
    let log = log(&state).await?;
    let latest = log.latest().ok_or_else(|| ApiError::NotFound("no checkpoint is signed yet".into()))?;
    Ok(text(log.cosigned_note(latest).map_err(log_error)?))
}

/// The consistency proof from size `old` to size `new` of the log (what a witness checks).
#[utoipa::path(get, path = "/v1/log/consistency", tag = "log",
    params(("old" = u64, Query, description = "The size the witness cosigned last (0: none)"), ("new" = u64, Query, description = "The size of the newest checkpoint")),
    responses((status = 200, body = ConsistencyProof), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_consistency(State(state): State<ApiState>, headers: HeaderMap, Query(q): RawParams) -> ApiResult<Json<ConsistencyProof>> {
    caller(&state, &headers)?;
    let (old, new) = (size_param(&q, "old")?, size_param(&q, "new")?);
    if old > new {
        return Err(ApiError::bad("old", "old must not be larger than new"));
    }
    let log = log(&state).await?;
    let hashes = log.tree.consistency(old, new).map_err(log_error)?;
    Ok(Json(ConsistencyProof { old, new, hashes: hashes.iter().map(ToString::to_string).collect() }))
}

/// Records a city witness's cosignature of a signed checkpoint (city tokens only), once it
/// verifies under the key of one of the witnesses the server is given.
#[utoipa::path(post, path = "/v1/log/cosignatures", tag = "log", request_body = CosignatureRequest,
    responses((status = 201, description = "Recorded"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_cosignature(State(state): State<ApiState>, headers: HeaderMap, got: Result<Json<CosignatureRequest>, JsonRejection>) -> ApiResult<Response> {
    let who = caller(&state, &headers)?;
    if !matches!(who.role, Role::City(_)) {
        return Err(state.forbidden());
    }
    let Json(req) = got.map_err(|e| ApiError::bad("body", e.body_text()))?;
    let log = log(&state).await?;
    let row = log.checkpoints.iter().find(|c| c.size == req.size).ok_or_else(|| ApiError::NotFound(format!("no checkpoint of size {} is signed", req.size)))?;
    let note = subsidy_core::tlog::with_signature_lines(&row.note, std::slice::from_ref(&req.line)).map_err(|e| ApiError::bad("line", e.to_string()))?;
    check_cosignature(&note, &state.witness_keys)?;
    let witness = req.line.trim_start_matches("— ").split(' ').next().unwrap_or_default().to_string();
    let line = req.line.trim_end().to_string();
    state.store.record_tlog_cosignature(&TlogCosignatureRow { size: req.size, witness, line }).await?;
    Ok(StatusCode::CREATED.into_response())
}

/// Whether `note` carries a valid cosignature by one of `keys`. If none verifies, the reason
/// a line under a given witness's name fails, else that no given key signed it.
fn check_cosignature(note: &str, keys: &[String]) -> ApiResult<()> {
    use subsidy_core::tlog::{verify_cosignatures, TlogError};
    if keys.is_empty() {
        return Err(ApiError::Conflict("this server is given no witness keys (serve --witness-key), so it takes no cosignature".into()));
    }
    let verdicts: Vec<_> = keys.iter().map(|k| verify_cosignatures(note, std::slice::from_ref(k))).collect();
    if verdicts.iter().any(Result::is_ok) {
        return Ok(());
    }
    let named = verdicts.into_iter().filter_map(Result::err).find(|e| !matches!(e, TlogError::MissingCosignature { .. }));
    let why = named.map_or_else(|| format!("the line is signed by none of the {} witness keys this server is given", keys.len()), |e| e.to_string());
    Err(ApiError::bad("line", why))
}

/// The proof (C2SP tlog-proof, one per line) of an entity's statement lines closed in a month,
/// against the newest checkpoint with its cosignatures. An entity token proves its own lines;
/// a bureau or city token names the entity.
#[utoipa::path(get, path = "/v1/log/proof", tag = "log",
    params(("period" = String, Query, description = "The closed month, YYYY-MM"), ("credit_code" = Option<String>, Query, description = "The entity (an entity token: its own, the default)")),
    responses((status = 200, description = "The proofs", content_type = "text/plain", body = String), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_proof(State(state): State<ApiState>, headers: HeaderMap, Query(q): RawParams) -> ApiResult<Response> {
    let who = caller(&state, &headers)?;
    let period_text = one(&q, "period")?.ok_or_else(|| ApiError::bad("period", "period is required"))?;
    let period = crate::params::month("period", period_text)?;
    let code: CreditCode = match (one(&q, "credit_code")?.map(crate::params::credit_code).transpose()?, &who.role) {
        (None, Role::Entity(own)) => *own,
        (None, _) => return Err(ApiError::bad("credit_code", "credit_code is required for a bureau or city token")),
        (Some(code), role) => {
            if !role.may_see(&code, &state.registry()) {
                return Err(state.forbidden());
            }
            code
        }
    };
    proof_text(&state, &code, period).await.map(text)
}

/// The proof text of `code`'s lines of `period` (also the portal's download).
pub(crate) async fn proof_text(state: &ApiState, code: &CreditCode, period: Period) -> ApiResult<String> {
    let log = log(state).await?;
    let proofs = log.proofs(code, period).map_err(log_error)?;
    if proofs.is_empty() {
        return Err(ApiError::NotFound(format!("{code} has no statement line closed in {period}")));
    }
    Ok(encode_bundle(&proofs))
}
