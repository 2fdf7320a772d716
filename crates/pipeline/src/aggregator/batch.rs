//! Batches: gathering messages under row, byte and linger limits, and
//! taking a batch through the core's step. This is an adapter: it parses,
//! hands every copy with what stands for its id to [`subsidy_core::step`],
//! and turns the lines the core returns into rows. It decides nothing.

use super::consumer::Incoming;
use super::index::{Kept, StandingIndex};
use ahash::AHashMap;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use subsidy_core::{parse_record, step, Decision, Fingerprint, PolicyDocument, ReasonCode, Registry, Rejection, UsageRecord};
use subsidy_store::{BusPosition, CopyRow, LineEffect, LineRow, RejectionRow, WriteBatch};

/// When a batch is full or due.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most messages.
    pub rows: usize,
    /// Most payload bytes.
    pub bytes: usize,
    /// Longest wait for a batch to fill once it has a message.
    pub linger: Duration,
}

/// Messages gathered for the next batch.
#[derive(Debug)]
pub struct BatchBuilder {
    limits: Limits,
    messages: Vec<Incoming>,
    bytes: usize,
    first_at: Option<Instant>,
}

impl BatchBuilder {
    /// An empty batch under `limits`.
    pub fn new(limits: Limits) -> BatchBuilder {
        BatchBuilder { limits, messages: Vec::new(), bytes: 0, first_at: None }
    }

    /// Adds a message.
    pub fn push(&mut self, m: Incoming) {
        self.first_at.get_or_insert_with(Instant::now);
        self.bytes += m.payload.len();
        self.messages.push(m);
    }

    /// Whether a row or byte limit is reached.
    pub fn is_full(&self) -> bool {
        self.messages.len() >= self.limits.rows || self.bytes >= self.limits.bytes
    }

    /// Whether the batch should go now: full, or holding messages for the linger time.
    pub fn is_due(&self, now: Instant) -> bool {
        self.is_full() || self.first_at.is_some_and(|t| now.duration_since(t) >= self.limits.linger)
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Takes the messages, leaving an empty batch.
    pub fn take(&mut self) -> Vec<Incoming> {
        self.bytes = 0;
        self.first_at = None;
        std::mem::take(&mut self.messages)
    }
}

/// A message as parsed: a checked copy with its fingerprint, or why it was refused.
#[derive(Debug)]
pub struct Parsed {
    /// Where it arrived.
    pub position: BusPosition,
    /// Its bytes.
    pub payload: Vec<u8>,
    /// The copy, or the rejection.
    pub copy: Result<(UsageRecord, Fingerprint), Rejection>,
}

/// Parses every message, keeping its bytes.
pub fn parse_all(messages: Vec<Incoming>) -> Vec<Parsed> {
    messages
        .into_iter()
        .map(|m| {
            let copy = parse_record(&m.payload).map(|r| {
                let f = Fingerprint::of(&r);
                (r, f)
            });
            Parsed { position: m.position, payload: m.payload, copy }
        })
        .collect()
}

/// The record ids of a parsed batch, in order (repeats included).
pub fn record_ids(parsed: &[Parsed]) -> impl Iterator<Item = &str> {
    parsed.iter().filter_map(|p| p.copy.as_ref().ok().map(|(r, _)| r.record_id.as_str()))
}

/// What a batch produced.
#[derive(Debug, Default)]
pub struct Settled {
    /// Rows to write.
    pub write: WriteBatch,
    /// Lines refused by the parser, for the dead-letter topic.
    pub dead_letters: Vec<(Vec<u8>, Rejection)>,
    /// Copies by what the step made of them.
    pub decisions: BTreeMap<Decision, u64>,
    /// Refused lines by reason.
    pub rejected: BTreeMap<ReasonCode, u64>,
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The bytes as text, without a copy when they are UTF-8 (a parsed record always is).
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| lossy(e.as_bytes()))
}

/// Takes every copy through the step against what `standing` holds for its id (nothing
/// for a first copy; the caller has brought in from the store every other line of the
/// batch's ids), updating it as lines change, classifying with `registry` at
/// `registry_position`. Of several lines of one record in a batch only the last is written,
/// with what stood before the batch as what it replaces.
pub fn settle(parsed: Vec<Parsed>, standing: &mut StandingIndex, registry: &Registry, registry_position: u64, policy: &PolicyDocument) -> Settled {
    let mut out = Settled::default();
    out.write.copies.reserve(parsed.len());
    let mut lines: AHashMap<String, LineRow> = AHashMap::with_capacity(parsed.len());
    for p in parsed {
        let (record, fingerprint) = match p.copy {
            Ok(copy) => copy,
            Err(rej) => {
                *out.rejected.entry(rej.reason).or_default() += 1;
                out.write.rejections.push(RejectionRow { position: p.position, record_id: None, revision: None, reason: rej.reason, field: rej.field.map(str::to_string), detail: rej.detail.clone(), raw: lossy(&p.payload) });
                out.dead_letters.push((p.payload, rej));
                continue;
            }
        };
        let current = standing.get(&record.record_id);
        let prior = current.map(|k| k.effect.clone());
        let step = step(current.map(|k| &k.standing), &record, fingerprint, registry, &policy.set);
        // The copy a new line stands on: this one, unless a conflict kept the earlier representative.
        let kept_position = current.filter(|k| step.line.as_ref().is_some_and(|l| l.standing.fingerprint == k.standing.fingerprint)).map(|k| k.position);
        *out.decisions.entry(step.decision).or_default() += 1;
        out.write.copies.push(CopyRow { record_id: record.record_id.clone(), position: p.position, revision: record.revision, fingerprint, raw: text(p.payload) });
        let Some(line) = step.line else { continue };
        let position = kept_position.unwrap_or(p.position);
        let row = LineRow::new(&record.record_id, &line, policy, position, line.standing.version(registry_position));
        standing.keep(&record.record_id, Kept { standing: line.standing, position, effect: LineEffect::of(&row) });
        // What the batch's line replaces is what stood before the batch's first line of the record.
        out.write.priors.entry(record.record_id.clone()).or_insert(prior);
        lines.insert(record.record_id, row);
    }
    out.write.lines = lines.into_values().collect();
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn message(offset: i64, json: serde_json::Value) -> Incoming {
        Incoming { position: BusPosition { partition: 0, offset }, payload: json.to_string().into_bytes(), produced_ms: None }
    }

    fn record(id: &str, revision: u32, paid: &str) -> serde_json::Value {
        serde_json::json!({
            "record_id": id, "revision": revision, "user_credit_code": subsidy_core::CreditCode::complete("91340100MA0000001").unwrap().as_str(),
            "center_id": "C1", "accelerator": "Ascend-910B", "cards": 8, "card_hours": "10",
            "usage_start": "2025-09-01T08:00:00+08:00", "usage_end": "2025-09-01T16:00:00+08:00",
            "updated_at": "2025-09-02T00:00:00Z", "unit_price": "10", "amount": "100.00", "paid_amount": paid,
            "payment_status": "paid", "currency": "CNY"
        })
    }

    #[test]
    fn a_batch_keeps_every_copy_and_writes_the_last_line_of_each_record() {
        let msgs = vec![message(0, record("a", 1, "10.00")), message(1, record("a", 2, "20.00")), message(2, record("a", 2, "20.00")), message(3, serde_json::json!({"oops": 1}))];
        let parsed = parse_all(msgs);
        assert_eq!(record_ids(&parsed).collect::<Vec<_>>(), ["a", "a", "a"]);
        let mut standing = StandingIndex::default();
        let out = settle(parsed, &mut standing, &Registry::new(), 5, &PolicyDocument::builtin());
        assert_eq!(out.write.copies.len(), 3);
        assert_eq!(out.write.lines.len(), 1);
        let line = &out.write.lines[0];
        assert_eq!((line.revision, line.position.offset, line.reason), (2, 1, Some(ReasonCode::UnknownEntity)));
        assert_eq!(line.version, subsidy_core::line_version(2, false, 5));
        assert_eq!(out.decisions.get(&Decision::Duplicate), Some(&1));
        assert_eq!(out.rejected.get(&ReasonCode::MissingField), Some(&1));
        assert_eq!(out.dead_letters.len(), 1);
        assert_eq!(standing.get("a").map(|k| k.standing.revision), Some(2));
        assert_eq!(standing.split(["a"]).recent, 1);
    }

    #[test]
    fn the_builder_is_due_when_full_or_lingered() {
        let mut b = BatchBuilder::new(Limits { rows: 2, bytes: 1 << 20, linger: Duration::from_millis(50) });
        assert!(!b.is_due(Instant::now()));
        b.push(message(0, record("a", 1, "1.00")));
        assert!(!b.is_due(Instant::now()));
        assert!(b.is_due(Instant::now() + Duration::from_millis(60)));
        b.push(message(1, record("b", 1, "1.00")));
        assert!(b.is_full());
        assert_eq!(b.take().len(), 2);
        assert!(b.is_empty() && !b.is_due(Instant::now() + Duration::from_secs(1)));
    }
}
