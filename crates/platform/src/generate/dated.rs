//! Dated registry changes, as a platform lists them beside the entries they
//! change: some Anhui users re-register in 阜阳市 from a day inside the
//! generated months, and some compute centers are sold to one of their users
//! from such a day (that user's usage there is self-built from then on).
//! Drawn from their own random stream, so the rest of the data set is the
//! same with or without them.

use super::clock::{civil_from_days, days_from_civil};
use super::config::MonthRange;
use super::province::Province;
use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// One user in this many re-registers in 阜阳市.
const MOVE_ONE_IN: usize = 50;
/// One center in this many is sold.
const SALE_ONE_IN: usize = 8;
/// Where movers go: a 皖北 city, so the move changes the uplift.
const MOVE_TO: (&str, &str) = ("阜阳市", "341200");

/// Entity and center items carrying `valid_from`, to be listed after the undated ones.
pub fn changes(province: &Province, entities: &[Value], centers: &[Value], months: MonthRange, rng: &mut ChaCha8Rng) -> (Vec<Value>, Vec<Value>) {
    (moves(province, entities, months, rng), sales(province, centers, months, rng))
}

/// A day after the first month's first day and no later than the last month's 28th, "YYYY-MM-DD".
fn day_inside(months: MonthRange, rng: &mut ChaCha8Rng) -> String {
    let first = days_from_civil(i64::from(months.start.year()), months.start.month(), 2);
    let last = days_from_civil(i64::from(months.end.year()), months.end.month(), 28);
    let (y, m, d) = civil_from_days(rng.random_range(first..=last.max(first)));
    format!("{y:04}-{m:02}-{d:02}")
}

fn moves(province: &Province, entities: &[Value], months: MonthRange, rng: &mut ChaCha8Rng) -> Vec<Value> {
    let movers: Vec<usize> = (0..province.entities.len()).filter(|&i| province.entities[i].place.province == "安徽省" && province.entities[i].place.city != MOVE_TO.0).collect();
    let count = (province.entities.len() / MOVE_ONE_IN).max(1).min(movers.len());
    let chosen: Vec<usize> = movers.choose_multiple(rng, count).copied().collect();
    chosen
        .into_iter()
        .filter_map(|i| {
            let mut item = entities.get(i)?.clone();
            item["city"] = MOVE_TO.0.into();
            item["valid_from"] = day_inside(months, rng).into();
            Some(item)
        })
        .collect()
}

fn sales(province: &Province, centers: &[Value], months: MonthRange, rng: &mut ChaCha8Rng) -> Vec<Value> {
    let count = (province.centers.len() / SALE_ONE_IN).max(1).min(province.centers.len());
    let chosen: Vec<usize> = (0..province.centers.len()).collect::<Vec<_>>().choose_multiple(rng, count).copied().collect();
    chosen
        .into_iter()
        .filter_map(|c| {
            // Sold to a heavy user in the province that is not the owner: its usage there turns self-built.
            let owner = province.centers[c].owner;
            let buyer = (0..province.entities.len()).filter(|&i| i != owner && province.entities[i].place.province == "安徽省").max_by(|&a, &b| province.entities[a].weight.total_cmp(&province.entities[b].weight))?;
            let mut item = centers.get(c)?.clone();
            item["owner_credit_code"] = province.entities[buyer].code.as_str().into();
            item["valid_from"] = day_inside(months, rng).into();
            Some(item)
        })
        .collect()
}
