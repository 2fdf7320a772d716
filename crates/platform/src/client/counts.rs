//! The platform's usage counts: per compute center and day (China Standard
//! Time) the records it holds and their paid sum, paged by center. Checked
//! as they are decoded: a count that is not a whole number, a sum that is not
//! yuan, a day other than the one asked for, or a center listed twice is a
//! protocol error, never a figure.

use super::{FetchError, PlatformClient};
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::HashSet;
use subsidy_core::money::parse_quantity;
use subsidy_core::DayCount;

#[derive(Deserialize)]
struct CountWire {
    center_id: String,
    date: String,
    records: u64,
    paid_amount: String,
}

#[derive(Deserialize)]
struct CountsWire {
    counts: Vec<CountWire>,
    next_cursor: String,
    has_more: bool,
}

/// Most pages of one day's counts read before the answer is refused (a cursor that never ends).
const MAX_PAGES: usize = 10_000;

fn check(date: NaiveDate, w: CountWire) -> Result<DayCount, FetchError> {
    let bad = |what: String| FetchError::Protocol(format!("usage count of {:?} on {date}: {what}", w.center_id));
    if w.date != date.to_string() {
        return Err(bad(format!("answered for day {:?}", w.date)));
    }
    if w.center_id.is_empty() || w.center_id.len() > 128 {
        return Err(bad("center_id must be 1 to 128 bytes".into()));
    }
    // A sum of many records may pass the most one record may hold; it keeps the fen.
    let fen = w.paid_amount.split_once('.').is_none_or(|(_, f)| f.len() <= 2);
    let paid = parse_quantity(&w.paid_amount).ok().filter(|_| fen).ok_or_else(|| bad(format!("paid_amount {:?} is not yuan to the fen", w.paid_amount)))?;
    Ok(DayCount { center_id: w.center_id, day: date, records: w.records, paid })
}

impl PlatformClient {
    /// One page of the counts of `date` from `cursor`; `(counts, next cursor, more)`.
    async fn fetch_counts_page(&self, date: NaiveDate, cursor: Option<&str>, limit: u32) -> Result<(Vec<DayCount>, String, bool), FetchError> {
        let mut query = vec![("date", date.to_string()), ("limit", limit.to_string())];
        if let Some(c) = cursor {
            query.push(("cursor", c.to_owned()));
        }
        let body = self.get("/v1/usage-counts", &query).await?;
        let wire: CountsWire = serde_json::from_slice(&body).map_err(|e| FetchError::from_json(&e))?;
        let counts = wire.counts.into_iter().map(|w| check(date, w)).collect::<Result<Vec<_>, _>>()?;
        Ok((counts, wire.next_cursor, wire.has_more))
    }

    /// Every center's count of `date` (China Standard Time), all pages, each page retried under `policy`.
    pub async fn fetch_usage_counts(&self, date: NaiveDate, policy: &super::RetryPolicy, mut on_retry: impl FnMut(&FetchError, std::time::Duration)) -> Result<Vec<DayCount>, FetchError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let (counts, next, more) = super::with_retry(policy, || self.fetch_counts_page(date, cursor.as_deref(), super::MAX_PAGE_LIMIT), &mut on_retry).await?;
            for c in counts {
                if !seen.insert(c.center_id.clone()) {
                    return Err(FetchError::Protocol(format!("usage counts of {date} list center {:?} twice", c.center_id)));
                }
                out.push(c);
            }
            if !more {
                return Ok(out);
            }
            cursor = Some(next);
        }
        Err(FetchError::Protocol(format!("usage counts of {date} still had more after {MAX_PAGES} pages")))
    }
}
