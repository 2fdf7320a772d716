//! Dead letters: the refused bytes as value, the reason in headers.

use rdkafka::message::{Header, Headers, OwnedHeaders};

/// Why a message went to the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter<'a> {
    /// Reason code (`subsidy_core::ReasonCode::as_str`).
    pub reason: &'a str,
    /// Offending field, when one is to blame.
    pub field: Option<&'a str>,
    /// Readable detail.
    pub detail: &'a str,
    /// Which stage refused it: `collector` or `aggregator`.
    pub stage: &'a str,
}

/// Headers `reason`, `field`, `detail` and `stage` for a dead letter.
pub fn dead_letter_headers(d: &DeadLetter<'_>) -> OwnedHeaders {
    let mut h = OwnedHeaders::new()
        .insert(Header { key: "reason", value: Some(d.reason) })
        .insert(Header { key: "detail", value: Some(d.detail) })
        .insert(Header { key: "stage", value: Some(d.stage) });
    if let Some(f) = d.field {
        h = h.insert(Header { key: "field", value: Some(f) });
    }
    h
}

/// The UTF-8 value of a header, if present.
pub fn header_str<'h, H: Headers>(headers: &'h H, key: &str) -> Option<&'h str> {
    headers.iter().find(|h| h.key == key).and_then(|h| h.value).and_then(|v| std::str::from_utf8(v).ok())
}
