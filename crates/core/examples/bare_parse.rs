//! The reference `recompute` is measured against: read a JSON-lines file and
//! parse every line into a `serde_json::Value`, nothing else, on as many
//! threads as `recompute` uses (one per core, each a share of the lines).
//!
//!     cargo run --release -p subsidy-core --example bare_parse -- FILE

use std::io::Read;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: bare_parse FILE");
        std::process::exit(2);
    };
    let started = std::time::Instant::now();
    let mut bytes = Vec::new();
    if let Err(e) = std::fs::File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes)) {
        eprintln!("cannot read {path}: {e}");
        std::process::exit(1);
    }
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parsed: usize = std::thread::scope(|s| {
        let handles: Vec<_> = lines
            .chunks(lines.len().div_ceil(threads).max(1))
            .map(|chunk| s.spawn(move || chunk.iter().filter(|l| serde_json::from_slice::<serde_json::Value>(l).is_ok()).count()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    let secs = started.elapsed().as_secs_f64();
    println!("bare_parse: {} lines ({parsed} JSON) in {secs:.2} s, {:.0} lines/s, {threads} threads", lines.len(), lines.len() as f64 / secs);
}
