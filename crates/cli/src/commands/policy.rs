//! `policy apply` and `policy show`: the ledger's policy document.
//!
//! `apply` records a policy file as the ledger's next document (fenced, see
//! [`crate::ledger_policy`]), then re-settles every line not settled under it
//! against the registry the ledger holds ([`subsidy_pipeline::policy_change`]).
//! Open months read the new figures at once; closed months keep their frozen
//! figures, and the next close books the differences as adjustments. Applying
//! the document already in force records nothing and re-settles whatever line
//! is still under another (an interrupted apply, or lines an aggregator wrote
//! under the old document just before it saw the change).

use crate::cli::{PolicyApplyArgs, PolicyShowArgs, StoreArgs};
use crate::ledger_policy::{in_force, record, Fence};
use anyhow::{anyhow, Context, Result};
use subsidy_core::PolicyDocument;
use subsidy_pipeline::policy_change::resettle_under;

/// The fence of policy changes for the store the flags name (the log, for ClickHouse).
pub fn fence(store: &StoreArgs, brokers: &str, topic: &str) -> Option<Fence> {
    store.sqlite.is_none().then(|| Fence { brokers: brokers.to_string(), topic: topic.to_string(), ledger: store.clickhouse_database.clone() })
}

/// Records a policy file as the document in force and re-settles the ledger under it.
pub async fn apply(args: &PolicyApplyArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("cannot read policy file {}", args.file.display()))?;
    let document = PolicyDocument::from_toml(&text).with_context(|| format!("policy file {} is not usable", args.file.display()))?;
    let store = crate::store::open(&args.store).await?;
    store.migrate().await.map_err(|e| anyhow!("migration failed: {e}"))?;
    let fence = fence(&args.store, &args.log.kafka_brokers, &args.log.topic_closes);
    let note = format!("policy apply {}", args.file.display());
    let sequence = match in_force(store.as_ref()).await? {
        Some(f) if f.document.hash == document.hash => {
            eprintln!("policy: document {} is already in force (sequence {}); re-settling any line still under another", document.short(), f.sequence);
            f.sequence
        }
        current => {
            let sequence = current.as_ref().map_or(1, |f| f.sequence + 1);
            record(store.as_ref(), &document, sequence, fence.as_ref(), &note).await?;
            let was = current.map_or_else(|| "none".to_string(), |f| format!("{} (sequence {})", f.document.short(), f.sequence));
            eprintln!("policy: document {} recorded as sequence {sequence}, replacing {was}", document.short());
            sequence
        }
    };
    let rows = store.registry().await.map_err(|e| anyhow!("cannot read the ledger's registry: {e}"))?;
    let done = resettle_under(store.as_ref(), &document, &rows.registry(), rows.version, None).await.map_err(|e| anyhow!("cannot re-settle the ledger: {e}"))?;
    eprintln!(
        "policy: {} lines re-settled under document {}, {} of them with changed figures; closed months keep their figures and the next close books the changes as adjustments",
        done.rewritten,
        document.short(),
        done.changed
    );
    if done.behind > 0 {
        eprintln!(
            "policy: {} lines were classified with registry entries newer than the registry this ledger holds; the aggregator re-settles them under document {} \
             (run `policy apply` again once it has written its registry); `close` refuses until every line stands under it",
            done.behind,
            document.short()
        );
    }
    if let Some(now) = in_force(store.as_ref()).await?.filter(|f| f.document.hash != document.hash) {
        eprintln!("policy: document {} (sequence {}) was recorded while this one re-settled; it is the one in force", now.document.short(), now.sequence);
    }
    println!("{sequence} {}", document.hash);
    Ok(())
}

/// Prints the document in force (or the history of documents).
pub async fn show(args: &PolicyShowArgs) -> Result<()> {
    let store = crate::store::open(&args.store).await?;
    let documents = store.policy_documents().await.map_err(|e| anyhow!("cannot read the ledger's policy documents: {e}"))?;
    if args.history {
        for d in &documents {
            println!("{}\t{}\t{}\t{}", d.sequence, d.hash, d.applied_at.to_rfc3339(), crate::terminal::safe(&d.note));
        }
        return Ok(());
    }
    let Some(top) = documents.last() else {
        eprintln!("policy: this ledger records no policy document yet (the first `aggregate` or `policy apply` records one)");
        return Ok(());
    };
    top.document().map_err(|e| anyhow!("the ledger's policy document {} cannot be used: {e}", top.sequence))?;
    println!("# policy document {} (sequence {}), applied {} by {}", top.hash, top.sequence, top.applied_at.to_rfc3339(), crate::terminal::safe(&top.note));
    for line in top.text.lines() {
        println!("{}", crate::terminal::safe(line));
    }
    Ok(())
}
