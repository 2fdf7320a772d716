//! The rows a store keeps. Money is `Decimal` here; each store maps it to its
//! own column type (ClickHouse `Decimal(18,4)` / `Decimal(38,10)`, SQLite text).
//! A ledger line is the core's [`Line`] flattened, with the record id, the
//! bus position of the copy it stands on, and its version.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::collections::HashMap;
use crate::LineEffect;
use subsidy_core::{Assessment, ComputeCenter, CreditCode, Entity, Facts, Fingerprint, FundedEntry, Line, LineRank, PaymentStatus, Period, PolicyDocument, PolicySet, ReasonCode, Registry, Standing, SupplierClaim};

/// Where a message came from on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BusPosition {
    /// Kafka partition.
    pub partition: i32,
    /// Kafka offset.
    pub offset: i64,
}

/// A valid copy of a record as received: every one is kept, keyed by record id and
/// bus position, so a record's history can be read back and explained.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyRow {
    /// Record id.
    pub record_id: String,
    /// Where it arrived (key with the record id).
    pub position: BusPosition,
    /// Its revision.
    pub revision: u32,
    /// Its content fingerprint.
    pub fingerprint: Fingerprint,
    /// The platform's bytes, as received.
    pub raw: String,
}

/// One ledger line per record: what stands for it and what the rules make of it.
#[derive(Debug, Clone, PartialEq)]
pub struct LineRow {
    /// Record id (key).
    pub record_id: String,
    /// Standing revision.
    pub revision: u32,
    /// Fingerprint of the representing copy.
    pub fingerprint: Fingerprint,
    /// Whether copies of the revision disagree.
    pub conflict: bool,
    /// The user.
    pub user_credit_code: CreditCode,
    /// The center.
    pub center_id: String,
    /// Day of `usage_end` in China Standard Time.
    pub usage_date: NaiveDate,
    /// Payment state.
    pub payment_status: PaymentStatus,
    /// Amount paid.
    pub paid_amount: Decimal,
    /// Accelerator model of the representing copy.
    pub accelerator: String,
    /// Settlement month.
    pub period: Period,
    /// Policy version id, empty when none covers the date.
    pub policy_version: String,
    /// Rate of that version (0 when none).
    pub rate: Decimal,
    /// Uplift factor (1 when none).
    pub uplift: Decimal,
    /// Paid base (0 unless paid).
    pub base: Decimal,
    /// base × rate × uplift when eligible, exact; else 0.
    pub contribution: Decimal,
    /// `None` when eligible.
    pub reason: Option<ReasonCode>,
    /// Bus position of the representing copy; `partition` says which member owns the line.
    pub position: BusPosition,
    /// Highest stands (see [`subsidy_core::line_version`]).
    pub version: u64,
    /// Hash of the policy document the line was settled under ("" for a line written
    /// before the ledger recorded documents).
    pub policy_hash: String,
    /// The day of the user's registry entry the line was judged by (`None`: undated, or none).
    pub entity_entry: Option<NaiveDate>,
    /// The day of the center's registry entry the line was judged by.
    pub center_entry: Option<NaiveDate>,
    /// The contract the representing copy names, if any (a funded-elsewhere entry may name it).
    pub contract_id: Option<String>,
}

impl LineRow {
    /// The row of a core line settled under the policy document `policy`.
    pub fn new(record_id: &str, line: &Line, policy: &PolicyDocument, position: BusPosition, version: u64) -> LineRow {
        let (s, a) = (&line.standing, &line.assessment);
        LineRow {
            record_id: record_id.to_string(),
            revision: s.revision,
            fingerprint: s.fingerprint,
            conflict: s.conflict,
            user_credit_code: s.facts.user,
            center_id: s.facts.center_id.clone(),
            usage_date: s.facts.usage_date,
            payment_status: s.facts.payment_status,
            paid_amount: s.facts.paid_amount,
            accelerator: s.facts.accelerator.clone(),
            period: a.period,
            policy_version: a.version.and_then(|v| policy.set.version(usize::from(v))).map(|v| v.id.clone()).unwrap_or_default(),
            rate: a.rate,
            uplift: a.uplift,
            base: a.base,
            contribution: a.contribution,
            reason: a.reason,
            position,
            version,
            policy_hash: policy.hash.clone(),
            entity_entry: a.entity_entry,
            center_entry: a.center_entry,
            contract_id: s.facts.contract_id.clone(),
        }
    }

    /// What decides whether this row stands over another of its record ([`subsidy_core::line_order`]).
    pub fn rank(&self) -> LineRank {
        LineRank { version: self.version, fingerprint: self.fingerprint, position: (self.position.partition, self.position.offset) }
    }

    /// What stands for the record.
    pub fn standing(&self) -> Standing {
        Standing {
            revision: self.revision,
            fingerprint: self.fingerprint,
            conflict: self.conflict,
            facts: Facts {
                record_id: self.record_id.clone(),
                contract_id: self.contract_id.clone(),
                user: self.user_credit_code,
                center_id: self.center_id.clone(),
                usage_date: self.usage_date,
                payment_status: self.payment_status,
                paid_amount: self.paid_amount,
                accelerator: self.accelerator.clone(),
            },
        }
    }

    /// The core line back. A policy version id the policy does not know reads as none,
    /// so a re-settlement under the new policy rewrites the line.
    pub fn line(&self, policy: &PolicySet) -> Line {
        let version = policy.index_of(&self.policy_version).and_then(|i| u8::try_from(i).ok());
        Line {
            standing: self.standing(),
            assessment: Assessment {
                period: self.period,
                version,
                rate: self.rate,
                uplift: self.uplift,
                base: self.base,
                contribution: self.contribution,
                reason: self.reason,
                entity_entry: self.entity_entry,
                center_entry: self.center_entry,
            },
        }
    }
}

/// A line that could not be read as a record, keyed by bus position so a replay replaces it.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectionRow {
    /// Bus position (key).
    pub position: BusPosition,
    /// Record id when the line parsed far enough to have one.
    pub record_id: Option<String>,
    /// Revision when known.
    pub revision: Option<u32>,
    /// The reason code.
    pub reason: ReasonCode,
    /// The offending field, when one is to blame.
    pub field: Option<String>,
    /// Readable detail.
    pub detail: String,
    /// The bytes as received (lossy UTF-8).
    pub raw: String,
}

/// How far the lines of one records partition are re-settled against the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResettleMark {
    /// Records-topic partition (key).
    pub partition: i32,
    /// Registry position, summed over its partitions (highest stands).
    pub position: u64,
    /// The registry position in full, as the aggregator encodes it.
    pub registry: String,
}

/// Sums of the standing lines of one user, month and reason: the eligible ones
/// (`reason: None`) are what settles, the others what was excluded and why.
#[derive(Debug, Clone, PartialEq)]
pub struct LineSum {
    /// The user.
    pub user_credit_code: CreditCode,
    /// The month.
    pub period: Period,
    /// `None` for eligible lines.
    pub reason: Option<ReasonCode>,
    /// Lines.
    pub records: u64,
    /// Σ paid amount.
    pub paid_amount: Decimal,
    /// Σ base.
    pub base: Decimal,
    /// Σ contribution, exact.
    pub contribution: Decimal,
    /// The policy document the lines were settled under: sums are kept apart by document,
    /// so a reader sees, in the same read as the figures, whether every line stands under
    /// the document in force.
    pub policy_hash: String,
}

/// Sums of the standing lines of one month sharing user, center, accelerator, reason and
/// uplift: what a month's overview groups further (by city, kind, center, accelerator)
/// with the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthSum {
    /// The user.
    pub user_credit_code: CreditCode,
    /// The center.
    pub center_id: String,
    /// The accelerator model.
    pub accelerator: String,
    /// `None` for eligible lines.
    pub reason: Option<ReasonCode>,
    /// The uplift factor of the lines (1 when none).
    pub uplift: Decimal,
    /// Lines.
    pub records: u64,
    /// Σ paid amount.
    pub paid_amount: Decimal,
    /// Σ base.
    pub base: Decimal,
    /// Σ contribution, exact.
    pub contribution: Decimal,
}

/// A closed month.
#[derive(Debug, Clone, PartialEq)]
pub struct Closure {
    /// The month.
    pub period: Period,
    /// The close that fixed it: its statement lines carry this id.
    pub close_id: String,
    /// When it was closed (for people; nothing is ordered by it).
    pub closed_at: DateTime<Utc>,
    /// Hash of the policy document its figures were computed under ("" for a close made
    /// before the ledger recorded documents).
    pub policy_hash: String,
}

/// One policy document the ledger recorded. The one in force is the one of the highest
/// sequence: decided by the data, never by a clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRecord {
    /// 1 for the first document, each change one more.
    pub sequence: u64,
    /// SHA-256 of `text` ([`PolicyDocument::hash`]).
    pub hash: String,
    /// The canonical TOML ([`PolicyDocument::text`]).
    pub text: String,
    /// When it was recorded (for people; nothing is ordered by it).
    pub applied_at: DateTime<Utc>,
    /// Who or what recorded it, e.g. "policy apply rates-2026.toml" or "aggregate (first document)".
    pub note: String,
}

impl PolicyRecord {
    /// The record of `document` at `sequence`.
    pub fn of(document: &PolicyDocument, sequence: u64, applied_at: DateTime<Utc>, note: &str) -> PolicyRecord {
        PolicyRecord { sequence, hash: document.hash.clone(), text: document.text.clone(), applied_at, note: note.to_string() }
    }

    /// The document, checked against its hash.
    pub fn document(&self) -> Result<PolicyDocument, subsidy_core::PolicyError> {
        PolicyDocument::stored(&self.text, &self.hash)
    }
}

/// The registry as read up to one registry position, written whole: the rows of the
/// highest position stand.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegistryRows {
    /// The registry position (summed over its partitions) these rows were read at.
    pub version: u64,
    /// Every entity entry, by credit code then day.
    pub entities: Vec<Entity>,
    /// Every center entry, by id then day.
    pub centers: Vec<ComputeCenter>,
    /// The funded-elsewhere list: records first, in id then scheme order.
    pub funded: Vec<FundedEntry>,
    /// The supplier claims, in record id then supplier order.
    pub claims: Vec<SupplierClaim>,
}

impl RegistryRows {
    /// The rows of a registry read up to `version`.
    pub fn of(registry: &Registry, version: u64) -> RegistryRows {
        let entities = registry.entities_sorted().into_iter().cloned().collect();
        let centers = registry.centers_sorted().into_iter().cloned().collect();
        let funded = registry.funding().funded();
        let claims = registry.funding().claims();
        RegistryRows { version, entities, centers, funded, claims }
    }

    /// The registry as last written, from every stored row and its version: each table's
    /// rows of its highest version. A registry is written whole at each version, so an
    /// entry a tombstone removed, absent from the newer rows, is left out. (A table of
    /// entries whose every entry was removed writes no rows, and keeps showing its last
    /// ones.) A funding list emptied since writes no rows either, so a list's rows stand
    /// only when they are at least as new as the entries': an older list was emptied.
    pub fn latest(
        entities: Vec<(Entity, u64)>,
        centers: Vec<(ComputeCenter, u64)>,
        funded: Vec<(FundedEntry, u64)>,
        claims: Vec<(SupplierClaim, u64)>,
    ) -> RegistryRows {
        fn newest<T>(rows: Vec<(T, u64)>) -> (u64, Vec<T>) {
            let top = rows.iter().map(|r| r.1).max().unwrap_or(0);
            (top, rows.into_iter().filter(|r| r.1 == top).map(|r| r.0).collect())
        }
        let ((ev, entities), (cv, centers)) = (newest(entities), newest(centers));
        let entries = ev.max(cv);
        fn current<T>((v, rows): (u64, Vec<T>), entries: u64) -> Vec<T> {
            if v >= entries { rows } else { Vec::new() }
        }
        let ((fv, funded), (lv, claims)) = (newest(funded), newest(claims));
        let version = entries.max(fv).max(lv);
        RegistryRows { version, entities, centers, funded: current((fv, funded), entries), claims: current((lv, claims), entries) }
    }

    /// The registry these rows describe.
    pub fn registry(&self) -> Registry {
        let mut registry = Registry::new();
        for e in &self.entities {
            registry.upsert_entity(e.clone());
        }
        for c in &self.centers {
            registry.upsert_center(c.clone());
        }
        for f in &self.funded {
            registry.upsert_funded(f.clone());
        }
        for c in &self.claims {
            registry.upsert_claim(c.clone());
        }
        registry
    }
}

/// One processed batch, written together. Marks are written after everything else.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteBatch {
    /// Valid copies received.
    pub copies: Vec<CopyRow>,
    /// Ledger lines that changed.
    pub lines: Vec<LineRow>,
    /// Lines that could not be read as records.
    pub rejections: Vec<RejectionRow>,
    /// Partitions whose lines are now re-settled up to a registry position.
    pub marks: Vec<ResettleMark>,
    /// The registry the lines were settled against, when it is written with them.
    pub registry: Option<RegistryRows>,
    /// What each line replaces, by record id, where the writer knows it: `None` for a
    /// record's first line, else the effect of the line standing before the batch. A store
    /// that logs changes from the writer's word (ClickHouse) reads the standing line of
    /// every other line of the batch, and writes it only if it replaces that line.
    pub priors: HashMap<String, Option<LineEffect>>,
}

impl WriteBatch {
    /// Total rows in the batch.
    pub fn len(&self) -> usize {
        let registry = self.registry.as_ref().map_or(0, |r| r.entities.len() + r.centers.len());
        self.copies.len() + self.lines.len() + self.rejections.len() + self.marks.len() + registry
    }

    /// Whether the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A checkpoint of the transparency log the bureau signed (see `subsidy_core::tlog`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogCheckpointRow {
    /// The number of statement lines it holds.
    pub size: u64,
    /// Its root, base64.
    pub root: String,
    /// The signed note (C2SP tlog-checkpoint).
    pub note: String,
    /// The last closed month it holds.
    pub period: Period,
}

/// A witness's cosignature of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogCosignatureRow {
    /// The size of the checkpoint it cosigns.
    pub size: u64,
    /// The witness's key name.
    pub witness: String,
    /// The cosignature line (`— <name> <base64>`).
    pub line: String,
}
