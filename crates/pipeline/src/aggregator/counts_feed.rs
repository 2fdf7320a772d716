//! The platform's usage counts into the store: every member reads the whole
//! compacted counts topic (keyed `<center>@<day>`) and writes what it read,
//! each count versioned by its offset so the latest stands whichever member
//! wrote last and a replay changes nothing. A message that is not a count is
//! logged and skipped: it changes no figure. On stop it reads what is left
//! and writes it before returning.

use rdkafka::message::Message;
use std::sync::Arc;
use std::time::Duration;
use subsidy_bus::TopicReader;
use subsidy_core::DayCount;
use subsidy_store::{CountRow, LedgerStore};
use tokio_util::sync::CancellationToken;

/// Largest number of counts held before they are written.
const MAX_PENDING: usize = 10_000;

/// A count message decoded: its figures, checked against its key.
fn decode(key: Option<&[u8]>, payload: Option<&[u8]>) -> Result<DayCount, String> {
    let payload = payload.ok_or("a count message without a payload")?;
    let count: DayCount = serde_json::from_slice(payload).map_err(|e| format!("not a usage count: {e}"))?;
    let expected = format!("{}@{}", count.center_id, count.day);
    if key != Some(expected.as_bytes()) {
        return Err(format!("key {:?} does not name center-day {expected}", key.map(String::from_utf8_lossy)));
    }
    if count.center_id.is_empty() || count.paid.is_sign_negative() {
        return Err(format!("count of {expected} has no center or a negative paid sum"));
    }
    Ok(count)
}

/// Reads the counts topic until `stop`, writing what it read whenever the topic is drained.
pub(super) async fn start(brokers: &str, topic: &str, store: Arc<dyn LedgerStore>, stop: CancellationToken) -> crate::error::PipelineResult<tokio::task::JoinHandle<()>> {
    let reader = TopicReader::connect(brokers, topic, Duration::from_secs(30)).await.map_err(crate::error::PipelineError::bus("reading the usage-counts topic"))?;
    let topic = topic.to_string();
    Ok(tokio::spawn(async move {
        let mut pending: Vec<CountRow> = Vec::new();
        loop {
            let stopping = stop.is_cancelled();
            let got = tokio::select! {
                m = reader.next(Duration::from_millis(500)) => m,
                () = stop.cancelled(), if !stopping => continue,
            };
            match got {
                Ok(Some(m)) => {
                    match decode(m.key(), m.payload()) {
                        Ok(count) => pending.push(CountRow { count, version: m.offset() }),
                        Err(problem) => tracing::warn!(topic = %topic, offset = m.offset(), problem = %problem, "skipped a usage-counts message"),
                    }
                    if pending.len() < MAX_PENDING {
                        continue;
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "reading the usage-counts topic failed"),
            }
            if !pending.is_empty() {
                match store.write_usage_counts(&pending).await {
                    Ok(()) => pending.clear(),
                    Err(e) if e.is_retryable() => tracing::warn!(error = %e, counts = pending.len(), "writing usage counts failed; retrying"),
                    Err(e) => {
                        tracing::warn!(error = %e, counts = pending.len(), "the store refused the usage counts");
                        pending.clear();
                    }
                }
            }
            if stopping && pending.is_empty() {
                return;
            }
            if stopping {
                // Bounded: a store that keeps failing while stopping gives up after this round.
                tracing::warn!(counts = pending.len(), "stopping with usage counts not written");
                return;
            }
        }
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::decode;

    #[test]
    fn a_count_is_checked_against_its_key() {
        let payload = br#"{"center_id":"C1","day":"2025-11-03","records":5,"paid":"12.50"}"#;
        let c = decode(Some(b"C1@2025-11-03"), Some(payload)).unwrap();
        assert_eq!((c.records, c.paid.to_string()), (5, "12.50".to_string()));
        assert!(decode(Some(b"C2@2025-11-03"), Some(payload)).unwrap_err().contains("does not name"));
        assert!(decode(Some(b"C1@2025-11-03"), None).is_err());
        assert!(decode(Some(b"C1@2025-11-03"), Some(b"{}")).unwrap_err().starts_with("not a usage count"));
    }
}
