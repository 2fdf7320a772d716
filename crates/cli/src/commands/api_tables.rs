//! The tables `accruals` and `ledger` print: the API's answers, aligned.

use subsidy_api::views::accruals::AccrualsView;
use subsidy_api::views::ledger::LedgerPage;

/// Columns padded to their widest cell (by characters), two spaces apart.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count()))).collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// An entity's months.
pub fn accruals(view: &AccrualsView) -> String {
    let e = &view.entity;
    let mut out = format!("{} {} ({})\n", e.credit_code, e.name.as_deref().unwrap_or("unregistered"), e.city.as_deref().unwrap_or("-"));
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
            out.push_str(&format!("  {} excluded {} × {} ({} yuan): {}\n", m.period, x.records, x.reason, x.spend, x.explanation));
        }
    }
    out
}

/// Every line of a month.
pub fn ledger(pages: &[LedgerPage]) -> String {
    let Some(first) = pages.first() else { return String::new() };
    let mut out = format!("{} {} ({:?}): subsidy {} yuan, {} lines\n", first.credit_code, first.period, first.status, first.subsidy, first.total_lines);
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
