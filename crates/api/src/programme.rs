//! The programme's routes: claims and their reviews, payout batches and their
//! CSV, audit findings, closing a year's claims, receivables and a year's
//! budget view. Reads are answered from the book's programme, selected for
//! the token's role ([`crate::steps`]); writes are POSTs of a JSON body, each
//! taken through [`steps::take`], where the core decides whether it may
//! follow. A body that is not the operation's JSON is a 400 naming `body`.

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::RawParams;
use crate::state::ApiState;
use crate::steps;
use crate::views::programme::{BatchList, BatchView, BudgetAnswer, ClaimDetail, ClaimList, ClaimSummary, ReceivableList, ReceivableView, StepAnswer};
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use subsidy_core::programme::{batch_csv, budget_view, claim_id, Event, ViewInput};
use utoipa::ToSchema;

/// The body of a request, or a 400 naming `body`.
fn body<T>(got: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    got.map(|Json(t)| t).map_err(|e| ApiError::bad("body", e.body_text()))
}

/// Text in the path, or a 400 naming the parameter.
fn path_text(parameter: &'static str, path: Result<Path<String>, PathRejection>) -> ApiResult<String> {
    path.map(|Path(t)| t).map_err(|_| ApiError::bad(parameter, format!("{parameter} is not valid text")))
}

fn answer(status: StatusCode, event: &Event, id: String) -> Response {
    (status, Json(StepAnswer { sequence: event.sequence, id, through: event.through.map(|t| t.to_string()) })).into_response()
}

fn query<'a>(q: &'a [(String, String)], name: &'static str) -> ApiResult<Option<&'a str>> {
    let mut found = q.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let first = found.next();
    if found.next().is_some() {
        return Err(ApiError::bad(name, format!("{name} is given more than once")));
    }
    Ok(first)
}

/// A claim: an entity's closed months of one year.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The entity (an entity's token claims for itself and may leave it out).
    #[schema(example = "91340100000000001G")]
    pub credit_code: Option<String>,
    /// Closed months, YYYY-MM, of one calendar year, none claimed already.
    #[schema(min_items = 1, max_items = 12, example = json!(["2025-09"]))]
    pub months: Vec<String>,
}

/// A review of a claim.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// `city` (first, by the claim's city) or `bureau` (second).
    #[schema(pattern = "^(city|bureau)$", example = "city")]
    pub stage: String,
    /// `approve` or `reject`.
    #[schema(pattern = "^(approve|reject)$", example = "approve")]
    pub verdict: String,
    /// Why, in words (required).
    #[schema(min_length = 1, max_length = 500, example = "the months match the platform's invoices")]
    pub reason: String,
}

/// A payout batch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The payout date, YYYY-MM-DD.
    #[schema(format = Date, example = "2026-03-31")]
    pub payout_date: String,
    /// Approved, payable claims not paid yet.
    #[schema(min_items = 1, max_items = 10000, example = json!(["C-1"]))]
    pub claims: Vec<String>,
}

/// An audit finding: money an entity must give back.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingRequest {
    /// The case's id, unique.
    #[schema(min_length = 1, max_length = 500, example = "AUD-2026-001")]
    pub case_id: String,
    /// The entity.
    #[schema(example = "91340100000000001G")]
    pub credit_code: String,
    /// The months it is about, YYYY-MM.
    #[schema(min_items = 1, max_items = 120, example = json!(["2025-09"]))]
    pub months: Vec<String>,
    /// What is to be recovered, yuan, at most 2 decimals.
    #[schema(pattern = "^[0-9]{1,12}(\\.[0-9]{1,2})?$", example = "1200.50")]
    pub amount: String,
    /// Why.
    #[schema(min_length = 1, max_length = 500, example = "usage billed twice")]
    pub reason: String,
}

/// The caller: role and label.
fn caller(state: &ApiState, headers: &HeaderMap) -> ApiResult<Principal> {
    crate::routes::caller(state, headers)
}

/// Files a claim.
#[utoipa::path(post, path = "/v1/claims", tag = "programme", request_body = ClaimRequest,
    responses((status = 201, body = StepAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_claim(State(state): State<ApiState>, headers: HeaderMap, got: Result<Json<ClaimRequest>, JsonRejection>) -> ApiResult<Response> {
    let who = caller(&state, &headers)?;
    let req = body(got)?;
    let action = steps::claim(&state.registry(), &who.role, req.credit_code.as_deref(), &req.months)?;
    let event = steps::take(&state, &who, action).await?;
    Ok(answer(StatusCode::CREATED, &event, claim_id(event.sequence)))
}

/// Claims the token may see (entity: its own; city: those it reviews; bureau: all), in filing order.
#[utoipa::path(get, path = "/v1/claims", tag = "programme",
    params(("status" = Option<String>, Query, pattern = "^(filed|city_approved|approved|paid|rejected)$", description = "Only claims standing so"),
        ("credit_code" = Option<String>, Query, description = "Only this entity's claims")),
    responses((status = 200, body = ClaimList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_claims(State(state): State<ApiState>, headers: HeaderMap, Query(q): RawParams) -> ApiResult<Json<ClaimList>> {
    let who = caller(&state, &headers)?;
    let status = query(&q, "status")?;
    if status.is_some_and(|s| !["filed", "city_approved", "approved", "paid", "rejected"].contains(&s)) {
        return Err(ApiError::bad("status", "status must be filed, city_approved, approved, paid or rejected"));
    }
    let code = query(&q, "credit_code")?.map(crate::params::credit_code).transpose()?;
    if let (Role::Entity(own), Some(asked)) = (&who.role, &code) {
        if own != asked {
            return Err(state.forbidden());
        }
    }
    let book = state.book();
    let programme = &steps::programme(&book)?.programme;
    let claims = programme
        .claims
        .iter()
        .filter(|c| steps::sees_claim(&who.role, c) && status.is_none_or(|s| c.status.as_str() == s) && code.is_none_or(|k| c.credit_code == k))
        .map(ClaimSummary::of)
        .collect();
    Ok(Json(ClaimList { claims }))
}

/// A claim with its reviews, its parts (asked and granted per year), the statement lines it took and its batch.
#[utoipa::path(get, path = "/v1/claims/{claim_id}", tag = "programme",
    params(("claim_id" = String, Path, example = "C-1", description = "The claim, C-<number>")),
    responses((status = 200, body = ClaimDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_claim(State(state): State<ApiState>, headers: HeaderMap, path: Result<Path<String>, PathRejection>) -> ApiResult<Json<ClaimDetail>> {
    let who = caller(&state, &headers)?;
    let id = steps::claim_id(&path_text("claim_id", path)?)?;
    let book = state.book();
    let claim = steps::programme(&book)?.programme.claim(&id).ok_or_else(|| ApiError::NotFound(format!("no claim {id}")))?;
    if !steps::sees_claim(&who.role, claim) {
        return Err(state.forbidden());
    }
    Ok(Json(ClaimDetail::of(claim)))
}

/// Reviews a claim: first its city, then the bureau.
#[utoipa::path(post, path = "/v1/claims/{claim_id}/review", tag = "programme", request_body = ReviewRequest,
    params(("claim_id" = String, Path, example = "C-1", description = "The claim, C-<number>")),
    responses((status = 200, body = StepAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_review(State(state): State<ApiState>, headers: HeaderMap, path: Result<Path<String>, PathRejection>, got: Result<Json<ReviewRequest>, JsonRejection>) -> ApiResult<Response> {
    let who = caller(&state, &headers)?;
    let id = steps::claim_id(&path_text("claim_id", path)?)?;
    let req = body(got)?;
    let event = steps::take(&state, &who, steps::review(&id, &req.stage, &req.verdict, &req.reason)?).await?;
    Ok(answer(StatusCode::OK, &event, id))
}

/// Makes a payout batch of approved claims (bureau).
#[utoipa::path(post, path = "/v1/batches", tag = "programme", request_body = BatchRequest,
    responses((status = 201, body = StepAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_batch(State(state): State<ApiState>, headers: HeaderMap, got: Result<Json<BatchRequest>, JsonRejection>) -> ApiResult<Response> {
    let who = caller(&state, &headers)?;
    let req = body(got)?;
    let event = steps::take(&state, &who, steps::batch(&req.payout_date, req.claims)?).await?;
    Ok(answer(StatusCode::CREATED, &event, subsidy_core::programme::batch_id(event.sequence)))
}

/// Batches with rows the token may see, each with only those rows.
#[utoipa::path(get, path = "/v1/batches", tag = "programme",
    responses((status = 200, body = BatchList), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_batches(State(state): State<ApiState>, headers: HeaderMap) -> ApiResult<Json<BatchList>> {
    let who = caller(&state, &headers)?;
    let book = state.book();
    let batches = steps::programme(&book)?
        .programme
        .batches
        .iter()
        .filter(|b| b.rows.iter().any(|r| steps::sees_row(&who.role, r)))
        .map(|b| BatchView::of(b, |r| steps::sees_row(&who.role, r)))
        .collect();
    Ok(Json(BatchList { batches }))
}

/// A batch: its rows, totals per city and recoveries (entity: its rows; city: its city's).
#[utoipa::path(get, path = "/v1/batches/{batch_id}", tag = "programme",
    params(("batch_id" = String, Path, example = "B-5", description = "The batch, B-<number>")),
    responses((status = 200, body = BatchView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_batch(State(state): State<ApiState>, headers: HeaderMap, path: Result<Path<String>, PathRejection>) -> ApiResult<Json<BatchView>> {
    let who = caller(&state, &headers)?;
    let id = steps::batch_id(&path_text("batch_id", path)?)?;
    let book = state.book();
    let batch = steps::programme(&book)?.programme.batch(&id).ok_or_else(|| ApiError::NotFound(format!("no batch {id}")))?;
    if !matches!(who.role, Role::Bureau) && !batch.rows.iter().any(|r| steps::sees_row(&who.role, r)) {
        return Err(state.forbidden());
    }
    Ok(Json(BatchView::of(batch, |r| steps::sees_row(&who.role, r))))
}

/// The finance bureau's CSV of a batch (bureau).
#[utoipa::path(get, path = "/v1/batches/{batch_id}/csv", tag = "programme",
    params(("batch_id" = String, Path, example = "B-5", description = "The batch, B-<number>")),
    responses((status = 200, description = "credit_code,name,claim_id,province_part,city_part,amount,recovered,net_paid", content_type = "text/csv", body = String),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_batch_csv(State(state): State<ApiState>, headers: HeaderMap, path: Result<Path<String>, PathRejection>) -> ApiResult<Response> {
    let who = caller(&state, &headers)?;
    let id = steps::batch_id(&path_text("batch_id", path)?)?;
    if who.role != Role::Bureau {
        return Err(state.forbidden());
    }
    let csv = batch_csv_text(&state, &id)?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response())
}

/// The CSV of batch `id`, names from the registry.
pub(crate) fn batch_csv_text(state: &ApiState, id: &str) -> ApiResult<String> {
    let book = state.book();
    let batch = steps::programme(&book)?.programme.batch(id).ok_or_else(|| ApiError::NotFound(format!("no batch {id}")))?;
    Ok(batch_csv(batch, |code| book.registry.entity(code).map(|e| e.name.clone()).unwrap_or_default()))
}

/// Enters an audit finding (bureau).
#[utoipa::path(post, path = "/v1/findings", tag = "programme", request_body = FindingRequest,
    responses((status = 201, body = StepAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_finding(State(state): State<ApiState>, headers: HeaderMap, got: Result<Json<FindingRequest>, JsonRejection>) -> ApiResult<Response> {
    let who = caller(&state, &headers)?;
    let req = body(got)?;
    let action = steps::finding(&req.case_id, &req.credit_code, &req.months, &req.amount, &req.reason)?;
    let event = steps::take(&state, &who, action).await?;
    Ok(answer(StatusCode::CREATED, &event, req.case_id))
}

/// Closes a year's claims (bureau): no more are filed for it, and a `pro_rata` year is divided.
#[utoipa::path(post, path = "/v1/years/{year}/close", tag = "programme",
    params(("year" = i32, Path, minimum = 2000, maximum = 2099, example = 2026, description = "The calendar year")),
    responses((status = 200, body = StepAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_close_year(State(state): State<ApiState>, headers: HeaderMap, path: Result<Path<String>, PathRejection>) -> ApiResult<Response> {
    let who = caller(&state, &headers)?;
    let year = steps::year("year", &path_text("year", path)?)?;
    let event = steps::take(&state, &who, subsidy_core::programme::Action::CloseYear { year }).await?;
    Ok(answer(StatusCode::OK, &event, year.to_string()))
}

/// What entities owe: amount, recovered and outstanding per receivable (entity: its own; city: its entities'; bureau: all).
#[utoipa::path(get, path = "/v1/receivables", tag = "programme",
    params(("credit_code" = Option<String>, Query, description = "Only this entity's receivables")),
    responses((status = 200, body = ReceivableList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_receivables(State(state): State<ApiState>, headers: HeaderMap, Query(q): RawParams) -> ApiResult<Json<ReceivableList>> {
    let who = caller(&state, &headers)?;
    let code = query(&q, "credit_code")?.map(crate::params::credit_code).transpose()?;
    let book = state.book();
    if code.is_some_and(|c| !who.role.may_see(&c, &book.registry)) {
        return Err(state.forbidden());
    }
    let receivables = steps::programme(&book)?
        .programme
        .receivables()
        .iter()
        .filter(|r| who.role.may_see(&r.credit_code, &book.registry) && code.is_none_or(|c| r.credit_code == c))
        .map(ReceivableView::of)
        .collect();
    Ok(Json(ReceivableList { receivables }))
}

/// A year's budget view: paid, approved, under review, claimable, accrued and the forecast (bureau: the province; city: its own figures).
#[utoipa::path(get, path = "/v1/budget", tag = "programme",
    params(("year" = i32, Query, minimum = 2000, maximum = 2099, example = 2026, description = "The calendar year")),
    responses((status = 200, body = BudgetAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_budget(State(state): State<ApiState>, headers: HeaderMap, Query(q): RawParams) -> ApiResult<Json<BudgetAnswer>> {
    let who = caller(&state, &headers)?;
    let year = steps::year("year", query(&q, "year")?.ok_or_else(|| ApiError::bad("year", "year is required"))?)?;
    if !who.role.sees_many() {
        return Err(state.forbidden());
    }
    Ok(Json(budget_of(&state, &who.role, year)?))
}

/// The budget view of `year` as `role` (bureau or city) may read it.
pub(crate) fn budget_of(state: &ApiState, role: &Role, year: i32) -> ApiResult<BudgetAnswer> {
    let book = state.book();
    let programme = steps::programme(&book)?;
    let input = ViewInput { programme: &programme.programme, settlements: &book.settlements, closed: &book.closed, policy: &book.policy.set };
    let view = budget_view(year, input, &|code, month| steps::city_of(&book.registry, code, month));
    Ok(match role {
        Role::City(city) => BudgetAnswer::city(&view, city),
        _ => BudgetAnswer::province(&view),
    })
}
