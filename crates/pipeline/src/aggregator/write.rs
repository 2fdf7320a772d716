//! Writing a batch, off the loop: its rows (marks last), then the dead
//! letters are acknowledged, then the batch's offsets are committed. One
//! batch is written while the loop reads and prepares the next; a revocation
//! waits for it (see [`WriteGate`]), so partitions never change hands while a
//! batch of theirs is on its way to the store.

use super::consumer::{GroupConsumer, WriteGate};
use crate::error::{PipelineError, PipelineResult};
use crate::metrics::AggregatorMetrics;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use subsidy_bus::{dead_letter_headers, BusError, DeadLetter};
use subsidy_core::{Decision, ReasonCode, Rejection};
use subsidy_store::{LedgerStore, StoreError, WriteBatch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A batch ready to write.
#[derive(Debug, Default)]
pub struct Outgoing {
    /// Rows for the store.
    pub write: WriteBatch,
    /// Refused lines for the dead-letter topic.
    pub dead_letters: Vec<(Vec<u8>, Rejection)>,
    /// The next offset per partition, committed once the store has the batch.
    pub commit: BTreeMap<i32, i64>,
    /// Messages the batch was made of.
    pub consumed: usize,
    /// Copies by decision, refused lines by reason, and lines re-settled: for the counters.
    pub decisions: BTreeMap<Decision, u64>,
    /// Refused lines by reason.
    pub rejected: BTreeMap<ReasonCode, u64>,
    /// Lines written by a re-settlement.
    pub resettled: u64,
}

/// Waiting out an unavailable store: counts each error by kind, gives up on one
/// retrying cannot mend, and otherwise sleeps a growing while (or stops at shutdown).
pub struct Backoff<'a> {
    metrics: &'a AggregatorMetrics,
    what: &'static str,
    shutdown: &'a CancellationToken,
    wait: Duration,
}

impl<'a> Backoff<'a> {
    /// A backoff for the store call described by `what`.
    pub fn new(metrics: &'a AggregatorMetrics, what: &'static str, shutdown: &'a CancellationToken) -> Backoff<'a> {
        Backoff { metrics, what, shutdown, wait: Duration::from_millis(200) }
    }

    /// Takes a failure: `Ok` once it is time to try again.
    pub async fn failed(&mut self, e: StoreError) -> PipelineResult<()> {
        self.metrics.store_errors.with_label_values(&[e.kind()]).inc();
        if !e.is_retryable() {
            return Err(PipelineError::Store { what: self.what, source: e });
        }
        tracing::warn!(error = %e, wait_ms = self.wait.as_millis() as u64, "{} failed; retrying", self.what);
        tokio::select! {
            _ = tokio::time::sleep(self.wait) => {}
            _ = self.shutdown.cancelled() => return Err(PipelineError::Stopped(self.what)),
        }
        self.wait = (self.wait * 2).min(Duration::from_secs(5));
        Ok(())
    }
}

/// Retries a store call while the store is unavailable.
pub async fn retrying<T, F, Fut>(metrics: &AggregatorMetrics, what: &'static str, shutdown: &CancellationToken, mut op: F) -> PipelineResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut backoff = Backoff::new(metrics, what, shutdown);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) => backoff.failed(e).await?,
        }
    }
}

/// What the writer needs, shared by every batch.
#[derive(Clone)]
pub struct Writer {
    /// The ledger store.
    pub store: Arc<dyn LedgerStore>,
    /// Producer for dead letters.
    pub producer: FutureProducer,
    /// Dead-letter topic.
    pub dead_letter_topic: String,
    /// Records topic (for the offset commit).
    pub records_topic: String,
    /// Counters.
    pub metrics: AggregatorMetrics,
    /// The group member, for the commit.
    pub consumer: Arc<GroupConsumer>,
    /// Held while a batch is being written.
    pub gate: Arc<WriteGate>,
}

/// The batch being written, if any: at most one at a time.
#[derive(Default)]
pub struct InFlight(Option<JoinHandle<PipelineResult<()>>>);

impl InFlight {
    /// Waits for the batch being written (and its commit), if there is one.
    pub async fn wait(&mut self) -> PipelineResult<()> {
        match self.0.take() {
            Some(h) => h.await.map_err(|e| PipelineError::Internal(format!("the batch writer failed: {e}")))?,
            None => Ok(()),
        }
    }

    /// Takes the outcome of a write that has finished, without waiting for one that has not.
    pub async fn reap(&mut self) -> PipelineResult<()> {
        if self.0.as_ref().is_some_and(JoinHandle::is_finished) {
            self.wait().await?;
        }
        Ok(())
    }

    /// Whether no batch is being written.
    pub fn is_idle(&self) -> bool {
        self.0.is_none()
    }
}

impl Writer {
    /// Waits for the batch in `in_flight`, then starts writing `batch` there.
    pub async fn spawn(&self, in_flight: &mut InFlight, batch: Outgoing, shutdown: CancellationToken) -> PipelineResult<()> {
        in_flight.wait().await?;
        while self.gate.is_revoking() && !shutdown.is_cancelled() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let guard = self.gate.enter();
        let w = self.clone();
        in_flight.0 = Some(tokio::spawn(async move {
            let _guard = guard;
            w.write(&batch, &shutdown).await?;
            w.commit(&batch.commit).await;
            Ok(())
        }));
        Ok(())
    }

    async fn write(&self, batch: &Outgoing, shutdown: &CancellationToken) -> PipelineResult<()> {
        let started = Instant::now();
        let mut dead = Vec::with_capacity(batch.dead_letters.len());
        for (payload, rej) in &batch.dead_letters {
            let headers = dead_letter_headers(&DeadLetter { reason: rej.reason.as_str(), field: rej.field, detail: &rej.detail, stage: "aggregator" });
            let record = FutureRecord::<[u8], [u8]>::to(&self.dead_letter_topic).payload(payload.as_slice()).headers(headers);
            dead.push(self.producer.send(record, Duration::from_secs(60)));
        }
        let (store, write) = (&self.store, &batch.write);
        retrying(&self.metrics, "writing the ledger batch", shutdown, || store.write_batch(write)).await?;
        for d in dead {
            d.await.map_err(|(e, _)| PipelineError::Bus { what: "sending a dead letter", source: BusError::Kafka(e) })?;
        }
        self.count(batch, started.elapsed());
        Ok(())
    }

    fn count(&self, batch: &Outgoing, took: Duration) {
        let m = &self.metrics;
        m.write_seconds.observe(took.as_secs_f64());
        m.batches_written.inc();
        let w = &batch.write;
        for (table, n) in [("record_copies", w.copies.len()), ("ledger_lines", w.lines.len()), ("rejections", w.rejections.len()), ("resettle_marks", w.marks.len())] {
            if n > 0 {
                m.rows_written.with_label_values(&[table]).inc_by(n as u64);
            }
        }
        let mut outcomes: BTreeMap<&str, u64> = BTreeMap::new();
        for l in &w.lines {
            *outcomes.entry(l.reason.map_or("eligible", ReasonCode::as_str)).or_default() += 1;
        }
        for (outcome, n) in outcomes {
            m.lines_written.with_label_values(&[outcome]).inc_by(n);
        }
        m.messages_consumed.inc_by(batch.consumed as u64);
        for (d, n) in &batch.decisions {
            m.copies.with_label_values(&[d.as_str()]).inc_by(*n);
        }
        for (r, n) in &batch.rejected {
            m.unreadable_lines.with_label_values(&[r.as_str()]).inc_by(*n);
        }
        m.lines_resettled.inc_by(batch.resettled);
        m.last_write_timestamp.set(chrono::Utc::now().timestamp());
        m.last_write_age.set(0);
    }

    /// Commits the batch's offsets, now that the store has it. A failed commit is only
    /// logged: the batch comes again and is written again harmlessly.
    async fn commit(&self, commit: &BTreeMap<i32, i64>) {
        if commit.is_empty() {
            return;
        }
        if let Err(e) = commit_offsets(self.consumer.clone(), &self.records_topic, commit).await {
            tracing::warn!(error = %e, "offset commit failed; the batch will be replayed harmlessly");
        }
    }
}

/// Commits the next offset per partition of `topic` and waits for the broker's answer. The
/// synchronous commit blocks on the broker, so it runs on a blocking thread, never on a
/// runtime worker; the caller still waits for it, so offsets are committed only after the
/// store acknowledged the batch, and in batch order.
pub(crate) async fn commit_offsets(consumer: Arc<GroupConsumer>, topic: &str, commit: &BTreeMap<i32, i64>) -> PipelineResult<()> {
    let mut tpl = TopicPartitionList::new();
    for (p, o) in commit {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*o)).map_err(PipelineError::kafka("naming an offset to commit"))?;
    }
    tokio::task::spawn_blocking(move || consumer.commit(&tpl, CommitMode::Sync))
        .await
        .map_err(|e| PipelineError::Internal(format!("the offset commit did not finish: {e}")))?
        .map_err(PipelineError::kafka("committing offsets"))
}
