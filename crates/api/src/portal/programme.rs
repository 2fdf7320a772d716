//! The programme's portal routes: each page reads the book's programme as the
//! API does (the same selection per role, [`crate::steps`]); each form posts
//! a step taken through [`steps::take`], the API's own path, and on success
//! sends the browser back to the page (303), on refusal shows why.

use super::chart::{self, Scope};
use super::programme_pages as pages;
use super::{signed_in, signed_in_as, PageError, PageResult};
use crate::auth::Role;
use crate::error::ApiError;
use crate::state::ApiState;
use crate::steps;
use crate::views::programme::{BatchView, ClaimSummary, ReceivableView};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use std::collections::BTreeMap;
use subsidy_core::programme::{Action, Status};
use subsidy_core::Period;

/// Form fields as posted, in order (a checkbox list repeats its name).
type Fields = Form<Vec<(String, String)>>;

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

fn all<'a>(fields: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    fields.iter().filter(move |(k, _)| k == name).flat_map(|(_, v)| v.split([',', ' '])).map(str::trim).filter(|v| !v.is_empty())
}

/// The closed months of `code` with statement lines that no live claim holds, by year
/// (years whose claims are closed left out).
fn claimable(state: &ApiState, code: &subsidy_core::CreditCode) -> Result<Vec<(i32, Vec<Period>)>, PageError> {
    let book = state.book();
    let p = &steps::programme(&book)?.programme;
    let mut by_year: BTreeMap<i32, Vec<Period>> = BTreeMap::new();
    let mut months: Vec<Period> = p.statements_of(code).iter().map(|s| s.for_period).filter(|m| book.closed.contains(m)).collect();
    months.dedup();
    for m in months {
        if p.claim_of_month(code, m).is_none() && !p.closed_years.contains(&m.year()) && !by_year.get(&m.year()).is_some_and(|v| v.contains(&m)) {
            by_year.entry(m.year()).or_default().push(m);
        }
    }
    Ok(by_year.into_iter().collect())
}

pub(super) async fn claims_page(State(state): State<ApiState>, jar: CookieJar) -> PageResult {
    let role = signed_in(&state, &jar)?;
    let open = match &role {
        Role::Entity(code) => claimable(&state, code)?,
        _ => Vec::new(),
    };
    let book = state.book();
    let list: Vec<ClaimSummary> = steps::programme(&book)?.programme.claims.iter().filter(|c| steps::sees_claim(&role, c)).map(ClaimSummary::of).collect();
    Ok(pages::claims(&role, &open, &list).into_response())
}

pub(super) async fn post_claim(State(state): State<ApiState>, jar: CookieJar, Form(fields): Fields) -> PageResult {
    let who = signed_in_as(&state, &jar)?;
    let months: Vec<String> = all(&fields, "months").map(str::to_string).collect();
    let code = Some(field(&fields, "credit_code")).filter(|c| !c.is_empty());
    let action = steps::claim(&state.registry(), &who.role, code, &months)?;
    steps::take(&state, &who, action).await?;
    Ok(Redirect::to("/portal/claims").into_response())
}

pub(super) async fn post_review(State(state): State<ApiState>, jar: CookieJar, Path(id): Path<String>, Form(fields): Fields) -> PageResult {
    let who = signed_in_as(&state, &jar)?;
    let id = steps::claim_id(&id)?;
    let action = steps::review(&id, field(&fields, "stage"), field(&fields, "verdict"), field(&fields, "reason"))?;
    steps::take(&state, &who, action).await?;
    Ok(Redirect::to("/portal/claims").into_response())
}

pub(super) async fn batches_page(State(state): State<ApiState>, jar: CookieJar) -> PageResult {
    let role = signed_in(&state, &jar)?;
    let book = state.book();
    let p = &steps::programme(&book)?.programme;
    let payable: Vec<ClaimSummary> = p.claims.iter().filter(|c| c.status == Status::Approved && c.is_payable() && steps::sees_claim(&role, c)).map(ClaimSummary::of).collect();
    let list: Vec<BatchView> =
        p.batches.iter().rev().filter(|b| b.rows.iter().any(|r| steps::sees_row(&role, r))).map(|b| BatchView::of(b, |r| steps::sees_row(&role, r))).collect();
    Ok(pages::batches(&role, &payable, &list).into_response())
}

pub(super) async fn post_batch(State(state): State<ApiState>, jar: CookieJar, Form(fields): Fields) -> PageResult {
    let who = signed_in_as(&state, &jar)?;
    let claims: Vec<String> = all(&fields, "claim").map(str::to_string).collect();
    let action = steps::batch(field(&fields, "payout_date"), claims)?;
    steps::take(&state, &who, action).await?;
    Ok(Redirect::to("/portal/batches").into_response())
}

pub(super) async fn batch_csv(State(state): State<ApiState>, jar: CookieJar, Path(id): Path<String>) -> PageResult {
    let role = signed_in(&state, &jar)?;
    let id = steps::batch_id(&id)?;
    if role != Role::Bureau {
        return Err(state.forbidden().into());
    }
    Ok(super::csv(&format!("batch-{id}.csv"), crate::programme::batch_csv_text(&state, &id)?))
}

pub(super) async fn receivables_page(State(state): State<ApiState>, jar: CookieJar) -> PageResult {
    let role = signed_in(&state, &jar)?;
    let book = state.book();
    let list: Vec<ReceivableView> =
        steps::programme(&book)?.programme.receivables().iter().filter(|r| role.may_see(&r.credit_code, &book.registry)).map(ReceivableView::of).collect();
    Ok(pages::receivables(&role, &list).into_response())
}

pub(super) async fn post_finding(State(state): State<ApiState>, jar: CookieJar, Form(fields): Fields) -> PageResult {
    let who = signed_in_as(&state, &jar)?;
    let months: Vec<String> = all(&fields, "months").map(str::to_string).collect();
    let action = steps::finding(field(&fields, "case_id"), field(&fields, "credit_code"), &months, field(&fields, "amount").trim(), field(&fields, "reason"))?;
    steps::take(&state, &who, action).await?;
    Ok(Redirect::to("/portal/receivables").into_response())
}

pub(super) async fn post_close_year(State(state): State<ApiState>, jar: CookieJar, Path(year): Path<String>) -> PageResult {
    let who = signed_in_as(&state, &jar)?;
    let year = steps::year("year", &year)?;
    steps::take(&state, &who, Action::CloseYear { year }).await?;
    Ok(Redirect::to(&format!("/portal/budget?year={year}")).into_response())
}

#[derive(serde::Deserialize)]
pub(super) struct YearQuery {
    year: Option<String>,
}

pub(super) async fn budget_page(State(state): State<ApiState>, jar: CookieJar, Query(q): Query<YearQuery>) -> PageResult {
    let role = signed_in(&state, &jar)?;
    if !role.sees_many() {
        return Err(state.forbidden().into());
    }
    let book = state.book();
    let mut years: Vec<i32> = book.months.iter().map(|m| m.year()).chain(book.policy.set.budgets.iter().map(|b| b.year)).filter(|y| (2000..=2099).contains(y)).collect();
    years.sort_unstable();
    years.dedup();
    let year = match q.year.as_deref() {
        Some(text) => steps::year("year", text)?,
        None => *years.last().ok_or_else(|| ApiError::NotFound("the ledger has no month and the policy no budget yet".into()))?,
    };
    let view = crate::programme::budget_of(&state, &role, year)?;
    let scope = match &role {
        Role::City(city) => Scope::City(city),
        _ => Scope::Province,
    };
    let series = chart::series(&book, scope).into_iter().filter(|(m, _)| m.year() == year).collect();
    Ok(pages::budget(&role, &view, &years, chart::chart("budget-chart", &series)).into_response())
}
