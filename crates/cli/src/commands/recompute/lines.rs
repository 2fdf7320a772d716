//! Reads a records file in chunks of whole lines, parses the chunks on
//! worker threads and hands every line back in input order with its line
//! number, so the caller sees exactly what a one-line-at-a-time loop would.
//!
//! One reader thread cuts chunks, `workers` threads parse them, and the
//! caller's thread consumes them. At most [`IN_FLIGHT_PER_WORKER`] chunks per
//! worker are read ahead, so memory does not grow with the file.

use anyhow::{anyhow, Context, Result};
use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::Mutex;
use subsidy_core::{parse_record, Fingerprint, Rejection, UsageRecord};

/// Bytes read per chunk (a chunk is extended to the end of its last line).
const CHUNK_BYTES: usize = 512 * 1024;

/// Chunks read ahead of the consumer, per worker.
const IN_FLIGHT_PER_WORKER: usize = 2;

/// One input line.
#[derive(Debug)]
pub(super) enum Line {
    /// Empty or whitespace only.
    Blank,
    /// A record that passed every field check, with its content fingerprint.
    Record(UsageRecord, Fingerprint),
    /// A line refused by the parser, with its text (lossily UTF-8).
    Rejected { rejection: Rejection, raw: String },
}

/// A chunk handed to the consumer: a parsed chunk, or the read error that ended the input.
enum Pending {
    Chunk(Receiver<Vec<Line>>),
    Failed(io::Error),
}

/// Parses one line (without its `\n`) the way the sequential reader did: trailing
/// whitespace trimmed, blank lines recognised.
fn parse_line(line: &[u8]) -> Line {
    let line = line.trim_ascii_end();
    if line.trim_ascii_start().is_empty() {
        return Line::Blank;
    }
    match parse_record(line) {
        Ok(record) => {
            let f = Fingerprint::of(&record);
            Line::Record(record, f)
        }
        Err(rejection) => Line::Rejected { rejection, raw: String::from_utf8_lossy(line).into_owned() },
    }
}

/// Parses every line of a chunk into `out`. A chunk ends with `\n` except, possibly,
/// the last one of the file; text after the last `\n` is a line, an empty rest is not.
fn parse_chunk(chunk: &[u8], out: &mut Vec<Line>) {
    let body = chunk.strip_suffix(b"\n").unwrap_or(chunk);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', body) {
        out.push(parse_line(&body[start..end]));
        start = end + 1;
    }
    out.push(parse_line(&body[start..]));
}

/// Spent buffers handed back for reuse. Steady state then allocates nothing
/// new, and records are freed on a parser thread rather than the consumer's.
#[derive(Default)]
struct Recycle {
    bytes: Mutex<Vec<Vec<u8>>>,
    lines: Mutex<Vec<Vec<Line>>>,
}

impl Recycle {
    fn put<T>(pool: &Mutex<Vec<T>>, item: T) {
        if let Ok(mut pool) = pool.lock() {
            pool.push(item);
        }
    }

    fn take<T: Default>(pool: &Mutex<Vec<T>>) -> T {
        pool.lock().ok().and_then(|mut pool| pool.pop()).unwrap_or_default()
    }
}

/// The next run of whole lines, or `None` at end of input. `carry` holds the
/// start of a line cut by the previous read; `buf` is reused. Stops at the
/// first `read` that brings a newline, so a read error never swallows whole
/// lines read before it.
fn next_chunk(reader: &mut impl Read, carry: &mut Vec<u8>, mut buf: Vec<u8>) -> io::Result<Option<Vec<u8>>> {
    buf.clear();
    buf.append(carry);
    loop {
        let filled = buf.len();
        buf.resize(filled + CHUNK_BYTES, 0);
        let n = match reader.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                buf.truncate(filled);
                continue;
            }
            Err(e) => return Err(e),
        };
        buf.truncate(filled + n);
        if n == 0 {
            return Ok(if buf.is_empty() { None } else { Some(buf) });
        }
        if let Some(pos) = memchr::memrchr(b'\n', &buf[filled..]) {
            let end = filled + pos + 1;
            carry.extend_from_slice(&buf[end..]);
            buf.truncate(end);
            return Ok(Some(buf));
        }
    }
}

/// Calls `f(line_number, line)` for every line of `input`, in order, numbering
/// from 1, and returns the number of lines. Stops at the first error of `f` or
/// of reading (`path` names the input in that error).
pub(super) fn for_each_line<R, F>(input: R, path: &Path, workers: usize, mut f: F) -> Result<u64>
where
    R: Read + Send,
    F: FnMut(u64, &Line) -> Result<()>,
{
    let workers = workers.max(1);
    // Unbounded, but never holds more chunks than `order_tx` lets the reader get ahead.
    let (work_tx, work_rx) = channel::<(Vec<u8>, SyncSender<Vec<Line>>)>();
    let work_rx = Mutex::new(work_rx);
    let recycle = Recycle::default();
    std::thread::scope(|s| {
        let (order_tx, order_rx) = sync_channel::<Pending>(IN_FLIGHT_PER_WORKER * workers);
        let recycle = &recycle;
        std::thread::Builder::new().name("recompute-read".into()).spawn_scoped(s, move || {
            let mut input = input;
            let mut carry = Vec::new();
            loop {
                match next_chunk(&mut input, &mut carry, Recycle::take(&recycle.bytes)) {
                    Ok(Some(chunk)) => {
                        let (done_tx, done_rx) = sync_channel(1);
                        if order_tx.send(Pending::Chunk(done_rx)).is_err() || work_tx.send((chunk, done_tx)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = order_tx.send(Pending::Failed(e));
                        return;
                    }
                }
            }
        })?;
        for _ in 0..workers {
            let work_rx = &work_rx;
            std::thread::Builder::new().name("recompute-parse".into()).spawn_scoped(s, move || loop {
                // The lock is held only while waiting for the next chunk.
                let job = match work_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok((chunk, done_tx)) = job else { return };
                let mut lines = Recycle::take(&recycle.lines);
                lines.clear();
                parse_chunk(&chunk, &mut lines);
                Recycle::put(&recycle.bytes, chunk);
                // The consumer may have stopped early; then nobody wants the result.
                let _ = done_tx.send(lines);
            })?;
        }
        // `order_rx` is dropped when this returns, which stops the reader, which stops the workers.
        let mut line_no = 0u64;
        for pending in order_rx {
            let lines = match pending {
                Pending::Chunk(done_rx) => done_rx.recv().map_err(|_| anyhow!("a parser thread stopped unexpectedly"))?,
                Pending::Failed(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
            };
            for line in &lines {
                line_no += 1;
                f(line_no, line)?;
            }
            Recycle::put(&recycle.lines, lines);
        }
        Ok(line_no)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Line numbers and kinds, as the sequential `read_until` loop saw them.
    fn kinds(text: &[u8]) -> Vec<(u64, &'static str)> {
        let mut v = Vec::new();
        let n = for_each_line(text, Path::new("t"), 3, |no, line| {
            v.push((
                no,
                match line {
                    Line::Blank => "blank",
                    Line::Record(..) => "record",
                    Line::Rejected { .. } => "rejected",
                },
            ));
            Ok(())
        })
        .unwrap();
        assert_eq!(n as usize, v.len());
        v
    }

    #[test]
    fn lines_are_numbered_like_a_sequential_reader() {
        assert_eq!(kinds(b""), vec![]);
        assert_eq!(kinds(b"\n"), vec![(1, "blank")]);
        assert_eq!(kinds(b"x"), vec![(1, "rejected")]);
        assert_eq!(kinds(b"x\n \r\n\n{"), vec![(1, "rejected"), (2, "blank"), (3, "blank"), (4, "rejected")]);
        assert_eq!(kinds(b"x\r\n\n"), vec![(1, "rejected"), (2, "blank")]);
    }

    #[test]
    fn order_is_kept_across_many_chunks() {
        // Lines of varied length, some longer than a chunk, numbered in their text.
        let mut text = Vec::new();
        let mut want = Vec::new();
        for i in 0..20_000u64 {
            let pad = if i % 997 == 0 { CHUNK_BYTES + 11 } else { (i % 300) as usize };
            text.extend_from_slice(format!("{i} {}\n", "z".repeat(pad)).as_bytes());
            want.push(i);
        }
        let mut got = Vec::new();
        let n = for_each_line(&text[..], Path::new("t"), 2, |no, line| {
            let Line::Rejected { raw, .. } = line else { panic!("line {no} parsed") };
            let first: u64 = raw.split(' ').next().unwrap().parse().unwrap();
            assert_eq!(first + 1, no);
            got.push(first);
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 20_000);
        assert_eq!(got, want);
    }

    #[test]
    fn a_consumer_error_stops_everything() {
        let text = "x\n".repeat(100_000);
        let mut seen = 0;
        let err = for_each_line(text.as_bytes(), Path::new("t"), 2, |_, _| {
            seen += 1;
            if seen == 10 {
                anyhow::bail!("enough");
            }
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "enough");
        assert_eq!(seen, 10);
    }

    #[test]
    fn a_read_error_is_reported_after_the_lines_before_it() {
        struct Failing(bool);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if std::mem::replace(&mut self.0, true) {
                    return Err(io::Error::other("disk on fire"));
                }
                buf[..2].copy_from_slice(b"x\n");
                Ok(2)
            }
        }
        let mut seen = 0;
        let err = for_each_line(Failing(false), Path::new("r.jsonl"), 2, |_, _| {
            seen += 1;
            Ok(())
        })
        .unwrap_err();
        assert_eq!(seen, 1);
        assert_eq!(format!("{err:#}"), "cannot read r.jsonl: disk on fire");
    }
}
