//! Fixtures shared by the core's property tests and benchmark: a small province and a record builder.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, FixedOffset, TimeZone};
use rust_decimal::Decimal;
use subsidy_core::{ComputeCenter, CreditCode, Entity, EntityKind, PaymentStatus, Registry, UsageRecord};

/// Cities of the fixture entities, 皖北 and not.
pub const CITIES: [&str; 4] = ["合肥市", "阜阳市", "芜湖市", "宿州市"];

/// A registry of `n` entities (mixed kinds, some out of province, groups of three) and eight centers,
/// two of them owned by users.
pub fn registry(n: usize) -> (Registry, Vec<CreditCode>, Vec<String>) {
    let mut r = Registry::new();
    let mut codes = Vec::new();
    for i in 0..n {
        let code = CreditCode::complete(&format!("9134{:013}", i)).unwrap();
        let kind = match i % 10 {
            0 => EntityKind::University,
            1 => EntityKind::ResearchInstitute,
            9 => EntityKind::Government,
            _ => EntityKind::Enterprise,
        };
        let (province, city) = if i % 17 == 5 { ("江苏省", "南京市") } else { ("安徽省", CITIES[i % CITIES.len()]) };
        r.upsert_entity(Entity {
            credit_code: code,
            name: format!("entity {i}"),
            kind,
            province: province.into(),
            city: city.into(),
            related_group: (i % 7 == 3 || i % 7 == 4).then(|| format!("G{}", i / 7)),
            valid_from: None,
        });
        codes.push(code);
    }
    let mut centers = Vec::new();
    for c in 0..8 {
        let owner = codes[(c * 7 + 4) % n];
        let id = format!("C{c}");
        r.upsert_center(ComputeCenter { center_id: id.clone(), name: id.clone(), owner_credit_code: owner, province: "安徽省".into(), city: "合肥市".into(), valid_from: None });
        centers.push(id);
    }
    (r, codes, centers)
}

/// A checked record with the given fields; amounts in fen.
#[allow(clippy::too_many_arguments)]
pub fn record(id: &str, revision: u32, user: CreditCode, center: &str, end_minutes_from_2023_09: i64, paid_fen: i64, status: PaymentStatus) -> UsageRecord {
    let cst = FixedOffset::east_opt(8 * 3600).unwrap();
    let origin: DateTime<FixedOffset> = cst.with_ymd_and_hms(2023, 9, 1, 0, 0, 0).unwrap();
    let end = origin + Duration::minutes(end_minutes_from_2023_09);
    let paid = Decimal::new(paid_fen, 2);
    UsageRecord {
        record_id: id.to_string(),
        revision,
        user,
        center_id: center.to_string(),
        accelerator: "Ascend-910B".into(),
        cards: 8,
        card_hours: Decimal::new(80, 0),
        usage_start: end - Duration::hours(10),
        usage_end: end,
        updated_at: end,
        unit_price: Decimal::new(10, 0),
        amount: paid,
        paid_amount: paid,
        payment_status: status,
        contract_id: None,
    }
}
