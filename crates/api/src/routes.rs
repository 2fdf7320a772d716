//! The HTTP handlers: each checks the token (401), then its parameters
//! (400), then whether the token's role may see what is asked (403), and
//! only then reads.

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::params;
use crate::state::{ApiState, Book};
use crate::views::accruals::{self, AccrualsView};
use crate::views::ledger::{self, LedgerPage};
use crate::views::overview::{self, Overview};
use crate::views::reconciliation::{self, ReconciliationView};
use crate::views::record::{self, RecordHistory};
use crate::views::settlements::{self, SettlementsPage, StatementsView};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::body::Bytes;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use subsidy_core::report::settlements_csv;
use crate::cursor::Scope;
use subsidy_core::{CreditCode, Period};

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
    caller(state, headers).map(|p| p.role)
}

/// Who the bearer token presented is: its role and label.
pub fn caller(state: &ApiState, headers: &HeaderMap) -> ApiResult<Principal> {
    let presented = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = presented.map(str::trim).filter(|t| !t.is_empty()) else {
        state.metrics.denied.with_label_values(&["no_token"]).inc();
        return Err(ApiError::Unauthorized);
    };
    match state.tokens.current().principal_of(token) {
        Some(p) => Ok(p.clone()),
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

/// A turn to compute from the store.
async fn turn(state: &ApiState) -> ApiResult<tokio::sync::SemaphorePermit<'_>> {
    state.computing.acquire().await.map_err(|_| ApiError::Store { detail: "shutting down".into(), retry: true })
}

fn encode<T: serde::Serialize>(value: &T) -> ApiResult<Bytes> {
    serde_json::to_vec(value).map(Bytes::from).map_err(|e| ApiError::Store { detail: format!("cannot encode the answer: {e}"), retry: false })
}

/// The JSON answer to `key`: cached for the store's current generation, or computed in
/// one of the [`ApiState::computing`] turns. Access is checked before: an answer is the
/// same for everyone who may see it. `key` is built from checked parameters only.
async fn cached<T, F>(state: &ApiState, key: String, compute: F) -> ApiResult<Response>
where
    T: serde::Serialize,
    F: std::future::Future<Output = ApiResult<T>>,
{
    let seen = state.cache.generation();
    let body = match state.cache.get(&key) {
        Some(body) => body,
        None => {
            let _turn = turn(state).await?;
            match state.cache.get(&key) {
                Some(body) => body,
                None => {
                    let body = encode(&compute.await?)?;
                    if let Some(g) = seen {
                        state.cache.put(&g, key, body.clone());
                    }
                    body
                }
            }
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The answer to `key` as a value (for the portal's pages): the same cache, turns and
/// keys as the API's JSON answers.
pub(crate) async fn cached_value<T, F>(state: &ApiState, key: String, compute: F) -> ApiResult<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    F: std::future::Future<Output = ApiResult<T>>,
{
    let decode = |body: Bytes| serde_json::from_slice(&body).map_err(|e| ApiError::Store { detail: format!("cannot decode a cached answer: {e}"), retry: false });
    let seen = state.cache.generation();
    if let Some(body) = state.cache.get(&key) {
        return decode(body);
    }
    let _turn = turn(state).await?;
    if let Some(body) = state.cache.get(&key) {
        return decode(body);
    }
    let value = compute.await?;
    if let Some(g) = seen {
        state.cache.put(&g, key, encode(&value)?);
    }
    Ok(value)
}

/// The cache key of a ledger page: the entity, the month, the last record id of the page
/// before (from a cursor the server issued, so at most [`subsidy_core::record::MAX_ID_LEN`]
/// bytes) and the page size.
pub(crate) fn ledger_key(code: &CreditCode, period: Period, after: Option<&str>, limit: usize) -> String {
    format!("ledger/{code}/{period}/{limit}/{}", after.map_or_else(String::new, hex::encode))
}

/// The reader scope of province- or city-wide answers: `province` or the city.
pub(crate) fn reader_scope(role: &Role) -> &str {
    match role {
        Role::City(city) => city.as_str(),
        _ => "province",
    }
}

/// The cache key of an overview: the reader's role and scope, and the month.
pub(crate) fn overview_key(role: &Role, period: Period) -> String {
    format!("overview/{}/{period}/{}", role.as_str(), reader_scope(role))
}

/// A ledger page of `code` in `period` after `cursor` (already checked to be one issued
/// for them), through the cache.
pub(crate) async fn ledger_page(state: &ApiState, code: &CreditCode, period: Period, after: Option<&str>, limit: usize) -> ApiResult<LedgerPage> {
    cached_value(state, ledger_key(code, period, after, limit), ledger::page(state, code, period, after, limit)).await
}

/// The overview of `period` for `role`, through the cache.
pub(crate) async fn overview_of(state: &ApiState, role: &Role, period: Period) -> ApiResult<Overview> {
    cached_value(state, overview_key(role, period), overview::overview(state, role, period)).await
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
    params(("credit_code" = String, Path, example = "91340100000000001G", description = "Unified social credit code (18 characters, GB 32100-2015); its check character must match the first 17 (else 400 naming `credit_code`)"),
        ("from" = Option<String>, Query, description = "First month, YYYY-MM (year 0001–9999)"),
        ("to" = Option<String>, Query, description = "Last month, YYYY-MM (year 0001–9999); a `to` before `from` selects no month")),
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
    params(("credit_code" = String, Path, example = "91340100000000001G", description = "Unified social credit code (18 characters, GB 32100-2015); its check character must match the first 17 (else 400 naming `credit_code`)"),
        ("period" = String, Query, example = "2025-09", description = "The month, YYYY-MM (year 0001–9999)"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page, as given: opaque, valid only for the same entity and month and only until the server restarts (else 400 naming `cursor`)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Lines per page, 1–1000 (default 200)")),
    responses((status = 200, body = LedgerPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_ledger(State(state): State<ApiState>, headers: HeaderMap, path: Result<Path<String>, PathRejection>, Query(q): RawParams) -> ApiResult<Response> {
    let role = principal(&state, &headers)?;
    let period = params::month("period", required(&q, "period")?)?;
    let cursor = param(&q, "cursor")?;
    let limit = params::limit(param(&q, "limit")?)?;
    let code = entity_in_path(&state, &role, path)?;
    let after = state.cursors.open(Scope::Ledger(&code, period), cursor)?;
    known(&state.book(), &code)?;
    let key = ledger_key(&code, period, after.as_deref(), limit);
    cached(&state, key, ledger::page(&state, &code, period, after.as_deref(), limit)).await
}

/// What has been fixed for payment for an entity.
#[utoipa::path(get, path = "/v1/entities/{credit_code}/statements", tag = "entities",
    params(("credit_code" = String, Path, example = "91340100000000001G", description = "Unified social credit code (18 characters, GB 32100-2015); its check character must match the first 17 (else 400 naming `credit_code`)")),
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
    params(("record_id" = String, Path, min_length = 1, max_length = 128, description = "The platform's record id: 1–128 bytes of UTF-8 without control characters (a longer id in bytes is a 400)")),
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
    params(("period" = String, Query, example = "2025-09", description = "The month, YYYY-MM (year 0001–9999)"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page, as given (JSON only): opaque, valid only for the same month and reader and only until the server restarts (else 400 naming `cursor`)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Entities per page, 1–1000 (default 200; JSON only)")),
    responses((status = 200, description = "JSON pages, or with `Accept: text/csv` the CSV `export --period` writes: credit_code,period,eligible_records,eligible_base,subsidy",
            content((SettlementsPage = "application/json"), (String = "text/csv"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_settlements(State(state): State<ApiState>, headers: HeaderMap, Query(q): RawParams) -> ApiResult<Response> {
    let role = principal(&state, &headers)?;
    let period = params::month("period", required(&q, "period")?)?;
    let cursor = param(&q, "cursor")?;
    let limit = params::limit(param(&q, "limit")?)?;
    if !role.sees_many() {
        return Err(state.forbidden());
    }
    let scope = Scope::Settlements(period, reader_scope(&role));
    let after = state.cursors.open(scope, cursor)?;
    let book = state.book();
    let rows = settlements::of_month(&book, &role, period);
    if wants_csv(&headers) {
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], settlements_csv(&rows)).into_response());
    }
    Ok(Json(settlements::page(&book, period, rows, after.as_deref(), limit, |last| state.cursors.issue(scope, last))).into_response())
}

/// A month of the ledger against the platform's usage counts per center and day, and the closes forced past a gap.
#[utoipa::path(get, path = "/v1/reconciliation", tag = "bureau",
    params(("period" = String, Query, example = "2025-09", description = "The month, YYYY-MM (year 0001–9999)")),
    responses((status = 200, body = ReconciliationView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_reconciliation(State(state): State<ApiState>, headers: HeaderMap, Query(q): RawParams) -> ApiResult<Response> {
    let role = principal(&state, &headers)?;
    let period = params::month("period", required(&q, "period")?)?;
    if !role.sees_many() {
        return Err(state.forbidden());
    }
    cached(&state, format!("reconciliation/{period}"), reconciliation::reconciliation(&state, period)).await
}

fn wants_csv(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.split(',').any(|t| t.trim().starts_with("text/csv")))
}

/// One month across the province (bureau) or a city.
#[utoipa::path(get, path = "/v1/overview", tag = "bureau",
    params(("period" = String, Query, example = "2025-09", description = "The month, YYYY-MM (year 0001–9999)")),
    responses((status = 200, body = Overview), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_overview(State(state): State<ApiState>, headers: HeaderMap, Query(q): RawParams) -> ApiResult<Response> {
    let role = principal(&state, &headers)?;
    let period = params::month("period", required(&q, "period")?)?;
    if !role.sees_many() {
        return Err(state.forbidden());
    }
    cached(&state, overview_key(&role, period), overview::overview(&state, &role, period)).await
}
