//! Dead letters: the refused bytes as value, the reason in headers, both
//! bounded so that a dead letter always fits the producer's message size.

use rdkafka::message::{Header, Headers, OwnedHeaders};

/// Most bytes of a refused item a dead letter keeps: the first 64 KiB, as much as
/// the longest line accepted (`subsidy_core::record::MAX_LINE_BYTES`).
pub const MAX_DEAD_LETTER_VALUE_BYTES: usize = 64 * 1024;

/// Most bytes of the `detail` header; a longer detail is cut at a character boundary and marked.
pub const MAX_DETAIL_BYTES: usize = 1024;

/// The `reason` of a dead letter whose rows the ledger store refused for a reason a retry
/// cannot mend (the `detail` gives the store's words). Not a reason code of the rules: the
/// record may be valid, and nothing was decided about it.
pub const STORE_REFUSED: &str = "store_refused";

/// Why a message went to the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter<'a> {
    /// Reason code (`subsidy_core::ReasonCode::as_str`), or [`STORE_REFUSED`].
    pub reason: &'a str,
    /// Offending field, when one is to blame.
    pub field: Option<&'a str>,
    /// Readable detail.
    pub detail: &'a str,
    /// Which stage refused it: `collector` or `aggregator`.
    pub stage: &'a str,
}

/// The part of a refused item a dead letter keeps: all of it, or its first
/// [`MAX_DEAD_LETTER_VALUE_BYTES`] (the `detail` then says how long it was).
pub fn dead_letter_value(item: &[u8]) -> &[u8] {
    &item[..item.len().min(MAX_DEAD_LETTER_VALUE_BYTES)]
}

/// `text` cut to at most `max` bytes at a character boundary, with an ellipsis when cut.
fn bounded(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end]).into()
}

/// Headers `reason`, `field`, `detail` and `stage` for a dead letter; each at most
/// [`MAX_DETAIL_BYTES`] long.
pub fn dead_letter_headers(d: &DeadLetter<'_>) -> OwnedHeaders {
    let mut h = OwnedHeaders::new()
        .insert(Header { key: "reason", value: Some(&*bounded(d.reason, MAX_DETAIL_BYTES)) })
        .insert(Header { key: "detail", value: Some(&*bounded(d.detail, MAX_DETAIL_BYTES)) })
        .insert(Header { key: "stage", value: Some(&*bounded(d.stage, MAX_DETAIL_BYTES)) });
    if let Some(f) = d.field {
        h = h.insert(Header { key: "field", value: Some(&*bounded(f, MAX_DETAIL_BYTES)) });
    }
    h
}

/// The UTF-8 value of a header, if present.
pub fn header_str<'h, H: Headers>(headers: &'h H, key: &str) -> Option<&'h str> {
    headers.iter().find(|h| h.key == key).and_then(|h| h.value).and_then(|v| std::str::from_utf8(v).ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn values_and_headers_are_bounded() {
        let item = vec![b'x'; MAX_DEAD_LETTER_VALUE_BYTES * 3];
        assert_eq!(dead_letter_value(&item).len(), MAX_DEAD_LETTER_VALUE_BYTES);
        assert_eq!(dead_letter_value(b"short"), b"short");
        let detail = format!("credit code {:?} is wrong", "码".repeat(1_000_000));
        let h = dead_letter_headers(&DeadLetter { reason: "invalid_credit_code", field: Some("credit_code"), detail: &detail, stage: "collector" });
        let kept = header_str(&h, "detail").unwrap();
        assert!(kept.len() <= MAX_DETAIL_BYTES && kept.starts_with("credit code \"码码") && kept.ends_with('…'), "{} bytes", kept.len());
        assert_eq!(header_str(&h, "reason"), Some("invalid_credit_code"));
        assert_eq!(header_str(&h, "field"), Some("credit_code"));
        assert_eq!(bounded("short", MAX_DETAIL_BYTES), "short");
    }
}
