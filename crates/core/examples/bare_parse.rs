//! The reference `recompute` is measured against: read a JSON-lines file and
//! parse every line into a `serde_json::Value`, nothing else, on as many
//! threads as `recompute` uses (one per core, each a share of the lines).
//! The file is read in chunks of 64 MiB, so memory stays flat at any size.
//!
//!     cargo run --release -p subsidy-core --example bare_parse -- FILE

use std::io::Read;

const CHUNK: usize = 64 << 20;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: bare_parse FILE");
        std::process::exit(2);
    };
    let started = std::time::Instant::now();
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cannot open {path}: {e}");
            std::process::exit(1);
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (mut lines, mut parsed) = (0usize, 0usize);
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut buf = std::mem::take(&mut carry);
        let filled = buf.len();
        buf.resize(filled + CHUNK, 0);
        let n = match file.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("cannot read {path}: {e}");
                std::process::exit(1);
            }
        };
        buf.truncate(filled + n);
        let end = if n == 0 { buf.len() } else { buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) };
        carry = buf[end..].to_vec();
        let (l, p) = parse_lines(&buf[..end], threads);
        lines += l;
        parsed += p;
        if n == 0 {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!("bare_parse: {lines} lines ({parsed} JSON) in {secs:.2} s, {:.0} lines/s, {threads} threads", lines as f64 / secs);
}

/// Parses the complete lines of `bytes` on `threads` threads: (lines, lines that are JSON).
fn parse_lines(bytes: &[u8], threads: usize) -> (usize, usize) {
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    let parsed = std::thread::scope(|s| {
        let handles: Vec<_> = lines
            .chunks(lines.len().div_ceil(threads).max(1))
            .map(|chunk| s.spawn(move || chunk.iter().filter(|l| serde_json::from_slice::<serde_json::Value>(l).is_ok()).count()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    (lines.len(), parsed)
}
