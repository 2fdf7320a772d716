//! The collector: pages through the platform's usage records and produces
//! them to Kafka, polls the entity and center registries, and checkpoints
//! its cursor only after every record before it was acknowledged.
//!
//! At-least-once: a restart resumes from the last checkpoint, so records
//! after it may be produced twice (the aggregator drops repeats by revision)
//! but none is skipped. The checkpoint's age is refreshed every second, so a
//! stall shows while it lasts, even while a request is retried.
//!
//! Once caught up it also pulls the platform's usage counts of every day its
//! records fell on (see [`counts`]), so completeness can be judged against
//! what the platform says it holds.

mod counts;
mod registry;
mod sink;

pub use sink::RecordSink;

use crate::error::{PipelineError, PipelineResult};
use crate::metrics::CollectorMetrics;
use std::time::{Duration, Instant};
use subsidy_bus::Checkpoints;
use std::collections::HashSet;
use subsidy_platform::client::{FetchError, Page, PlatformClient, RetryPolicy};
use tokio_util::sync::CancellationToken;

/// How the collector behaves.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// Checkpoint key; one per platform stream.
    pub id: String,
    /// Records per page (1–1000).
    pub page_limit: u32,
    /// Wait between polls once caught up.
    pub poll_interval: Duration,
    /// Wait between registry polls.
    pub registry_interval: Duration,
    /// Retries of platform requests.
    pub retry: RetryPolicy,
    /// Stop once the platform says there is nothing more (scripts, tests, benchmarks).
    pub exit_when_caught_up: bool,
}

impl Default for CollectorConfig {
    fn default() -> CollectorConfig {
        CollectorConfig {
            id: "platform".into(),
            page_limit: 1000,
            poll_interval: Duration::from_secs(5),
            registry_interval: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            exit_when_caught_up: false,
        }
    }
}

/// What a collector run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectorReport {
    /// Pages fetched.
    pub pages: u64,
    /// Records produced to the records topic.
    pub produced: u64,
    /// Records sent to the dead-letter topic.
    pub dead_lettered: u64,
    /// The cursor checkpointed last.
    pub cursor: Option<String>,
}

/// Everything the collector talks to.
#[derive(Debug)]
pub struct Collector {
    /// The platform.
    pub client: PlatformClient,
    /// Where records, registry items and dead letters go.
    pub sink: RecordSink,
    /// Where the cursor is kept.
    pub checkpoints: Checkpoints,
    /// Counters.
    pub metrics: CollectorMetrics,
    /// Settings.
    pub config: CollectorConfig,
    /// Last registry value produced per (kind, key), so unchanged items are not produced again.
    registry_sent: std::sync::Mutex<std::collections::HashMap<(&'static str, String), Vec<u8>>>,
    /// Last usage count produced per `<center>@<day>`, so unchanged counts are not produced again.
    counts_sent: std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>,
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Collector {
    /// A collector over these parts.
    pub fn new(client: PlatformClient, sink: RecordSink, checkpoints: Checkpoints, metrics: CollectorMetrics, config: CollectorConfig) -> Collector {
        Collector { client, sink, checkpoints, metrics, config, registry_sent: Default::default(), counts_sent: Default::default() }
    }

    async fn fetch(&self, cursor: Option<&str>) -> PipelineResult<Page> {
        let started = Instant::now();
        let metrics = &self.metrics;
        let page = self
            .client
            .fetch_page_with_retry(cursor, self.config.page_limit, &self.config.retry, |e, wait| {
                metrics.retries.with_label_values(&[e.cause()]).inc();
                tracing::warn!(cause = e.cause(), error = %e, wait_ms = wait.as_millis() as u64, "platform request failed, retrying");
            })
            .await
            .map_err(|source| PipelineError::Platform { what: "fetching usage records", source })?;
        metrics.request_seconds.with_label_values(&["usage-records"]).observe(started.elapsed().as_secs_f64());
        metrics.pages_fetched.inc();
        metrics.records_fetched.inc_by(page.records.len() as u64);
        Ok(page)
    }

    /// Runs until cancelled (or caught up, when so configured).
    ///
    /// Pages are fetched and enqueued back to back; an acknowledger awaits
    /// each page's deliveries in order and only then checkpoints the cursor
    /// after it, so a checkpoint never runs ahead of what Kafka holds.
    pub async fn run(&self, shutdown: CancellationToken) -> PipelineResult<CollectorReport> {
        let timeout = Duration::from_secs(30);
        let start = self.checkpoints.load(&self.config.id, timeout).await.map_err(PipelineError::bus("loading the collector checkpoint"))?;
        let checkpoint = start.unwrap_or_default();
        tracing::info!(cursor = ?checkpoint.cursor, records = checkpoint.records, "collector starting");
        let mut cursor = checkpoint.cursor.clone();
        let earlier_days = counts::days_counted(self, timeout).await?;
        self.metrics.checkpoint_timestamp.set(saved_at(&checkpoint).unwrap_or_else(unix_now));
        let (tx, rx) = tokio::sync::mpsc::channel::<sink::PendingPage>(MAX_PAGES_IN_FLIGHT);
        let acker = acknowledge(rx, checkpoint, self.checkpoints.clone(), self.config.id.clone(), self.metrics.clone());
        let fetcher = async {
            // `None`: later than the clock can name, so never.
            let mut next_registry_poll = Some(Instant::now());
            let mut trail = Trail::default();
            let mut counts_due = counts::Due::new(self.config.registry_interval);
            counts_due.note_earlier(earlier_days);
            loop {
                if next_registry_poll.is_some_and(|at| Instant::now() >= at) {
                    tokio::select! {
                        polled = registry::poll(self) => polled?,
                        _ = shutdown.cancelled() => break,
                    }
                    next_registry_poll = Instant::now().checked_add(self.config.registry_interval);
                }
                let page = tokio::select! {
                    p = self.fetch(cursor.as_deref()) => p?,
                    _ = shutdown.cancelled() => break,
                };
                trail.follow(cursor.as_deref(), &page).map_err(|source| PipelineError::Platform { what: "following the page cursor", source })?;
                let has_more = page.has_more;
                cursor = Some(page.next_cursor.clone());
                let pending = self.sink.enqueue_page(&page).await?;
                counts_due.note(&pending.days);
                if tx.send(pending).await.is_err() {
                    break; // the acknowledger stopped with an error, reported below
                }
                if !has_more {
                    if let Some(days) = counts_due.take(Instant::now()) {
                        tokio::select! {
                            polled = counts::poll(self, &days) => counts_due.retry(polled?),
                            _ = shutdown.cancelled() => break,
                        }
                    }
                    if self.config.exit_when_caught_up {
                        break;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(self.config.poll_interval) => {}
                        _ = shutdown.cancelled() => break,
                    }
                }
            }
            drop(tx);
            PipelineResult::Ok(())
        };
        let ticking = CancellationToken::new();
        let work = async {
            let done = tokio::join!(fetcher, acker);
            ticking.cancel();
            done
        };
        let ((fetched, acked), ()) = tokio::join!(work, tick_checkpoint_age(&self.metrics, &ticking));
        let report = acked?;
        fetched?;
        tracing::info!(pages = report.pages, produced = report.produced, dead_lettered = report.dead_lettered, "collector stopped");
        Ok(report)
    }
}

/// The Unix time a stored checkpoint was written, when it says.
fn saved_at(checkpoint: &subsidy_bus::Checkpoint) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(&checkpoint.saved_at).ok().map(|t| t.timestamp())
}

/// How often the checkpoint age is refreshed.
const AGE_TICK: Duration = Duration::from_secs(1);

/// Sets the checkpoint age every [`AGE_TICK`] until `stop`: it grows while the
/// collector waits on the platform or the broker, not only between polls.
async fn tick_checkpoint_age(metrics: &CollectorMetrics, stop: &CancellationToken) {
    let mut tick = tokio::time::interval(AGE_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => metrics.checkpoint_age.set(unix_now().saturating_sub(metrics.checkpoint_timestamp.get()).max(0)),
            _ = stop.cancelled() => return,
        }
    }
}

/// The cursors followed since the stream was last caught up: a platform whose
/// `next_cursor` leads back to one of them would be paged for ever.
#[derive(Debug, Default)]
struct Trail(HashSet<String>);

impl Trail {
    /// Notes that `page` was fetched at `cursor`; an error when its next cursor leads back.
    fn follow(&mut self, cursor: Option<&str>, page: &Page) -> Result<(), FetchError> {
        if !page.has_more {
            self.0.clear();
            return Ok(());
        }
        self.0.insert(cursor.unwrap_or_default().to_owned());
        if self.0.contains(&page.next_cursor) {
            return Err(FetchError::Protocol(format!("next_cursor {:?} leads back to a page already read while has_more is true", page.next_cursor)));
        }
        Ok(())
    }
}

/// Pages enqueued but not yet acknowledged, at most.
const MAX_PAGES_IN_FLIGHT: usize = 16;

/// Awaits each page's deliveries in order, then checkpoints the cursor after it.
async fn acknowledge(
    mut rx: tokio::sync::mpsc::Receiver<sink::PendingPage>,
    mut checkpoint: subsidy_bus::Checkpoint,
    checkpoints: Checkpoints,
    id: String,
    metrics: CollectorMetrics,
) -> PipelineResult<CollectorReport> {
    let mut report = CollectorReport { cursor: checkpoint.cursor.clone(), ..CollectorReport::default() };
    while let Some(pending) = rx.recv().await {
        let sent = pending.acknowledged(&metrics).await?;
        report.pages += 1;
        report.produced += sent.produced;
        report.dead_lettered += sent.dead_lettered;
        if let Some(newest) = sent.newest_updated_at {
            let newer = match checkpoint.newest_updated_at.as_deref().and_then(|n| chrono::DateTime::parse_from_rfc3339(n).ok()) {
                Some(n) => newest > n,
                None => true,
            };
            if newer {
                checkpoint.newest_updated_at = Some(newest.to_rfc3339());
            }
        }
        checkpoint.cursor = Some(sent.next_cursor);
        checkpoint.records += sent.produced + sent.dead_lettered;
        // Write a checkpoint when the queue is drained, or every few pages under load.
        if rx.is_empty() || report.pages.is_multiple_of(8) {
            checkpoint.saved_at = chrono::Utc::now().to_rfc3339();
            checkpoints.save(&id, &checkpoint).await.map_err(PipelineError::bus("writing the collector checkpoint"))?;
            metrics.checkpoint_timestamp.set(unix_now());
            metrics.checkpoint_age.set(0);
            if let Some(newest) = checkpoint.newest_updated_at.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) {
                metrics.updated_at_lag.set(unix_now() - newest.timestamp());
            }
            report.cursor = checkpoint.cursor.clone();
        }
    }
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{saved_at, tick_checkpoint_age, unix_now, Trail};
    use crate::metrics::CollectorMetrics;
    use std::time::Duration;
    use subsidy_platform::client::{FetchError, Page};
    use tokio_util::sync::CancellationToken;

    #[tokio::test]
    async fn the_checkpoint_age_is_refreshed_without_a_poll_and_starts_from_the_stored_checkpoint() {
        let metrics = CollectorMetrics::register(&prometheus::Registry::new());
        let stored = subsidy_bus::Checkpoint { saved_at: "2026-01-01T00:00:00Z".into(), ..Default::default() };
        assert_eq!(saved_at(&stored), Some(1_767_225_600));
        assert_eq!(saved_at(&subsidy_bus::Checkpoint::default()), None);
        metrics.checkpoint_timestamp.set(unix_now() - 100);
        let stop = CancellationToken::new();
        let stopper = async {
            tokio::time::sleep(Duration::from_millis(1_500)).await;
            stop.cancel();
        };
        tokio::join!(tick_checkpoint_age(&metrics, &stop), stopper);
        assert!((100..=110).contains(&metrics.checkpoint_age.get()), "{}", metrics.checkpoint_age.get());
    }

    fn page(next: &str, has_more: bool) -> Page {
        Page { records: Vec::new(), next_cursor: next.into(), has_more }
    }

    #[test]
    fn a_cursor_that_leads_back_is_refused_and_polling_in_place_is_not() {
        let mut t = Trail::default();
        t.follow(None, &page("a", true)).unwrap();
        t.follow(Some("a"), &page("b", true)).unwrap();
        assert!(matches!(t.follow(Some("b"), &page("a", true)), Err(FetchError::Protocol(_))));
        let mut t = Trail::default();
        assert!(matches!(t.follow(Some("a"), &page("a", true)), Err(FetchError::Protocol(_))));
        assert!(matches!(Trail::default().follow(None, &page("", true)), Err(FetchError::Protocol(_))));
        // Caught up: the same cursor is asked again at every poll.
        let mut t = Trail::default();
        for _ in 0..3 {
            t.follow(Some("z"), &page("z", false)).unwrap();
        }
        t.follow(Some("z"), &page("y", true)).unwrap();
    }
}
