//! `claims file`, `list`, `show`, `review` and `close-year`.

use super::{credit_code, months, print_json, safe, Ledger};
use crate::cli::{ClaimFileArgs, ClaimListArgs, ClaimReviewArgs, ClaimShowArgs, CloseYearArgs, StageArg};
use anyhow::{anyhow, bail, Result};
use std::fmt::Write;
use subsidy_core::money::format_yuan;
use subsidy_core::programme::{claim_id, Action, ClaimState, Party, Review, Stage, Status, Verdict};

/// Every status a claim may be in, by name.
const STATUSES: [Status; 5] = [Status::Filed, Status::CityApproved, Status::Approved, Status::Paid, Status::Rejected];

/// Files a claim; its city is the entity's as the registry stands on the last day of the latest month.
pub async fn file(args: &ClaimFileArgs) -> Result<()> {
    let code = credit_code("--credit-code", &args.credit_code)?;
    let months = months("--months", &args.months)?;
    let latest = months.iter().copied().max().ok_or_else(|| anyhow!("--months names no month"))?;
    let ledger = Ledger::open(&args.write.read).await?;
    let day = latest.last_day();
    let registry = ledger.registry().await?;
    let city = subsidy_core::programme::reviewing_city(&registry, &code, &months).ok_or_else(|| anyhow!("the ledger's registry holds no entry of {code} on {day}: its city reviews the claim"))?;
    let action = Action::Claim { credit_code: code, city: city.clone(), months: months.clone() };
    let event = ledger.append(&args.write, Party::Entity { credit_code: code }, action).await?;
    let list: Vec<String> = months.iter().map(ToString::to_string).collect();
    eprintln!("claims: {} filed for {code}, months {}; {} reviews it first", claim_id(event.sequence), list.join(","), safe(&city));
    println!("{}", claim_id(event.sequence));
    Ok(())
}

/// Lists claims, filtered.
pub async fn list(args: &ClaimListArgs) -> Result<()> {
    let status = match args.status.as_deref() {
        None => None,
        Some(s) => Some(STATUSES.into_iter().find(|st| st.as_str() == s).ok_or_else(|| anyhow!("--status {s:?}: give one of filed, city_approved, approved, paid, rejected"))?),
    };
    let code = args.credit_code.as_deref().map(|c| credit_code("--credit-code", c)).transpose()?;
    let city = args.city.as_deref().map(subsidy_core::place::city);
    let ledger = Ledger::open(&args.read).await?;
    let book = ledger.book().await?;
    let claims: Vec<&ClaimState> = book
        .programme
        .claims
        .iter()
        .filter(|c| status.is_none_or(|s| c.status == s) && code.is_none_or(|k| c.credit_code == k) && city.as_ref().is_none_or(|x| c.city == *x))
        .collect();
    if args.json {
        return print_json(&claims);
    }
    println!("claim_id\tcredit_code\tcity\tmonths\tstatus\tasked\tgranted\tbatch");
    for c in claims {
        println!("{}", row(c));
    }
    Ok(())
}

/// One claim as a table row.
fn row(c: &ClaimState) -> String {
    let months: Vec<String> = c.months.iter().map(ToString::to_string).collect();
    let (asked, granted) = if c.parts.is_empty() { ("-".to_string(), "-".to_string()) } else { (format_yuan(c.asked()), granted(c)) };
    format!("{}\t{}\t{}\t{}\t{}\t{asked}\t{granted}\t{}", c.claim_id, c.credit_code, safe(&c.city), months.join(","), c.status.as_str(), c.batch_id.as_deref().unwrap_or("-"))
}

/// What a claim is granted, or `pending` while a `pro_rata` year is not divided.
fn granted(c: &ClaimState) -> String {
    if c.parts.iter().any(|p| p.granted.is_none()) {
        "pending".into()
    } else {
        format_yuan(c.granted())
    }
}

/// Prints one claim.
pub async fn show(args: &ClaimShowArgs) -> Result<()> {
    let ledger = Ledger::open(&args.read).await?;
    let book = ledger.book().await?;
    let claim = book.programme.claim(args.id.trim()).ok_or_else(|| anyhow!("no claim {}", safe(&args.id)))?;
    if args.json {
        return print_json(claim);
    }
    print!("{}", describe(claim));
    Ok(())
}

/// A claim in words, one fact a line.
fn describe(c: &ClaimState) -> String {
    let mut out = String::new();
    let months: Vec<String> = c.months.iter().map(ToString::to_string).collect();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "claim\t{}\nentity\t{}\ncity\t{}\nmonths\t{}\nstatus\t{}", c.claim_id, c.credit_code, safe(&c.city), months.join(","), c.status.as_str());
    let _ = writeln!(out, "filed\t{} by {}", c.filed_at.to_rfc3339(), safe(&c.filed_by));
    for (what, review) in [("city review", &c.city_review), ("bureau review", &c.bureau_review)] {
        if let Some(r) = review {
            let _ = writeln!(out, "{what}\t{}", review_text(r));
        }
    }
    if let Some(t) = c.through {
        let _ = writeln!(out, "took lines booked through\t{t} ({} lines)", c.lines.len());
    }
    for p in &c.parts {
        let granted = p.granted.map_or_else(|| "pending (pro_rata, the year's claims are not closed)".to_string(), format_yuan);
        let _ = writeln!(out, "year {}\tasked {} granted {granted} (city share {})", p.year, format_yuan(p.asked), p.city_share);
    }
    if let Some(b) = &c.batch_id {
        let _ = writeln!(out, "batch\t{b}");
    }
    out
}

fn review_text(r: &Review) -> String {
    format!("{} by {} at {} (step {}): {}", if r.approved { "approved" } else { "rejected" }, safe(&r.label), r.at.to_rfc3339(), r.sequence, safe(&r.reason))
}

/// Reviews a claim: the city stage acts as the claim's city, the bureau stage as the bureau.
pub async fn review(args: &ClaimReviewArgs) -> Result<()> {
    let id = args.id.trim().to_string();
    let ledger = Ledger::open(&args.write.read).await?;
    let (stage, party) = match args.stage {
        StageArg::City => {
            let book = ledger.book().await?;
            let claim = book.programme.claim(&id).ok_or_else(|| anyhow!("refused: no claim {}", safe(&id)))?;
            (Stage::City, Party::City { city: claim.city.clone() })
        }
        StageArg::Bureau => (Stage::Bureau, Party::Bureau),
    };
    let verdict = match (args.approve, args.reject) {
        (true, false) => Verdict::Approve,
        (false, true) => Verdict::Reject,
        _ => bail!("give one of --approve and --reject"),
    };
    let action = Action::Review { claim_id: id.clone(), stage, verdict, reason: args.reason.clone() };
    let event = ledger.append(&args.write, party, action).await?;
    let book = ledger.book().await?;
    let claim = book.programme.claim(&id).ok_or_else(|| anyhow!("claim {id} is not in the programme after its review (step {})", event.sequence))?;
    eprintln!("claims: {id} is {} (step {})", claim.status.as_str(), event.sequence);
    println!("{}", row(claim));
    Ok(())
}

/// Closes a year's claims (a `pro_rata` year is divided) and prints its claims' grants.
pub async fn close_year(args: &CloseYearArgs) -> Result<()> {
    let ledger = Ledger::open(&args.write.read).await?;
    let event = ledger.append(&args.write, Party::Bureau, Action::CloseYear { year: args.year }).await?;
    let book = ledger.book().await?;
    let rule = book.programme.rule(args.year).map_or("no budget", |r| r.as_str());
    eprintln!("claims: the claims of {} are closed (step {}; budget rule: {rule})", args.year, event.sequence);
    println!("claim_id\tcredit_code\tcity\tmonths\tstatus\tasked\tgranted\tbatch");
    for c in book.programme.claims.iter().filter(|c| c.part(args.year).is_some()) {
        println!("{}", row(c));
    }
    Ok(())
}
