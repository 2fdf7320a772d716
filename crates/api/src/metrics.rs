//! The API's Prometheus metrics: requests by route and status, latency by
//! route, denied requests by reason, the reads of the book and the months
//! it shows open, requests refused for a server limit, connections, the
//! answer cache's size, and whether the token file was last read whole. Labels are route templates and
//! fixed reasons, never a token or a parameter value.

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

/// The API's metrics.
#[derive(Debug, Clone)]
pub struct ApiMetrics {
    /// `subsidy_api_requests_total{route, status}`.
    pub requests: IntCounterVec,
    /// `subsidy_api_request_duration_seconds{route}`.
    pub duration: HistogramVec,
    /// `subsidy_api_denied_total{reason}`: `no_token`, `unknown_token`, `forbidden`.
    pub denied: IntCounterVec,
    /// `subsidy_api_book_read_duration_seconds`: time to read the book of a new generation.
    pub book_read: Histogram,
    /// `subsidy_api_book_refresh_seconds{kind}`: time to bring the book up to a new generation,
    /// `full` (every line summed again) or `incremental` (the changes since the last folded).
    pub book_refresh: HistogramVec,
    /// `subsidy_api_book_changes_applied_total`: changes of ledger lines folded into the book.
    pub book_changes: IntCounter,
    /// `subsidy_api_book_keys`: keys the folded sums hold (what the book's memory grows with).
    pub book_keys: IntGauge,
    /// `subsidy_api_book_divergence`: keys where the folded sums differed from a full read at
    /// the last check (0: they agree; -1: not checked yet).
    pub book_divergence: IntGauge,
    /// `subsidy_api_open_months`: months with ledger lines not closed yet.
    pub open_months: IntGauge,
    /// `subsidy_api_oldest_open_month_end_timestamp_seconds`: when the oldest of them ended
    /// (0 when none is open).
    pub oldest_open_month_end: IntGauge,
    /// `subsidy_api_limited_total{limit}`: requests refused for a server limit: `uri_bytes`,
    /// `body_bytes`, `in_flight`, `request_timeout`.
    pub limited: IntCounterVec,
    /// `subsidy_api_connections`: connections open now.
    pub connections: IntGauge,
    /// `subsidy_api_connections_waited_total`: connections accepted only after waiting for
    /// one of `max_connections` to close.
    pub connections_waited: IntCounter,
    /// `subsidy_api_connections_closed_total{reason}`: connections that ended in an error:
    /// `header_timeout` (headers not sent in time), `error` (anything else).
    pub connections_failed: IntCounterVec,
    /// `subsidy_api_cache_bytes`: bytes of cached answers (keys, bodies, overhead).
    pub cache_bytes: IntGauge,
    /// `subsidy_api_cache_entries`: cached answers.
    pub cache_entries: IntGauge,
    /// `subsidy_api_cache_evictions_total`: answers dropped to stay within the byte budget.
    pub cache_evictions: IntCounter,
    /// `subsidy_api_token_reload_failures_total`: re-reads of the token file that failed
    /// (the tokens in force stayed).
    pub token_reload_failures: IntCounter,
    /// `subsidy_api_token_file_ok`: 1 when the last read of the token file succeeded, 0 when
    /// it failed and the tokens in force are those of an earlier read.
    pub token_file_ok: IntGauge,
    /// `subsidy_reconciliation_gap_records{period}`: of each open month, the records the ledger
    /// lacks (or holds beyond) the platform's usage counts, over every center-day that differs.
    pub reconciliation_gap_records: IntGaugeVec,
}

impl ApiMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn new(registry: &Registry) -> prometheus::Result<ApiMetrics> {
        let requests = IntCounterVec::new(Opts::new("subsidy_api_requests_total", "API requests answered, by route template and status."), &["route", "status"])?;
        let buckets = vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
        let duration = HistogramVec::new(
            HistogramOpts::new("subsidy_api_request_duration_seconds", "Time to answer an API request, by route template.").buckets(buckets),
            &["route"],
        )?;
        let denied = IntCounterVec::new(Opts::new("subsidy_api_denied_total", "Requests refused for want of a valid token or of access, by reason."), &["reason"])?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(denied.clone()))?;
        let book_read = Histogram::with_opts(
            HistogramOpts::new("subsidy_api_book_read_duration_seconds", "Time to read the book (sums, settlements, statements) of a new store generation.")
                .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
        )?;
        registry.register(Box::new(book_read.clone()))?;
        let book_refresh = HistogramVec::new(
            HistogramOpts::new("subsidy_api_book_refresh_seconds", "Time to bring the book up to a new store generation, by kind: full (every line summed again) or incremental (the changes since the last).")
                .buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            &["kind"],
        )?;
        for kind in ["full", "incremental"] {
            book_refresh.with_label_values(&[kind]);
        }
        let book_changes = IntCounter::new("subsidy_api_book_changes_applied_total", "Changes of ledger lines folded into the book.")?;
        let book_keys = IntGauge::new("subsidy_api_book_keys", "Keys the book's folded sums hold: user, month, reason and policy document; month, day and center.")?;
        let book_divergence = IntGauge::new("subsidy_api_book_divergence", "Keys where the book's folded sums differed from a full read at the last check (0 when they agree, -1 before the first check).")?;
        book_divergence.set(-1);
        registry.register(Box::new(book_refresh.clone()))?;
        registry.register(Box::new(book_changes.clone()))?;
        registry.register(Box::new(book_keys.clone()))?;
        registry.register(Box::new(book_divergence.clone()))?;
        let open_months = IntGauge::new("subsidy_api_open_months", "Months with ledger lines that are not closed yet, in the book in force.")?;
        let oldest_open_month_end = IntGauge::new(
            "subsidy_api_oldest_open_month_end_timestamp_seconds",
            "Unix time at which the oldest month with ledger lines that is not closed ended (0 when none is open).",
        )?;
        registry.register(Box::new(open_months.clone()))?;
        registry.register(Box::new(oldest_open_month_end.clone()))?;
        for reason in ["no_token", "unknown_token", "forbidden"] {
            denied.with_label_values(&[reason]);
        }
        let limited = IntCounterVec::new(Opts::new("subsidy_api_limited_total", "Requests refused for a server limit, by limit."), &["limit"])?;
        for limit in ["uri_bytes", "body_bytes", "in_flight", "request_timeout"] {
            limited.with_label_values(&[limit]);
        }
        let connections = IntGauge::new("subsidy_api_connections", "Connections open now.")?;
        let connections_waited = IntCounter::new("subsidy_api_connections_waited_total", "Connections accepted only after waiting for an open one to close (max_connections reached).")?;
        let connections_failed = IntCounterVec::new(Opts::new("subsidy_api_connections_closed_total", "Connections that ended in an error, by reason."), &["reason"])?;
        for reason in ["header_timeout", "error"] {
            connections_failed.with_label_values(&[reason]);
        }
        let cache_bytes = IntGauge::new("subsidy_api_cache_bytes", "Bytes of cached answers: keys, bodies and per-entry overhead.")?;
        let cache_entries = IntGauge::new("subsidy_api_cache_entries", "Cached answers.")?;
        let cache_evictions = IntCounter::new("subsidy_api_cache_evictions_total", "Cached answers dropped, least recently used first, to stay within the byte budget.")?;
        registry.register(Box::new(limited.clone()))?;
        registry.register(Box::new(connections.clone()))?;
        registry.register(Box::new(connections_waited.clone()))?;
        registry.register(Box::new(connections_failed.clone()))?;
        registry.register(Box::new(cache_bytes.clone()))?;
        registry.register(Box::new(cache_entries.clone()))?;
        registry.register(Box::new(cache_evictions.clone()))?;
        let token_reload_failures = IntCounter::new("subsidy_api_token_reload_failures_total", "Re-reads of the token file (on SIGHUP) that failed; the tokens in force stayed.")?;
        let token_file_ok = IntGauge::new("subsidy_api_token_file_ok", "1 when the last read of the token file succeeded; 0 when it failed and older tokens stay in force.")?;
        registry.register(Box::new(token_reload_failures.clone()))?;
        registry.register(Box::new(token_file_ok.clone()))?;
        let reconciliation_gap_records = IntGaugeVec::new(
            Opts::new("subsidy_reconciliation_gap_records", "Records of an open month the ledger lacks or holds beyond the platform's usage counts, by month."),
            &["period"],
        )?;
        registry.register(Box::new(reconciliation_gap_records.clone()))?;
        Ok(ApiMetrics {
            requests,
            duration,
            denied,
            book_read,
            book_refresh,
            book_changes,
            book_keys,
            book_divergence,
            open_months,
            oldest_open_month_end,
            limited,
            connections,
            connections_waited,
            connections_failed,
            cache_bytes,
            cache_entries,
            cache_evictions,
            token_reload_failures,
            token_file_ok,
            reconciliation_gap_records,
        })
    }

    /// Shows the open months of the book in force.
    pub fn show_open_months(&self, book: &crate::state::Book) {
        let open: Vec<subsidy_core::Period> = book.open_months().collect();
        self.open_months.set(i64::try_from(open.len()).unwrap_or(i64::MAX));
        self.oldest_open_month_end.set(open.first().map_or(0, |m| m.end_timestamp()));
    }

    /// Shows the gap of each open month (`gaps`: month and records); months no longer open are dropped.
    pub fn show_gaps(&self, gaps: &[(subsidy_core::Period, u64)]) {
        self.reconciliation_gap_records.reset();
        for (period, records) in gaps {
            self.reconciliation_gap_records.with_label_values(&[&period.to_string()]).set(i64::try_from(*records).unwrap_or(i64::MAX));
        }
    }
}
