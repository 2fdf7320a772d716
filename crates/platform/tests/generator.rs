//! The generated data set: determinism, a registry the core accepts, and
//! record lines that are valid or bad exactly as their kinds say.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::{HashMap, HashSet};
use subsidy_core::{parse_record, CreditCode, EntityKind, ReasonCode, Registry};
use subsidy_platform::generate::names::ANHUI;
use subsidy_platform::{generate, Dataset, GenConfig, Generated, LineKind, MalformedKind};

fn config() -> GenConfig {
    GenConfig { records: 6_000, ..GenConfig::default() }
}

fn registry(d: &Dataset) -> Registry {
    let mut r = Registry::new();
    let report = r.load_entities(&serde_json::to_string(&d.entities).unwrap()).unwrap();
    assert!(report.refused.is_empty() && report.repeated.is_empty(), "{report:?}");
    let report = r.load_centers(&serde_json::to_string(&d.centers).unwrap()).unwrap();
    assert!(report.refused.is_empty() && report.repeated.is_empty(), "{report:?}");
    // The generator registers entities where their credit codes say they are; only those
    // that moved on a day are reported, as their code names the city they left.
    let moved: HashSet<String> = r.entities_sorted().iter().filter(|e| e.valid_from.is_some()).map(|e| e.credit_code.to_string()).collect();
    assert!(r.findings().iter().all(|f| moved.contains(&f.key)), "{:?}", r.findings());
    r
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = generate(&config()).unwrap();
    let b = generate(&config()).unwrap();
    assert_eq!(a.dataset, b.dataset);
    assert_eq!(a.kinds, b.kinds);
    let c = generate(&GenConfig { seed: 7, ..config() }).unwrap();
    assert_ne!(a.dataset.records, c.dataset.records);
    assert_ne!(a.dataset.entities, c.dataset.entities);
    // The registry depends on the seed alone, not on the number of records.
    let fewer = generate(&GenConfig { records: 100, ..config() }).unwrap();
    assert_eq!(fewer.dataset.entities, a.dataset.entities);
    assert_eq!(fewer.dataset.records.len(), 100);
    assert!(generate(&GenConfig { entities: 3, ..config() }).is_err());
}

#[test]
fn registry_is_valid_and_realistic() {
    let g = generate(&config()).unwrap();
    let r = registry(&g.dataset);
    assert_eq!(r.entity_count(), 300);
    assert_eq!(r.center_count(), 20);
    // The undated entries: each entity's first registration (dated moves follow, tested below).
    let entities: Vec<_> = r.entities_sorted().into_iter().filter(|e| e.valid_from.is_none()).collect();
    assert_eq!(entities.len(), 300);
    let cities: HashSet<&str> = entities.iter().filter(|e| e.province == "安徽省").map(|e| e.city.as_str()).collect();
    assert_eq!(cities.len(), ANHUI.len(), "every Anhui city has entities");
    let outside = entities.iter().filter(|e| e.province != "安徽省").count();
    assert!((5..=30).contains(&outside), "{outside} outside the province");
    let mut kinds: HashMap<EntityKind, usize> = HashMap::new();
    for e in &entities {
        *kinds.entry(e.kind).or_default() += 1;
        let prefix = &e.credit_code.as_str()[..2];
        let expected = match e.kind {
            EntityKind::Enterprise => "91",
            EntityKind::University | EntityKind::ResearchInstitute => "12",
            EntityKind::Government => "11",
            EntityKind::Individual => "92",
            EntityKind::Other => "51",
        };
        assert_eq!(prefix, expected, "{e:?}");
    }
    assert!(kinds[&EntityKind::Enterprise] > 150 && kinds.len() == 6, "{kinds:?}");
    let mut groups: HashMap<&str, usize> = HashMap::new();
    for e in &entities {
        if let Some(g) = &e.related_group {
            *groups.entry(g).or_default() += 1;
        }
    }
    assert!(groups.len() >= 5 && groups.values().all(|n| (2..=4).contains(n)), "{groups:?}");
    for c in &g.dataset.centers {
        let owner = CreditCode::parse(c["owner_credit_code"].as_str().unwrap()).unwrap();
        assert!(r.entity(&owner).is_some(), "center owner is registered");
    }
}

fn yuan(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

#[test]
fn lines_are_valid_or_bad_as_their_kind_says() {
    let g: Generated = generate(&config()).unwrap();
    let d = &g.dataset;
    let r = registry(d);
    assert_eq!(d.records.len(), 6_000);
    let s = g.summary();
    assert_eq!(s.lines, 6_000);
    assert!((30..=120).contains(&s.malformed), "{s:?}");
    assert!((60..=240).contains(&s.duplicates), "{s:?}");
    assert!(s.revisions > 400, "{s:?}");

    let mut last_updated = None;
    let mut last_revision: HashMap<String, (u32, i64)> = HashMap::new();
    let mut statuses = HashSet::new();
    let (mut self_built, mut related, mut v1_end, mut v2_end) = (0, 0, 0, 0);
    for (i, (line, kind)) in d.records.iter().zip(&g.kinds).enumerate() {
        let parsed = parse_record(line.as_bytes());
        match kind {
            LineKind::Malformed(m) => {
                assert_eq!(m.is_invalid_json(), serde_json::from_str::<serde_json::Value>(line).is_err(), "{line}");
                if m.rejected_by_parser() {
                    assert_eq!(parsed.unwrap_err().reason, m.expected_reason(), "{m:?}: {line}");
                } else {
                    let rec = parsed.unwrap();
                    match m {
                        MalformedKind::UnknownEntity => assert!(r.entity(&rec.user).is_none()),
                        _ => assert!(r.center(&rec.center_id).is_none()),
                    }
                    assert!(matches!(m.expected_reason(), ReasonCode::UnknownEntity | ReasonCode::UnknownCenter));
                }
                continue;
            }
            LineKind::Duplicate => assert_eq!(line, &d.records[i - 1], "a duplicate repeats the line before it"),
            LineKind::Original | LineKind::Revision => {}
        }
        let rec = parsed.unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(last_updated <= Some(rec.updated_at), "stream ordered by updated_at");
        last_updated = Some(rec.updated_at);
        assert!(rec.updated_at.to_rfc3339().ends_with("+08:00"));
        let ts = rec.updated_at.timestamp();
        match (kind, last_revision.get(&rec.record_id)) {
            (LineKind::Original, None) => assert_eq!(rec.revision, 1),
            (LineKind::Revision, Some(&(rev, at))) => assert!(rec.revision == rev + 1 && ts > at, "{line}"),
            (LineKind::Duplicate, Some(&(rev, at))) => assert!(rec.revision == rev && ts == at),
            (k, prev) => panic!("{k:?} after {prev:?}: {line}"),
        }
        last_revision.insert(rec.record_id.clone(), (rec.revision, ts));
        assert_eq!(rec.amount, yuan(rec.card_hours * rec.unit_price), "{line}");
        assert!((1..=64).contains(&rec.cards));
        statuses.insert(rec.payment_status);
        let user = r.entity(&rec.user).expect("user registered");
        let center = r.center(&rec.center_id).expect("center registered");
        if center.owner_credit_code == rec.user {
            self_built += 1;
        } else if let (Some(g), Some(owner)) = (&user.related_group, r.entity(&center.owner_credit_code)) {
            related += usize::from(owner.related_group.as_ref() == Some(g));
        }
        match rec.usage_end.date_naive().to_string().as_str() {
            "2025-08-10" => v1_end += 1,
            "2025-08-11" => v2_end += 1,
            _ => {}
        }
    }
    assert_eq!(statuses.len(), 3, "paid, unpaid and refunded all occur");
    assert!(self_built > 0 && related > 0, "self-built {self_built}, related {related}");
    assert!(v1_end > 0 && v2_end > 0, "usage ends on both sides of the v1/v2 boundary: {v1_end} {v2_end}");
}

fn bad_shapes(g: &Generated) -> HashSet<MalformedKind> {
    g.kinds.iter().filter_map(|k| if let LineKind::Malformed(m) = k { Some(*m) } else { None }).collect()
}

#[test]
fn files_round_trip_byte_exact() {
    let g = generate(&GenConfig { records: 2_000, malformed_share: 0.1, ..config() }).unwrap();
    assert_eq!(bad_shapes(&g).len(), MalformedKind::WEIGHTED.len(), "every bad shape occurs");
    let dir = tempfile::tempdir().unwrap();
    g.dataset.write_files(dir.path()).unwrap();
    assert_eq!(Dataset::from_dir(dir.path()).unwrap(), g.dataset);
}

/// `cargo test -p subsidy-platform --release -- --ignored million` to time a large data set.
#[test]
#[ignore]
fn million_records_in_seconds() {
    let started = std::time::Instant::now();
    let g = generate(&GenConfig { records: 1_000_000, entities: 20_000, centers: 30, ..GenConfig::default() }).unwrap();
    let took = started.elapsed();
    let bytes: usize = g.dataset.records.iter().map(String::len).sum();
    eprintln!("1M records, {} MB of text, in {took:?}: {:?}", bytes >> 20, g.summary());
    assert!(took.as_secs() < 10);
}

/// Some entities re-register in 阜阳市 and some centers are sold, each from a day inside the
/// generated months; the rest of the data set is the same as without them.
#[test]
fn dated_moves_and_sales_fall_inside_the_months() {
    let g = generate(&config()).unwrap();
    let r = registry(&g.dataset);
    let moves: Vec<_> = r.entities_sorted().into_iter().filter(|e| e.valid_from.is_some()).collect();
    let sales: Vec<_> = r.centers_sorted().into_iter().filter(|c| c.valid_from.is_some()).collect();
    assert!(!moves.is_empty() && !sales.is_empty(), "{} moves, {} sales", moves.len(), sales.len());
    let (first, last) = (chrono::NaiveDate::from_ymd_opt(2025, 6, 2).unwrap(), chrono::NaiveDate::from_ymd_opt(2025, 11, 28).unwrap());
    for m in &moves {
        let day = m.valid_from.unwrap();
        assert!((first..=last).contains(&day), "{m:?}");
        assert_eq!(m.city, "阜阳市");
        let before = r.entity_on(&m.credit_code, day.pred_opt().unwrap()).unwrap();
        assert_ne!(before.city, "阜阳市", "a move changes the city: {before:?}");
    }
    for c in &sales {
        let day = c.valid_from.unwrap();
        assert!((first..=last).contains(&day), "{c:?}");
        let before = r.center_on(&c.center_id, day.pred_opt().unwrap()).unwrap();
        assert_ne!(before.owner_credit_code, c.owner_credit_code, "a sale changes the owner");
        assert!(r.entity(&c.owner_credit_code).is_some(), "the buyer is registered");
    }
}
