//! The month-by-month chart of an entity, a city or the province: what was
//! accrued (the ledger's settlements, by month of use), fixed (statement
//! lines, by the month they are for) and paid (batch amounts, by month of the
//! payout date), drawn as inline SVG bars — no script, no style attribute, so
//! the pages' content security policy holds.

use super::shell::{label, money};
use crate::state::Book;
use maud::{html, Markup};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use subsidy_core::{CreditCode, Period};

/// Whose figures a chart shows.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// One entity.
    Entity(&'a CreditCode),
    /// A city's entities (the registry's city as of each month).
    City(&'a str),
    /// Everyone.
    Province,
}

/// Accrued, fixed and paid of one month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MonthFigures {
    /// Settled from the ledger.
    pub accrued: Decimal,
    /// Fixed by closes.
    pub fixed: Decimal,
    /// Granted in batches paid that month.
    pub paid: Decimal,
}

/// The figures of `scope`, by month.
pub fn series(book: &Book, scope: Scope<'_>) -> BTreeMap<Period, MonthFigures> {
    let in_scope = |code: &CreditCode, month: Period| match scope {
        Scope::Entity(own) => own == code,
        Scope::City(city) => crate::steps::city_of(&book.registry, code, month) == city,
        Scope::Province => true,
    };
    let mut out: BTreeMap<Period, MonthFigures> = BTreeMap::new();
    for s in book.settlements.iter().filter(|s| in_scope(&s.credit_code, s.period)) {
        out.entry(s.period).or_default().accrued += s.subsidy;
    }
    for e in book.entities.values() {
        for s in e.statements.iter().filter(|s| in_scope(&s.credit_code, s.for_period)) {
            out.entry(s.for_period).or_default().fixed += s.subsidy;
        }
    }
    let batches = book.programme.as_ref().map(|p| p.programme.batches.as_slice()).unwrap_or_default();
    for b in batches {
        let month = Period::of_date(b.payout_date);
        for r in &b.rows {
            let row_in = match scope {
                Scope::Entity(own) => *own == r.credit_code,
                Scope::City(city) => r.city == city,
                Scope::Province => true,
            };
            if row_in {
                out.entry(month).or_default().paid += r.amount;
            }
        }
    }
    out
}

const BAR: i64 = 10;
const GAP: i64 = 12;
const HEIGHT: i64 = 120;

fn height(v: Decimal, max: Decimal) -> i64 {
    if max <= Decimal::ZERO || v <= Decimal::ZERO {
        return 0;
    }
    let h = (v * Decimal::from(HEIGHT) / max).round();
    i64::try_from(h.mantissa() / 10i128.pow(h.scale())).unwrap_or(0)
}

/// The chart, with a legend and each month's figures as the bars' titles.
pub fn chart(id: &str, series: &BTreeMap<Period, MonthFigures>) -> Markup {
    let max = series.values().flat_map(|f| [f.accrued, f.fixed, f.paid]).max().unwrap_or_default();
    let step = 3 * BAR + GAP;
    let width = (i64::try_from(series.len()).unwrap_or(0) * step).max(step);
    html! {
        figure.chart id=(id) {
            svg.months xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (width) " " (HEIGHT + 16) } role="img" {
                @for (i, (month, f)) in series.iter().enumerate() {
                    @let x = i64::try_from(i).unwrap_or(0) * step;
                    @for (k, (class, v)) in [("s-accrued", f.accrued), ("s-fixed", f.fixed), ("s-paid", f.paid)].into_iter().enumerate() {
                        @let h = height(v, max);
                        rect class=(class) x=(x + i64::try_from(k).unwrap_or(0) * BAR) y=(HEIGHT - h) width=(BAR - 1) height=(h) { title { (month) " " (money(v)) } }
                    }
                    text x=(x) y=(HEIGHT + 12) { (month.to_string().get(2..).unwrap_or_default()) }
                }
            }
            figcaption {
                span.key.s-accrued {} (label("已核算", "accrued")) " "
                span.key.s-fixed {} (label("已确定", "fixed")) " "
                span.key.s-paid {} (label("已拨付", "paid"))
            }
            div.scroll { table.figures {
                thead { tr { th { (label("月份", "Month")) } th.num { (label("已核算", "Accrued")) } th.num { (label("已确定", "Fixed")) } th.num { (label("已拨付", "Paid")) } } }
                tbody { @for (month, f) in series { tr { td { (month) } td.num { (money(f.accrued)) } td.num { (money(f.fixed)) } td.num { (money(f.paid)) } } } }
            } }
        }
    }
}
