//! Property tests of the money invariants: bounded by rate × uplift, never
//! negative, rounded once, independent of input order, unmoved by duplicates.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use proptest::prelude::*;
use rust_decimal::Decimal;
use std::str::FromStr;
use subsidy_core::{round_down_to_fen, Fingerprint, Ledger, PaymentStatus, PolicySet, UsageRecord};

/// One generated revision: (record index, revision, user index, center index, minutes, paid fen, status).
type Spec = (u8, u32, usize, usize, i64, i64, u8);

fn spec() -> impl Strategy<Value = Spec> {
    // Minutes from 2023-09-01 CST to past 2028-01: covers outside-window on both ends and both versions.
    (0u8..40, 1u32..4, 0usize..30, 0usize..8, 0i64..(4 * 366 * 24 * 60 + 60 * 24 * 60), 0i64..50_000_000, 0u8..4)
}

/// Builds records so that one (record, revision) pair always has the same content.
fn build(specs: &[Spec], codes: &[subsidy_core::CreditCode], centers: &[String]) -> Vec<UsageRecord> {
    let mut canonical = std::collections::HashMap::new();
    specs
        .iter()
        .map(|s| {
            let s = *canonical.entry((s.0, s.1)).or_insert(*s);
            let status = match s.6 {
                0 => PaymentStatus::Unpaid,
                1 => PaymentStatus::Refunded,
                _ => PaymentStatus::Paid,
            };
            common::record(&format!("r{}", s.0), s.1, codes[s.2], &centers[s.3], s.4, s.5, status)
        })
        .collect()
}

fn settle(records: &[UsageRecord], policy: &PolicySet, registry: &subsidy_core::Registry) -> Vec<subsidy_core::Settlement> {
    let mut ledger = Ledger::new(policy);
    for (i, r) in records.iter().enumerate() {
        ledger.ingest(r, Fingerprint::of(r), i as u64, registry);
    }
    ledger.settle()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn bounded_non_negative_and_rounded_once(specs in prop::collection::vec(spec(), 1..120)) {
        let (registry, codes, centers) = common::registry(30);
        let policy = PolicySet::builtin();
        let records = build(&specs, &codes, &centers);
        let ceiling = Decimal::from_str("0.24").unwrap();
        for s in settle(&records, &policy, &registry) {
            prop_assert!(s.subsidy >= Decimal::ZERO);
            prop_assert!(s.subsidy <= s.eligible_base * ceiling, "{:?}", s);
            prop_assert!(s.subsidy <= s.uncapped);
            // Rounded once: exactly the floor of the exact sum, so less than a fen below it.
            prop_assert_eq!(s.subsidy, round_down_to_fen(s.uncapped));
            prop_assert!(s.uncapped - s.subsidy < Decimal::new(1, 2));
            prop_assert_eq!(s.subsidy.scale(), 2);
            prop_assert!(s.eligible_records >= 1);
        }
    }

    #[test]
    fn order_of_lines_does_not_matter(specs in prop::collection::vec(spec(), 1..120), seed in any::<u64>()) {
        let (registry, codes, centers) = common::registry(30);
        let policy = PolicySet::builtin();
        let records = build(&specs, &codes, &centers);
        let mut shuffled = records.clone();
        // Deterministic Fisher–Yates from the seed.
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(settle(&records, &policy, &registry), settle(&shuffled, &policy, &registry));
    }

    #[test]
    fn duplicates_change_nothing(specs in prop::collection::vec(spec(), 1..80), picks in prop::collection::vec(any::<prop::sample::Index>(), 1..40)) {
        let (registry, codes, centers) = common::registry(30);
        let policy = PolicySet::builtin();
        let records = build(&specs, &codes, &centers);
        let mut with_dups = records.clone();
        for p in &picks {
            with_dups.push(records[p.index(records.len())].clone());
        }
        prop_assert_eq!(settle(&records, &policy, &registry), settle(&with_dups, &policy, &registry));
    }

    #[test]
    fn a_capped_year_pays_the_cap_or_its_floored_sum(specs in prop::collection::vec(spec(), 1..120), cap_fen in 1i64..20_000_000) {
        let (registry, codes, centers) = common::registry(30);
        let cap = Decimal::new(cap_fen, 2);
        let mut policy = PolicySet::builtin();
        for v in &mut policy.versions { v.annual_cap_yuan = Some(cap); }
        let records = build(&specs, &codes, &centers);
        // Settlements come sorted by entity then month, so each year's months are in order.
        let mut years: std::collections::BTreeMap<_, Vec<_>> = std::collections::BTreeMap::new();
        for s in settle(&records, &policy, &registry) {
            years.entry((s.credit_code, s.period.year())).or_default().push(s);
        }
        for months in years.values() {
            let floored: Decimal = months.iter().map(|s| round_down_to_fen(s.uncapped)).sum();
            let paid: Decimal = months.iter().map(|s| s.subsidy).sum();
            // Exactly min(cap, Σ each month floored), not a fen less.
            prop_assert_eq!(paid, floored.min(cap), "{:?}", months);
            // Spent in month order: a month paid short of its floor leaves nothing for later ones.
            let short = months.iter().position(|s| s.subsidy < round_down_to_fen(s.uncapped));
            if let Some(i) = short {
                prop_assert!(months[i + 1..].iter().all(|s| s.subsidy.is_zero()), "{:?}", months);
            }
            prop_assert!(months.iter().all(|s| s.subsidy >= Decimal::ZERO && s.subsidy.scale() == 2));
        }
    }
}

#[test]
fn rounding_once_differs_from_rounding_per_record() {
    let (registry, codes, centers) = common::registry(30);
    let policy = PolicySet::builtin();
    // An enterprise in 合肥 (no uplift), center owned by someone else, under v2 (2026-03).
    let user = codes[2];
    let minutes = 30 * 31 * 24 * 60;
    let records: Vec<_> = (0..3).map(|i| common::record(&format!("p{i}"), 1, user, &centers[0], minutes, 3, PaymentStatus::Paid)).collect();
    let s = settle(&records, &policy, &registry);
    assert_eq!(s.len(), 1);
    // 3 × (0.03 × 0.2) = 0.018 → 0.01 once; per record 0.006 → 0.00 each.
    assert_eq!(s[0].subsidy, Decimal::from_str("0.01").unwrap());
}

#[test]
fn cap_is_consumed_in_month_order() {
    let (registry, codes, centers) = common::registry(30);
    let mut policy = PolicySet::builtin();
    policy.versions[1].annual_cap_yuan = Some(Decimal::from(100));
    let user = codes[2];
    // 2026-01 and 2026-02: 400 yuan paid each → 80 uncapped each; cap 100 → 80 then 20.
    let jan = (28 * 30 + 20) * 24 * 60;
    let feb = jan + 31 * 24 * 60;
    let records = vec![
        common::record("a", 1, user, &centers[0], feb, 40_000, PaymentStatus::Paid),
        common::record("b", 1, user, &centers[0], jan, 40_000, PaymentStatus::Paid),
    ];
    let s = settle(&records, &policy, &registry);
    let subsidies: Vec<String> = s.iter().map(|s| format!("{} {}", s.period, s.subsidy)).collect();
    assert_eq!(subsidies, vec!["2026-01 80.00", "2026-02 20.00"]);
}

#[test]
fn fixture_produces_eligible_and_excluded_records() {
    // Guards the properties above against passing on empty settlements.
    let (registry, codes, centers) = common::registry(30);
    let policy = PolicySet::builtin();
    let specs: Vec<Spec> = (0..200u32).map(|i| ((i % 40) as u8, 1 + i % 3, (i * 7 % 30) as usize, (i % 8) as usize, i64::from(i) * 9_000 + 800_000, i64::from(i) * 1_234 + 5, (i % 4) as u8)).collect();
    let records = build(&specs, &codes, &centers);
    let mut ledger = Ledger::new(&policy);
    for (i, r) in records.iter().enumerate() {
        ledger.ingest(r, Fingerprint::of(r), i as u64, &registry);
    }
    let totals = ledger.totals();
    assert!(totals.eligible >= 5, "{totals:?}");
    assert!(totals.by_reason.len() >= 4, "{totals:?}");
    assert!(!ledger.settle().is_empty());
}

proptest! {
    /// A version orders by revision, then registry position, then the conflict flag,
    /// and gives its registry position back.
    #[test]
    fn versions_order_and_give_back_their_registry_position(
        a in (1u32..=subsidy_core::record::MAX_REVISION, any::<bool>(), 0u64..=subsidy_core::standing::MAX_VERSION_REGISTRY_POSITION),
        b in (1u32..=subsidy_core::record::MAX_REVISION, any::<bool>(), 0u64..=subsidy_core::standing::MAX_VERSION_REGISTRY_POSITION),
    ) {
        let (va, vb) = (subsidy_core::line_version(a.0, a.1, a.2), subsidy_core::line_version(b.0, b.1, b.2));
        prop_assert_eq!(subsidy_core::version_registry_position(va), a.2);
        prop_assert_eq!(va.cmp(&vb), (a.0, a.2, a.1).cmp(&(b.0, b.2, b.1)));
    }
}
