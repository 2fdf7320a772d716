//! The tables `accruals` and `ledger` print: the API's answers, aligned. Every
//! text that came from outside is escaped for the terminal ([`safe`]).

use crate::terminal::safe;
use subsidy_api::views::accruals::AccrualsView;
use subsidy_api::views::ledger::LedgerPage;

/// Columns padded to their widest cell (by characters), two spaces apart; cells escaped.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows.iter().map(|row| row.iter().map(|cell| safe(cell).into_owned()).collect()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count()))).collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// An entity's months.
pub fn accruals(view: &AccrualsView) -> String {
    let e = &view.entity;
    let mut out = format!("{} {} ({})\n", safe(&e.credit_code), safe(e.name.as_deref().unwrap_or("unregistered")), safe(e.city.as_deref().unwrap_or("-")));
    let rows: Vec<Vec<String>> = view
        .months
        .iter()
        .map(|m| {
            let excluded: u64 = m.excluded.iter().map(|x| x.records).sum();
            vec![
                m.period.clone(),
                format!("{:?}", m.status).to_lowercase(),
                m.eligible_records.to_string(),
                m.eligible_base.clone(),
                m.subsidy.clone(),
                m.fixed_total.clone().unwrap_or_else(|| "-".into()),
                excluded.to_string(),
            ]
        })
        .collect();
    out.push_str(&table(&["month", "status", "eligible", "base", "subsidy", "fixed", "excluded"], &rows));
    for m in &view.months {
        for x in &m.excluded {
            out.push_str(&format!("  {} excluded {} × {} ({} yuan): {}\n", safe(&m.period), x.records, safe(&x.reason), safe(&x.spend), safe(&x.explanation)));
        }
    }
    if !view.policy_document.is_empty() {
        out.push_str(&format!("computed under policy document {}\n", safe(&view.policy_document)));
    }
    out
}

/// Every line of a month.
pub fn ledger(pages: &[LedgerPage]) -> String {
    let Some(first) = pages.first() else { return String::new() };
    let mut out = format!("{} {} ({:?}): subsidy {} yuan, {} lines\n", safe(&first.credit_code), safe(&first.period), first.status, safe(&first.subsidy), first.total_lines);
    let rows: Vec<Vec<String>> = pages
        .iter()
        .flat_map(|p| &p.lines)
        .map(|l| {
            vec![
                l.record_id.clone(),
                l.center_id.clone(),
                l.accelerator.clone(),
                l.card_hours.clone().unwrap_or_default(),
                l.base.clone(),
                l.rate.clone(),
                l.uplift.clone(),
                l.subsidy_share.clone(),
                l.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    out.push_str(&table(&["record", "center", "accelerator", "card_hours", "base", "rate", "uplift", "share", "excluded"], &rows));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a hostile registry name would do to a terminal: clear it, retitle it, flip the text.
    const HOSTILE: &str = "\u{1b}[2J\u{1b}]0;owned\u{7}合肥\u{202e}moc.evil\u{2066}";

    fn no_raw_controls(out: &str) {
        assert!(!out.chars().any(|c| c.is_control() && c != '\n' || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')), "raw control characters reach the terminal: {out:?}");
        assert!(out.contains("\\u{1b}[2J") && out.contains("\\u{202e}moc.evil"), "{out}");
    }

    #[test]
    fn accruals_escape_registry_names() {
        let view: AccrualsView = serde_json::from_value(serde_json::json!({
            "entity": {"credit_code": "91340100MA0000001K", "name": HOSTILE, "kind": "enterprise", "city": HOSTILE},
            "months": [{"period": "2025-09", "status": "provisional", "eligible_records": 1, "eligible_base": "10.00", "subsidy": "2.00", "frozen": null, "adjustments": [], "fixed_total": null,
                        "excluded": [{"reason": "unknown_center", "explanation": HOSTILE, "records": 1, "spend": "5.00"}]}]
        }))
        .unwrap();
        no_raw_controls(&accruals(&view));
    }

    #[test]
    fn ledger_escapes_ids_from_the_platform() {
        let line = serde_json::json!({"record_id": HOSTILE, "revision": 1, "center_id": HOSTILE, "center_name": HOSTILE, "accelerator": HOSTILE, "cards": 1, "card_hours": "1",
            "usage_date": "2025-09-01", "payment_status": "paid", "paid_amount": "1.00", "policy_version": null, "rate": "0.2", "uplift": "1", "uplift_reason": null,
            "base": "1.00", "contribution": "0.2", "subsidy_share": "0.2000", "eligible": true, "reason": null, "explanation": null});
        let page: LedgerPage = serde_json::from_value(serde_json::json!({"credit_code": "91340100MA0000001K", "period": "2025-09", "status": "closed", "subsidy": "0.20", "total_lines": 1, "lines": [line], "next_cursor": null})).unwrap();
        no_raw_controls(&ledger(&[page]));
    }
}
