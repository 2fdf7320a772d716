//! Polling the platform's entity and center lists and producing the items
//! that changed to their compacted topics; refused items are dead-lettered,
//! an item longer than a line may be (`oversized`) among them, so that no
//! item can make a poll fail.
//!
//! Each item is keyed by its entry key: the credit code or center id, with
//! the day for an item carrying `valid_from`
//! ([`subsidy_core::registry::entry_key`]), so the compacted topics keep
//! every dated entry of a key. An item the list gives twice (same key and
//! day) is reported and the later one stands, as an update would and as the
//! file loaders do: each poll produces one value per entry key, so the
//! stream never flips between the two.

use super::Collector;
use crate::error::{PipelineError, PipelineResult};
use subsidy_core::record::MAX_LINE_BYTES;
use subsidy_core::registry::{entry_key, parse_center, parse_entity};
use subsidy_core::{ReasonCode, Rejection};

/// Fetches both registries and produces what changed.
pub(super) async fn poll(c: &Collector) -> PipelineResult<()> {
    let metrics = &c.metrics;
    let on_retry = |e: &subsidy_platform::client::FetchError, _| metrics.retries.with_label_values(&[e.cause()]).inc();
    let entities = subsidy_platform::client::with_retry(&c.config.retry, || c.client.fetch_entities(), on_retry)
        .await
        .map_err(|source| PipelineError::Platform { what: "fetching entities", source })?;
    let centers = subsidy_platform::client::with_retry(&c.config.retry, || c.client.fetch_centers(), on_retry)
        .await
        .map_err(|source| PipelineError::Platform { what: "fetching compute centers", source })?;
    let mut good_entities = Vec::new();
    for e in &entities {
        let bytes = e.to_string().into_bytes();
        match within_size("entity", &bytes).and_then(|()| parse_entity(e)) {
            Ok(ent) => good_entities.push((entry_key(ent.credit_code.as_str(), ent.valid_from), bytes)),
            Err(r) => c.sink.dead_letter(&bytes, r.reason, r.field, &r.detail, metrics).await?,
        }
    }
    let mut good_centers = Vec::new();
    for item in &centers {
        let bytes = item.to_string().into_bytes();
        match within_size("center", &bytes).and_then(|()| parse_center(item)) {
            Ok(center) => good_centers.push((entry_key(&center.center_id, center.valid_from), bytes)),
            Err(r) => c.sink.dead_letter(&bytes, r.reason, r.field, &r.detail, metrics).await?,
        }
    }
    for (kind, topic, items) in [("entity", &c.sink.topics.entities, good_entities), ("center", &c.sink.topics.centers, good_centers)] {
        let (items, repeated) = later_stands(items);
        for key in &repeated {
            tracing::warn!(kind, key = %key, "the platform lists this registry item more than once; the later one stands");
        }
        metrics.registry_repeated.with_label_values(&[kind]).inc_by(repeated.len() as u64);
        let fresh: Vec<_> = {
            let last = c.registry_sent.lock().unwrap_or_else(|p| p.into_inner());
            items.into_iter().filter(|(k, v)| last.get(&(kind, k.clone())) != Some(v)).collect()
        };
        c.sink.send_keyed(topic, &fresh).await?;
        let mut last = c.registry_sent.lock().unwrap_or_else(|p| p.into_inner());
        for (k, v) in &fresh {
            last.insert((kind, k.clone()), v.clone());
        }
        metrics.registry_items.with_label_values(&[kind]).inc_by(fresh.len() as u64);
    }
    Ok(())
}

/// Refuses as `oversized` a registry item longer than a record line may be: it
/// would not fit the producer's message size, or would fill every reader's memory.
fn within_size(kind: &str, bytes: &[u8]) -> Result<(), Rejection> {
    if bytes.len() > MAX_LINE_BYTES {
        return Err(Rejection::new(ReasonCode::Oversized, None, format!("the {kind} has {} bytes, more than the {MAX_LINE_BYTES} accepted", bytes.len())));
    }
    Ok(())
}

/// One item per key, the later one where a key repeats (in the order of first
/// appearance), and the keys that repeated.
fn later_stands(items: Vec<(String, Vec<u8>)>) -> (Vec<(String, Vec<u8>)>, Vec<String>) {
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut out: Vec<(String, Vec<u8>)> = Vec::with_capacity(items.len());
    let mut repeated = Vec::new();
    for (key, value) in items {
        match at.get(&key) {
            Some(&i) => {
                repeated.push(key);
                out[i].1 = value;
            }
            None => {
                at.insert(key.clone(), out.len());
                out.push((key, value));
            }
        }
    }
    (out, repeated)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{later_stands, within_size, MAX_LINE_BYTES};
    use subsidy_core::ReasonCode;

    #[test]
    fn an_item_longer_than_a_line_is_oversized() {
        assert!(within_size("entity", &vec![b'x'; MAX_LINE_BYTES]).is_ok());
        let r = within_size("center", &vec![b'x'; MAX_LINE_BYTES + 1]).unwrap_err();
        assert_eq!((r.reason, r.field), (ReasonCode::Oversized, None));
        assert!(r.detail.contains("center has 65537 bytes"), "{}", r.detail);
    }

    #[test]
    fn a_repeated_key_keeps_its_later_value_once() {
        let item = |k: &str, v: &str| (k.to_string(), v.as_bytes().to_vec());
        let (items, repeated) = later_stands(vec![item("E1", "hefei"), item("E2", "x"), item("E1", "fuyang"), item("E1", "bozhou")]);
        assert_eq!(items, vec![item("E1", "bozhou"), item("E2", "x")]);
        assert_eq!(repeated, ["E1", "E1"]);
    }
}
