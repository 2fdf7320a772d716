//! Text from outside (registry names, record and center ids, an API's error
//! message) made safe to print: control characters that a terminal would obey
//! (C0 such as ESC, DEL, C1, bidirectional overrides and isolates, line and
//! paragraph separators) are shown as `\u{..}` escapes instead. Every command
//! that prints such text to a terminal goes through [`safe`].

use std::borrow::Cow;

/// Whether a terminal could act on `c` rather than show it.
fn is_hazard(c: char) -> bool {
    c.is_control() || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every hazardous character written as `\u{..}`; borrowed when there is none.
pub fn safe(text: &str) -> Cow<'_, str> {
    escape_where(text, is_hazard, |c| format!("\\u{{{c:x}}}"))
}

/// JSON text (as `serde_json` writes it: control characters below U+0020 already escaped)
/// with the remaining hazards — DEL, C1, bidirectional controls, separators, which occur
/// only inside strings — written as JSON `\uXXXX` escapes: the same JSON value, safe to print.
pub fn safe_json(json: &str) -> Cow<'_, str> {
    // Below U+0020 there is only the layout's white space: serde escapes the rest in strings.
    escape_where(json, |c| c >= ' ' && is_hazard(c), |c| format!("\\u{c:04x}"))
}

/// `text` with each character `hazard` picks replaced by `escape` of its code point;
/// borrowed when there is none.
fn escape_where(text: &str, hazard: impl Fn(char) -> bool, escape: impl Fn(u32) -> String) -> Cow<'_, str> {
    if !text.chars().any(&hazard) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hazard(c) {
            out.push_str(&escape(u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_sequences_and_bidi_overrides() {
        assert_eq!(safe("\u{1b}[2J\u{1b}]0;pwned\u{7}合肥\u{202e}cba\u{2066}x\u{9b}31m\nz\t"), "\\u{1b}[2J\\u{1b}]0;pwned\\u{7}合肥\\u{202e}cba\\u{2066}x\\u{9b}31m\\u{a}z\\u{9}");
        assert_eq!(safe("\u{7f}\u{200f}\u{2029}"), "\\u{7f}\\u{200f}\\u{2029}");
    }

    #[test]
    fn json_stays_the_same_value() {
        let value = serde_json::json!({"name": "\u{1b}[2J合肥\u{202e}x\u{85}\u{7f}"});
        let text = serde_json::to_string_pretty(&value).unwrap();
        let safe = safe_json(&text);
        assert!(!safe.chars().any(|c| c != '\n' && is_hazard(c)), "{safe:?}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&safe).unwrap(), value);
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        assert!(matches!(safe("阜阳师范大学 (阜阳市) 91340100MA0000001K"), Cow::Borrowed(_)));
    }
}
