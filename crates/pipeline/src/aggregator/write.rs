//! Writing a batch, off the loop: its rows (marks last), then the dead
//! letters are acknowledged, then the batch's offsets are committed. A batch
//! the store refuses for good is split until the refused records are isolated
//! ([`super::split`]); they are dead-lettered and the rest is written. One
//! batch is written while the loop reads and prepares the next; a revocation
//! waits for it (see [`WriteGate`]), so partitions never change hands while a
//! batch of theirs is on its way to the store.

use super::consumer::{GroupConsumer, WriteGate};
use super::split::{batch_of, tail_of, units, Bisect, Isolated, Unit};
use crate::error::{PipelineError, PipelineResult};
use crate::metrics::AggregatorMetrics;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use subsidy_bus::{dead_letter_headers, dead_letter_value, BusError, DeadLetter, STORE_REFUSED};
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
    /// When each consumed message was produced, Unix ms (those whose broker gave a time).
    pub produced_ms: Vec<i64>,
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
    /// Ids of records whose rows the store refused and that were dead-lettered: the
    /// loop forgets what it kept in memory for them.
    pub refused_ids: Arc<Mutex<Vec<String>>>,
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
            dead.push(self.send_dead_letter(payload, &DeadLetter { reason: rej.reason.as_str(), field: rej.field, detail: &rej.detail, stage: "aggregator" }));
        }
        let refused = match self.attempt(&batch.write, shutdown).await? {
            Ok(()) => Vec::new(),
            Err(e) => self.isolate_refused(&batch.write, e, shutdown).await?,
        };
        for d in dead {
            d.await.map_err(|(e, _)| PipelineError::Bus { what: "sending a dead letter", source: BusError::Kafka(e) })?;
        }
        self.dead_letter_refused(&refused).await?;
        self.count(batch, &refused, started.elapsed());
        Ok(())
    }

    fn send_dead_letter<'s>(&'s self, payload: &'s [u8], d: &DeadLetter<'_>) -> impl Future<Output = OwnedDeliveryResult> + 's {
        let record = FutureRecord::<[u8], [u8]>::to(&self.dead_letter_topic).payload(payload).headers(dead_letter_headers(d));
        self.producer.send(record, Duration::from_secs(60))
    }

    /// Writes `write`, retrying while the store is unavailable: `Ok(Err(_))` when the store
    /// refused it for a reason a retry cannot mend.
    async fn attempt(&self, write: &WriteBatch, shutdown: &CancellationToken) -> PipelineResult<Result<(), StoreError>> {
        let store = &self.store;
        match retrying(&self.metrics, "writing the ledger batch", shutdown, || store.write_batch(write)).await {
            Ok(()) => Ok(Ok(())),
            Err(PipelineError::Store { source, .. }) => Ok(Err(source)),
            Err(e) => Err(e),
        }
    }

    /// The store refused `write` for good: writes it again in halves until the refused units
    /// are single records (or single rejection rows), then the tail (marks, registry).
    /// Returns the refused units with the store's error for each; fails as a whole when the
    /// store refused too many to be refusing particular records.
    async fn isolate_refused(&self, write: &WriteBatch, first: StoreError, shutdown: &CancellationToken) -> PipelineResult<Vec<(Unit, StoreError)>> {
        tracing::warn!(error = %first, rows = write.len(), "the store refused the batch; writing it in parts to isolate what it refuses");
        let mut plan = Bisect::new(units(write));
        while let Some(part) = plan.next_part() {
            match self.attempt(&batch_of(&part), shutdown).await? {
                Ok(()) => {}
                Err(e) => plan.refused(part, e),
            }
        }
        let refused = match plan.finish() {
            Isolated::Refused(refused) => refused,
            Isolated::Everything(source) => return Err(PipelineError::Store { what: "writing the ledger batch (most of its records refused alone)", source }),
        };
        let tail = tail_of(write);
        if !tail.is_empty() {
            self.attempt(&tail, shutdown).await?.map_err(|source| PipelineError::Store { what: "writing the re-settlement marks and registry", source })?;
        }
        Ok(refused)
    }

    /// Sends every refused unit's rows to the dead-letter topic with the store's words, counts
    /// them, and hands their record ids to the loop.
    async fn dead_letter_refused(&self, refused: &[(Unit, StoreError)]) -> PipelineResult<()> {
        let items: Vec<(Vec<u8>, String)> = refused.iter().flat_map(|(unit, error)| refused_items(unit, error)).collect();
        let mut sends = Vec::with_capacity(items.len());
        for (payload, detail) in &items {
            sends.push(self.send_dead_letter(dead_letter_value(payload), &DeadLetter { reason: STORE_REFUSED, field: None, detail, stage: "aggregator" }));
        }
        for (unit, error) in refused {
            tracing::warn!(record_id = unit.record_id().unwrap_or(""), error = %error, "the store refused a record's rows; sent to the dead-letter topic");
            self.metrics.store_refused.with_label_values(&[error.kind()]).inc();
        }
        for s in sends {
            s.await.map_err(|(e, _)| PipelineError::Bus { what: "sending a dead letter", source: BusError::Kafka(e) })?;
        }
        let ids = refused.iter().filter_map(|(u, _)| u.record_id().map(str::to_string));
        self.refused_ids.lock().unwrap_or_else(PoisonError::into_inner).extend(ids);
        Ok(())
    }

    /// Counts what the batch wrote: its rows but those of `refused` units, which the store refused.
    fn count(&self, batch: &Outgoing, refused: &[(Unit, StoreError)], took: Duration) {
        let m = &self.metrics;
        m.write_seconds.observe(took.as_secs_f64());
        m.batches_written.inc();
        let w = &batch.write;
        let (mut copies, mut lines, mut rejections) = (w.copies.len(), w.lines.len(), w.rejections.len());
        let mut refused_ids: HashSet<&str> = HashSet::new();
        for (unit, _) in refused {
            match unit {
                Unit::Record { record_id, copies: c, line } => {
                    copies -= c.len();
                    lines -= usize::from(line.is_some());
                    refused_ids.insert(record_id);
                }
                Unit::Rejection(_) => rejections -= 1,
            }
        }
        for (table, n) in [("record_copies", copies), ("ledger_lines", lines), ("rejections", rejections), ("resettle_marks", w.marks.len())] {
            if n > 0 {
                m.rows_written.with_label_values(&[table]).inc_by(n as u64);
            }
        }
        let mut outcomes: BTreeMap<&str, u64> = BTreeMap::new();
        for l in w.lines.iter().filter(|l| !refused_ids.contains(l.record_id.as_str())) {
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
        let now_ms = chrono::Utc::now().timestamp_millis();
        for t in &batch.produced_ms {
            m.record_age_seconds.observe((now_ms - t).max(0) as f64 / 1000.0);
        }
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

/// What a refused unit leaves in the dead-letter topic: each copy's bytes, a re-settled line's
/// record id, or a rejection's bytes; each with the store's words.
fn refused_items(unit: &Unit, error: &StoreError) -> Vec<(Vec<u8>, String)> {
    match unit {
        Unit::Record { record_id, copies, line } => {
            let mut items: Vec<(Vec<u8>, String)> = copies.iter().map(|c| (c.raw.clone().into_bytes(), format!("record {record_id}: {error}"))).collect();
            if items.is_empty() && line.is_some() {
                items.push((record_id.clone().into_bytes(), format!("the re-settled ledger line of record {record_id}: {error}")));
            }
            items
        }
        Unit::Rejection(r) => vec![(r.raw.clone().into_bytes(), format!("the rejection row ({}) of this line: {error}", r.reason))],
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
