//! The settlement CSV, the one format `recompute` and `export` both write.
//!
//! `credit_code,period,eligible_records,eligible_base,subsidy`, sorted by
//! credit code then period, amounts with exactly two decimals.

use crate::money::format_yuan;
use crate::settle::Settlement;
use std::fmt::Write;

/// The header line, without newline.
pub const SETTLEMENT_CSV_HEADER: &str = "credit_code,period,eligible_records,eligible_base,subsidy";

/// Renders settlements as CSV text (header included, `\n` line ends), sorting them first.
pub fn settlements_csv(settlements: &[Settlement]) -> String {
    let mut rows: Vec<&Settlement> = settlements.iter().collect();
    rows.sort_by_key(|s| (s.credit_code, s.period));
    let mut out = String::with_capacity(64 * (rows.len() + 1));
    out.push_str(SETTLEMENT_CSV_HEADER);
    out.push('\n');
    for s in rows {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{},{},{},{},{}", s.credit_code, s.period, s.eligible_records, format_yuan(s.eligible_base), format_yuan(s.subsidy));
    }
    out
}
