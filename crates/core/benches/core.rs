//! Benchmarks of the core's hot paths: the settlement step (fingerprint,
//! revision decision, classification, accrual) and settlement over checked
//! records, and parsing record lines. Throughput is records per second.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use subsidy_core::{parse_record, Fingerprint, Ledger, PaymentStatus, PolicySet, UsageRecord};

// The same allocator as the binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const N: usize = 200_000;

fn records() -> (subsidy_core::Registry, Vec<UsageRecord>) {
    let (registry, codes, centers) = common::registry(500);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let records = (0..N)
        .map(|i| {
            let r = next();
            // One record in eight gets a second revision; minutes span 2025-06 … 2026-06.
            let (id, rev) = if i % 8 == 7 { (i - 7, 2) } else { (i, 1) };
            let status = match r % 10 {
                0 => PaymentStatus::Unpaid,
                1 => PaymentStatus::Refunded,
                _ => PaymentStatus::Paid,
            };
            let minutes = 640 * 24 * 60 + (r >> 8) as i64 % (365 * 24 * 60);
            common::record(&format!("rec-{id:08}"), rev, codes[(r >> 20) as usize % codes.len()], &centers[(r >> 40) as usize % centers.len()], minutes, (r >> 30) as i64 % 5_000_000, status)
        })
        .collect();
    (registry, records)
}

fn line(r: &UsageRecord) -> String {
    serde_json::json!({
        "record_id": r.record_id, "revision": r.revision, "user_credit_code": r.user.as_str(),
        "center_id": r.center_id, "accelerator": r.accelerator, "cards": r.cards,
        "card_hours": r.card_hours.to_string(), "usage_start": r.usage_start.to_rfc3339(),
        "usage_end": r.usage_end.to_rfc3339(), "updated_at": r.updated_at.to_rfc3339(),
        "unit_price": r.unit_price.to_string(), "amount": r.amount.to_string(),
        "paid_amount": r.paid_amount.to_string(), "payment_status": r.payment_status.as_str(), "currency": "CNY"
    })
    .to_string()
}

fn bench(c: &mut Criterion) {
    let (registry, recs) = records();
    let policy = PolicySet::builtin();
    let mut g = c.benchmark_group("core");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(20);
    g.bench_function("step_accrue_settle", |b| {
        b.iter(|| {
            let mut ledger = Ledger::new(&policy);
            for (i, r) in recs.iter().enumerate() {
                ledger.ingest(r, Fingerprint::of(r), i as u64, &registry);
            }
            black_box(ledger.settle())
        })
    });
    let lines: Vec<String> = recs.iter().map(line).collect();
    g.bench_function("parse_record", |b| {
        b.iter(|| {
            let mut ok = 0usize;
            for l in &lines {
                ok += parse_record(black_box(l.as_bytes())).is_ok() as usize;
            }
            assert_eq!(ok, N);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
