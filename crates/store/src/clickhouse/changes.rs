//! The change log of ledger lines on ClickHouse, and the reads of it.
//!
//! A merge keeps only the winning row of a record, so the server cannot say
//! afterwards what a line replaced: each writer says it. Every line goes in
//! with the effect of the line it replaces (`prior_*`) and a stamp: the
//! writer's stream (one per store handle, [`Streams`]) and the write's place
//! in it. The view `line_changes` copies each inserted line's change, sorted
//! by stream and place, so a reader reads the changes after its mark
//! ([`after`]) without touching the lines.
//!
//! Why a mark is enough: a handle writes its lines one insert at a time, and
//! one insert is one block, visible whole. So when a reader sees a stream's
//! write n, every earlier write of the stream is visible too, and "after n"
//! misses nothing. A retried insert carries the same place, so a copy that
//! lands is either read together with the first (and dropped as a repeat) or
//! lies at or before the mark.
//!
//! A base read ([`base`]) sums the standing lines (`FINAL`) while writers go
//! on, so it sees some writes after the mark it takes. Each query groups those
//! lines apart (their stamp is past the mark), and each is put back to what
//! stood at the mark: the prior of the record's first change after the mark,
//! read from the log after both queries, which therefore holds it. The sums
//! are then exactly those at the mark, whatever the writers did meanwhile.
//!
//! On a cluster (`Distributed` tables) an insert reaches the shards one by one,
//! so a write is not visible whole: there the store keeps no log for readers
//! (`None`), and they sum the lines whole.

use super::error::map_error;
use super::rows::{ChangeIn, LineSumIn, CHANGE_COLUMNS};
use crate::codec::{date_of_days, period};
use crate::decimal::{exact_from_i128, yuan};
use crate::{ChangeMark, Changes, LedgerBase, LedgerSums, LineChange, LineEffect, StoreError, StoreResult};
use ::clickhouse::{Client, Row};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use subsidy_core::DayCount;

/// A store handle's stream of writes: its name, the next place, and the one write at a time.
#[derive(Debug)]
pub(super) struct Streams {
    name: String,
    next: AtomicU64,
    registered: AtomicBool,
    /// The last write that failed, by content: a retry of it keeps its place.
    failed: Mutex<Option<(u64, u64)>>,
    /// Held across each insert of lines, so a handle's writes land in the order of their places.
    turn: tokio::sync::Mutex<()>,
    /// Whether the ledger is on a cluster (read once).
    cluster: tokio::sync::OnceCell<bool>,
}

impl Streams {
    /// A stream of its own: 16 random hex digits.
    pub(super) fn new() -> Streams {
        Streams {
            name: format!("{:016x}", rand::random::<u64>()),
            next: AtomicU64::new(1),
            registered: AtomicBool::new(false),
            failed: Mutex::new(None),
            turn: tokio::sync::Mutex::new(()),
            cluster: tokio::sync::OnceCell::new(),
        }
    }

    /// The stream's name.
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// Waits for this handle's previous insert of lines to end.
    pub(super) async fn turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.turn.lock().await
    }

    /// The place of a write of `content` (a hash of its lines): the failed write's place
    /// when this retries it, else the next.
    pub(super) fn place(&self, content: u64) -> u64 {
        let failed = self.failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match *failed {
            Some((c, place)) if c == content => place,
            _ => self.next.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Notes how the write at `place` ended.
    pub(super) fn ended(&self, content: u64, place: u64, ok: bool) {
        *self.failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = if ok { None } else { Some((content, place)) };
    }

    /// Adds the stream to `line_change_streams` before its first line.
    pub(super) async fn register(&self, client: &Client) -> StoreResult<()> {
        if self.registered.load(Ordering::Acquire) {
            return Ok(());
        }
        client.query("INSERT INTO line_change_streams (change_stream) VALUES (?)").bind(self.name.as_str()).execute().await.map_err(map_error)?;
        self.registered.store(true, Ordering::Release);
        Ok(())
    }

    /// Whether the ledger's tables are `Distributed` (a cluster).
    async fn on_cluster(&self, client: &Client) -> StoreResult<bool> {
        self.cluster
            .get_or_try_init(|| async {
                let engines: Vec<String> = client
                    .query("SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'ledger_lines'")
                    .fetch_all()
                    .await
                    .map_err(map_error)?;
                Ok(engines.iter().any(|e| e == "Distributed"))
            })
            .await
            .copied()
    }
}

/// What identifies a write's lines, so a retry of it is known: ids, versions and fingerprints.
pub(super) fn content_of<'a>(lines: impl Iterator<Item = &'a crate::LineRow>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for l in lines {
        (&l.record_id, l.version, l.fingerprint.0).hash(&mut h);
    }
    h.finish()
}

/// A stream name as the store makes them (hex digits), or `Corrupt`: names go into SQL as literals.
fn checked_stream(name: &str) -> StoreResult<&str> {
    if !name.is_empty() && name.len() <= 32 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(name)
    } else {
        Err(StoreError::corrupt(format!("change stream {name:?} is not one the store writes")))
    }
}

/// The registered streams, sorted.
async fn streams(client: &Client) -> StoreResult<Vec<String>> {
    let names: Vec<String> = client.query("SELECT DISTINCT change_stream FROM line_change_streams ORDER BY change_stream").fetch_all().await.map_err(map_error)?;
    names.iter().map(|n| checked_stream(n).map(str::to_string)).collect()
}

/// `WHERE` for the changes after `mark` of `streams` (none: nothing).
fn after_mark(streams: &[String], mark: &ChangeMark) -> String {
    if streams.is_empty() {
        return "0".to_string();
    }
    streams.iter().map(|s| format!("(change_stream = '{s}' AND change_seq > {})", mark.of(s))).collect::<Vec<_>>().join(" OR ")
}

/// An expression true for a line stamped after `mark` (unknown streams included; lines
/// written before the log, stream '', never).
fn past_mark(mark: &ChangeMark) -> String {
    if mark.0.is_empty() {
        return "change_seq > 0".to_string();
    }
    let names: Vec<String> = mark.0.keys().map(|s| format!("'{s}'")).collect();
    let places: Vec<String> = mark.0.values().map(u64::to_string).collect();
    format!("change_seq > transform(change_stream, [{}], CAST([{}] AS Array(UInt64)), toUInt64(0))", names.join(", "), places.join(", "))
}

/// Up to `limit` changes after `since` (more when one write alone holds more), in stream and
/// place order, repeats dropped; `None` on a cluster.
pub(super) async fn after(client: &Client, streams_of: &Streams, since: &ChangeMark, limit: usize) -> StoreResult<Option<Changes>> {
    if streams_of.on_cluster(client).await? {
        return Ok(None);
    }
    for s in since.0.keys() {
        checked_stream(s)?;
    }
    let started = std::time::Instant::now();
    let names = streams(client).await?;
    let streams_seconds = started.elapsed().as_secs_f64();
    let sql = format!("SELECT {CHANGE_COLUMNS} FROM line_changes WHERE {} ORDER BY change_stream, change_seq, record_id LIMIT {}", after_mark(&names, since), limit + 1);
    let mut rows: Vec<ChangeIn> = client.query(&sql).fetch_all().await.map_err(map_error)?;
    tracing::debug!(streams = names.len(), streams_seconds, seconds = started.elapsed().as_secs_f64(), rows = rows.len(), "read the changes after a mark");
    let more = rows.len() > limit;
    if more {
        // The last write may be cut: leave it for the next read, or read it whole when it is all there is.
        let (stream, seq) = rows.last().map(|r| (r.change_stream.clone(), r.change_seq)).unwrap_or_default();
        rows.retain(|r| (r.change_stream.as_str(), r.change_seq) != (stream.as_str(), seq));
        if rows.is_empty() {
            let one = format!("SELECT {CHANGE_COLUMNS} FROM line_changes WHERE change_stream = '{stream}' AND change_seq = {seq} ORDER BY record_id");
            rows = client.query(&one).fetch_all().await.map_err(map_error)?;
        }
    }
    rows.dedup_by(|b, a| (&a.change_stream, a.change_seq, &a.record_id) == (&b.change_stream, b.change_seq, &b.record_id));
    let mut mark = since.clone();
    for r in &rows {
        let at = mark.0.entry(checked_stream(&r.change_stream)?.to_string()).or_insert(0);
        *at = (*at).max(r.change_seq);
    }
    let changes = rows.into_iter().map(ChangeIn::decode).collect::<StoreResult<Vec<LineChange>>>()?;
    Ok(Some(Changes { changes, mark, more }))
}

/// How far each stream's writes are visible now. Lines inserted without a stamp (by hand,
/// or copied with stream '') are no stream's: a base read sums them from the lines.
async fn visible_mark(client: &Client) -> StoreResult<ChangeMark> {
    let rows: Vec<(String, u64)> =
        client.query("SELECT change_stream, max(change_seq) FROM line_changes WHERE change_stream != '' GROUP BY change_stream").fetch_all().await.map_err(map_error)?;
    let mut mark = ChangeMark::default();
    for (stream, seq) in rows {
        mark.0.insert(checked_stream(&stream)?.to_string(), seq);
    }
    Ok(mark)
}

/// One group of the base read's sums: `late` is the record id of a line stamped past the mark.
#[derive(Debug, Row, Deserialize)]
struct LateSumIn {
    sum: LineSumIn,
    late: String,
}

/// One group of the base read's center-day figures.
#[derive(Debug, Row, Deserialize)]
struct LateDayIn {
    period: u32,
    center_id: String,
    usage_date: u16,
    records: u64,
    paid_amount: i128,
    late: String,
}

/// The sums of the standing lines as they stood at `at` (now, when `None`), with that mark;
/// `None` on a cluster. Every write up to `at` must be visible (a mark a read gave is).
pub(super) async fn base(client: &Client, streams_of: &Streams, at: Option<&ChangeMark>) -> StoreResult<Option<LedgerBase>> {
    if streams_of.on_cluster(client).await? {
        return Ok(None);
    }
    let mark = match at {
        Some(m) => {
            for s in m.0.keys() {
                checked_stream(s)?;
            }
            m.clone()
        }
        None => visible_mark(client).await?,
    };
    let past = past_mark(&mark);
    let mut sums = LedgerSums::default();
    let late_sums = sum_users(client, &past, &mut sums).await?;
    let late_days = sum_days(client, &past, &mut sums).await?;
    let ids: BTreeSet<&String> = late_sums.iter().chain(late_days.iter()).collect();
    let stood = stood_at(client, &mark, &ids).await?;
    for (ids, to_sums) in [(&late_sums, true), (&late_days, false)] {
        for id in ids {
            let Some(Some(effect)) = stood.get(id) else { continue };
            if to_sums {
                sums.add_to_users(effect)?;
            } else {
                sums.add_to_days(effect)?;
            }
        }
    }
    Ok(Some(LedgerBase { sums, mark }))
}

/// Adds the per-user sums of the lines stamped up to the mark; the ids of the others.
async fn sum_users(client: &Client, past: &str, sums: &mut LedgerSums) -> StoreResult<Vec<String>> {
    let sql = format!(
        "SELECT user_credit_code, period, reason, count() AS records, sum(paid_amount) AS sum_paid, sum(base) AS sum_base, \
         sum(contribution) AS sum_contribution, policy_hash, if({past}, record_id, '') AS late \
         FROM ledger_lines FINAL GROUP BY user_credit_code, period, reason, policy_hash, late"
    );
    let rows: Vec<LateSumIn> = client.query(&sql).fetch_all().await.map_err(map_error)?;
    let mut late = Vec::new();
    for row in rows {
        if row.late.is_empty() {
            sums.add_sum(&row.sum.decode()?)?;
        } else {
            late.push(row.late);
        }
    }
    Ok(late)
}

/// Adds the per-center-day figures of the lines stamped up to the mark; the ids of the others.
async fn sum_days(client: &Client, past: &str, sums: &mut LedgerSums) -> StoreResult<Vec<String>> {
    let sql = format!(
        "SELECT period, center_id, usage_date, count() AS records, sum(paid_amount) AS paid, if({past}, record_id, '') AS late \
         FROM ledger_lines FINAL GROUP BY period, center_id, usage_date, late"
    );
    let rows: Vec<LateDayIn> = client.query(&sql).fetch_all().await.map_err(map_error)?;
    let mut late = Vec::new();
    for row in rows {
        if row.late.is_empty() {
            let count = DayCount { center_id: row.center_id, day: date_of_days(row.usage_date), records: row.records, paid: yuan(exact_from_i128(row.paid_amount, 4, "paid_amount")?) };
            sums.add_day(period(row.period)?, &count)?;
        } else {
            late.push(row.late);
        }
    }
    Ok(late)
}

/// Reads of the log before a line's change is seen there: the view's part follows the line's.
const TAIL_READS: usize = 20;

/// What stood at `mark` for each of `ids`, whose lines were written after it: the prior of
/// each one's first change after the mark (`None`: no line).
async fn stood_at(client: &Client, mark: &ChangeMark, ids: &BTreeSet<&String>) -> StoreResult<HashMap<String, Option<LineEffect>>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let list: Vec<&str> = ids.iter().map(|s| s.as_str()).collect();
    let sql = format!("SELECT {CHANGE_COLUMNS} FROM line_changes WHERE record_id IN (SELECT arrayJoin(?)) AND {} ORDER BY change_stream, change_seq", past_mark(mark));
    for _ in 0..TAIL_READS {
        let rows: Vec<ChangeIn> = client.query(&sql).bind(&list).fetch_all().await.map_err(map_error)?;
        let changes = rows.into_iter().map(ChangeIn::decode).collect::<StoreResult<Vec<LineChange>>>()?;
        let firsts = first_changes(changes);
        if firsts.len() == ids.len() {
            return Ok(firsts.into_iter().map(|(id, c)| (id, c.prior)).collect());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(StoreError::unavailable("lines written after the base read's mark have no change in the log yet"))
}

/// Of each record's changes, the first: the one whose prior no other change of it put in
/// (in stream and place order when that does not decide).
fn first_changes(changes: Vec<LineChange>) -> BTreeMap<String, LineChange> {
    let mut by_id: BTreeMap<String, Vec<LineChange>> = BTreeMap::new();
    for c in changes {
        by_id.entry(c.record_id.clone()).or_default().push(c);
    }
    by_id
        .into_iter()
        .filter_map(|(id, cs)| {
            let first = cs.iter().position(|c| !cs.iter().any(|o| o.new.is_some() && o.new == c.prior && !std::ptr::eq(o, c))).unwrap_or(0);
            cs.into_iter().nth(first).map(|c| (id, c))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn marks_become_sql_only_for_the_streams_the_store_makes() {
        let mark = ChangeMark(BTreeMap::from([("0a1b".to_string(), 7)]));
        assert_eq!(after_mark(&["0a1b".into(), "ff".into()], &mark), "(change_stream = '0a1b' AND change_seq > 7) OR (change_stream = 'ff' AND change_seq > 0)");
        assert_eq!(past_mark(&mark), "change_seq > transform(change_stream, ['0a1b'], CAST([7] AS Array(UInt64)), toUInt64(0))");
        assert_eq!(past_mark(&ChangeMark::default()), "change_seq > 0");
        assert!(checked_stream("x'; DROP").is_err() && checked_stream("").is_err());
        assert_eq!(checked_stream("00ff").unwrap(), "00ff");
    }
}
