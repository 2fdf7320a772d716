//! One page of the record stream as the client received it: each element
//! kept as its raw bytes, or, when the platform sent a JSON string in place of
//! an object, as the malformed text it carried.

use super::error::FetchError;
use serde::Deserialize;
use serde_json::value::RawValue;

/// One element of the `records` array.
#[derive(Debug, Clone)]
pub enum PageRecord {
    /// A JSON value other than a string, byte for byte as sent: normally a record object.
    Raw(Box<RawValue>),
    /// A JSON string: the platform's text of a line that is not valid JSON. Dead-letter it as `malformed`.
    MalformedText(String),
}

impl PageRecord {
    /// The record's text: the raw JSON, or the malformed line.
    pub fn text(&self) -> &str {
        match self {
            PageRecord::Raw(raw) => raw.get(),
            PageRecord::MalformedText(text) => text,
        }
    }

    /// The record's bytes, as `subsidy_core::parse_record` takes them.
    pub fn as_bytes(&self) -> &[u8] {
        self.text().as_bytes()
    }

    /// Whether the platform sent the line as a string because it is not JSON.
    pub fn is_malformed_text(&self) -> bool {
        matches!(self, PageRecord::MalformedText(_))
    }
}

/// A page of usage records.
#[derive(Debug, Clone)]
pub struct Page {
    /// The records, in stream order.
    pub records: Vec<PageRecord>,
    /// The cursor to ask for next; valid even when `has_more` is false (poll it again later).
    pub next_cursor: String,
    /// Whether more records are available right now.
    pub has_more: bool,
}

/// Longest `next_cursor` accepted, in bytes: it goes back in a query string and
/// into the collector's checkpoint message, so a longer one is a broken contract.
pub const MAX_CURSOR_BYTES: usize = 4096;

#[derive(Deserialize)]
struct Wire {
    records: Vec<Box<RawValue>>,
    next_cursor: String,
    has_more: bool,
}

impl Page {
    /// Decodes a page body.
    pub fn decode(body: &[u8]) -> Result<Page, FetchError> {
        let wire: Wire = serde_json::from_slice(body).map_err(|e| FetchError::from_json(&e))?;
        if wire.next_cursor.len() > MAX_CURSOR_BYTES {
            return Err(FetchError::Protocol(format!("a next_cursor of {} bytes, longer than the {MAX_CURSOR_BYTES} accepted", wire.next_cursor.len())));
        }
        let records = wire
            .records
            .into_iter()
            .map(|raw| {
                if raw.get().starts_with('"') {
                    serde_json::from_str::<String>(raw.get()).map(PageRecord::MalformedText).map_err(|e| FetchError::Decode(e.to_string()))
                } else {
                    Ok(PageRecord::Raw(raw))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Page { records, next_cursor: wire.next_cursor, has_more: wire.has_more })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_raw_and_string_elements() {
        let body = br#"{"records":[{"b": 2,"a":1},"{oops",[1]],"next_cursor":"c","has_more":true}"#;
        let p = Page::decode(body).unwrap();
        assert_eq!(p.records.iter().map(PageRecord::text).collect::<Vec<_>>(), [r#"{"b": 2,"a":1}"#, "{oops", "[1]"]);
        assert!(p.records[1].is_malformed_text() && !p.records[0].is_malformed_text());
        assert!(matches!(Page::decode(&body[..body.len() / 2]), Err(FetchError::Truncated(_))));
        assert!(matches!(Page::decode(br#"{"records":[]}"#), Err(FetchError::Decode(_))));
        assert!(matches!(Page::decode(b"<html>"), Err(FetchError::Decode(_))));
        let long = format!(r#"{{"records":[],"next_cursor":"{}","has_more":true}}"#, "c".repeat(MAX_CURSOR_BYTES + 1));
        assert!(matches!(Page::decode(long.as_bytes()), Err(FetchError::Protocol(m)) if m.contains("next_cursor of 4097 bytes")));
    }
}
