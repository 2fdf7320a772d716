//! The one way a step of the programme is taken, from the API or the portal:
//! the caller's role becomes the step's party and its token's label the
//! step's label (the token is never recorded); the store numbers the step,
//! fences it and has the core check it (no rule is checked here); a refusal
//! becomes the API's error — 403, 404, 409 or 400 — and a written step makes
//! the book be read again, so its writer's next read sees it. What may be read
//! of the programme (which claims, batch rows and receivables a role sees) is
//! here too, so the API and the portal select alike.

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::params;
use crate::state::{self, ApiState, Book};
use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use std::str::FromStr;
use subsidy_core::programme::{Action, BatchRow, ClaimState, Event, Party, ProgrammeError, Stage, Verdict, MAX_CLAIM_MONTHS};
use subsidy_core::{CreditCode, Period, Registry};
use subsidy_store::{append_step, AppendError, ProgrammeBook, Step};

/// The party a role acts as.
pub fn party_of(role: &Role) -> Party {
    match role {
        Role::Bureau => Party::Bureau,
        Role::City(city) => Party::City { city: city.clone() },
        Role::Entity(code) => Party::Entity { credit_code: *code },
    }
}

/// Takes `action` for `who`: appended through the store (numbered, fenced, checked by the
/// core), then the book read again.
pub async fn take(state: &ApiState, who: &Principal, action: Action) -> ApiResult<Event> {
    let policy = state.book().policy.clone();
    let step = Step { party: party_of(&who.role), label: who.label.clone(), at: Utc::now(), action };
    let event = append_step(state.store.as_ref(), state.step_log.as_deref(), &policy.set, step).await.map_err(|e| refused(state, e))?;
    if let Err(e) = state::reread(state).await {
        tracing::warn!(error = %e, sequence = event.sequence, "a step was written but the book was not read again; it shows at the next poll");
    }
    Ok(event)
}

/// A refused or failed append as the API's error.
fn refused(state: &ApiState, e: AppendError) -> ApiError {
    match e {
        AppendError::Refused(ProgrammeError::Forbidden(why)) => {
            tracing::debug!(why, "a step was refused to its party");
            state.forbidden()
        }
        AppendError::Refused(ProgrammeError::NotFound(why)) => ApiError::NotFound(why),
        AppendError::Refused(ProgrammeError::Conflict(why)) => ApiError::Conflict(why),
        AppendError::Refused(ProgrammeError::Invalid(why)) => ApiError::bad("body", why),
        AppendError::Store(e) => e.into(),
    }
}

/// The programme of the book in force.
pub fn programme(book: &Book) -> ApiResult<&ProgrammeBook> {
    book.programme.as_deref().ok_or_else(|| ApiError::Store { detail: "the programme has not been read yet".into(), retry: true })
}

/// Months as given (`YYYY-MM`), 1 to [`MAX_CLAIM_MONTHS`] × `most` of them.
pub fn months(texts: &[String], most: usize) -> ApiResult<Vec<Period>> {
    if texts.is_empty() || texts.len() > most {
        return Err(ApiError::bad("months", format!("months must name 1 to {most} months")));
    }
    texts.iter().map(|t| params::month("months", t)).collect()
}

/// The claim `who` files for `code` (its own when it is an entity) over `months`: the city
/// that reviews it is the entity's as the registry stood on the last day of the latest month.
pub fn claim(registry: &Registry, who: &Role, code: Option<&str>, months_given: &[String]) -> ApiResult<Action> {
    let months = months(months_given, MAX_CLAIM_MONTHS)?;
    let code = match (code, who) {
        (Some(text), _) => params::credit_code(text)?,
        (None, Role::Entity(own)) => *own,
        (None, _) => return Err(ApiError::bad("credit_code", "credit_code is required unless an entity claims for itself")),
    };
    let city = subsidy_core::programme::reviewing_city(registry, &code, &months).ok_or_else(|| {
        let latest = months.iter().max().map_or_else(String::new, |m| m.last_day().to_string());
        ApiError::NotFound(format!("{code} is not in the registry on {latest}"))
    })?;
    Ok(Action::Claim { credit_code: code, city, months })
}

/// A review of a claim.
pub fn review(claim_id: &str, stage: &str, verdict: &str, reason: &str) -> ApiResult<Action> {
    let stage = match stage {
        "city" => Stage::City,
        "bureau" => Stage::Bureau,
        _ => return Err(ApiError::bad("stage", "stage must be city or bureau")),
    };
    let verdict = match verdict {
        "approve" => Verdict::Approve,
        "reject" => Verdict::Reject,
        _ => return Err(ApiError::bad("verdict", "verdict must be approve or reject")),
    };
    Ok(Action::Review { claim_id: claim_id.to_string(), stage, verdict, reason: reason.to_string() })
}

/// A payout batch of `claims` on `date` (`YYYY-MM-DD`).
pub fn batch(date: &str, claims: Vec<String>) -> ApiResult<Action> {
    let payout_date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok().filter(|d| d.format("%Y-%m-%d").to_string() == date);
    let payout_date = payout_date.ok_or_else(|| ApiError::bad("payout_date", "payout_date must be a date YYYY-MM-DD"))?;
    for id in &claims {
        claim_id(id)?;
    }
    Ok(Action::Batch { payout_date, claims })
}

/// An audit finding.
pub fn finding(case_id: &str, code: &str, months_given: &[String], amount: &str, reason: &str) -> ApiResult<Action> {
    let credit_code = params::credit_code(code)?;
    let months = months(months_given, 10 * MAX_CLAIM_MONTHS)?;
    let amount = Decimal::from_str(amount).ok().filter(|_| amount.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
    let amount = amount.ok_or_else(|| ApiError::bad("amount", "amount must be yuan, e.g. 1200.50"))?;
    Ok(Action::Finding { case_id: case_id.to_string(), credit_code, months, amount, reason: reason.to_string() })
}

/// The pattern of a claim id.
pub const CLAIM_ID_PATTERN: &str = "^C-[1-9][0-9]{0,18}$";
/// The pattern of a batch id.
pub const BATCH_ID_PATTERN: &str = "^B-[1-9][0-9]{0,18}$";

fn numbered(parameter: &'static str, prefix: &str, text: &str) -> ApiResult<String> {
    let digits = text.strip_prefix(prefix).filter(|d| (1..=19).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0'));
    match digits {
        Some(_) => Ok(text.to_string()),
        None => Err(ApiError::bad(parameter, format!("{parameter} must be {prefix}<number>"))),
    }
}

/// A claim id, `C-<number>`.
pub fn claim_id(text: &str) -> ApiResult<String> {
    numbered("claim_id", "C-", text)
}

/// A batch id, `B-<number>`.
pub fn batch_id(text: &str) -> ApiResult<String> {
    numbered("batch_id", "B-", text)
}

/// A calendar year a budget may be set for (2000–2099).
pub fn year(parameter: &'static str, text: &str) -> ApiResult<i32> {
    match text.parse::<i32>() {
        Ok(y) if (2000..=2099).contains(&y) && text.len() == 4 => Ok(y),
        _ => Err(ApiError::bad(parameter, format!("{parameter} must be a year from 2000 to 2099"))),
    }
}

/// Whether `role` may read the claim: the bureau all, a city those it reviews, an entity its own.
pub fn sees_claim(role: &Role, c: &ClaimState) -> bool {
    match role {
        Role::Bureau => true,
        Role::City(city) => c.city == *city,
        Role::Entity(code) => c.credit_code == *code,
    }
}

/// Whether `role` may read a batch row: the bureau all, a city its city's, an entity its own.
pub fn sees_row(role: &Role, r: &BatchRow) -> bool {
    match role {
        Role::Bureau => true,
        Role::City(city) => r.city == *city,
        Role::Entity(code) => r.credit_code == *code,
    }
}

/// The city of an entity as of a month's last day (see [`subsidy_core::programme::city_in`]).
pub fn city_of(registry: &Registry, code: &CreditCode, month: Period) -> String {
    subsidy_core::programme::city_in(registry, code, month)
}
