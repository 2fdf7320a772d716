//! `funding import`: the bureau's own list of usage funded elsewhere, or of
//! supplier claims, onto the compacted topics the aggregator reads like the
//! registry. The file is checked whole first (the same checks as `recompute`'s
//! `--funded-elsewhere` and `--supplier-claims`): one refused entry and
//! nothing is produced. Each entry is keyed by its entry key, so importing the
//! same file again changes nothing and a tombstone of a key withdraws it.

use crate::cli::FundingImportArgs;
use crate::config::{load_funding, LoadedFunding};
use anyhow::{Context, Result};
use rdkafka::producer::FutureRecord;
use std::time::Duration;
use subsidy_bus::{check_reachable, ensure_topics, idempotent_producer};
use subsidy_core::Registry;

/// The entries of a loaded list as (key, JSON payload).
fn messages(loaded: &LoadedFunding) -> Vec<(String, String)> {
    let funded = loaded.funded.iter().map(|e| (e.key(), serde_json::json!({"scheme": e.scheme, e.target.field(): e.target.id()}).to_string()));
    let claims = loaded.claims.iter().map(|c| (c.key(), serde_json::json!({"record_id": c.record_id, "supplier_credit_code": c.supplier.as_str()}).to_string()));
    funded.chain(claims).collect()
}

/// Runs `funding import`.
pub async fn import(args: &FundingImportArgs) -> Result<()> {
    let (funded, claims) = if args.claims { (None, Some(args.file.as_path())) } else { (Some(args.file.as_path()), None) };
    let loaded = load_funding(&mut Registry::new(), funded, claims)?;
    for r in &loaded.repeated {
        eprintln!("{}", crate::terminal::safe(r));
    }
    let bus = args.kafka.bus();
    check_reachable(&bus.brokers, Duration::from_secs(10)).await?;
    ensure_topics(&bus.brokers, &bus.topic_specs(), Duration::from_secs(30)).await.context("creating Kafka topics")?;
    let topic = if args.claims { &bus.topics.supplier_claims } else { &bus.topics.funded_elsewhere };
    let producer = idempotent_producer(&bus.brokers)?;
    let items = messages(&loaded);
    for (key, payload) in &items {
        producer
            .send(FutureRecord::to(topic).key(key.as_str()).payload(payload.as_str()), Duration::from_secs(30))
            .await
            .map_err(|(e, _)| anyhow::anyhow!("the broker did not acknowledge entry {key}: {e}"))?;
    }
    eprintln!("funding import: {} entries produced to {topic}", items.len());
    Ok(())
}
