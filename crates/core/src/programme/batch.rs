//! Payout batches: what each approved claim is paid, split between the
//! province and the city, with the entity's receivables netted oldest first
//! and never below zero; the finance bureau's CSV and the totals per city.
//!
//! A batch's rows are computed once, from the state when it is made: the
//! grants are fixed by then and it nets only receivables that arose by its
//! `through`, so nothing that happens later changes a batch.

use super::apply::Programme;
use super::{batch_id, Event};
use crate::budget::split;
use crate::credit_code::CreditCode;
use crate::money::{format_yuan, Money};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One claim paid in a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchRow {
    /// The batch.
    pub batch_id: String,
    /// The claim.
    pub claim_id: String,
    /// The entity paid.
    pub credit_code: CreditCode,
    /// The claim's city.
    pub city: String,
    /// The province's part of `amount`.
    pub province_part: Money,
    /// The city's part of `amount`.
    pub city_part: Money,
    /// What the claim was granted: province part + city part.
    pub amount: Money,
    /// Receivables of the entity netted against it.
    pub recovered: Money,
    /// What is transferred: amount − recovered, never below zero.
    pub net_paid: Money,
}

/// What a batch recovered of one receivable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recovery {
    /// The receivable.
    pub receivable_id: String,
    /// The entity.
    pub credit_code: CreditCode,
    /// Recovered by this batch.
    pub amount: Money,
}

/// A batch as made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchState {
    /// `B-<sequence>`.
    pub batch_id: String,
    /// The event that made it.
    pub sequence: u64,
    /// The payout date.
    pub payout_date: NaiveDate,
    /// Who made it.
    pub made_by: String,
    /// When.
    pub made_at: DateTime<Utc>,
    /// Its rows, by entity, then the months of the claim.
    pub rows: Vec<BatchRow>,
    /// What it recovered, receivable by receivable, in order.
    pub recoveries: Vec<Recovery>,
}

/// A batch's totals for one city.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct CityTotal {
    /// The city.
    pub city: String,
    /// Claims paid.
    pub claims: u64,
    /// Σ province parts.
    pub province_part: Money,
    /// Σ city parts.
    pub city_part: Money,
    /// Σ amounts.
    pub amount: Money,
    /// Σ recovered.
    pub recovered: Money,
    /// Σ net paid.
    pub net_paid: Money,
}

impl BatchState {
    /// Totals per city, by city name.
    pub fn city_totals(&self) -> Vec<CityTotal> {
        let mut by: BTreeMap<&str, CityTotal> = BTreeMap::new();
        for r in &self.rows {
            let t = by.entry(r.city.as_str()).or_insert_with(|| CityTotal { city: r.city.clone(), ..CityTotal::default() });
            t.claims += 1;
            t.province_part += r.province_part;
            t.city_part += r.city_part;
            t.amount += r.amount;
            t.recovered += r.recovered;
            t.net_paid += r.net_paid;
        }
        by.into_values().collect()
    }
}

/// The batch `event` makes of `claims` (checked already: approved, payable, unpaid).
pub(super) fn make_batch(p: &Programme, event: &Event, payout_date: NaiveDate, claims: &[String]) -> BatchState {
    let id = batch_id(event.sequence);
    let mut ordered: Vec<&super::ClaimState> = claims.iter().filter_map(|c| p.claim(c)).collect();
    // By entity, then months (an entity's claims hold disjoint months): an order that does
    // not depend on which of two claims was filed first, so neither does the netting.
    ordered.sort_by(|a, b| (a.credit_code, &a.months).cmp(&(b.credit_code, &b.months)));
    let mut rows: Vec<BatchRow> = ordered.iter().map(|c| gross_row(&id, c)).collect();
    let mut recoveries = Vec::new();
    let mut codes: Vec<CreditCode> = rows.iter().map(|r| r.credit_code).collect();
    codes.sort();
    codes.dedup();
    for code in codes {
        recoveries.extend(net_entity(p, event, code, &mut rows));
    }
    BatchState { batch_id: id, sequence: event.sequence, payout_date, made_by: event.label.clone(), made_at: event.at, rows, recoveries }
}

/// A claim's row before netting: its grants, each year's split by that year's city share.
fn gross_row(batch: &str, claim: &super::ClaimState) -> BatchRow {
    let mut province_part = Decimal::new(0, 2);
    let mut city_part = Decimal::new(0, 2);
    for part in &claim.parts {
        let shares = split(part.granted.unwrap_or_default(), part.city_share);
        province_part += shares.province;
        city_part += shares.city;
    }
    let amount = province_part + city_part;
    BatchRow {
        batch_id: batch.to_string(),
        claim_id: claim.claim_id.clone(),
        credit_code: claim.credit_code,
        city: claim.city.clone(),
        province_part,
        city_part,
        amount,
        recovered: Decimal::new(0, 2),
        net_paid: amount,
    }
}

/// Nets an entity's outstanding receivables (due, arisen by the batch's `through`, oldest
/// first) against its rows, in row order, never below zero; returns what it recovered.
fn net_entity(p: &Programme, event: &Event, code: CreditCode, rows: &mut [BatchRow]) -> Vec<Recovery> {
    let mut room: Money = rows.iter().filter(|r| r.credit_code == code).map(|r| r.amount).sum();
    let mut recoveries = Vec::new();
    for r in p.receivables_of(&code, event.through).into_iter().filter(|r| r.due) {
        let take = r.outstanding().min(room);
        if take <= Decimal::ZERO {
            continue;
        }
        room -= take;
        recoveries.push(Recovery { receivable_id: r.id, credit_code: code, amount: take });
    }
    let mut to_net: Money = recoveries.iter().map(|r| r.amount).sum();
    for row in rows.iter_mut().filter(|r| r.credit_code == code) {
        let take = to_net.min(row.amount);
        row.recovered = fen(row.recovered + take);
        row.net_paid = fen(row.amount - row.recovered);
        to_net -= take;
    }
    recoveries
}

/// An amount in whole fen, written with two decimals.
fn fen(mut amount: Money) -> Money {
    amount.rescale(2);
    amount
}

/// The header of the finance bureau's CSV, without newline.
pub const BATCH_CSV_HEADER: &str = "credit_code,name,claim_id,province_part,city_part,amount,recovered,net_paid";

/// The finance bureau's CSV of a batch (`\n` line ends), names from `name_of`; a name is
/// quoted, with quotes doubled, and a leading `=`, `+`, `-` or `@` is prefixed with `'` so
/// a spreadsheet never reads it as a formula.
pub fn batch_csv(batch: &BatchState, name_of: impl Fn(&CreditCode) -> String) -> String {
    let mut out = String::with_capacity(96 * (batch.rows.len() + 1));
    out.push_str(BATCH_CSV_HEADER);
    out.push('\n');
    for r in &batch.rows {
        let name = csv_text(&name_of(&r.credit_code));
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{},{name},{},{},{},{},{},{}",
            r.credit_code,
            r.claim_id,
            format_yuan(r.province_part),
            format_yuan(r.city_part),
            format_yuan(r.amount),
            format_yuan(r.recovered),
            format_yuan(r.net_paid)
        );
    }
    out
}

fn csv_text(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_string() };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}
