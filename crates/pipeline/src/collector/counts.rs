//! Pulling the platform's usage counts (records and paid sum per compute
//! center and day, China Standard Time) of the days the collected records
//! fell on, and producing those that changed to the compacted counts topic,
//! keyed `<center>@<day>`: the topic keeps the latest count of every
//! center-day. What the aggregator stores and `close` reconciles against.

use super::Collector;
use crate::error::{PipelineError, PipelineResult};
use chrono::NaiveDate;
use std::collections::BTreeSet;

/// The key of a center-day's count on the counts topic.
pub fn count_key(center_id: &str, day: NaiveDate) -> String {
    format!("{center_id}@{day}")
}

/// Fetches the counts of every day in `days` and produces those that changed.
pub(super) async fn poll(c: &Collector, days: &BTreeSet<NaiveDate>) -> PipelineResult<()> {
    let metrics = &c.metrics;
    let mut items = Vec::new();
    for day in days {
        // Counts are what completeness is judged by, not what is paid: a platform that does
        // not publish a day's counts leaves that day unverified (`reconcile` says so) and the
        // records keep flowing; the next poll asks again.
        let counts = match c.client.fetch_usage_counts(*day, &c.config.retry, |e, _| metrics.retries.with_label_values(&[e.cause()]).inc()).await {
            Ok(counts) => counts,
            Err(error) => {
                tracing::warn!(%day, %error, "the platform gave no usage counts for the day; it stays unverified");
                continue;
            }
        };
        for count in counts {
            let value = serde_json::to_vec(&count).map_err(|e| PipelineError::Internal(format!("encoding a usage count: {e}")))?;
            items.push((count_key(&count.center_id, count.day), value));
        }
    }
    let fresh: Vec<_> = {
        let last = c.counts_sent.lock().unwrap_or_else(|p| p.into_inner());
        items.into_iter().filter(|(k, v)| last.get(k) != Some(v)).collect()
    };
    c.sink.send_keyed(&c.sink.topics.usage_counts, &fresh).await?;
    tracing::debug!(days = days.len(), produced = fresh.len(), "pulled usage counts");
    let mut last = c.counts_sent.lock().unwrap_or_else(|p| p.into_inner());
    for (k, v) in fresh {
        last.insert(k, v);
    }
    Ok(())
}
