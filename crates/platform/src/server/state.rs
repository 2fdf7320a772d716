//! The simulator's shared state: the data set, the release clock, the fault
//! RNG and request counters, and the page bodies built from them.

use super::config::{Faults, Release, SimConfig, SimConfigError};
use super::counts::{withheld, CenterDayCount, PlatformCounts};
use super::cursor;
use crate::dataset::Dataset;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::value::RawValue;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

/// Request counters, for tests and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Requests to `/v1/…`.
    pub requests: u64,
    /// Answered 401.
    pub unauthorized: u64,
    /// Answered 400.
    pub bad_requests: u64,
    /// Answered 500 or 503 by the error fault.
    pub server_errors: u64,
    /// Answered 429.
    pub rate_limited: u64,
    /// Delayed by the slow fault.
    pub slowed: u64,
    /// Bodies cut short.
    pub truncated: u64,
    /// Bodies replaced by a page that is not the API's JSON.
    pub malformed: u64,
    /// Record pages that repeated records of the page before.
    pub repeated: u64,
    /// Record elements sent in complete pages.
    pub records_served: u64,
    /// Answered 307 by the redirect fault.
    pub redirected: u64,
}

#[derive(Debug, Default)]
struct Counters([AtomicU64; 11]);

/// Indexes into [`Counters`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Count {
    Requests,
    Unauthorized,
    BadRequests,
    ServerErrors,
    RateLimited,
    Slowed,
    Truncated,
    Malformed,
    Repeated,
    RecordsServed,
    Redirected,
}

/// The faults drawn for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Draw {
    /// Answer normally, possibly after a delay and in a damaged shape.
    Normal { slow: bool, shape: Shape },
    /// Answer 500 or 503.
    Error { status: u16 },
    /// Answer 429.
    RateLimited,
}

/// How a 200 answer is damaged, if at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Cut in the middle.
    pub truncate: bool,
    /// Replaced by a proxy's HTML error page.
    pub malformed: bool,
    /// A record page starting half a page early.
    pub repeat: bool,
}

#[derive(Debug)]
struct RegistryBodies {
    entities: Arc<Vec<u8>>,
    centers: Arc<Vec<u8>>,
}

impl RegistryBodies {
    /// The lists as served; with `oversized` above 0, each ends with an oversized copy of its first item.
    fn of(entities: &[serde_json::Value], centers: &[serde_json::Value], oversized: usize) -> RegistryBodies {
        let (entities, centers) = (with_oversized(entities, oversized), with_oversized(centers, oversized));
        RegistryBodies { entities: Arc::new(array_body("entities", &entities)), centers: Arc::new(array_body("centers", &centers)) }
    }
}

/// `items`, and when `bytes` is above 0 a copy of the first whose name is padded past `bytes`.
fn with_oversized(items: &[serde_json::Value], bytes: usize) -> Vec<serde_json::Value> {
    let mut out = items.to_vec();
    if let Some(first) = items.first().filter(|_| bytes > 0) {
        let mut big = first.clone();
        let name = big.get("name").and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
        big["name"] = serde_json::Value::String(format!("{name} {}", "x".repeat(bytes)));
        out.push(big);
    }
    out
}

#[derive(Debug)]
struct Inner {
    /// Record lines in stream order: withheld lines, if any, last.
    records: Vec<String>,
    /// Lines before the withheld ones.
    kept: usize,
    /// Whether the withheld lines are still kept back.
    held: AtomicBool,
    /// Where each record's copies are, for `/v1/usage-counts`.
    counts: PlatformCounts,
    /// The entity and center lists as served: the platform's registry changes over time.
    registry: RwLock<RegistryBodies>,
    token: String,
    release: Release,
    faults: Faults,
    started: Instant,
    released: AtomicUsize,
    rng: Mutex<ChaCha8Rng>,
    counters: Counters,
    /// Record-page requests whose faults were drawn, for [`Faults::rate_limit_first`].
    drawn: AtomicU64,
}

/// The simulator's state; cheap to clone, shared by every request.
#[derive(Debug, Clone)]
pub struct SimState {
    inner: Arc<Inner>,
}

fn array_body(key: &str, items: &[serde_json::Value]) -> Vec<u8> {
    let mut body = format!("{{\"{key}\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&item.to_string());
    }
    body.push_str("]}");
    body.into_bytes()
}

/// Appends one record element: the raw text when it is a JSON value other
/// than a string, otherwise the text as a JSON string (a malformed line).
fn push_element(out: &mut String, text: &str) {
    match serde_json::from_str::<&RawValue>(text) {
        Ok(raw) if !raw.get().starts_with('"') => out.push_str(raw.get()),
        // Escaping a str into JSON cannot fail.
        _ => out.push_str(&serde_json::to_string(text).unwrap_or_default()),
    }
}

/// One page of the record stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageBody {
    pub body: Vec<u8>,
    pub records: usize,
}

impl SimState {
    /// The state for a data set.
    pub fn new(dataset: Dataset, config: SimConfig) -> Result<SimState, SimConfigError> {
        config.validate()?;
        let initial = match config.release {
            Release::All => dataset.records.len(),
            Release::Rate { initial, .. } | Release::Manual { initial } => initial.min(dataset.records.len()),
        };
        let withheld = withheld(&dataset.records, config.faults.withhold.as_ref());
        let kept = dataset.records.len() - withheld.len();
        let records = if withheld.is_empty() { dataset.records } else { withheld_last(dataset.records, &withheld) };
        if !withheld.is_empty() {
            tracing::info!(lines = withheld.len(), "withholding records from the stream until released");
        }
        let counts = PlatformCounts::of(&records);
        Ok(SimState {
            inner: Arc::new(Inner {
                registry: RwLock::new(RegistryBodies::of(&dataset.entities, &dataset.centers, config.faults.oversized_registry_bytes)),
                records,
                kept,
                held: AtomicBool::new(!withheld.is_empty()),
                counts,
                token: config.token,
                release: config.release,
                faults: config.faults,
                started: Instant::now(),
                released: AtomicUsize::new(initial),
                rng: Mutex::new(ChaCha8Rng::seed_from_u64(config.fault_seed)),
                counters: Counters::default(),
                drawn: AtomicU64::new(0),
            }),
        })
    }

    /// Records in the data set.
    pub fn total(&self) -> usize {
        self.inner.records.len()
    }

    /// Records visible to clients now.
    pub fn visible(&self) -> usize {
        let i = &self.inner;
        let end = if i.held.load(Ordering::Acquire) { i.kept } else { i.records.len() };
        self.released_now().min(end)
    }

    /// How far the release has come, before any withholding.
    fn released_now(&self) -> usize {
        let i = &self.inner;
        let released = i.released.load(Ordering::Acquire);
        match i.release {
            Release::All => i.records.len(),
            Release::Manual { .. } => released,
            Release::Rate { per_sec, .. } => {
                // Float-to-int casts saturate.
                released.saturating_add((i.started.elapsed().as_secs_f64() * per_sec) as usize)
            }
        }
    }

    /// Serves the withheld records from now on, after every other record of the stream
    /// (a cursor already issued leads to them). The usage counts counted them all along.
    pub fn release_withheld(&self) {
        self.inner.held.store(false, Ordering::Release);
    }

    /// Record lines withheld and not yet released.
    pub fn withheld(&self) -> usize {
        if self.inner.held.load(Ordering::Acquire) { self.inner.records.len() - self.inner.kept } else { 0 }
    }

    /// The usage counts of one day (China Standard Time), by center, over the records the
    /// platform holds now: those released so far and those withheld from the stream (a record
    /// still to be released is not on the platform yet).
    pub fn counts_of(&self, date: chrono::NaiveDate) -> Vec<CenterDayCount> {
        let (released, kept) = (self.released_now(), self.inner.kept);
        self.inner.counts.day(date, |p| p < released || p >= kept)
    }

    /// Makes at least `n` records visible (never fewer than now). Meant for [`Release::Manual`].
    pub fn release_to(&self, n: usize) {
        self.inner.released.fetch_max(n.min(self.total()), Ordering::AcqRel);
    }

    /// A snapshot of the request counters.
    pub fn stats(&self) -> SimStats {
        let c = &self.inner.counters.0;
        let v = |k: Count| c[k as usize].load(Ordering::Relaxed);
        SimStats {
            requests: v(Count::Requests),
            unauthorized: v(Count::Unauthorized),
            bad_requests: v(Count::BadRequests),
            server_errors: v(Count::ServerErrors),
            rate_limited: v(Count::RateLimited),
            slowed: v(Count::Slowed),
            truncated: v(Count::Truncated),
            malformed: v(Count::Malformed),
            repeated: v(Count::Repeated),
            records_served: v(Count::RecordsServed),
            redirected: v(Count::Redirected),
        }
    }

    pub(crate) fn count(&self, what: Count, n: u64) {
        self.inner.counters.0[what as usize].fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn token_matches(&self, presented: &[u8]) -> bool {
        let expected = self.inner.token.as_bytes();
        // Compare every byte so the time taken does not depend on where they differ.
        presented.len() == expected.len() && presented.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }

    pub(crate) fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// Draws this request's faults; `page` when it asks for a page of records.
    pub(crate) fn draw(&self, page: bool) -> Draw {
        let f = &self.inner.faults;
        if page && self.inner.drawn.fetch_add(1, Ordering::Relaxed) < f.rate_limit_first {
            return Draw::RateLimited;
        }
        let mut rng = match self.inner.rng.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if f.error_rate > 0.0 && rng.random_bool(f.error_rate) {
            return Draw::Error { status: if rng.random_bool(0.5) { 500 } else { 503 } };
        }
        if f.rate_limit_rate > 0.0 && rng.random_bool(f.rate_limit_rate) {
            return Draw::RateLimited;
        }
        let mut roll = |rate: f64| rate > 0.0 && rng.random_bool(rate);
        let slow = roll(f.slow_rate);
        let shape = Shape { truncate: roll(f.truncate_rate), malformed: roll(f.malformed_rate), repeat: roll(f.repeat_rate) };
        Draw::Normal { slow, shape }
    }

    /// Replaces the entity and center lists served from now on, as the platform's
    /// registry changes: an entity moves city, a center is registered late.
    pub fn replace_registry(&self, entities: &[serde_json::Value], centers: &[serde_json::Value]) {
        *self.inner.registry.write().unwrap_or_else(std::sync::PoisonError::into_inner) = RegistryBodies::of(entities, centers, self.inner.faults.oversized_registry_bytes);
    }

    fn registry(&self) -> std::sync::RwLockReadGuard<'_, RegistryBodies> {
        self.inner.registry.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn entities_body(&self) -> Arc<Vec<u8>> {
        Arc::clone(&self.registry().entities)
    }

    pub(crate) fn centers_body(&self) -> Arc<Vec<u8>> {
        Arc::clone(&self.registry().centers)
    }

    /// The page starting at stream position `pos`, or `None` when `pos` is past the end of the data set.
    pub(crate) fn page(&self, pos: usize, limit: usize) -> Option<PageBody> {
        if pos > self.total() {
            return None;
        }
        let visible = self.visible();
        let start = pos.min(visible);
        let end = start.saturating_add(limit).min(visible);
        let slice = &self.inner.records[start..end];
        let mut out = String::with_capacity(64 + slice.iter().map(|r| r.len() + 1).sum::<usize>());
        out.push_str(r#"{"records":["#);
        for (i, text) in slice.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_element(&mut out, text);
        }
        let next = cursor::encode(end.max(pos));
        out.push_str(&format!(r#"],"next_cursor":"{next}","has_more":{}}}"#, end < visible));
        Some(PageBody { body: out.into_bytes(), records: slice.len() })
    }
}

/// The lines in stream order with those at `withheld` (sorted positions) moved to the end.
fn withheld_last(records: Vec<String>, withheld: &[usize]) -> Vec<String> {
    let mut held = Vec::with_capacity(withheld.len());
    let mut out = Vec::with_capacity(records.len());
    let mut next = withheld.iter().peekable();
    for (i, line) in records.into_iter().enumerate() {
        if next.next_if_eq(&&i).is_some() {
            held.push(line);
        } else {
            out.push(line);
        }
    }
    out.extend(held);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_raw_or_strings() {
        let mut out = String::new();
        push_element(&mut out, r#"{"a": 1}"#);
        out.push(',');
        push_element(&mut out, "{broken");
        out.push(',');
        push_element(&mut out, r#""just a string""#);
        assert_eq!(out, r#"{"a": 1},"{broken","\"just a string\"""#);
    }

    #[test]
    fn the_oversized_fault_adds_a_padded_copy_of_the_first_item() {
        let items = vec![serde_json::json!({"center_id": "C1", "name": "one"}), serde_json::json!({"center_id": "C2", "name": "two"})];
        assert_eq!(with_oversized(&items, 0), items);
        let out = with_oversized(&items, 70_000);
        assert_eq!((out.len(), &out[..2]), (3, &items[..]));
        assert_eq!(out[2]["center_id"], "C1");
        assert!(out[2].to_string().len() > 70_000);
        assert!(with_oversized(&[], 70_000).is_empty());
    }

    #[test]
    fn pages_follow_the_release() {
        let ds = Dataset { records: (0..10).map(|i| format!(r#"{{"n":{i}}}"#)).collect(), ..Dataset::default() };
        let mut cfg = SimConfig::new("t");
        cfg.release = Release::Manual { initial: 3 };
        let s = SimState::new(ds, cfg).unwrap();
        let p = s.page(0, 5).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&p.body).unwrap();
        assert_eq!(v["records"].as_array().unwrap().len(), 3);
        assert_eq!(v["has_more"], false);
        assert_eq!(v["next_cursor"], cursor::encode(3));
        s.release_to(8);
        let p = s.page(3, 2).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&p.body).unwrap();
        assert_eq!((v["records"][0]["n"].as_u64(), v["has_more"].as_bool()), (Some(3), Some(true)));
        assert!(s.page(11, 1).is_none());
        assert_eq!(s.page(10, 1).unwrap().records, 0);
    }

    #[test]
    fn withheld_lines_move_to_the_end_of_the_stream() {
        let lines: Vec<String> = (0..6).map(|i| i.to_string()).collect();
        assert_eq!(withheld_last(lines.clone(), &[1, 4]), ["0", "2", "3", "5", "1", "4"]);
        assert_eq!(withheld_last(lines.clone(), &[]), lines);
    }
}
