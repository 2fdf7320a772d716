//! Writing a prepared batch, off the loop: settlements, then lines and
//! records, then the dead letters are acknowledged, then the batch's offsets
//! are committed. One batch is written while the loop reads and prepares the
//! next; a revocation waits for it (see [`WriteGate`]), so partitions never
//! change hands while a batch of theirs is on its way to the store.

use super::batch::Prepared;
use super::consumer::{GroupConsumer, WriteGate};
use super::retrying;
use crate::metrics::AggregatorMetrics;
use anyhow::{anyhow, Result};
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use subsidy_bus::{dead_letter_headers, DeadLetter};
use subsidy_store::LedgerStore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

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
pub struct InFlight(Option<JoinHandle<Result<()>>>);

impl InFlight {
    /// Waits for the batch being written (and its commit), if there is one.
    pub async fn wait(&mut self) -> Result<()> {
        match self.0.take() {
            Some(h) => h.await.map_err(|e| anyhow!("the batch writer failed: {e}"))?,
            None => Ok(()),
        }
    }

    /// Takes the outcome of a write that has finished, without waiting for one that has not.
    pub async fn reap(&mut self) -> Result<()> {
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
    /// Waits for the batch in `in_flight`, then starts writing `prepared` (made of
    /// `consumed` messages) there; `commit` holds the next offset per partition,
    /// committed once the store has the batch.
    pub async fn spawn(&self, in_flight: &mut InFlight, prepared: Prepared, commit: BTreeMap<i32, i64>, consumed: usize, shutdown: CancellationToken) -> Result<()> {
        in_flight.wait().await?;
        let guard = self.gate.enter();
        let w = self.clone();
        in_flight.0 = Some(tokio::spawn(async move {
            let _guard = guard;
            w.write(&prepared, consumed, &shutdown).await?;
            w.commit(&commit)
        }));
        Ok(())
    }

    async fn write(&self, prepared: &Prepared, consumed: usize, shutdown: &CancellationToken) -> Result<()> {
        let metrics = &self.metrics;
        let store = &self.store;
        let started = Instant::now();
        let mut dead = Vec::with_capacity(prepared.dead_letters.len());
        for (payload, rej) in &prepared.dead_letters {
            let headers = dead_letter_headers(&DeadLetter { reason: rej.reason.as_str(), field: rej.field, detail: &rej.detail, stage: "aggregator" });
            let record = FutureRecord::<[u8], [u8]>::to(&self.dead_letter_topic).payload(payload.as_slice()).headers(headers);
            dead.push(self.producer.send(record, Duration::from_secs(60)));
        }
        let settlements = &prepared.settlements;
        retrying(metrics, "writing settlements", shutdown, || store.write_settlements(settlements)).await?;
        let write = &prepared.write;
        retrying(metrics, "writing the ledger batch", shutdown, || store.write_batch(write)).await?;
        for d in dead {
            d.await.map_err(|(e, _)| anyhow!("Kafka did not acknowledge a dead letter: {e}"))?;
        }
        metrics.write_seconds.observe(started.elapsed().as_secs_f64());
        metrics.batches_written.inc();
        for (table, n) in [
            ("settlements", prepared.settlements.len()),
            ("usage_records", write.records.len()),
            ("ledger_lines", write.lines.len()),
            ("rejections", write.rejections.len()),
            ("held_records", write.held.len()),
            ("adjustments", write.adjustments.len()),
        ] {
            if n > 0 {
                metrics.rows_written.with_label_values(&[table]).inc_by(n as u64);
            }
        }
        metrics.records_consumed.inc_by(consumed as u64);
        metrics.records_accepted.inc_by(prepared.accepted);
        for (r, n) in &prepared.excluded {
            metrics.records_excluded.with_label_values(&[r.as_str()]).inc_by(*n);
        }
        for (r, n) in &prepared.rejected {
            metrics.records_rejected.with_label_values(&[r.as_str()]).inc_by(*n);
        }
        metrics.last_write_timestamp.set(super::unix_now());
        metrics.since_last_write.set(0);
        Ok(())
    }

    fn commit(&self, commit: &BTreeMap<i32, i64>) -> Result<()> {
        if commit.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for (p, o) in commit {
            tpl.add_partition_offset(&self.records_topic, *p, Offset::Offset(*o))?;
        }
        if let Err(e) = self.consumer.commit(&tpl, CommitMode::Sync) {
            tracing::warn!(error = %e, "offset commit failed; the batch will be replayed harmlessly");
        }
        Ok(())
    }
}
