//! The platform's usage counts, the ledger's figures per center-day, and the
//! closes forced past a gap.

use super::fixtures::*;
use chrono::NaiveDate;
use subsidy_core::{reconcile, DayCount, Gap};
use subsidy_store::{CloseOverride, CountRow, LedgerStore};

fn count(center: &str, day: &str, records: u64, paid: &str, version: i64) -> CountRow {
    CountRow { count: DayCount { center_id: center.into(), day: NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap(), records, paid: d(paid) }, version }
}

pub async fn usage_counts_keep_the_latest_and_reconcile_with_the_lines(store: &dyn LedgerStore) {
    ready(store).await;
    let u = code(90);
    // Two lines on hefei-01, 2025-09-15 (the fixtures' day), paid 100.00 and 50.50.
    store.write_batch(&batch_of(vec![line("r1", 1, u, "2025-09", pos(0, 1), "100.00", "20"), line("r2", 1, u, "2025-09", pos(0, 2), "50.50", "10.1")])).await.unwrap();
    // The platform first counted two, then (a later offset) three; an older count arriving late changes nothing.
    store.write_usage_counts(&[count("hefei-01", "2025-09-15", 2, "150.50", 4), count("wuhu-02", "2025-09-16", 1, "7.00", 5)]).await.unwrap();
    store.write_usage_counts(&[count("hefei-01", "2025-09-15", 3, "160.50", 9)]).await.unwrap();
    store.write_usage_counts(&[count("hefei-01", "2025-09-15", 2, "150.50", 4), count("hefei-01", "2025-10-01", 4, "1.00", 6)]).await.unwrap();
    let platform = store.usage_counts(month("2025-09")).await.unwrap();
    assert_eq!(platform, vec![count("hefei-01", "2025-09-15", 3, "160.50", 0).count, count("wuhu-02", "2025-09-16", 1, "7.00", 0).count]);
    let ledger = store.ledger_counts(month("2025-09")).await.unwrap();
    assert_eq!(ledger, vec![count("hefei-01", "2025-09-15", 2, "150.50", 0).count]);
    assert!(store.ledger_counts(month("2025-10")).await.unwrap().is_empty());
    let r = reconcile(month("2025-09"), &platform, &ledger);
    assert_eq!(r.gaps.iter().map(|g| (g.center_id.as_str(), g.missing_records())).collect::<Vec<_>>(), [("hefei-01", 1), ("wuhu-02", 1)]);
}

pub async fn a_forced_close_counts_once_its_closure_stands(store: &dyn LedgerStore) {
    ready(store).await;
    let gap = Gap {
        center_id: "hefei-01".into(),
        day: NaiveDate::from_ymd_opt(2025, 9, 15).unwrap(),
        platform_records: 3,
        platform_paid: d("160.50"),
        ledger_records: 2,
        ledger_paid: d("150.50"),
    };
    let forced = CloseOverride { close_id: "close-f".into(), period: month("2025-09"), reason: "ticket 7".into(), operator: "cli:wang".into(), at: utc("2025-10-02T08:00:00Z"), gaps: vec![gap] };
    store.record_override(&forced).await.unwrap();
    store.record_override(&CloseOverride { close_id: "close-lost".into(), ..forced.clone() }).await.unwrap();
    assert!(store.close_overrides().await.unwrap().is_empty(), "no closure names either close yet");
    store.commit_close(&closure("2025-09", "close-f"), &[]).await.unwrap();
    store.record_override(&forced).await.unwrap();
    assert_eq!(store.close_overrides().await.unwrap(), vec![forced.clone()]);
    assert_eq!(forced.gap_records(), 1);
}
