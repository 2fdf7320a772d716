//! `recompute`'s disk side when the per-record state would not fit its memory
//! budget: the spill folder, the free-space check, the bucket files, and the
//! runs of exclusions merged by key.
//!
//! Pass 1 writes every checked copy as a compact binary [frame](encode) into
//! one of a number of bucket files, chosen by a fixed hash of its record id:
//! every copy of an id lands in one bucket, in input order. Pass 2 takes
//! [groups](groups) of buckets that fit the budget through one fresh ledger
//! each. Exclusions leave the passes as [runs](RunWriter) of `(key, JSON
//! line)` frames, each sorted by its key (an input line number or a position),
//! and [`merge_runs`] puts them back in one order. Nothing here decides what a
//! copy means: that is the core's ledger, fed from the frames.

use anyhow::{anyhow, bail, Context, Result};
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use subsidy_core::period::cst_date;
use subsidy_core::standing::Facts;
use subsidy_core::{CreditCode, Fingerprint, PaymentStatus, UsageRecord};

/// Buffer of each bucket or run file.
const IO_BUF: usize = 64 * 1024;

/// Most bucket files written at once (each holds one open file and its buffer).
pub(crate) const MAX_BUCKETS: usize = 256;

/// Ledger memory per byte of spilled frame, an upper estimate: a record's entry in the
/// ledger (its id twice, the facts, the line, the index) against its frame.
pub(crate) const LEDGER_BYTES_PER_FRAME_BYTE: u64 = 4;

/// Peak memory of the in-memory pass per byte of a records file, an upper estimate: the
/// simulator's lines (about 385 bytes) peak at 0.86 bytes each, and a ledger entry costs
/// about the same however short its line, so shorter lines cost more per byte.
pub(crate) const MEMORY_PER_INPUT_BYTE: f64 = 1.5;

/// Spill bytes per byte of records file, an upper estimate: the frame of a copy is about a
/// third of its JSON line (simulator data peaked at 0.30 of the file with exclusion runs);
/// exclusion runs, when written, hold at most one entry per line and take as much again.
pub(crate) const DISK_PER_INPUT_BYTE: f64 = 0.5;

/// Parses a byte size: a number with an optional binary unit, `512K`, `2G`, `2GiB`, `1.5g`.
pub fn parse_bytes(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let factor: u64 = match unit.trim().to_ascii_lowercase().trim_end_matches('b').trim_end_matches('i') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return Err(format!("`{text}`: the unit must be one of K, M, G, T (binary), e.g. 2G")),
    };
    let n: f64 = number.parse().map_err(|_| format!("`{text}`: expected a size such as 2G or 512M"))?;
    let bytes = n * factor as f64;
    if !(1.0..=u64::MAX as f64).contains(&bytes) {
        return Err(format!("`{text}`: the size must be at least one byte"));
    }
    Ok(bytes as u64)
}

/// Bytes for people: `1.5 GiB`.
pub(crate) fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// Refuses to start when `dir`'s file system has less than `need` bytes free.
pub(crate) fn check_free_space(dir: &Path, need: u64) -> Result<()> {
    let st = rustix::fs::statvfs(dir).with_context(|| format!("cannot read the free space of {}", dir.display()))?;
    let free = st.f_bavail.saturating_mul(st.f_frsize);
    if free < need {
        bail!(
            "not enough free disk to spill recompute's state in {}: about {} needed, {} free; free some space, point --temp-dir at a larger disk, or raise --memory-budget to keep the state in memory",
            dir.display(),
            human(need),
            human(free)
        );
    }
    Ok(())
}

/// How many bucket files to scatter into: enough that a bucket's ledger is a small part of
/// the budget, at most [`MAX_BUCKETS`].
pub(crate) fn bucket_count(input_bytes: Option<u64>, budget: u64) -> usize {
    let Some(input) = input_bytes else { return MAX_BUCKETS };
    let need = (input as f64 * MEMORY_PER_INPUT_BYTE) as u64;
    let per_bucket = (budget / 8).max(1);
    usize::try_from(need.div_ceil(per_bucket)).unwrap_or(MAX_BUCKETS).clamp(16, MAX_BUCKETS)
}

/// Consecutive buckets packed into groups of at most `capacity` frame bytes; a bucket larger
/// than that is a group of its own.
pub(crate) fn groups(bucket_bytes: &[u64], capacity: u64) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut held) = (0, 0u64);
    for (i, &b) in bucket_bytes.iter().enumerate() {
        if i > start && held + b > capacity {
            out.push(start..i);
            (start, held) = (i, 0);
        }
        held += b;
    }
    if start < bucket_bytes.len() {
        out.push(start..bucket_bytes.len());
    }
    out
}

/// The folder spill files live in, removed with everything in it when dropped.
#[derive(Debug)]
pub(crate) struct SpillDir(tempfile::TempDir);

impl SpillDir {
    /// A fresh folder inside `parent`.
    pub(crate) fn create(parent: &Path) -> Result<SpillDir> {
        let dir = tempfile::Builder::new().prefix(".recompute-spill-").tempdir_in(parent).with_context(|| format!("cannot create a spill folder in {}", parent.display()))?;
        Ok(SpillDir(dir))
    }

    /// A file in the folder.
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
}

fn create(path: &Path) -> Result<BufWriter<File>> {
    Ok(BufWriter::with_capacity(IO_BUF, File::create(path).with_context(|| format!("cannot create spill file {}", path.display()))?))
}

fn open(path: &Path) -> Result<BufReader<File>> {
    Ok(BufReader::with_capacity(IO_BUF, File::open(path).with_context(|| format!("cannot read spill file {}", path.display()))?))
}

/// Fills `buf` from `r`; `false` at a clean end of input before the first byte, an error
/// when the input ends part way.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "a spill file ends inside a frame")),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Reads one `u32`-length-prefixed frame body into `buf`; `false` at the end of the input.
fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut len = [0u8; 4];
    if !read_full(r, &mut len)? {
        return Ok(false);
    }
    buf.resize(u32::from_le_bytes(len) as usize, 0);
    if !read_full(r, buf)? && !buf.is_empty() {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "a spill file ends inside a frame"));
    }
    Ok(true)
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn status_byte(s: PaymentStatus) -> u8 {
    match s {
        PaymentStatus::Paid => 0,
        PaymentStatus::Unpaid => 1,
        PaymentStatus::Refunded => 2,
    }
}

fn status_of(b: u8) -> Option<PaymentStatus> {
    match b {
        0 => Some(PaymentStatus::Paid),
        1 => Some(PaymentStatus::Unpaid),
        2 => Some(PaymentStatus::Refunded),
        _ => None,
    }
}

/// Appends the frame of one copy seen at input line `line` to `out`: a `u32` length, then
/// line `u64`, revision `u32`, fingerprint `u128`, user (18 bytes), usage day `i32` (days
/// from the common era), payment status `u8`, paid amount (the 16 bytes of
/// [`Decimal::serialize`], scale kept), then record id, center and accelerator, each a
/// `u32` length and its bytes, then the contract id, absent (`0`) or present (`1`) and text.
/// Only what the rules read is kept (what [`Facts`] holds).
pub(crate) fn encode(out: &mut Vec<u8>, line: u64, record: &UsageRecord, fingerprint: Fingerprint) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&line.to_le_bytes());
    out.extend_from_slice(&record.revision.to_le_bytes());
    out.extend_from_slice(&fingerprint.0.to_le_bytes());
    out.extend_from_slice(record.user.as_str().as_bytes());
    out.extend_from_slice(&cst_date(&record.usage_end).num_days_from_ce().to_le_bytes());
    out.push(status_byte(record.payment_status));
    out.extend_from_slice(&record.paid_amount.serialize());
    put_str(out, &record.record_id);
    put_str(out, &record.center_id);
    put_str(out, &record.accelerator);
    match &record.contract_id {
        None => out.push(0),
        Some(c) => {
            out.push(1);
            put_str(out, c);
        }
    }
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

/// One copy read back from its frame, its text borrowed from the frame.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SpilledCopy<'a> {
    /// Its input line number.
    pub line: u64,
    /// Its revision.
    pub revision: u32,
    /// Its content fingerprint.
    pub fingerprint: Fingerprint,
    /// Its record id.
    pub record_id: &'a str,
    user: CreditCode,
    usage_date: NaiveDate,
    payment_status: PaymentStatus,
    paid_amount: Decimal,
    center_id: &'a str,
    accelerator: &'a str,
    contract_id: Option<&'a str>,
}

impl SpilledCopy<'_> {
    /// The facts the rules read: those [`Facts::of`] takes from the record the frame was made of.
    pub(crate) fn facts(&self) -> Facts {
        Facts {
            record_id: self.record_id.to_string(),
            contract_id: self.contract_id.map(str::to_string),
            user: self.user,
            center_id: self.center_id.to_string(),
            usage_date: self.usage_date,
            payment_status: self.payment_status,
            paid_amount: self.paid_amount,
            accelerator: self.accelerator.to_string(),
        }
    }
}

/// Reads fields off a frame body in order.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    fn text(&mut self) -> Option<&'a str> {
        let len = u32::from_le_bytes(self.take()?) as usize;
        if len > self.0.len() {
            return None;
        }
        let (s, rest) = self.0.split_at(len);
        self.0 = rest;
        std::str::from_utf8(s).ok()
    }
}

/// The copy a frame body (without its length) holds; `None` when the bytes are not one.
pub(crate) fn decode(body: &[u8]) -> Option<SpilledCopy<'_>> {
    let mut f = Fields(body);
    let line = u64::from_le_bytes(f.take()?);
    let revision = u32::from_le_bytes(f.take()?);
    let fingerprint = Fingerprint(u128::from_le_bytes(f.take()?));
    let user = CreditCode::parse(std::str::from_utf8(&f.take::<18>()?).ok()?)?;
    let usage_date = NaiveDate::from_num_days_from_ce_opt(i32::from_le_bytes(f.take()?))?;
    let payment_status = status_of(f.take::<1>()?[0])?;
    let paid_amount = Decimal::deserialize(f.take()?);
    let (record_id, center_id, accelerator) = (f.text()?, f.text()?, f.text()?);
    let contract_id = match f.take::<1>()?[0] {
        0 => None,
        1 => Some(f.text()?),
        _ => return None,
    };
    f.0.is_empty().then_some(SpilledCopy { line, revision, fingerprint, record_id, user, usage_date, payment_status, paid_amount, center_id, accelerator, contract_id })
}

/// Bucket files being written in pass 1.
#[derive(Debug)]
pub(crate) struct Buckets {
    files: Vec<BufWriter<File>>,
    paths: Vec<PathBuf>,
    bytes: Vec<u64>,
    hash: ahash::RandomState,
    frame: Vec<u8>,
}

/// A bucket file written whole: where it is and how many frame bytes it holds.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    pub path: PathBuf,
    pub bytes: u64,
}

impl Buckets {
    /// `n` empty bucket files in `dir`.
    pub(crate) fn create(dir: &SpillDir, n: usize) -> Result<Buckets> {
        let paths: Vec<PathBuf> = (0..n.max(1)).map(|i| dir.file(&format!("bucket-{i:04}"))).collect();
        let files = paths.iter().map(|p| create(p)).collect::<Result<_>>()?;
        // Fixed seeds: the same id goes to the same bucket in every run.
        let hash = ahash::RandomState::with_seeds(0x5ab5_1d1e, 0x7e7e_2026, 0x0dd_ba11, 0xfee1_900d);
        Ok(Buckets { bytes: vec![0; paths.len()], files, paths, hash, frame: Vec::with_capacity(512) })
    }

    /// Appends one copy to its record id's bucket.
    pub(crate) fn push(&mut self, line: u64, record: &UsageRecord, fingerprint: Fingerprint) -> Result<()> {
        let b = (self.hash.hash_one(record.record_id.as_bytes()) % self.files.len() as u64) as usize;
        self.frame.clear();
        encode(&mut self.frame, line, record, fingerprint);
        self.files[b].write_all(&self.frame).with_context(|| format!("cannot write spill file {}", self.paths[b].display()))?;
        self.bytes[b] += self.frame.len() as u64;
        Ok(())
    }

    /// Flushes every bucket.
    pub(crate) fn finish(self) -> Result<Vec<Bucket>> {
        let mut out = Vec::with_capacity(self.paths.len());
        for ((file, path), bytes) in self.files.into_iter().zip(self.paths).zip(self.bytes) {
            file.into_inner().map_err(|e| anyhow!("cannot write spill file {}: {}", path.display(), e.error()))?;
            out.push(Bucket { path, bytes });
        }
        Ok(out)
    }
}

/// Reads a bucket file's copies back, in the order written.
#[derive(Debug)]
pub(crate) struct Frames {
    r: BufReader<File>,
    path: PathBuf,
    body: Vec<u8>,
}

impl Frames {
    pub(crate) fn open(path: &Path) -> Result<Frames> {
        Ok(Frames { r: open(path)?, path: path.to_path_buf(), body: Vec::with_capacity(512) })
    }

    /// The next copy, `None` at the end.
    pub(crate) fn next_copy(&mut self) -> Result<Option<SpilledCopy<'_>>> {
        if !read_frame(&mut self.r, &mut self.body).with_context(|| format!("cannot read spill file {}", self.path.display()))? {
            return Ok(None);
        }
        decode(&self.body).map(Some).ok_or_else(|| anyhow!("spill file {} is damaged", self.path.display()))
    }
}

/// A run being written: `(key u64, length u32, bytes)` frames with keys rising.
#[derive(Debug)]
pub(crate) struct RunWriter<W: Write> {
    w: W,
    last: Option<u64>,
}

impl<W: Write> RunWriter<W> {
    pub(crate) fn new(w: W) -> RunWriter<W> {
        RunWriter { w, last: None }
    }

    /// Appends an item; keys must rise.
    pub(crate) fn push(&mut self, key: u64, bytes: &[u8]) -> Result<()> {
        if self.last.is_some_and(|l| l >= key) {
            bail!("spill run out of order: key {key} after {}", self.last.unwrap_or_default());
        }
        self.last = Some(key);
        self.w.write_all(&key.to_le_bytes())?;
        self.w.write_all(&(bytes.len() as u32).to_le_bytes())?;
        self.w.write_all(bytes)?;
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn into_inner(self) -> W {
        self.w
    }
}

impl RunWriter<BufWriter<File>> {
    /// A run written to a new file.
    pub(crate) fn create(path: &Path) -> Result<RunWriter<BufWriter<File>>> {
        Ok(RunWriter::new(create(path)?))
    }

    /// Flushes the file.
    pub(crate) fn finish(self) -> Result<()> {
        self.w.into_inner().map_err(|e| anyhow!("cannot write a spill run: {}", e.error()))?;
        Ok(())
    }
}

/// Reads a run back.
#[derive(Debug)]
struct RunReader<R: Read> {
    r: R,
    key: u64,
    bytes: Vec<u8>,
}

impl<R: Read> RunReader<R> {
    /// Moves to the next item; `false` at the end.
    fn advance(&mut self) -> Result<bool> {
        let mut key = [0u8; 8];
        if !read_full(&mut self.r, &mut key)? {
            return Ok(false);
        }
        let key = u64::from_le_bytes(key);
        if !read_frame(&mut self.r, &mut self.bytes)? {
            bail!("a spill run ends inside an item");
        }
        self.key = key;
        Ok(true)
    }
}

/// Writes the items of every run to `out` in rising key order (each run's keys rise; a key
/// is in one run only) and returns how many there were.
pub(crate) fn merge_runs<R: Read>(runs: impl IntoIterator<Item = R>, out: &mut dyn Write) -> Result<u64> {
    let mut readers: Vec<RunReader<R>> = Vec::new();
    let mut heap = BinaryHeap::new();
    for r in runs {
        let mut reader = RunReader { r, key: 0, bytes: Vec::new() };
        if reader.advance()? {
            heap.push(Reverse((reader.key, readers.len())));
        }
        readers.push(reader);
    }
    let mut n = 0;
    while let Some(Reverse((_, i))) = heap.pop() {
        out.write_all(&readers[i].bytes)?;
        n += 1;
        if readers[i].advance()? {
            heap.push(Reverse((readers[i].key, i)));
        }
    }
    Ok(n)
}

/// Opens run files for [`merge_runs`].
pub(crate) fn open_runs(paths: &[PathBuf]) -> Result<Vec<BufReader<File>>> {
    paths.iter().map(|p| open(p)).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(paid: &str, contract: Option<&str>) -> UsageRecord {
        let mut v = serde_json::json!({"record_id": "r-é1", "revision": 3, "user_credit_code": "91340100MA0000001K", "center_id": "C1", "accelerator": "Ascend-910B", "cards": 8,
            "card_hours": "10", "usage_start": "2025-09-30T20:00:00+08:00", "usage_end": "2025-09-30T23:30:00+00:00", "updated_at": "2025-12-01T00:00:00+08:00",
            "unit_price": "100", "amount": "1000.00", "paid_amount": paid, "payment_status": "refunded", "currency": "CNY"});
        if let Some(c) = contract {
            v["contract_id"] = c.into();
        }
        subsidy_core::parse_record(v.to_string().as_bytes()).unwrap()
    }

    fn round_trip(r: &UsageRecord) -> (u64, u32, Fingerprint, Facts) {
        let mut buf = vec![9, 9];
        encode(&mut buf, 77, r, Fingerprint::of(r));
        let len = u32::from_le_bytes(buf[2..6].try_into().unwrap()) as usize;
        assert_eq!(len + 6, buf.len());
        let c = decode(&buf[6..]).unwrap();
        (c.line, c.revision, c.fingerprint, c.facts())
    }

    #[test]
    fn a_frame_gives_back_the_facts_of_its_record() {
        for (paid, contract) in [("12.5", None), ("7", Some("K-7")), ("0", Some(""))] {
            let r = record(paid, contract.filter(|c| !c.is_empty()));
            let (line, revision, fp, facts) = round_trip(&r);
            assert_eq!((line, revision, fp), (77, 3, Fingerprint::of(&r)));
            assert_eq!(facts, Facts::of(&r));
            // The scale is kept, not only the value: "7" was read as 7.00 and stays 7.00.
            assert_eq!(facts.paid_amount.to_string(), r.paid_amount.to_string());
            assert_eq!(facts.usage_date.to_string(), "2025-10-01", "the day in China Standard Time");
        }
    }

    #[test]
    fn a_frame_keeps_any_decimal_scale() {
        let mut r = record("12.5", None);
        for text in ["1.2300", "0.000", "123456789012.99", "5"] {
            r.paid_amount = text.parse().unwrap();
            assert_eq!(round_trip(&r).3.paid_amount.to_string(), text);
        }
    }

    #[test]
    fn too_little_free_space_is_refused_naming_the_need() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_free_space(dir.path(), u64::MAX).unwrap_err().to_string();
        assert!(err.contains("about 16777216.0 TiB needed"), "{err}");
        assert!(err.contains("--temp-dir"), "{err}");
        check_free_space(dir.path(), 1).unwrap();
    }

    #[test]
    fn a_damaged_frame_is_refused_not_misread() {
        let r = record("12.5", Some("K-7"));
        let mut buf = Vec::new();
        encode(&mut buf, 1, &r, Fingerprint::of(&r));
        let body = &buf[4..];
        for cut in 0..body.len() {
            assert!(decode(&body[..cut]).is_none(), "cut at {cut}");
        }
        let mut extra = body.to_vec();
        extra.push(0);
        assert!(decode(&extra).is_none());
        let mut bad_status = body.to_vec();
        bad_status[8 + 4 + 16 + 18 + 4] = 7;
        assert!(decode(&bad_status).is_none());
    }

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_bytes("2G"), Ok(2 << 30));
        assert_eq!(parse_bytes("2GiB"), Ok(2 << 30));
        assert_eq!(parse_bytes("512k"), Ok(512 << 10));
        assert_eq!(parse_bytes("1.5M"), Ok(3 << 19));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(parse_bytes("2X").is_err());
        assert!(parse_bytes("G").is_err());
        assert!(parse_bytes("0").is_err());
    }

    #[test]
    fn groups_pack_consecutive_buckets_within_capacity() {
        assert_eq!(groups(&[3, 3, 3, 3], 6), vec![0..2, 2..4]);
        assert_eq!(groups(&[3, 10, 1, 1], 6), vec![0..1, 1..2, 2..4]);
        assert_eq!(groups(&[0, 0], 1), vec![0..2]);
        assert_eq!(groups(&[], 5), Vec::<Range<usize>>::new());
    }

    #[test]
    fn a_run_refuses_keys_out_of_order() {
        let mut w = RunWriter::new(Vec::new());
        w.push(5, b"a").unwrap();
        assert!(w.push(5, b"b").is_err());
        assert!(w.push(4, b"b").is_err());
    }

    proptest! {
        /// Items spread over runs come out in key order, each once, whatever the spread.
        #[test]
        fn runs_merge_in_key_order(keys in proptest::collection::btree_set(0u64..10_000, 0..200), runs in 1usize..7, seed in any::<u64>()) {
            let mut writers: Vec<RunWriter<Vec<u8>>> = (0..runs).map(|_| RunWriter::new(Vec::new())).collect();
            for (i, k) in keys.iter().enumerate() {
                let r = (seed.wrapping_mul(i as u64 + 1).rotate_left(17) % runs as u64) as usize;
                writers[r].push(*k, format!("{k}\n").as_bytes()).unwrap();
            }
            let bufs: Vec<Vec<u8>> = writers.into_iter().map(RunWriter::into_inner).collect();
            let mut out = Vec::new();
            let n = merge_runs(bufs.iter().map(|b| &b[..]), &mut out).unwrap();
            let want: String = keys.iter().map(|k| format!("{k}\n")).collect();
            prop_assert_eq!(n as usize, keys.len());
            prop_assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }
}
