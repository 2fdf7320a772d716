//! Polling the platform's entity and center lists and producing the items
//! that changed to their compacted topics; refused items are dead-lettered.

use super::Collector;
use crate::error::{PipelineError, PipelineResult};
use subsidy_core::registry::{parse_center, parse_entity};

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
        match parse_entity(e) {
            Ok(ent) => good_entities.push((ent.credit_code.as_str().to_string(), bytes)),
            Err(r) => c.sink.dead_letter(&bytes, r.reason, r.field, &r.detail, metrics).await?,
        }
    }
    let mut good_centers = Vec::new();
    for item in &centers {
        let bytes = item.to_string().into_bytes();
        match parse_center(item) {
            Ok(center) => good_centers.push((center.center_id.clone(), bytes)),
            Err(r) => c.sink.dead_letter(&bytes, r.reason, r.field, &r.detail, metrics).await?,
        }
    }
    for (kind, topic, items) in [("entity", &c.sink.topics.entities, good_entities), ("center", &c.sink.topics.centers, good_centers)] {
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
