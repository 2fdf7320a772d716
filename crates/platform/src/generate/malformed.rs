//! Renders a record line made bad in one of the [`MalformedKind`] ways.

use super::clock::CST_SECONDS;
use super::kinds::MalformedKind;
use super::line::{Rec, FIELDS};
use super::names::ANHUI;
use super::province::fresh_code;
use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};
use std::collections::HashSet;
use subsidy_core::{CreditCode, EntityKind};

const HTML_ERROR: &str = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>";

fn mutate(line: &str, f: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut value: Value = serde_json::from_str(line).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        f(map);
    }
    value.to_string()
}

fn set(map: &mut Map<String, Value>, field: &str, value: impl Into<Value>) {
    map.insert(field.to_owned(), value.into());
}

fn text_of(map: &Map<String, Value>, field: &str) -> String {
    map.get(field).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn broken_credit_code(rng: &mut ChaCha8Rng, good: CreditCode) -> String {
    let text = good.as_str();
    match rng.random_range(0..3u8) {
        0 => {
            // Another check character.
            let last = text.as_bytes()[17];
            let other = if last == b'0' { '1' } else { '0' };
            format!("{}{other}", &text[..17])
        }
        1 => text.to_lowercase(),
        _ => text[..17].to_owned(),
    }
}

/// The bad line for `rec`. `codes` holds every registered credit code (new unknown codes are added to it).
pub fn render(kind: MalformedKind, rec: &Rec<'_>, rng: &mut ChaCha8Rng, codes: &mut HashSet<CreditCode>) -> String {
    let line = rec.line();
    match kind {
        MalformedKind::BrokenJson => match rng.random_range(0..3u8) {
            // The line is ASCII, so every byte index is a char boundary.
            0 => line[..rng.random_range(1..line.len())].to_owned(),
            1 => line.replacen("\":", "\" ", 1),
            _ => HTML_ERROR.to_owned(),
        },
        MalformedKind::MissingField => {
            let field = *FIELDS.choose(rng).unwrap_or(&FIELDS[0]);
            mutate(&line, |m| {
                m.remove(field);
            })
        }
        MalformedKind::WrongType => mutate(&line, |m| match rng.random_range(0..3u8) {
            0 => set(m, "cards", rec.cards.to_string()),
            1 => set(m, "revision", rec.revision.to_string()),
            _ => set(m, "card_hours", Value::from(rec.card_hours_c as f64 / 100.0)),
        }),
        MalformedKind::BadAmount => mutate(&line, |m| {
            let amount = text_of(m, "amount");
            match rng.random_range(0..5u8) {
                0 => set(m, "amount", format!("{amount}5")),
                1 => set(m, "amount", format!("-{amount}")),
                2 => set(m, "paid_amount", format!("{}.{:02}", (rec.amount_fen + 100) / 100, (rec.amount_fen + 100) % 100)),
                3 => set(m, "amount", "1000000000000.01"),
                _ => set(m, "unit_price", "12,5"),
            }
        }),
        MalformedKind::BadCreditCode => {
            let bad = broken_credit_code(rng, rec.user);
            mutate(&line, |m| set(m, "user_credit_code", bad))
        }
        MalformedKind::Currency => mutate(&line, |m| set(m, "currency", "USD")),
        MalformedKind::EndBeforeStart => mutate(&line, |m| {
            let (start, end) = (text_of(m, "usage_start"), text_of(m, "usage_end"));
            set(m, "usage_start", end);
            set(m, "usage_end", start);
        }),
        MalformedKind::OutOfRange => mutate(&line, |m| {
            let field = if rng.random_bool(0.5) { "usage_start" } else { "usage_end" };
            let year = ["1960", "2200", "9999"][rng.random_range(0..3usize)];
            let time = text_of(m, field);
            // The same wall-clock time and offset in another year (the date stays valid: no 29 February there).
            let moved = format!("{year}{}", time.get(4..).unwrap_or_default()).replace("-02-29", "-02-28");
            set(m, field, moved);
        }),
        MalformedKind::UnknownEntity => {
            let place = ANHUI[rng.random_range(0..ANHUI.len())];
            let code = fresh_code(rng, EntityKind::Enterprise, &place, codes);
            mutate(&line, |m| set(m, "user_credit_code", code.as_str()))
        }
        MalformedKind::UnknownCenter => {
            let retired = format!("cc-retired-{:02}", (rec.start / CST_SECONDS).rem_euclid(50));
            mutate(&line, |m| set(m, "center_id", retired))
        }
    }
}
