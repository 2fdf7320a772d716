//! Every metric of the pipeline, declared together. Names follow
//! `subsidy_<subsystem>_<name>_<unit>`; counters end in `_total`; labels
//! take only small fixed sets (reason codes, causes, stages).

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    r.register(Box::new(c.clone())).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    c
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    r.register(Box::new(c.clone())).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    c
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    r.register(Box::new(g.clone())).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    g
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    r.register(Box::new(g.clone())).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    g
}

fn histogram_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let buckets = vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    r.register(Box::new(h.clone())).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    h
}

fn histogram(r: &Registry, name: &str, help: &str) -> Histogram {
    histogram_with(r, name, help, vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
}

fn histogram_with(r: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets)).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    r.register(Box::new(h.clone())).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    h
}

/// The collector's metrics.
#[derive(Debug, Clone)]
pub struct CollectorMetrics {
    /// Pages fetched.
    pub pages_fetched: IntCounter,
    /// Records fetched (good and bad).
    pub records_fetched: IntCounter,
    /// Records acknowledged by the broker on the records topic.
    pub records_produced: IntCounter,
    /// Records sent to the dead-letter topic, by reason code.
    pub dead_letters: IntCounterVec,
    /// Retries of platform requests, by cause.
    pub retries: IntCounterVec,
    /// Platform request latency, by endpoint.
    pub request_seconds: HistogramVec,
    /// Registry items produced (changed since last poll), by kind.
    pub registry_items: IntCounterVec,
    /// Registry items the platform listed more than once in one answer, by kind.
    pub registry_repeated: IntCounterVec,
    /// Unix time of the last checkpoint written (at start, of the stored one).
    pub checkpoint_timestamp: IntGauge,
    /// Seconds since the last checkpoint (refreshed every second, also while requests are retried).
    pub checkpoint_age: IntGauge,
    /// Seconds between the newest `updated_at` seen and now.
    pub updated_at_lag: IntGauge,
}

impl CollectorMetrics {
    /// Registers the collector's metrics in `r`.
    pub fn register(r: &Registry) -> CollectorMetrics {
        CollectorMetrics {
            pages_fetched: counter(r, "subsidy_collector_pages_fetched_total", "Pages of usage records fetched from the platform."),
            records_fetched: counter(r, "subsidy_collector_records_fetched_total", "Usage records fetched from the platform, good and bad."),
            records_produced: counter(r, "subsidy_collector_records_produced_total", "Usage records acknowledged by Kafka on the records topic."),
            dead_letters: counter_vec(r, "subsidy_collector_dead_letters_total", "Records sent to the dead-letter topic, by reason code.", &["reason"]),
            retries: counter_vec(r, "subsidy_collector_retries_total", "Retried platform requests, by cause.", &["cause"]),
            request_seconds: histogram_vec(r, "subsidy_collector_request_duration_seconds", "Platform request latency.", &["endpoint"]),
            registry_items: counter_vec(r, "subsidy_collector_registry_items_produced_total", "Entities and centers produced because they changed.", &["kind"]),
            registry_repeated: counter_vec(r, "subsidy_collector_registry_items_repeated_total", "Registry items listed more than once in one platform answer (the later one stands), by kind.", &["kind"]),
            checkpoint_timestamp: gauge(r, "subsidy_collector_checkpoint_timestamp_seconds", "Unix time of the last checkpoint acknowledged by Kafka (at start, when the stored one was written)."),
            checkpoint_age: gauge(r, "subsidy_collector_checkpoint_age_seconds", "Seconds since the last checkpoint was acknowledged, refreshed every second while the collector runs, also while it waits on the platform."),
            updated_at_lag: gauge(r, "subsidy_collector_updated_at_lag_seconds", "Seconds between the newest updated_at seen and now."),
        }
    }
}

/// The aggregator's metrics.
#[derive(Debug, Clone)]
pub struct AggregatorMetrics {
    /// Messages consumed from the records topic.
    pub messages_consumed: IntCounter,
    /// Copies of records by what the step made of them: first, replaces, duplicate, superseded, conflict.
    pub copies: IntCounterVec,
    /// Lines that could not be read as records (dead-lettered), by reason.
    pub unreadable_lines: IntCounterVec,
    /// Ledger lines written, by outcome: `eligible` or the reason code.
    pub lines_written: IntCounterVec,
    /// Lines written because the registry changed.
    pub lines_resettled: IntCounter,
    /// Batches written to the store.
    pub batches_written: IntCounter,
    /// Rows written to the store, by table.
    pub rows_written: IntCounterVec,
    /// Store write latency.
    pub write_seconds: Histogram,
    /// Seconds from a record's arrival on the records topic to its batch being in the store.
    pub record_age_seconds: Histogram,
    /// Store errors, by kind.
    pub store_errors: IntCounterVec,
    /// Records (or refused lines) the store refused for good, dead-lettered instead, by the store's error kind.
    pub store_refused: IntCounterVec,
    /// Consumer lag per partition.
    pub consumer_lag: IntGaugeVec,
    /// Unix time of the last successful write.
    pub last_write_timestamp: IntGauge,
    /// Seconds since the last successful write (refreshed by a ticker).
    pub last_write_age: IntGauge,
    /// Lines in the owned partitions waiting for an unknown entity or center.
    pub held_lines: IntGauge,
    /// Records-topic partitions this member owns.
    pub partitions_owned: IntGauge,
    /// Registry entries whose registration their credit code contradicts, by issue.
    pub registry_findings: IntGaugeVec,
    /// Registry messages refused (they change nothing), by registry topic and reason code.
    pub registry_refused: IntCounterVec,
    /// Registry entries removed by a tombstone, by registry topic.
    pub registry_removed: IntCounterVec,
    /// Where the standing line of each record id came from: `new` (never seen),
    /// `recent` (kept in memory) or `store` (looked up).
    pub standing_lookups: IntCounterVec,
}

impl AggregatorMetrics {
    /// Registers the aggregator's metrics in `r`.
    pub fn register(r: &Registry) -> AggregatorMetrics {
        AggregatorMetrics {
            messages_consumed: counter(r, "subsidy_aggregator_messages_consumed_total", "Messages consumed from the records topic."),
            copies: counter_vec(r, "subsidy_aggregator_copies_total", "Record copies by what the settlement step made of them.", &["decision"]),
            unreadable_lines: counter_vec(r, "subsidy_aggregator_unreadable_lines_total", "Lines on the records topic that could not be read as records (kept in the rejections table), by reason code.", &["reason"]),
            lines_written: counter_vec(r, "subsidy_aggregator_lines_written_total", "Ledger lines written, by outcome (eligible or the reason code).", &["outcome"]),
            lines_resettled: counter(r, "subsidy_aggregator_lines_resettled_total", "Ledger lines written again because the registry changed."),
            standing_lookups: counter_vec(r, "subsidy_aggregator_standing_lookups_total", "Record ids by where their standing line came from: new, recent (memory) or store.", &["source"]),
            batches_written: counter(r, "subsidy_aggregator_batches_written_total", "Batches written to the ledger store."),
            rows_written: counter_vec(r, "subsidy_aggregator_rows_written_total", "Rows written to the ledger store, by table.", &["table"]),
            write_seconds: histogram(r, "subsidy_aggregator_store_write_duration_seconds", "Ledger store write latency per batch."),
            record_age_seconds: histogram_with(
                r,
                "subsidy_aggregator_record_age_seconds",
                "Seconds from a record's arrival on the records topic (the collector's produce time) to the store acknowledging the batch that holds its line.",
                vec![0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0],
            ),
            store_errors: counter_vec(r, "subsidy_aggregator_store_errors_total", "Ledger store errors, by kind.", &["kind"]),
            store_refused: counter_vec(r, "subsidy_aggregator_store_refused_total", "Records (or refused lines) the ledger store refused for a reason a retry cannot mend, sent to the dead-letter topic instead of stopping the batch, by the store's error kind.", &["reason"]),
            consumer_lag: gauge_vec(r, "subsidy_aggregator_consumer_lag_messages", "Messages behind the high watermark, per partition.", &["partition"]),
            last_write_timestamp: gauge(r, "subsidy_aggregator_last_write_timestamp_seconds", "Unix time of the last successful ledger write."),
            last_write_age: gauge(r, "subsidy_aggregator_last_write_age_seconds", "Seconds since the last successful ledger write."),
            held_lines: gauge(r, "subsidy_aggregator_held_lines", "Lines in the owned partitions waiting for an unknown entity or center."),
            partitions_owned: gauge(r, "subsidy_aggregator_partitions_owned", "Records-topic partitions this member owns."),
            registry_findings: gauge_vec(r, "subsidy_aggregator_registry_findings", "Registry entries whose registration their credit code contradicts, by issue.", &["issue"]),
            registry_refused: counter_vec(r, "subsidy_aggregator_registry_refused_total", "Registry messages refused (they change nothing), by registry topic and reason code.", &["source", "reason"]),
            registry_removed: counter_vec(r, "subsidy_aggregator_registry_removed_total", "Registry entries removed by a tombstone (a key with no payload), by registry topic.", &["source"]),
        }
    }
}
