//! ClickHouse programme steps. The table has no transactions to fence two
//! writers with: a writer records a step only once its claim on the sequence
//! stands in the log of closes (see [`crate::programme`]), so a sequence is
//! only ever written with one step. A row already there for the sequence with
//! another body is refused all the same, as a second line of defence.

use super::error::map_error;
use super::rows::{datetime_secs, EventRow};
use super::write::insert_rows;
use crate::codec::{decode_event, encode_event};
use crate::{StoreError, StoreResult};
use ::clickhouse::Client;
use subsidy_core::programme::Event;

/// Every step, by sequence.
pub(super) async fn programme_events(client: &Client) -> StoreResult<Vec<Event>> {
    let rows: Vec<EventRow> = client.query("SELECT sequence, kind, label, at, body FROM programme_events FINAL ORDER BY sequence").fetch_all().await.map_err(map_error)?;
    rows.into_iter().map(|r| decode_event(r.sequence, &r.body)).collect()
}

/// Writes the row of `event`, unless its sequence holds another step already.
pub(super) async fn record_event(client: &Client, event: &Event) -> StoreResult<()> {
    let body = encode_event(event)?;
    let held: Vec<String> = client.query("SELECT body FROM programme_events FINAL WHERE sequence = ?").bind(event.sequence).fetch_all().await.map_err(map_error)?;
    match held.first() {
        Some(h) if *h == body => return Ok(()),
        Some(_) => return Err(StoreError::Conflict(format!("programme step {} is recorded already, as another step", event.sequence))),
        None => {}
    }
    let row = EventRow { sequence: event.sequence, kind: event.action.kind().to_string(), label: event.label.clone(), at: datetime_secs(&event.at), body };
    insert_rows::<EventRow>(client, "programme_events", &[row]).await?;
    tracing::info!(sequence = event.sequence, kind = event.action.kind(), label = %event.label, "recorded programme step");
    Ok(())
}
