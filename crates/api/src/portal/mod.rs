//! The portal at `/portal`: server-rendered pages over the same answers as
//! the API, labelled in Chinese with English beside. A user signs in with
//! its token, which opens a server-side session ([`crate::session`]); the
//! HTTP-only, same-site cookie scoped to `/portal` holds only the session's
//! random id (and is `Secure` when the server is told it is reached over
//! TLS). Every page finds the role through the session in the tokens in
//! force, then checks access exactly as the API does. Signing out ends the
//! session on the server, so the old cookie is refused from then on.
//! The programme's pages ([`programme`]) take their steps through the API's
//! own path; amounts show thousands separators, and entities, cities and the
//! province a month-by-month chart of accrued, fixed and paid ([`chart`]).

mod chart;
mod pages;
mod programme;
mod programme_pages;
mod shell;

use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::params;
use crate::state::ApiState;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;
use subsidy_core::report::settlements_csv;
use subsidy_core::CreditCode;

/// The cookie holding the session id.
const COOKIE: &str = "subsidy_session";

/// A portal failure, rendered as a page.
#[derive(Debug)]
pub struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> PageError {
        PageError(e)
    }
}

impl From<subsidy_store::StoreError> for PageError {
    fn from(e: subsidy_store::StoreError) -> PageError {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if matches!(self.0, ApiError::Unauthorized) {
            return Redirect::to("/portal").into_response();
        }
        let status = self.0.status();
        if let ApiError::Store { detail, .. } = &self.0 {
            tracing::warn!(error = %detail, "ledger store error while rendering a page");
        }
        let message = match &self.0 {
            ApiError::Store { .. } => "the ledger store failed; try again later".to_string(),
            other => other.to_string(),
        };
        (status, shell::error_page(status, &message)).into_response()
    }
}

type PageResult = Result<Response, PageError>;

/// The role of the signed-in session.
fn signed_in(state: &ApiState, jar: &CookieJar) -> Result<Role, PageError> {
    let id = jar.get(COOKIE).map(Cookie::value).ok_or(ApiError::Unauthorized)?;
    state.sessions.role(id, &state.tokens.current()).ok_or(PageError(ApiError::Unauthorized))
}

/// Who the signed-in session acts for: role and label.
fn signed_in_as(state: &ApiState, jar: &CookieJar) -> Result<Principal, PageError> {
    let id = jar.get(COOKIE).map(Cookie::value).ok_or(ApiError::Unauthorized)?;
    state.sessions.principal(id, &state.tokens.current()).ok_or(PageError(ApiError::Unauthorized))
}

/// The entity in the path, if the role may see it.
fn entity(state: &ApiState, role: &Role, text: &str) -> Result<CreditCode, PageError> {
    let code = params::credit_code(text)?;
    if !role.may_see(&code, &state.registry()) {
        return Err(state.forbidden().into());
    }
    Ok(code)
}

/// The portal's routes.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/portal", get(home))
        .route("/portal/style.css", get(shell::stylesheet))
        .route("/portal/sign-in", post(sign_in))
        .route("/portal/sign-out", post(sign_out))
        .route("/portal/entities/{credit_code}", get(entity_page))
        .route("/portal/entities/{credit_code}/ledger", get(ledger_page))
        .route("/portal/entities/{credit_code}/settlements.csv", get(entity_csv))
        .route("/portal/entities/{credit_code}/proof", get(entity_proof))
        .route("/portal/records/{record_id}", get(record_page))
        .route("/portal/overview", get(overview_page))
        .route("/portal/settlements.csv", get(month_csv))
        .route("/portal/claims", get(programme::claims_page).post(programme::post_claim))
        .route("/portal/claims/{claim_id}/review", post(programme::post_review))
        .route("/portal/batches", get(programme::batches_page).post(programme::post_batch))
        .route("/portal/batches/{batch_id}/csv", get(programme::batch_csv))
        .route("/portal/receivables", get(programme::receivables_page))
        .route("/portal/findings", post(programme::post_finding))
        .route("/portal/years/{year}/close", post(programme::post_close_year))
        .route("/portal/budget", get(programme::budget_page))
        .with_state(state)
}

async fn home(State(state): State<ApiState>, jar: CookieJar) -> Response {
    match signed_in(&state, &jar) {
        Ok(Role::Entity(code)) => Redirect::to(&format!("/portal/entities/{code}")).into_response(),
        Ok(_) => Redirect::to("/portal/overview").into_response(),
        Err(_) => shell::sign_in_page(None).into_response(),
    }
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

async fn sign_in(State(state): State<ApiState>, jar: CookieJar, Form(form): Form<SignIn>) -> Response {
    let refused = |reason: &str| {
        state.metrics.denied.with_label_values(&[reason]).inc();
        (StatusCode::UNAUTHORIZED, shell::sign_in_page(Some("令牌无效 · This token is not valid"))).into_response()
    };
    let Some(token) = crate::auth::presented(&form.token) else {
        return refused("no_token");
    };
    if state.tokens.current().role_of(token).is_none() {
        return refused("unknown_token");
    }
    if let Some(old) = jar.get(COOKIE) {
        state.sessions.end(old.value());
    }
    let cookie = Cookie::build((COOKIE, state.sessions.open(token))).path("/portal").http_only(true).same_site(SameSite::Strict).secure(state.cookie_secure).build();
    (jar.add(cookie), Redirect::to("/portal")).into_response()
}

async fn sign_out(State(state): State<ApiState>, jar: CookieJar) -> Response {
    if let Some(id) = jar.get(COOKIE) {
        state.sessions.end(id.value());
    }
    let gone = Cookie::build(COOKIE).path("/portal").http_only(true).same_site(SameSite::Strict).secure(state.cookie_secure).build();
    (jar.remove(gone), Redirect::to("/portal")).into_response()
}

async fn entity_page(State(state): State<ApiState>, jar: CookieJar, Path(code): Path<String>) -> PageResult {
    let role = signed_in(&state, &jar)?;
    let code = entity(&state, &role, &code)?;
    let book = state.book();
    let view = crate::views::accruals::accruals(&book, &code, None, None);
    let chart = chart::chart("entity-chart", &chart::series(&book, chart::Scope::Entity(&code)));
    Ok(pages::entity(&role, &view, chart).into_response())
}

#[derive(Deserialize)]
struct LedgerQuery {
    period: Option<String>,
    cursor: Option<String>,
}

async fn ledger_page(State(state): State<ApiState>, jar: CookieJar, Path(code): Path<String>, Query(q): Query<LedgerQuery>) -> PageResult {
    let role = signed_in(&state, &jar)?;
    let period = params::month("period", q.period.as_deref().unwrap_or_default())?;
    let code = entity(&state, &role, &code)?;
    let after = state.cursors.open(crate::cursor::Scope::Ledger(&code, period), q.cursor.as_deref())?;
    let page = crate::routes::ledger_page(&state, &code, period, after.as_deref(), params::DEFAULT_LIMIT).await?;
    Ok(pages::ledger(&role, &page).into_response())
}

async fn record_page(State(state): State<ApiState>, jar: CookieJar, Path(id): Path<String>) -> PageResult {
    let role = signed_in(&state, &jar)?;
    let id = params::record_id(&id)?;
    let history = crate::views::record::visible(&state, &role, &id).await?;
    Ok(pages::record(&role, &history).into_response())
}

fn csv(name: &str, body: String) -> Response {
    let disposition = format!("attachment; filename=\"{name}\"");
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, disposition)], body).into_response()
}

async fn entity_csv(State(state): State<ApiState>, jar: CookieJar, Path(code): Path<String>) -> PageResult {
    let role = signed_in(&state, &jar)?;
    let code = entity(&state, &role, &code)?;
    let rows: Vec<_> = state.book().entities.get(&code).map(|e| e.settled.values().cloned().collect()).unwrap_or_default();
    Ok(csv(&format!("settlements-{code}.csv"), settlements_csv(&rows)))
}

#[derive(Deserialize)]
struct PeriodQuery {
    period: Option<String>,
}

/// The entity's proof of its lines of a closed month (C2SP tlog-proof), as a download.
async fn entity_proof(State(state): State<ApiState>, jar: CookieJar, Path(code): Path<String>, Query(q): Query<PeriodQuery>) -> PageResult {
    let role = signed_in(&state, &jar)?;
    let code = entity(&state, &role, &code)?;
    let period = params::month("period", q.period.as_deref().unwrap_or_default())?;
    let body = crate::tlog::proof_text(&state, &code, period).await?;
    let disposition = format!("attachment; filename=\"{code}-{period}.tlog-proof\"");
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, disposition)], body).into_response())
}

async fn overview_page(State(state): State<ApiState>, jar: CookieJar, Query(q): Query<PeriodQuery>) -> PageResult {
    let role = signed_in(&state, &jar)?;
    let asked = params::opt_month("period", q.period.as_deref())?;
    if !role.sees_many() {
        return Err(ApiError::Forbidden.into());
    }
    let months: Vec<subsidy_core::Period> = state.book().months.iter().copied().collect();
    let Some(period) = asked.or_else(|| months.last().copied()) else {
        return Ok(pages::empty_overview(&role).into_response());
    };
    let overview = crate::routes::overview_of(&state, &role, period).await?;
    let book = state.book();
    let by_city_month = crate::views::overview::subsidy_by_city_and_month(&book, &role);
    let scope = match &role {
        Role::City(city) => chart::Scope::City(city),
        _ => chart::Scope::Province,
    };
    let chart = chart::chart("scope-chart", &chart::series(&book, scope));
    Ok(pages::overview(&role, &overview, &months, &by_city_month, chart).into_response())
}

async fn month_csv(State(state): State<ApiState>, jar: CookieJar, Query(q): Query<PeriodQuery>) -> PageResult {
    let role = signed_in(&state, &jar)?;
    let period = params::month("period", q.period.as_deref().unwrap_or_default())?;
    if !role.sees_many() {
        return Err(ApiError::Forbidden.into());
    }
    let rows = crate::views::settlements::of_month(&state.book(), &role, period);
    Ok(csv(&format!("settlements-{period}.csv"), settlements_csv(&rows)))
}
