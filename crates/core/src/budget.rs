//! The programme's yearly budget: how much a calendar year may pay, what
//! happens when the claims approved for it ask for more, and how each payment
//! is shared between the province and the city.
//!
//! A budget is part of the policy file (`[[budgets]]`, one per year). Two
//! rules divide a year that runs short: [`OverBudget::FirstCome`] pays claims
//! in the order they were approved, the one that crosses the line getting what
//! is left to the fen; [`OverBudget::ProRata`] scales every claim of the year
//! by one factor, floors each to the fen and hands the fen left over out by
//! largest remainder, so the year pays exactly its budget. [`split`] divides a
//! payment into a city part (floored) and a province part (the rest), which
//! always sum to it.

use crate::money::{round_down_to_fen, Money};
use crate::place;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most cities one budget may name a share for.
pub const MAX_CITY_SHARES: usize = 64;

/// What a year does when the claims approved for it ask for more than its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverBudget {
    /// In approval order; the claim that crosses the line is paid what is left.
    FirstCome,
    /// Every claim of the year scaled by one factor once the year's claims close.
    ProRata,
}

impl OverBudget {
    /// The policy file's name of the rule.
    pub const fn as_str(self) -> &'static str {
        match self {
            OverBudget::FirstCome => "first_come",
            OverBudget::ProRata => "pro_rata",
        }
    }
}

/// One calendar year's budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// The calendar year of the usage it pays for.
    pub year: i32,
    /// The programme's budget for the year, yuan (province and cities together).
    pub amount_yuan: Decimal,
    /// The rule when approved claims ask for more.
    pub over_budget: OverBudget,
    /// Each named city's share of every payment to its entities, e.g. "0.5"; the
    /// province pays the rest (all of it for a city not named).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub city_shares: BTreeMap<String, Decimal>,
}

impl Budget {
    /// The share a city pays of its entities' payments (0 when not named).
    pub fn city_share(&self, city: &str) -> Decimal {
        self.city_shares.get(city).copied().unwrap_or(Decimal::ZERO)
    }

    /// Brings city names to canonical form ("阜阳" is 阜阳市).
    pub fn canonicalise(&mut self) {
        self.city_shares = std::mem::take(&mut self.city_shares).into_iter().map(|(c, s)| (place::city(&c), s.normalize())).collect();
        self.amount_yuan = self.amount_yuan.normalize();
    }

    /// What is wrong with the budget, as (field, problem).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !(2000..=2099).contains(&self.year) {
            return Err(("year", "must be between 2000 and 2099".into()));
        }
        let max = Decimal::from(crate::money::MAX_AMOUNT_YUAN);
        if self.amount_yuan <= Decimal::ZERO || self.amount_yuan.scale() > 2 || self.amount_yuan > max {
            return Err(("amount_yuan", format!("must be positive, at most {max}, with at most 2 decimals")));
        }
        if self.city_shares.len() > MAX_CITY_SHARES {
            return Err(("city_shares", format!("may name at most {MAX_CITY_SHARES} cities")));
        }
        for (city, share) in &self.city_shares {
            if city.trim().is_empty() || city.chars().any(char::is_control) {
                return Err(("city_shares", "names a blank city".into()));
            }
            if *share < Decimal::ZERO || *share > Decimal::ONE || share.scale() > 4 {
                return Err(("city_shares", format!("share of {city} must be between 0 and 1, with at most 4 decimals")));
            }
        }
        Ok(())
    }
}

/// A payment divided between the province and a city.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shares {
    /// What the province pays.
    pub province: Money,
    /// What the city pays.
    pub city: Money,
}

/// Splits `amount` (whole fen) by the city's `share`: the city part floored to the fen,
/// the province the rest; the two always sum to `amount`.
pub fn split(amount: Money, share: Decimal) -> Shares {
    let city = round_down_to_fen(amount * share).min(amount).max(Decimal::ZERO);
    let mut province = amount - city;
    province.rescale(2);
    Shares { province, city }
}

/// First come: each asked amount in order gets what it asks, until `budget` is spent; the
/// one that crosses the line gets what is left. Returns the grants, in the same order.
pub fn first_come(asked: &[Money], budget: Money) -> Vec<Money> {
    let mut left = budget.max(Decimal::ZERO);
    asked
        .iter()
        .map(|a| {
            let grant = round_down_to_fen((*a).max(Decimal::ZERO).min(left));
            left -= grant;
            grant
        })
        .collect()
}

/// Pro rata: when the asked amounts sum to more than `budget`, each is scaled by
/// budget ÷ sum and floored to the fen, and the fen left over go one each to the largest
/// remainders (ties to the earlier), so the grants sum to the budget exactly. When they
/// fit, each gets what it asks. Returns the grants, in the same order.
pub fn pro_rata(asked: &[Money], budget: Money) -> Vec<Money> {
    let asked: Vec<Money> = asked.iter().map(|a| round_down_to_fen((*a).max(Decimal::ZERO))).collect();
    let total: Money = asked.iter().sum();
    let budget = round_down_to_fen(budget.max(Decimal::ZERO));
    if total <= budget {
        return asked;
    }
    // Exact shares a × B / T; floors and remainders in fen.
    let exact: Vec<Decimal> = asked.iter().map(|a| *a * budget / total).collect();
    let mut grants: Vec<Money> = exact.iter().map(|e| round_down_to_fen(*e)).collect();
    let given: Money = grants.iter().sum();
    let fen = Decimal::new(1, 2);
    let mut left = ((budget - given) / fen).trunc();
    let mut order: Vec<usize> = (0..asked.len()).collect();
    order.sort_by(|&i, &j| (exact[j] - grants[j]).cmp(&(exact[i] - grants[i])).then(i.cmp(&j)));
    for i in order {
        if left <= Decimal::ZERO {
            break;
        }
        if grants[i] < asked[i] {
            grants[i] += fen;
            left -= Decimal::ONE;
        }
    }
    grants
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn first_come_pays_the_crossing_claim_what_is_left() {
        assert_eq!(first_come(&[d("60"), d("30"), d("50"), d("5")], d("100")), [d("60"), d("30"), d("10"), d("0")]);
        assert_eq!(first_come(&[d("10"), d("20")], d("100")), [d("10"), d("20")]);
    }

    #[test]
    fn pro_rata_pays_exactly_the_budget() {
        // 100 over three claims of 100 each: 33.33 each and one fen to the first of the ties.
        let g = pro_rata(&[d("100"), d("100"), d("100")], d("100"));
        assert_eq!(g, [d("33.34"), d("33.33"), d("33.33")]);
        assert_eq!(g.iter().sum::<Decimal>(), d("100"));
        // Largest remainder: 10 / 20 / 70.01 of 50 → 4.99.., 9.99.., 34.96..
        let g = pro_rata(&[d("10"), d("20"), d("70.01")], d("50"));
        assert_eq!(g.iter().sum::<Decimal>(), d("50"));
        assert!(g.iter().zip([d("10"), d("20"), d("70.01")]).all(|(g, a)| *g <= a));
        assert_eq!(pro_rata(&[d("10"), d("20")], d("100")), [d("10"), d("20")], "a year within its budget pays what is asked");
    }

    #[test]
    fn the_city_and_province_parts_sum_to_the_payment() {
        let s = split(d("100.01"), d("0.5"));
        assert_eq!((s.city, s.province), (d("50.00"), d("50.01")));
        assert_eq!(split(d("7.77"), Decimal::ZERO), Shares { province: d("7.77"), city: d("0.00") });
        assert_eq!(split(d("7.77"), Decimal::ONE), Shares { province: d("0.00"), city: d("7.77") });
    }

    #[test]
    fn a_budget_names_what_is_wrong() {
        let mut b = Budget { year: 2026, amount_yuan: d("50000000"), over_budget: OverBudget::FirstCome, city_shares: BTreeMap::from([("阜阳".to_string(), d("0.50"))]) };
        b.canonicalise();
        assert_eq!(b.city_share("阜阳市"), d("0.5"));
        assert_eq!(b.city_share("合肥市"), Decimal::ZERO);
        assert!(b.check().is_ok());
        assert_eq!(Budget { year: 1999, ..b.clone() }.check().unwrap_err().0, "year");
        assert_eq!(Budget { amount_yuan: d("0.001"), ..b.clone() }.check().unwrap_err().0, "amount_yuan");
        let mut bad = b.clone();
        bad.city_shares.insert("合肥市".into(), d("1.5"));
        assert_eq!(bad.check().unwrap_err().0, "city_shares");
    }
}
