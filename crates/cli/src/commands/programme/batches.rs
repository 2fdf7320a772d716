//! `batches make`, `list` and `show`.

use super::{print_json, safe, Ledger};
use crate::cli::{BatchListArgs, BatchMakeArgs, BatchShowArgs};
use anyhow::{anyhow, bail, Result};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use subsidy_core::money::format_yuan;
use subsidy_core::programme::{batch_csv, batch_id, Action, BatchState, Party};

/// Pays the claims named (or every payable one) on a date.
pub async fn make(args: &BatchMakeArgs) -> Result<()> {
    let payout_date = NaiveDate::parse_from_str(args.payout_date.trim(), "%Y-%m-%d").map_err(|e| anyhow!("--payout-date {:?} is not a YYYY-MM-DD date: {e}", args.payout_date))?;
    let ledger = Ledger::open(&args.write.read).await?;
    let claims: Vec<String> = match &args.claims {
        Some(list) => list.split(',').map(|c| c.trim().to_string()).collect(),
        None => {
            let book = ledger.book().await?;
            let payable: Vec<String> = book.programme.claims.iter().filter(|c| c.is_payable() && c.batch_id.is_none()).map(|c| c.claim_id.clone()).collect();
            if payable.is_empty() {
                bail!("refused: no claim is payable (approved, its grant known, in no batch)");
            }
            payable
        }
    };
    let event = ledger.append(&args.write, Party::Bureau, Action::Batch { payout_date, claims }).await?;
    let id = batch_id(event.sequence);
    let book = ledger.book().await?;
    let batch = book.programme.batch(&id).ok_or_else(|| anyhow!("batch {id} is not in the programme after it was recorded"))?;
    let (amount, recovered, net) = totals(batch);
    eprintln!(
        "batches: {id} pays {} claims on {payout_date}: {} granted, {} recovered, {} transferred",
        batch.rows.len(),
        format_yuan(amount),
        format_yuan(recovered),
        format_yuan(net)
    );
    println!("{id}");
    Ok(())
}

/// Σ amount, Σ recovered, Σ net paid of a batch.
fn totals(b: &BatchState) -> (Decimal, Decimal, Decimal) {
    b.rows.iter().fold((Decimal::ZERO, Decimal::ZERO, Decimal::ZERO), |(a, r, n), row| (a + row.amount, r + row.recovered, n + row.net_paid))
}

/// Lists batches.
pub async fn list(args: &BatchListArgs) -> Result<()> {
    let ledger = Ledger::open(&args.read).await?;
    let book = ledger.book().await?;
    if args.json {
        return print_json(&book.programme.batches);
    }
    println!("batch_id\tpayout_date\tclaims\tamount\trecovered\tnet_paid\tmade_by");
    for b in &book.programme.batches {
        let (amount, recovered, net) = totals(b);
        println!("{}\t{}\t{}\t{}\t{}\t{}\t{}", b.batch_id, b.payout_date, b.rows.len(), format_yuan(amount), format_yuan(recovered), format_yuan(net), safe(&b.made_by));
    }
    Ok(())
}

/// Prints one batch: rows and totals per city, or the finance bureau's CSV.
pub async fn show(args: &BatchShowArgs) -> Result<()> {
    let ledger = Ledger::open(&args.read).await?;
    let book = ledger.book().await?;
    let batch = book.programme.batch(args.id.trim()).ok_or_else(|| anyhow!("no batch {}", safe(&args.id)))?;
    if args.csv {
        let registry = ledger.registry().await?;
        print!("{}", batch_csv(batch, |code| registry.entity(code).map(|e| e.name.clone()).unwrap_or_default()));
        return Ok(());
    }
    if args.json {
        return print_json(&serde_json::json!({ "batch": batch, "by_city": batch.city_totals() }));
    }
    println!("# batch {} paid on {}, made by {} at {}", batch.batch_id, batch.payout_date, safe(&batch.made_by), batch.made_at.to_rfc3339());
    println!("claim_id\tcredit_code\tcity\tprovince_part\tcity_part\tamount\trecovered\tnet_paid");
    for r in &batch.rows {
        let parts = [r.province_part, r.city_part, r.amount, r.recovered, r.net_paid].map(format_yuan);
        println!("{}\t{}\t{}\t{}", r.claim_id, r.credit_code, safe(&r.city), parts.join("\t"));
    }
    println!("# by city\ncity\tclaims\tprovince_part\tcity_part\tamount\trecovered\tnet_paid");
    for t in batch.city_totals() {
        let parts = [t.province_part, t.city_part, t.amount, t.recovered, t.net_paid].map(format_yuan);
        println!("{}\t{}\t{}", safe(&t.city), t.claims, parts.join("\t"));
    }
    if !batch.recoveries.is_empty() {
        println!("# recovered\treceivable\tcredit_code\tamount");
        for r in &batch.recoveries {
            println!("\t{}\t{}\t{}", safe(&r.receivable_id), r.credit_code, format_yuan(r.amount));
        }
    }
    Ok(())
}
