//! Closed months: which open month carries a change to a closed one.
//!
//! A closed month's settlements are frozen. When a record of a closed month
//! changes later, the change is booked in the earliest open month after it,
//! pointing back to the original.

use crate::period::Period;

/// The earliest month after `original` that is not closed.
pub fn target_period(original: Period, closed: &[Period]) -> Period {
    let mut p = original.next();
    while closed.contains(&p) {
        p = p.next();
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_closed_months() {
        let p = |s| Period::parse(s).unwrap();
        assert_eq!(target_period(p("2025-09"), &[p("2025-09")]), p("2025-10"));
        assert_eq!(target_period(p("2025-09"), &[p("2025-09"), p("2025-10")]), p("2025-11"));
        assert_eq!(target_period(p("2025-12"), &[p("2025-12")]), p("2026-01"));
    }
}
