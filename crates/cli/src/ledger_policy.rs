//! The policy a command computes under: the document the ledger holds in force.
//!
//! A ledger records its policy documents (`policy_documents`); the one of the
//! highest sequence is in force. Commands that read or write figures use it:
//! a `--policy` (or `SUBSIDY_POLICY`) naming another document is refused, and
//! none given means the ledger's, never the built-in one. On a ledger with no
//! document yet, the first `aggregate` (or `policy apply`) records the one it is
//! given (or the built-in one). Changing it is `policy apply` only.
//! Recording is fenced: by the store's transaction on SQLite, by the log of
//! closes on ClickHouse, so of two changes started at once one stands.

use crate::config::load_policy;
use anyhow::{anyhow, bail, Result};
use std::path::Path;
use std::time::Duration;
use subsidy_bus::{standing_policy_claim, PolicyClaim, PolicyLog};
use subsidy_core::document::short;
use subsidy_core::PolicyDocument;
use subsidy_store::{CloseFence, LedgerStore, PolicyRecord};

/// Longest wait for the log of closes to answer or be read to its end.
const LOG_TIMEOUT: Duration = Duration::from_secs(60);

/// The document in force in a ledger.
#[derive(Debug, Clone)]
pub struct InForce {
    /// The document.
    pub document: PolicyDocument,
    /// Its sequence (1 for the first).
    pub sequence: u64,
}

/// Where a ClickHouse ledger's policy changes are fenced: the log of closes.
#[derive(Debug, Clone)]
pub struct Fence {
    /// Bootstrap servers.
    pub brokers: String,
    /// The log's topic.
    pub topic: String,
    /// The ledger's name in the log (the ClickHouse database).
    pub ledger: String,
}

/// The ledger's document in force, if it recorded one (checked against its hash).
pub async fn in_force(store: &dyn LedgerStore) -> Result<Option<InForce>> {
    let documents = store.policy_documents().await.map_err(|e| anyhow!("cannot read the ledger's policy documents: {e}"))?;
    let Some(top) = documents.last() else { return Ok(None) };
    let document = top.document().map_err(|e| anyhow!("the ledger's policy document {} cannot be used: {e}", top.sequence))?;
    Ok(Some(InForce { document, sequence: top.sequence }))
}

/// The document a `--policy` file (or the built-in policy) makes.
pub fn given(path: Option<&Path>) -> Result<PolicyDocument> {
    PolicyDocument::of(&load_policy(path)?).map_err(|e| anyhow!("the policy cannot be rendered: {e}"))
}

/// Refuses a `--policy` that is not the document in force.
fn refuse_other(path: Option<&Path>, in_force: &InForce) -> Result<()> {
    let Some(p) = path else { return Ok(()) };
    let asked = given(Some(p))?;
    if asked.hash != in_force.document.hash {
        bail!(
            "the policy file {} (document {}) is not the policy this ledger is settled under (document {}, sequence {}); \
             drop --policy / SUBSIDY_POLICY to use the ledger's, or change the ledger's policy with `subsidy-meter policy apply {}`",
            p.display(),
            asked.short(),
            in_force.document.short(),
            in_force.sequence,
            p.display()
        );
    }
    Ok(())
}

/// The document a reading command computes under: the ledger's (a `--policy` naming another
/// is refused); with none recorded, the given one or the built-in one, recording nothing.
pub async fn for_reading(store: &dyn LedgerStore, path: Option<&Path>) -> Result<(PolicyDocument, Option<u64>)> {
    match in_force(store).await? {
        Some(f) => {
            refuse_other(path, &f)?;
            Ok((f.document, Some(f.sequence)))
        }
        None => Ok((given(path)?, None)),
    }
}

/// The document `aggregate` settles under: the ledger's (a `--policy` naming another is
/// refused); on a ledger that recorded none, the given (or built-in) one, recorded as its first.
pub async fn for_writing(store: &dyn LedgerStore, path: Option<&Path>, fence: Option<&Fence>, note: &str) -> Result<InForce> {
    if let Some(f) = in_force(store).await? {
        refuse_other(path, &f)?;
        return Ok(f);
    }
    let document = given(path)?;
    record(store, &document, 1, fence, note).await?;
    match in_force(store).await? {
        Some(f) if f.document.hash == document.hash => Ok(f),
        Some(f) => bail!("another policy document ({}) was recorded first in this ledger; use it, or `policy apply` to change it", f.document.short()),
        None => bail!("the policy document was recorded but the ledger does not show it yet; run again"),
    }
}

/// Records `document` as the ledger's document `sequence`, through the store's fence.
/// Refused (naming the winner) when another change took that sequence first.
pub async fn record(store: &dyn LedgerStore, document: &PolicyDocument, sequence: u64, fence: Option<&Fence>, note: &str) -> Result<()> {
    let record = PolicyRecord::of(document, sequence, chrono::Utc::now(), note);
    match store.close_fence() {
        CloseFence::Transaction => store.record_policy(&record).await.map_err(|e| anyhow!("cannot record policy document {}: {e}", document.short())),
        CloseFence::Log => {
            let fence = fence.ok_or_else(|| anyhow!("recording a policy document in a ClickHouse ledger needs the log of closes (--kafka-brokers, --topic-closes)"))?;
            record_through_log(store, &record, fence).await
        }
    }
}

/// Another document's claim stands for `record`'s sequence: what to tell the operator.
fn claimed_first(record: &PolicyRecord, offset: i64, winner: &PolicyClaim, topic: &str, then: &str) -> anyhow::Error {
    anyhow!(
        "policy document {} of this ledger was claimed first by document {} (offset {offset} of {topic}; {}); {then}",
        record.sequence,
        short(&winner.hash),
        winner.note
    )
}

/// ClickHouse: claim the sequence in the log, and write the row only if the claim stands.
async fn record_through_log(store: &dyn LedgerStore, record: &PolicyRecord, fence: &Fence) -> Result<()> {
    let log = PolicyLog::open(&fence.brokers, &fence.topic, LOG_TIMEOUT).await.map_err(|e| anyhow!("cannot open the log of closes: {e}"))?;
    let claims = log.claims(&fence.ledger, None, LOG_TIMEOUT).await.map_err(|e| anyhow!("cannot read the log of closes: {e}"))?;
    let own = match standing_policy_claim(&claims, record.sequence) {
        // A claim of this sequence stands already: complete it if it is this document.
        Some((offset, c)) if c.hash == record.hash => *offset,
        Some((offset, c)) => return Err(claimed_first(record, *offset, c, log.topic(), "apply it to complete it, or apply yours on top")),
        None => {
            let claim = PolicyClaim {
                ledger: fence.ledger.clone(),
                sequence: record.sequence,
                hash: record.hash.clone(),
                text: record.text.clone(),
                note: record.note.clone(),
                claimed_at: record.applied_at.to_rfc3339(),
            };
            let own = log.append(&claim).await.map_err(|e| anyhow!("cannot append to the log of closes: {e}"))?;
            let claims = log.claims(&fence.ledger, Some(own), LOG_TIMEOUT).await.map_err(|e| anyhow!("cannot read the log of closes: {e}"))?;
            match standing_policy_claim(&claims, record.sequence) {
                Some((offset, c)) if *offset == own || c.hash == record.hash => own,
                Some((offset, c)) => return Err(claimed_first(record, *offset, c, log.topic(), "this change is not recorded")),
                None => bail!("the log of closes does not show this claim (offset {own}); run again"),
            }
        }
    };
    tracing::debug!(offset = own, sequence = record.sequence, "policy claim stands");
    store.record_policy(record).await.map_err(|e| anyhow!("cannot record policy document {}: {e}", short(&record.hash)))
}
