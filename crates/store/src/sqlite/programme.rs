//! SQLite programme steps: each recorded in one `BEGIN IMMEDIATE` transaction
//! (one writer at a time across processes) that checks it is the next step,
//! so of two steps numbered alike one is recorded and the other refused. The
//! primary key on `sequence` refuses a second row even if the check were skipped.

use super::codec::{closure_time, i64_of, map_error, u64_of};
use super::read::collect;
use crate::codec::{decode_event, encode_event};
use crate::{StoreError, StoreResult};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use subsidy_core::programme::Event;

/// Every step, by sequence.
pub(super) fn programme_events(conn: &mut Connection) -> StoreResult<Vec<Event>> {
    collect(conn, "SELECT sequence, body FROM programme_events ORDER BY sequence", &[], |row| {
        let sequence = u64_of(row.get(0).map_err(map_error)?, "sequence")?;
        decode_event(sequence, &row.get::<_, String>(1).map_err(map_error)?)
    })
}

/// Records `event` if it is the next step; the same event again is accepted; anything else
/// is a `Conflict` naming the step recorded last.
pub(super) fn record_event(conn: &mut Connection, event: &Event) -> StoreResult<()> {
    let body = encode_event(event)?;
    let sequence = i64_of(event.sequence, "programme sequence")?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_error)?;
    let held: Option<String> = tx.query_row("SELECT body FROM programme_events WHERE sequence = ?1", [sequence], |r| r.get(0)).optional().map_err(map_error)?;
    if let Some(held) = held {
        return if held == body { Ok(()) } else { Err(StoreError::Conflict(format!("programme step {sequence} is recorded already, as another step"))) };
    }
    let top: i64 = tx.query_row("SELECT coalesce(max(sequence), 0) FROM programme_events", [], |r| r.get(0)).map_err(map_error)?;
    if top + 1 != sequence {
        return Err(StoreError::Conflict(format!("the programme's last step is {top}, so the next is {}, not {sequence}", top + 1)));
    }
    tx.execute(
        "INSERT INTO programme_events (sequence, kind, label, at, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![sequence, event.action.kind(), event.label, closure_time(event.at), body],
    )
    .map_err(map_error)?;
    tx.commit().map_err(map_error)?;
    tracing::info!(sequence, kind = event.action.kind(), label = %event.label, "recorded programme step");
    Ok(())
}
