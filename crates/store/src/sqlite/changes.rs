//! SQLite: the ledger lines' change log (written by the triggers of migration
//! 0013, in the transaction of each write), read after a mark, pruned, and the
//! consistent base read a reader starts from.

use super::codec::{decimal, i64_of, map_error, u32_of, u64_of};
use crate::codec::{credit_code, line_reason, period};
use crate::{ChangeMark, Changes, LedgerBase, LedgerSums, LineChange, LineEffect, StoreError, StoreResult};
use chrono::NaiveDate;
use rusqlite::{Connection, Row, Transaction};

/// Changes kept in the log: a reader more than this far behind reads the sums whole.
pub(super) const RETAIN: u64 = 500_000;

/// The columns of one effect, in the order [`effect`] reads them.
const EFFECT: [&str; 9] = ["user_credit_code", "period", "reason", "policy_hash", "center_id", "usage_date", "paid_amount", "base", "contribution"];

fn day(text: &str) -> StoreResult<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| StoreError::corrupt(format!("usage_date {text:?} in store: {e}")))
}

/// The effect in the nine columns from `at`; `None` when they are NULL (no line).
fn effect(row: &Row<'_>, at: usize) -> StoreResult<Option<LineEffect>> {
    let get = |i: usize| row.get::<_, Option<String>>(at + i).map_err(map_error);
    let Some(user) = get(0)? else { return Ok(None) };
    let yyyymm: i64 = row.get(at + 1).map_err(map_error)?;
    let text = |i: usize| get(i).map(Option::unwrap_or_default);
    Ok(Some(LineEffect {
        user_credit_code: credit_code(&user)?,
        period: period(u32_of(yyyymm, "period")?)?,
        reason: line_reason(&text(2)?)?,
        policy_hash: text(3)?,
        center_id: text(4)?,
        usage_date: day(&text(5)?)?,
        paid_amount: decimal(&text(6)?, "paid_amount")?,
        base: decimal(&text(7)?, "base")?,
        contribution: decimal(&text(8)?, "contribution")?,
    }))
}

/// The highest seq given (0 before the first change). The newest changes are never
/// pruned ([`prune`] keeps at least one), so this is the last seq ever given.
fn last_seq(conn: &Connection) -> StoreResult<u64> {
    let seq: Option<i64> = conn.query_row("SELECT max(seq) FROM line_changes", [], |r| r.get(0)).map_err(map_error)?;
    match seq {
        Some(seq) => u64_of(seq, "seq"),
        None => pruned_upto(conn),
    }
}

fn pruned_upto(conn: &Connection) -> StoreResult<u64> {
    let upto: i64 = conn.query_row("SELECT upto FROM line_changes_pruned WHERE id = 1", [], |r| r.get(0)).map_err(map_error)?;
    u64_of(upto, "upto")
}

/// Every standing line folded, with the seq of the last change the read includes: one
/// read transaction, so the two agree.
pub(super) fn base(conn: &mut Connection) -> StoreResult<LedgerBase> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Deferred).map_err(map_error)?;
    let mut sums = LedgerSums::default();
    {
        let mut st = tx.prepare_cached(&format!("SELECT {} FROM ledger_lines", EFFECT.join(", "))).map_err(map_error)?;
        let mut rows = st.query([]).map_err(map_error)?;
        while let Some(row) = rows.next().map_err(map_error)? {
            if let Some(e) = effect(row, 0)? {
                sums.add(&e)?;
            }
        }
    }
    let mark = ChangeMark::single(last_seq(&tx)?);
    tx.commit().map_err(map_error)?;
    Ok(LedgerBase { sums, mark })
}

/// Up to `limit` changes after `since`, in seq order; `None` when some were pruned or the
/// mark is past every seq given (another database).
pub(super) fn after(conn: &mut Connection, since: &ChangeMark, limit: usize) -> StoreResult<Option<Changes>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Deferred).map_err(map_error)?;
    let from = since.of("");
    if from < pruned_upto(&tx)? || from > last_seq(&tx)? || since.0.keys().any(|k| !k.is_empty()) {
        return Ok(None);
    }
    let old: Vec<String> = EFFECT.iter().map(|c| format!("old_{c}")).collect();
    let new: Vec<String> = EFFECT.iter().map(|c| format!("new_{c}")).collect();
    let sql = format!("SELECT seq, record_id, {}, {} FROM line_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2", old.join(", "), new.join(", "));
    let mut changes = Vec::new();
    let mut last = from;
    {
        let mut st = tx.prepare_cached(&sql).map_err(map_error)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = st.query(rusqlite::params![i64_of(from, "mark")?, limit]).map_err(map_error)?;
        while let Some(row) = rows.next().map_err(map_error)? {
            last = u64_of(row.get(0).map_err(map_error)?, "seq")?;
            let record_id: String = row.get(1).map_err(map_error)?;
            changes.push(LineChange { record_id, prior: effect(row, 2)?, new: effect(row, 2 + EFFECT.len())? });
        }
    }
    tx.commit().map_err(map_error)?;
    let more = changes.len() >= limit.max(1);
    Ok(Some(Changes { changes, mark: ChangeMark::single(last), more }))
}

/// Drops the changes older than the last `retain`, noting up to where, in the writer's
/// transaction.
pub(super) fn prune(tx: &Transaction<'_>, retain: u64) -> StoreResult<()> {
    let cut = last_seq(tx)?.saturating_sub(retain.max(1));
    if cut <= pruned_upto(tx)? {
        return Ok(());
    }
    let cut = i64_of(cut, "seq")?;
    tx.execute("DELETE FROM line_changes WHERE seq <= ?1", [cut]).map_err(map_error)?;
    tx.execute("UPDATE line_changes_pruned SET upto = ?1 WHERE id = 1", [cut]).map_err(map_error)?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{BusPosition, LineRow, WriteBatch};
    use rust_decimal::Decimal;
    use subsidy_core::{CreditCode, Fingerprint, PaymentStatus, Period, ReasonCode};

    fn line(id: &str, version: u64, fingerprint: u128, reason: Option<ReasonCode>) -> LineRow {
        LineRow {
            record_id: id.to_string(),
            revision: 1,
            fingerprint: Fingerprint(fingerprint),
            conflict: false,
            user_credit_code: CreditCode::complete("91340100000000001").unwrap(),
            center_id: "hefei-01".to_string(),
            usage_date: NaiveDate::from_ymd_opt(2025, 9, 3).unwrap(),
            payment_status: PaymentStatus::Paid,
            paid_amount: Decimal::new(1000, 2),
            accelerator: String::new(),
            period: Period::parse("2025-09").unwrap(),
            policy_version: String::new(),
            rate: Decimal::ONE,
            uplift: Decimal::ONE,
            base: Decimal::new(1000, 2),
            contribution: if reason.is_none() { Decimal::new(1000, 2) } else { Decimal::ZERO },
            reason,
            position: BusPosition { partition: 0, offset: 1 },
            version,
            policy_hash: String::new(),
            entity_entry: None,
            center_entry: None,
            contract_id: None,
        }
    }

    fn write(conn: &mut Connection, lines: Vec<LineRow>) {
        super::super::write::write_batch(conn, &WriteBatch { lines, ..WriteBatch::default() }).unwrap();
    }

    fn all(conn: &mut Connection, since: u64) -> Vec<LineChange> {
        after(conn, &ChangeMark::single(since), 100).unwrap().unwrap().changes
    }

    /// Pins SQLite's upsert trigger semantics the log relies on: an insert fires the
    /// INSERT trigger only, an update the UPDATE trigger only, a refused upsert neither.
    #[test]
    fn the_log_follows_the_upsert() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let first = line("a", 1, 5, None);
        write(&mut conn, vec![first.clone()]);
        let log = all(&mut conn, 0);
        assert_eq!(log, vec![LineChange { record_id: "a".into(), prior: None, new: Some(LineEffect::of(&first)) }]);
        write(&mut conn, vec![first.clone()]);
        assert!(all(&mut conn, 1).is_empty(), "a replay updates the row to itself: not logged");
        write(&mut conn, vec![line("a", 0, 1, Some(ReasonCode::Refunded))]);
        assert!(all(&mut conn, 1).is_empty(), "a lower version is refused by the guard: nothing fires");
        let second = line("a", 2, 9, Some(ReasonCode::Refunded));
        write(&mut conn, vec![second.clone()]);
        let log = all(&mut conn, 1);
        assert_eq!(log, vec![LineChange { record_id: "a".into(), prior: Some(LineEffect::of(&first)), new: Some(LineEffect::of(&second)) }]);
        conn.execute("DELETE FROM ledger_lines WHERE record_id = 'a'", []).unwrap();
        assert_eq!(all(&mut conn, 2), vec![LineChange { record_id: "a".into(), prior: Some(LineEffect::of(&second)), new: None }]);
    }

    #[test]
    fn a_mark_before_the_pruned_changes_reads_none() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        write(&mut conn, (0..5).map(|i| line(&format!("r{i}"), 1, 1, None)).collect());
        let tx = conn.transaction().unwrap();
        prune(&tx, 2).unwrap();
        tx.commit().unwrap();
        assert!(after(&mut conn, &ChangeMark::single(2), 10).unwrap().is_none(), "changes 3 was pruned");
        let kept = after(&mut conn, &ChangeMark::single(3), 10).unwrap().unwrap();
        assert_eq!(kept.changes.len(), 2);
        assert_eq!(kept.mark, ChangeMark::single(5));
        assert!(after(&mut conn, &ChangeMark::single(9), 10).unwrap().is_none(), "a mark past every seq is another database's");
        assert_eq!(base(&mut conn).unwrap().mark, ChangeMark::single(5));
    }
}
