//! Pulling the platform's usage counts (records and paid sum per compute
//! center and day, China Standard Time) of the days the collected records
//! fell on, and producing those that changed to the compacted counts topic,
//! keyed `<center>@<day>`: the topic keeps the latest count of every
//! center-day. What the aggregator stores and `close` reconciles against.
//!
//! Which days are pulled ([`Due`]): at each catch-up, the days of the records
//! produced since the last pull and the days the platform did not answer for;
//! and every `registry_interval`, every day collected so far, since the
//! platform may count a day again without a new record in the stream (records
//! it withheld, say). A pull is a request per day, so pulling every day at
//! each catch-up would cost more with every day of history. A run starts with
//! the days the counts topic already holds ([`days_counted`]) among those
//! collected, so its first sweep covers them: a run stopped after its records
//! were checkpointed but before their days were counted leaves no count behind.

use super::Collector;
use crate::error::{PipelineError, PipelineResult};
use chrono::NaiveDate;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The days whose counts are due.
#[derive(Debug)]
pub(super) struct Due {
    /// Every day collected so far.
    seen: BTreeSet<NaiveDate>,
    /// Days of the records produced since the last pull, and days to ask again.
    fresh: BTreeSet<NaiveDate>,
    /// When every day is pulled again; `None`: later than the clock can name.
    next_sweep: Option<Instant>,
    sweep_every: Duration,
}

impl Due {
    /// Nothing seen yet; the first pull is a sweep.
    pub(super) fn new(sweep_every: Duration) -> Due {
        Due { seen: BTreeSet::new(), fresh: BTreeSet::new(), next_sweep: Some(Instant::now()), sweep_every }
    }

    /// Notes days collected by earlier runs: swept with the others, not pulled at once.
    pub(super) fn note_earlier(&mut self, days: BTreeSet<NaiveDate>) {
        self.seen.extend(days);
    }

    /// Notes the days of a page's records.
    pub(super) fn note(&mut self, days: &BTreeSet<NaiveDate>) {
        self.fresh.extend(days.iter().copied());
        self.seen.extend(days.iter().copied());
    }

    /// The days to pull now, if any: every day when a sweep is due, else the fresh ones.
    pub(super) fn take(&mut self, now: Instant) -> Option<BTreeSet<NaiveDate>> {
        if self.next_sweep.is_some_and(|at| now >= at) {
            self.next_sweep = now.checked_add(self.sweep_every);
            self.fresh.clear();
            return Some(self.seen.clone());
        }
        (!self.fresh.is_empty()).then(|| std::mem::take(&mut self.fresh))
    }

    /// Days the platform gave no counts for: asked again at the next catch-up.
    pub(super) fn retry(&mut self, days: BTreeSet<NaiveDate>) {
        self.fresh.extend(days);
    }
}

/// The key of a center-day's count on the counts topic.
pub fn count_key(center_id: &str, day: NaiveDate) -> String {
    format!("{center_id}@{day}")
}

/// The day of a count's key, if it is one.
fn key_day(key: &[u8]) -> Option<NaiveDate> {
    std::str::from_utf8(key).ok()?.rsplit_once('@')?.1.parse().ok()
}

/// The days the counts topic holds a count for: those earlier runs pulled.
pub(super) async fn days_counted(c: &Collector, timeout: Duration) -> PipelineResult<BTreeSet<NaiveDate>> {
    const WHAT: &str = "reading the days the usage counts topic holds";
    let reader = subsidy_bus::TopicReader::connect(c.checkpoints.brokers(), &c.sink.topics.usage_counts, timeout).await.map_err(PipelineError::bus(WHAT))?;
    let mut days = BTreeSet::new();
    reader.catch_up(timeout, |m| days.extend(rdkafka::Message::key(m).and_then(key_day))).await.map_err(PipelineError::bus(WHAT))?;
    Ok(days)
}

/// Fetches the counts of every day in `days` and produces those that changed.
/// Returns the days the platform gave no counts for.
pub(super) async fn poll(c: &Collector, days: &BTreeSet<NaiveDate>) -> PipelineResult<BTreeSet<NaiveDate>> {
    let metrics = &c.metrics;
    let mut items = Vec::new();
    let mut unanswered = BTreeSet::new();
    for day in days {
        // Counts are what completeness is judged by, not what is paid: a platform that does
        // not publish a day's counts leaves that day unverified (`reconcile` says so) and the
        // records keep flowing; the next poll asks again.
        let counts = match c.client.fetch_usage_counts(*day, &c.config.retry, |e, _| metrics.retries.with_label_values(&[e.cause()]).inc()).await {
            Ok(counts) => counts,
            Err(error) => {
                tracing::warn!(%day, %error, "the platform gave no usage counts for the day; it stays unverified");
                unanswered.insert(*day);
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
    Ok(unanswered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(list: &[u32]) -> BTreeSet<NaiveDate> {
        list.iter().map(|d| NaiveDate::from_ymd_opt(2025, 6, *d).unwrap()).collect()
    }

    #[test]
    fn a_run_sweeps_the_days_earlier_runs_counted_first() {
        let mut due = Due::new(Duration::from_secs(60));
        let t0 = Instant::now();
        due.note_earlier(days(&[1, 2]));
        due.note(&days(&[3]));
        assert_eq!(due.take(t0), Some(days(&[1, 2, 3])), "the first pull sweeps the earlier runs' days too");
        assert_eq!(due.take(t0), None, "earlier days are not pulled again before the next sweep");
        assert_eq!(key_day(count_key("cc-001", days(&[7]).pop_first().unwrap()).as_bytes()), days(&[7]).pop_first());
        assert_eq!(key_day(b"cc-001@not-a-day"), None);
        assert_eq!(key_day(&[0xff, b'@']), None);
    }

    #[test]
    fn a_catch_up_pulls_the_fresh_days_and_a_sweep_pulls_every_day() {
        let mut due = Due::new(Duration::from_secs(60));
        let t0 = Instant::now();
        due.note(&days(&[1, 2]));
        assert_eq!(due.take(t0), Some(days(&[1, 2])), "the first pull is a sweep of what was seen");
        assert_eq!(due.take(t0), None, "nothing new, no sweep due");
        due.note(&days(&[2, 3]));
        assert_eq!(due.take(t0 + Duration::from_secs(1)), Some(days(&[2, 3])), "only the days of new records");
        due.note(&days(&[4]));
        assert_eq!(due.take(t0 + Duration::from_secs(61)), Some(days(&[1, 2, 3, 4])), "a sweep pulls every day seen");
        assert_eq!(due.take(t0 + Duration::from_secs(62)), None, "the sweep took the fresh day too");
        due.retry(days(&[3]));
        assert_eq!(due.take(t0 + Duration::from_secs(63)), Some(days(&[3])), "an unfinished pull is asked again");
    }
}
