//! The budget view of a year: budget, paid, approved and unpaid, under
//! review, claimable (closed, unclaimed), accrued (open months), and a
//! burn-down forecast; by city and by policy version.
//!
//! The forecast is linear and reads no clock: the year's committed money
//! (everything but the budget) spread over the days from 1 January to the
//! last day of the latest month with figures, extended until it meets the
//! budget.

use super::apply::Programme;
use super::claims::Status;
use crate::credit_code::CreditCode;
use crate::money::{round_down_to_fen, Money};
use crate::period::Period;
use crate::policy::PolicySet;
use crate::settle::Settlement;
use chrono::{Datelike, NaiveDate, TimeDelta};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Money of a year in each state, whole fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Figures {
    /// Granted to claims in batches.
    pub paid: Money,
    /// Granted to approved claims not yet in a batch (a `pro_rata` year not divided: asked).
    pub approved_unpaid: Money,
    /// Fixed for months of claims still in review.
    pub under_review: Money,
    /// Fixed for closed months no claim holds, and later adjustments not yet claimed.
    pub claimable: Money,
    /// Settled so far for open months.
    pub accrued: Money,
}

impl Figures {
    /// Everything the year is committed to or may be: all but the budget.
    pub fn committed(&self) -> Money {
        self.paid + self.approved_unpaid + self.under_review + self.claimable + self.accrued
    }
}

/// When the budget runs out at the current rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forecast {
    /// The last day with figures the rate is taken over.
    pub as_of: NaiveDate,
    /// Committed per day so far.
    pub per_day: Money,
    /// The day the committed money reaches the budget (`None`: not at this rate within
    /// the year, or no rate yet); the day it did when it already has.
    pub runs_out_on: Option<NaiveDate>,
    /// Whether the committed money has reached the budget already.
    pub reached: bool,
}

/// One year of the programme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetView {
    /// The calendar year.
    pub year: i32,
    /// Its budget (`None`: the policy sets none, every approved claim is paid).
    pub budget: Option<Money>,
    /// The rule when claims ask for more.
    pub over_budget: Option<&'static str>,
    /// Whether the bureau closed the year's claims.
    pub claims_closed: bool,
    /// The year's figures.
    pub figures: Figures,
    /// Budget − committed (`None` without a budget).
    pub headroom: Option<Money>,
    /// The burn-down forecast (`None` without a budget or figures).
    pub forecast: Option<Forecast>,
    /// The figures per city (the claim's city; else the entity's as of the month).
    pub by_city: BTreeMap<String, Figures>,
    /// Fixed (statements) and accrued per policy version covering the months ("v1+v2"
    /// for a month two versions share).
    pub by_version: BTreeMap<String, Figures>,
}

/// What a budget view is computed from.
#[derive(Debug, Clone, Copy)]
pub struct ViewInput<'a> {
    /// The programme.
    pub programme: &'a Programme,
    /// The ledger's current settlements (for open months).
    pub settlements: &'a [Settlement],
    /// The months closed.
    pub closed: &'a BTreeSet<Period>,
    /// The policy in force.
    pub policy: &'a PolicySet,
}

/// The view of `year`; `city_of` says an entity's city as of a month.
pub fn budget_view(year: i32, input: ViewInput<'_>, city_of: &dyn Fn(&CreditCode, Period) -> String) -> BudgetView {
    let mut by_city: BTreeMap<String, Figures> = BTreeMap::new();
    let mut by_version: BTreeMap<String, Figures> = BTreeMap::new();
    let mut total = Figures::default();
    let mut add = |city: String, f: &dyn Fn(&mut Figures)| {
        f(&mut total);
        f(by_city.entry(city).or_default());
    };
    claimed_figures(year, input.programme, &mut add);
    unclaimed_figures(year, input, city_of, &mut add);
    version_figures(year, input, &mut by_version);
    let last_month = input.settlements.iter().map(|s| s.period).chain(input.closed.iter().copied()).filter(|m| m.year() == year).max();
    let budget = input.policy.budget(year);
    let amount = budget.map(|b| b.amount_yuan);
    BudgetView {
        year,
        budget: amount,
        over_budget: budget.map(|b| b.over_budget.as_str()),
        claims_closed: input.programme.closed_years.contains(&year),
        headroom: amount.map(|b| b - total.committed()),
        forecast: amount.zip(last_month).map(|(b, m)| forecast(year, b, total.committed(), m.last_day())),
        figures: total,
        by_city,
        by_version,
    }
}

/// Paid, approved and under review: from the claims.
fn claimed_figures(year: i32, p: &Programme, add: &mut dyn FnMut(String, &dyn Fn(&mut Figures))) {
    for c in &p.claims {
        match c.status {
            Status::Paid | Status::Approved => {
                let Some(part) = c.part(year) else { continue };
                let money = part.granted.unwrap_or(part.asked);
                let paid = c.status == Status::Paid;
                add(c.city.clone(), &|f| if paid { f.paid += money } else { f.approved_unpaid += money });
            }
            Status::Filed | Status::CityApproved => {
                let money: Money = p.statements_of(&c.credit_code).iter().filter(|s| s.for_period.year() == year && c.months.contains(&s.for_period)).map(|s| s.subsidy).sum();
                add(c.city.clone(), &|f| f.under_review += money);
            }
            Status::Rejected => {}
        }
    }
}

/// Claimable (statement lines no live claim holds and no approval took, and later positive
/// adjustments not yet claimed) and accrued (open months).
fn unclaimed_figures(year: i32, input: ViewInput<'_>, city_of: &dyn Fn(&CreditCode, Period) -> String, add: &mut dyn FnMut(String, &dyn Fn(&mut Figures))) {
    let p = input.programme;
    let mut claimable: BTreeMap<(CreditCode, Period), Money> = BTreeMap::new();
    for code in p.entities() {
        for s in p.statements_of(&code).iter().filter(|s| s.for_period.year() == year && !p.is_taken(s)) {
            let late = p.late_for(s).is_some();
            if (late && s.subsidy > Decimal::ZERO) || (!late && p.claim_of_month(&code, s.for_period).is_none()) {
                *claimable.entry((code, s.for_period)).or_default() += s.subsidy;
            }
        }
    }
    for ((code, month), money) in claimable {
        add(city_of(&code, month), &|f| f.claimable += money);
    }
    for s in input.settlements.iter().filter(|s| s.period.year() == year && !input.closed.contains(&s.period)) {
        add(city_of(&s.credit_code, s.period), &|f| f.accrued += s.subsidy);
    }
}

/// Fixed (every statement line for the month) and accrued (open months) per version label.
fn version_figures(year: i32, input: ViewInput<'_>, out: &mut BTreeMap<String, Figures>) {
    for code in input.programme.entities() {
        for s in input.programme.statements_of(&code).iter().filter(|s| s.for_period.year() == year) {
            out.entry(version_label(input.policy, s.for_period)).or_default().claimable += s.subsidy;
        }
    }
    for s in input.settlements.iter().filter(|s| s.period.year() == year && !input.closed.contains(&s.period)) {
        out.entry(version_label(input.policy, s.period)).or_default().accrued += s.subsidy;
    }
}

/// The ids of the versions covering any day of a month, joined by "+" ("none" for none).
pub fn version_label(policy: &PolicySet, month: Period) -> String {
    let (first, last) = (month.first_day(), month.last_day());
    let ids: Vec<&str> = policy.versions.iter().filter(|v| v.effective_from <= last && first <= v.effective_to).map(|v| v.id.as_str()).collect();
    if ids.is_empty() {
        "none".to_string()
    } else {
        ids.join("+")
    }
}

/// The linear burn-down: committed over the days from 1 January to `as_of`, extended.
fn forecast(year: i32, budget: Money, committed: Money, as_of: NaiveDate) -> Forecast {
    let start = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(as_of);
    let days = Decimal::from((as_of - start).num_days() + 1);
    let per_day = round_down_to_fen(committed / days);
    let reached = committed >= budget;
    let runs_out_on = if per_day <= Decimal::ZERO {
        None
    } else {
        // The first day on which start + days × per_day reaches the budget.
        let needed = (budget / (committed / days)).ceil();
        let day = i64::try_from(needed.mantissa() / 10i128.pow(needed.scale())).ok().and_then(|n| start.checked_add_signed(TimeDelta::days(n - 1)));
        day.filter(|d| reached || d.year() == year)
    };
    Forecast { as_of, per_day, runs_out_on, reached }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_burn_down_extends_the_rate_so_far() {
        let jan31 = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        // 310.00 over 31 days: 10.00 a day, so 1,000.00 is reached on day 100, 10 April.
        let f = forecast(2026, Decimal::from(1000), Decimal::from(310), jan31);
        assert_eq!((f.per_day, f.runs_out_on, f.reached), (Decimal::new(1000, 2), NaiveDate::from_ymd_opt(2026, 4, 10), false));
        // At 1.00 a day the budget outlasts the year: no date.
        assert_eq!(forecast(2026, Decimal::from(1000), Decimal::from(31), jan31).runs_out_on, None);
        assert_eq!(forecast(2026, Decimal::from(1000), Decimal::ZERO, jan31).runs_out_on, None);
        let reached = forecast(2026, Decimal::from(100), Decimal::from(310), jan31);
        assert!(reached.reached && reached.runs_out_on.is_some_and(|d| d <= jan31));
    }

    #[test]
    fn a_month_two_versions_share_names_both() {
        let p = PolicySet::builtin();
        assert_eq!(version_label(&p, Period::new(2025, 8).unwrap()), "v1+v2");
        assert_eq!(version_label(&p, Period::new(2025, 9).unwrap()), "v2");
        assert_eq!(version_label(&p, Period::new(2030, 1).unwrap()), "none");
    }
}
