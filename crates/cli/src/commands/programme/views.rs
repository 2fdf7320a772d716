//! `findings add`, `receivables` and `budget`: what entities owe, and a year's budget.

use super::{credit_code, months, print_json, safe, Ledger};
use crate::cli::{BudgetArgs, FindingAddArgs, ReceivablesArgs};
use anyhow::{anyhow, Result};
use rust_decimal::Decimal;
use std::str::FromStr;
use subsidy_core::money::format_yuan;
use subsidy_core::programme::{budget_view, Action, BudgetView, Figures, Party, Receivable, ReceivableSource, ViewInput};
use subsidy_core::{CreditCode, Period};

/// Enters an audit finding.
pub async fn add_finding(args: &FindingAddArgs) -> Result<()> {
    let code = credit_code("--credit-code", &args.credit_code)?;
    let months = months("--months", &args.months)?;
    let amount = Decimal::from_str(args.amount.trim()).map_err(|e| anyhow!("--amount {:?} is not an amount in yuan: {e}", args.amount))?;
    let ledger = Ledger::open(&args.write.read).await?;
    let action = Action::Finding { case_id: args.case_id.clone(), credit_code: code, months, amount, reason: args.reason.clone() };
    let event = ledger.append(&args.write, Party::Bureau, action).await?;
    eprintln!("findings: case {} against {code} for {} entered (step {}); netted against its next batches", safe(&args.case_id), format_yuan(amount), event.sequence);
    println!("finding:{}", safe(&args.case_id));
    Ok(())
}

/// Prints what entities owe and what was recovered.
pub async fn receivables(args: &ReceivablesArgs) -> Result<()> {
    let code = args.credit_code.as_deref().map(|c| credit_code("--credit-code", c)).transpose()?;
    let ledger = Ledger::open(&args.read).await?;
    let book = ledger.book().await?;
    let owed: Vec<Receivable> = match code {
        Some(c) => book.programme.receivables_of(&c, None),
        None => book.programme.receivables(),
    };
    if args.json {
        return print_json(&owed);
    }
    println!("receivable\tcredit_code\tsource\tarose\tamount\trecovered\toutstanding\tdue");
    for r in &owed {
        let source = match &r.source {
            ReceivableSource::Adjustment { for_period, claim_id, adjustment, .. } => format!("adjustment of {for_period} ({}) after {claim_id}", format_yuan(*adjustment)),
            ReceivableSource::Finding { case_id, .. } => format!("finding {}", safe(case_id)),
        };
        let due = if r.due { "yes" } else { "no (its year's pro_rata division is not made)" };
        println!("{}\t{}\t{source}\t{}\t{}\t{}\t{}\t{due}", safe(&r.id), r.credit_code, r.arose, format_yuan(r.amount), format_yuan(r.recovered), format_yuan(r.outstanding()));
    }
    Ok(())
}

/// Prints a year's budget view: totals, by city and by policy version.
pub async fn budget(args: &BudgetArgs) -> Result<()> {
    let ledger = Ledger::open(&args.read).await?;
    let book = ledger.book().await?;
    let settlements = subsidy_store::settlements(ledger.store.as_ref(), &ledger.policy).await.map_err(|e| anyhow!("cannot settle the ledger: {e}"))?;
    let registry = ledger.registry().await?;
    let city_of = |code: &CreditCode, month: Period| subsidy_core::programme::city_in(&registry, code, month);
    let input = ViewInput { programme: &book.programme, settlements: &settlements, closed: &book.closed, policy: &ledger.policy };
    let view = budget_view(args.year, input, &city_of);
    if args.json {
        return print_json(&view);
    }
    print!("{}", text(&view));
    Ok(())
}

/// The view in words and tables.
fn text(v: &BudgetView) -> String {
    let money = |m: Option<Decimal>| m.map_or_else(|| "none".to_string(), format_yuan);
    let mut out = format!("year\t{}\nbudget\t{}\nover_budget\t{}\nclaims_closed\t{}\n", v.year, money(v.budget), v.over_budget.unwrap_or("-"), v.claims_closed);
    out += &format!("{}headroom\t{}\n", figures_text(&v.figures), money(v.headroom));
    match &v.forecast {
        Some(f) => {
            let on = f.runs_out_on.map_or_else(|| "not within the year at this rate".to_string(), |d| d.to_string());
            out += &format!("forecast\t{} per day as of {}; runs out {on}{}\n", format_yuan(f.per_day), f.as_of, if f.reached { " (reached)" } else { "" });
        }
        None => out += "forecast\tnone\n",
    }
    for (title, rows) in [("city", &v.by_city), ("version", &v.by_version)] {
        out += &format!("# by {title}\n{title}\tpaid\tapproved_unpaid\tunder_review\tclaimable\taccrued\n");
        for (k, f) in rows {
            let cells = [f.paid, f.approved_unpaid, f.under_review, f.claimable, f.accrued].map(format_yuan);
            out += &format!("{}\t{}\n", safe(k), cells.join("\t"));
        }
    }
    out
}

fn figures_text(f: &Figures) -> String {
    let lines = [("paid", f.paid), ("approved_unpaid", f.approved_unpaid), ("under_review", f.under_review), ("claimable", f.claimable), ("accrued", f.accrued), ("committed", f.committed())];
    lines.iter().map(|(k, m)| format!("{k}\t{}\n", format_yuan(*m))).collect()
}
