//! Conformance cases for the change log: folding the changes after a base read
//! gives, after every write, what a full read of the standing lines gives.

use super::fixtures::*;
use subsidy_core::{CreditCode, Fingerprint, Period, ReasonCode};
use subsidy_store::{ChangeMark, LedgerSums, LedgerStore, LineRow, LineSum, WriteBatch};

/// A small deterministic generator (xorshift64*), so a failing history can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, of: &'a [T]) -> &'a T {
        &of[self.below(of.len() as u64) as usize]
    }
}

const MONTHS: [&str; 3] = ["2025-08", "2025-09", "2025-10"];
const REASONS: [Option<ReasonCode>; 4] = [None, None, Some(ReasonCode::Refunded), Some(ReasonCode::RevisionConflict)];
const POLICIES: [&str; 2] = ["d0c", "e1f"];
const CENTERS: [&str; 2] = ["hefei-01", "wuhu-02"];

/// A random line of one of a few records: revisions, fingerprints (same-revision
/// conflicts), users, months, reasons, centers, days and policy documents all vary, so a
/// later line may replace an earlier one with a different effect under every key.
fn random_line(rng: &mut Rng, offset: &mut i64) -> LineRow {
    let id = format!("r{:02}", rng.below(24));
    let revision = 1 + rng.below(3) as u32;
    let user = code(1 + rng.below(4) as u32);
    let base = format!("{}.{:02}", 1 + rng.below(500), rng.below(100));
    let contribution = (d(&base) * d("0.36")).to_string();
    *offset += 1;
    let m = *rng.pick(&MONTHS);
    let mut l = line(&id, revision, user, m, pos(rng.below(2) as i32, *offset), &base, &contribution);
    if let Some(reason) = rng.pick(&REASONS) {
        l = excluded(l, *reason);
    }
    l.fingerprint = Fingerprint(u128::from(rng.below(3)) + 1);
    l.version += rng.below(3);
    l.policy_hash = rng.pick(&POLICIES).to_string();
    l.center_id = rng.pick(&CENTERS).to_string();
    let p = l.period;
    l.usage_date = chrono::NaiveDate::from_ymd_opt(p.year(), p.month(), 1 + rng.below(28) as u32).unwrap();
    l
}

/// Sums in one order whatever order a store returns them in, at the scale it returns.
fn sorted(mut sums: Vec<LineSum>) -> Vec<String> {
    sums.sort_by(|a, b| (a.user_credit_code, a.period, a.reason.map(|r| r.as_str()), &a.policy_hash).cmp(&(b.user_credit_code, b.period, b.reason.map(|r| r.as_str()), &b.policy_hash)));
    sums.iter().map(|s| format!("{s:?}")).collect()
}

/// Folds every change after `mark` into `sums`, a few at a time; the mark reached.
async fn fold(store: &dyn LedgerStore, sums: &mut LedgerSums, mut mark: ChangeMark) -> ChangeMark {
    let whole = subsidy_store::fold_changes(store, sums, &mut mark, 7, &mut |_| {}).await.unwrap();
    assert!(whole, "the log holds every change after a mark it gave");
    mark
}

/// The fold equals a full read: the sums, the months and every month's center-day figures.
async fn assert_equal(store: &dyn LedgerStore, sums: &LedgerSums, step: usize) {
    assert_eq!(sorted(sums.line_sums()), sorted(store.line_sums().await.unwrap()), "sums after step {step}");
    let months: Vec<Period> = sums.months().into_iter().collect();
    assert_eq!(months, store.months_with_lines().await.unwrap(), "months after step {step}");
    for m in MONTHS {
        assert_eq!(sums.day_counts(month(m)), store.ledger_counts(month(m)).await.unwrap(), "center-days of {m} after step {step}");
    }
    assert!(!sums.is_negative(), "no key below zero after step {step}");
}

pub async fn changes_fold_to_what_a_full_read_gives(store: &dyn LedgerStore) {
    ready(store).await;
    // A store that keeps no change log has nothing to fold.
    let Some(base) = store.ledger_base().await.unwrap() else { return };
    assert!(base.sums.line_sums().is_empty());
    let (mut sums, mut mark) = (base.sums, base.mark);
    let mut rng = Rng(0x5eed_0022);
    let mut offset = 0;
    let mut written: Vec<WriteBatch> = Vec::new();
    for step in 0..60 {
        let batch = match rng.below(5) {
            // A replay of an earlier batch: replaces nothing that a later line replaced.
            0 if !written.is_empty() => rng.pick(&written).clone(),
            _ => batch_of((0..1 + rng.below(6)).map(|_| random_line(&mut rng, &mut offset)).collect()),
        };
        store.write_batch(&batch).await.unwrap();
        written.push(batch);
        mark = fold(store, &mut sums, mark).await;
        assert_equal(store, &sums, step).await;
        if step % 20 == 19 {
            let again = store.ledger_base().await.unwrap().unwrap();
            assert_eq!(again.sums, sums, "a base read equals the fold after step {step}");
            assert_eq!(again.mark, mark, "a base read includes the changes folded");
        }
    }
}

pub async fn a_replayed_batch_moves_no_sum(store: &dyn LedgerStore) {
    ready(store).await;
    let Some(base) = store.ledger_base().await.unwrap() else { return };
    let u: CreditCode = code(1);
    let batch = batch_of(vec![line("a", 1, u, "2025-09", pos(0, 1), "100.00", "36"), excluded(line("b", 1, u, "2025-09", pos(0, 2), "10.00", "0"), ReasonCode::Refunded)]);
    store.write_batch(&batch).await.unwrap();
    let (mut sums, mark) = (base.sums, base.mark);
    let mark = fold(store, &mut sums, mark).await;
    let before = sums.clone();
    store.write_batch(&batch).await.unwrap();
    let changes = store.line_changes(&mark, 100).await.unwrap().unwrap();
    for c in &changes.changes {
        sums.apply(c).unwrap();
    }
    assert_eq!(sums, before, "a replay folds to nothing");
    assert!(changes.changes.iter().all(|c| c.users().count() == 0), "a replay moves no user: {changes:?}");
}

/// One writer's history: random lines of its own records (as a member owns its partitions'),
/// each written only when it replaces what stands, with what it replaces when `priors`.
async fn write_history(store: std::sync::Arc<dyn LedgerStore>, writer: u64, priors: bool) {
    let mut rng = Rng(0x5eed_0100 + writer);
    let mut offset = 0;
    let mut standing: std::collections::HashMap<String, LineRow> = std::collections::HashMap::new();
    for _ in 0..25 {
        let mut batch = WriteBatch::default();
        let mut lines: std::collections::BTreeMap<String, LineRow> = std::collections::BTreeMap::new();
        for _ in 0..1 + rng.below(6) {
            let mut l = random_line(&mut rng, &mut offset);
            l.record_id = format!("w{writer}-{}", l.record_id);
            let beats = |old: Option<&LineRow>| old.is_none_or(|o| subsidy_core::replaces(&l.rank(), &o.rank()));
            if beats(lines.get(&l.record_id).or(standing.get(&l.record_id))) {
                lines.insert(l.record_id.clone(), l);
            }
        }
        for (id, l) in lines {
            if priors {
                batch.priors.insert(id.clone(), standing.get(&id).map(subsidy_store::LineEffect::of));
            }
            batch.copies.push(copy_for(&l));
            batch.lines.push(l.clone());
            standing.insert(id, l);
        }
        store.write_batch(&batch).await.unwrap();
    }
}

/// Several writers at once (separate handles, as separate processes; some giving what each
/// line replaces, some not) while a reader folds: at every point the fold equals a base
/// read at its mark, taken while the writers go on (so it puts back what they wrote after
/// the mark), and once the writers stop, a full read.
pub async fn writers_at_once_fold_to_a_full_read(handles: Vec<std::sync::Arc<dyn LedgerStore>>) {
    let reader = std::sync::Arc::clone(&handles[0]);
    ready(reader.as_ref()).await;
    let Some(base) = reader.ledger_base().await.unwrap() else { return };
    let writers: Vec<_> = handles.into_iter().enumerate().map(|(w, h)| tokio::spawn(write_history(h, w as u64, w % 2 == 1))).collect();
    let (mut sums, mut mark) = (base.sums, base.mark);
    let mut checked = 0;
    while writers.iter().any(|w| !w.is_finished()) {
        mark = fold(reader.as_ref(), &mut sums, mark).await;
        if let Some(at) = reader.ledger_base_at(&mark).await.unwrap() {
            assert_eq!(at.sums.differing_keys(&sums), 0, "a base read at the fold's mark equals the fold");
            checked += 1;
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    mark = fold(reader.as_ref(), &mut sums, mark).await;
    assert_equal(reader.as_ref(), &sums, 999).await;
    let last = reader.ledger_base().await.unwrap().unwrap();
    assert_eq!((last.sums, last.mark), (sums, mark), "the last base read is the fold");
    assert!(checked > 0, "the fold was checked against a base read while the writers wrote");
}
