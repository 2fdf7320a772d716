//! The HTTP handlers: each checks the token (401), then its parameters
//! (400), then whether the token's role may see what is asked (403), and
//! only then reads.

use crate::auth::Role;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::params;
use crate::state::{ApiState, Book};
use crate::views::accruals::{self, AccrualsView};
use crate::views::ledger::{self, LedgerPage};
use crate::views::overview::{self, Overview};
use crate::views::record::{self, RecordHistory};
use crate::views::settlements::{self, SettlementsPage, StatementsView};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::body::Bytes;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use subsidy_core::report::settlements_csv;
use subsidy_core::CreditCode;

/// Query parameters as given, in order.
pub type RawParams = Query<Vec<(String, String)>>;

/// The value of a query parameter given at most once.
fn param<'a>(q: &'a [(String, String)], name: &'static str) -> ApiResult<Option<&'a str>> {
    let mut found = q.iter().filter(|(k, _)| k == name);
    let first = found.next().map(|(_, v)| v.as_str());
    if found.next().is_some() {
        return Err(ApiError::bad(name, format!("{name} is given more than once")));
    }
    Ok(first)
}

/// A required query parameter.
fn required<'a>(q: &'a [(String, String)], name: &'static str) -> ApiResult<&'a str> {
    param(q, name)?.ok_or_else(|| ApiError::bad(name, format!("{name} is required")))
}

/// The role of the bearer token presented.
pub fn principal(state: &ApiState, headers: &HeaderMap) -> ApiResult<Role> {
    let presented = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = presented.map(str::trim).filter(|t| !t.is_empty()) else {
        state.metrics.denied.with_label_values(&["no_token"]).inc();
        return Err(ApiError::Unauthorized);
    };
    match state.tokens.current().role_of(token) {
        Some(role) => Ok(role.clone()),
        None => {
            state.metrics.denied.with_label_values(&["unknown_token"]).inc();
            Err(ApiError::Unauthorized)
        }
    }
}

/// The credit code in the path, checked, that `role` may see.
fn entity_in_path(state: &ApiState, role: &Role, path: Result<Path<String>, PathRejection>) -> ApiResult<CreditCode> {
    let Path(text) = path.map_err(|_| ApiError::bad("credit_code", "credit_code is not valid text"))?;
    let code = params::credit_code(&text)?;
    if !role.may_see(&code, &state.registry()) {
        return Err(state.forbidden());
    }
    Ok(code)
}

/// The JSON answer to `key`: cached for the store's current generation, or computed.
/// Access is checked before: an answer is the same for everyone who may see it.
async fn cached<T, F>(state: &ApiState, key: String, compute: F) -> ApiResult<Response>
where
    T: serde::Serialize,
    F: std::future::Future<Output = ApiResult<T>>,
{
    let seen = state.cache.generation();
    let body = match state.cache.get(&key) {
        Some(body) => body,
        None => {
            let _turn = state.computing.acquire().await.map_err(|_| ApiError::Store { detail: "shutting down".into(), retry: true })?;
            let value = compute.await?;
            let body = Bytes::from(serde_json::to_vec(&value).map_err(|e| ApiError::Store { detail: format!("cannot encode the answer: {e}"), retry: false })?);
            if let Some(g) = seen {
                state.cache.put(&g, key, body.clone());
            }
            body
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// For the bureau, an entity nobody has heard of is a 404.
fn known(book: &Book, code: &CreditCode) -> ApiResult<()> {
    if book.knows(code) {
        return Ok(());
    }
    Err(ApiError::NotFound(format!("no entity {code} in the registry or the ledger")))
}

/// An entity's months: accrued, fixed for payment, excluded and why.
#[utoipa::path(get, path = "/v1/entities/{credit_code}/accruals", tag = "entities",
    params(("credit_code" = String, Path, pattern = "^[0-9A-HJ-NPQRTUWXY]{18}$", example = "91340100000000001G", description = "Unified social credit code (18 characters, GB 32100-2015, check character included)"),
        ("from" = Option<String>, Query, pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$", description = "First month, YYYY-MM"),
        ("to" = Option<String>, Query, pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$", description = "Last month, YYYY-MM")),
    responses((status = 200, body = AccrualsView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_accruals(State(state): State<ApiState>, headers: HeaderMap, path: Result<Path<String>, PathRejection>, Query(q): RawParams) -> ApiResult<Json<AccrualsView>> {
    let role = principal(&state, &headers)?;
    let (from, to) = params::months(param(&q, "from")?, param(&q, "to")?)?;
    let code = entity_in_path(&state, &role, path)?;
    let book = state.book();
    known(&book, &code)?;
    Ok(Json(accruals::accruals(&book, &code, from, to)))
}

/// Every line of one month of an entity, explained, a page at a time.
#[utoipa::path(get, path = "/v1/entities/{credit_code}/ledger", tag = "entities",
    params(("credit_code" = String, Path, pattern = "^[0-9A-HJ-NPQRTUWXY]{18}$", example = "91340100000000001G", description = "Unified social credit code (18 characters, GB 32100-2015, check character included)"),
        ("period" = String, Query, pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2025-09", description = "The month, YYYY-MM"),
        ("cursor" = Option<String>, Query, pattern = "^([0-9a-f]{2}){1,256}$", description = "next_cursor of the previous page"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Lines per page, 1–1000 (default 200)")),
    responses((status = 200, body = LedgerPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_ledger(State(state): State<ApiState>, headers: HeaderMap, path: Result<Path<String>, PathRejection>, Query(q): RawParams) -> ApiResult<Response> {
    let role = principal(&state, &headers)?;
    let period = params::month("period", required(&q, "period")?)?;
    let cursor = params::cursor(param(&q, "cursor")?)?;
    let limit = params::limit(param(&q, "limit")?)?;
    let code = entity_in_path(&state, &role, path)?;
    known(&state.book(), &code)?;
    let key = format!("ledger/{code}/{period}/{cursor:?}/{limit}");
    cached(&state, key, ledger::page(&state, &code, period, cursor.as_deref(), limit)).await
}

/// What has been fixed for payment for an entity.
#[utoipa::path(get, path = "/v1/entities/{credit_code}/statements", tag = "entities",
    params(("credit_code" = String, Path, pattern = "^[0-9A-HJ-NPQRTUWXY]{18}$", example = "91340100000000001G", description = "Unified social credit code (18 characters, GB 32100-2015, check character included)")),
    responses((status = 200, body = StatementsView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_statements(State(state): State<ApiState>, headers: HeaderMap, path: Result<Path<String>, PathRejection>) -> ApiResult<Json<StatementsView>> {
    let role = principal(&state, &headers)?;
    let code = entity_in_path(&state, &role, path)?;
    let book = state.book();
    known(&book, &code)?;
    Ok(Json(settlements::statements(&book, &code)))
}

/// A record as received, every copy with its decision, and the line that stands.
#[utoipa::path(get, path = "/v1/records/{record_id}", tag = "records",
    params(("record_id" = String, Path, min_length = 1, max_length = 128, description = "The platform's record id (1–128 bytes, no control characters)")),
    responses((status = 200, body = RecordHistory), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_record(State(state): State<ApiState>, headers: HeaderMap, path: Result<Path<String>, PathRejection>) -> ApiResult<Json<RecordHistory>> {
    let role = principal(&state, &headers)?;
    let Path(text) = path.map_err(|_| ApiError::bad("record_id", "record_id is not valid text"))?;
    let id = params::record_id(&text)?;
    let history = record::visible(&state, &role, &id).await?;
    Ok(Json(history))
}

/// One month's settlements (bureau: all; city: its entities). `Accept: text/csv` gives `export`'s CSV.
#[utoipa::path(get, path = "/v1/settlements", tag = "bureau",
    params(("period" = String, Query, pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2025-09", description = "The month, YYYY-MM"),
        ("cursor" = Option<String>, Query, pattern = "^([0-9a-f]{2}){1,256}$", description = "next_cursor of the previous page (JSON only)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Entities per page, 1–1000 (default 200; JSON only)")),
    responses((status = 200, description = "JSON pages, or with `Accept: text/csv` the CSV `export --period` writes: credit_code,period,eligible_records,eligible_base,subsidy",
            content((SettlementsPage = "application/json"), (String = "text/csv"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_settlements(State(state): State<ApiState>, headers: HeaderMap, Query(q): RawParams) -> ApiResult<Response> {
    let role = principal(&state, &headers)?;
    let period = params::month("period", required(&q, "period")?)?;
    let cursor = params::cursor(param(&q, "cursor")?)?;
    let limit = params::limit(param(&q, "limit")?)?;
    if !role.sees_many() {
        return Err(state.forbidden());
    }
    let book = state.book();
    let rows = settlements::of_month(&book, &role, period);
    if wants_csv(&headers) {
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], settlements_csv(&rows)).into_response());
    }
    Ok(Json(settlements::page(&book, period, rows, cursor.as_deref(), limit)).into_response())
}

fn wants_csv(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.split(',').any(|t| t.trim().starts_with("text/csv")))
}

/// One month across the province (bureau) or a city.
#[utoipa::path(get, path = "/v1/overview", tag = "bureau",
    params(("period" = String, Query, pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2025-09", description = "The month, YYYY-MM")),
    responses((status = 200, body = Overview), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_overview(State(state): State<ApiState>, headers: HeaderMap, Query(q): RawParams) -> ApiResult<Json<Overview>> {
    let role = principal(&state, &headers)?;
    let period = params::month("period", required(&q, "period")?)?;
    if !role.sees_many() {
        return Err(state.forbidden());
    }
    Ok(Json(overview::overview(&state, &role, period).await?))
}
