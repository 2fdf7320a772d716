//! `GET /v1/overview`: one month across the province (or a city): totals by
//! city, entity kind, center and accelerator, spend excluded by reason (self-built and
//! related-party among them), the uplift's part (from the core), top entities and rejections.

use super::{yuan, EntityInfo, Exclusion, ExclusionSums};
use crate::auth::Role;
use crate::error::ApiResult;
use crate::state::{ApiState, Book};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use subsidy_core::{uplift_part, CreditCode, Period, Registry, Settlement};
use subsidy_store::MonthSum;
use utoipa::ToSchema;

/// Entities listed under `top_entities`.
const TOP: usize = 10;

/// One month's overview.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Overview {
    /// `YYYY-MM`.
    pub period: String,
    /// `province`, or the city the token sees.
    pub scope: String,
    /// Totals over the scope.
    pub totals: Group,
    /// The part of the eligible lines' contributions due to the policy's uplift (皖北), before caps, rounded down to the fen once, yuan.
    pub uplift_contribution: String,
    /// By city of registration.
    pub by_city: Vec<Group>,
    /// By entity kind.
    pub by_kind: Vec<Group>,
    /// By compute center (subsidy is not split by center: caps and rounding are per entity).
    pub by_center: Vec<Group>,
    /// By accelerator model (no subsidy, as for centers).
    pub by_accelerator: Vec<Group>,
    /// Spend excluded, by reason.
    pub excluded: Vec<Exclusion>,
    /// Entities with the highest subsidy.
    pub top_entities: Vec<TopEntity>,
    /// Lines that could not be read as records, by reason (bureau only: they name no entity).
    pub rejected: Vec<ReasonCount>,
}

/// Totals of one group.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct Group {
    /// The group: a city, a kind, a center id or an accelerator model (empty for totals).
    pub key: String,
    /// A readable name, where there is one.
    pub name: Option<String>,
    /// Entities with eligible lines.
    pub entities: u64,
    /// Eligible lines.
    pub eligible_records: u64,
    /// Σ eligible base, yuan.
    pub eligible_base: String,
    /// Σ subsidy of the entities, yuan (absent for centers).
    pub subsidy: Option<String>,
}

/// An entity among the top.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TopEntity {
    /// The entity.
    pub entity: EntityInfo,
    /// Subsidy, yuan.
    pub subsidy: String,
}

/// A count by reason.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReasonCount {
    /// Reason code.
    pub reason: String,
    /// Lines.
    pub records: u64,
}

#[derive(Default)]
struct Acc {
    entities: BTreeSet<CreditCode>,
    records: u64,
    base: Decimal,
    subsidy: Decimal,
}

impl Acc {
    fn group(self, key: String, name: Option<String>, with_subsidy: bool) -> Group {
        Group {
            key,
            name,
            entities: self.entities.len() as u64,
            eligible_records: self.records,
            eligible_base: yuan(self.base),
            subsidy: with_subsidy.then(|| yuan(self.subsidy)),
        }
    }
}

/// The overview of `period` as `role` may see it.
pub async fn overview(state: &ApiState, role: &Role, period: Period) -> ApiResult<Overview> {
    let book = state.book();
    let registry = &book.registry;
    let sums: Vec<MonthSum> = state.store.month_sums(period).await?.into_iter().filter(|s| role.may_see(&s.user_credit_code, registry)).collect();
    let settled = super::settlements::of_month(&book, role, period);
    let rejected = match role {
        Role::Bureau => state.store.rejection_counts().await?.into_iter().map(|(reason, records)| ReasonCount { reason, records }).collect(),
        _ => Vec::new(),
    };
    Ok(Overview {
        period: period.to_string(),
        scope: match role {
            Role::City(city) => city.clone(),
            _ => "province".to_string(),
        },
        totals: by(&sums, &settled, |_| String::new()).remove("").unwrap_or_default().group(String::new(), None, true),
        uplift_contribution: yuan(uplift_part(sums.iter().filter(|s| s.reason.is_none()).map(|s| (s.contribution, s.uplift)))),
        by_city: groups(by(&sums, &settled, |c| entity_field(registry, c, |e| e.city.clone())), |_| None, true),
        by_kind: groups(by(&sums, &settled, |c| entity_field(registry, c, |e| e.kind.as_str().to_string())), |_| None, true),
        by_center: line_groups(&sums, |s| s.center_id.clone(), |id| registry.center(id).map(|c| c.name.clone())),
        by_accelerator: line_groups(&sums, |s| s.accelerator.clone(), |_| None),
        excluded: excluded(&sums),
        top_entities: top(&settled, registry),
        rejected,
    })
}

fn entity_field(registry: &Registry, code: &CreditCode, f: impl Fn(&subsidy_core::Entity) -> String) -> String {
    registry.entity(code).map_or_else(|| "unregistered".to_string(), f)
}

/// Eligible sums and subsidies grouped by a key of the entity.
fn by(sums: &[MonthSum], settled: &[Settlement], key: impl Fn(&CreditCode) -> String) -> BTreeMap<String, Acc> {
    let mut out: BTreeMap<String, Acc> = BTreeMap::new();
    for s in sums.iter().filter(|s| s.reason.is_none()) {
        let a = out.entry(key(&s.user_credit_code)).or_default();
        a.entities.insert(s.user_credit_code);
        a.records += s.records;
        a.base += s.base;
    }
    for s in settled {
        out.entry(key(&s.credit_code)).or_default().subsidy += s.subsidy;
    }
    out
}

fn groups(accs: BTreeMap<String, Acc>, name: impl Fn(&str) -> Option<String>, with_subsidy: bool) -> Vec<Group> {
    accs.into_iter().map(|(k, a)| {
        let n = name(&k);
        a.group(k, n, with_subsidy)
    }).collect()
}

/// Eligible sums grouped by a key of the lines (center, accelerator): no subsidy, which
/// is settled per entity, not per line.
fn line_groups(sums: &[MonthSum], key: impl Fn(&MonthSum) -> String, name: impl Fn(&str) -> Option<String>) -> Vec<Group> {
    let mut accs: BTreeMap<String, Acc> = BTreeMap::new();
    for s in sums.iter().filter(|s| s.reason.is_none()) {
        let a = accs.entry(key(s)).or_default();
        a.entities.insert(s.user_credit_code);
        a.records += s.records;
        a.base += s.base;
    }
    groups(accs, name, false)
}

fn excluded(sums: &[MonthSum]) -> Vec<Exclusion> {
    let mut ex = ExclusionSums::default();
    for s in sums {
        if let Some(r) = s.reason {
            ex.add(r, s.records, s.paid_amount);
        }
    }
    ex.list()
}

fn top(settled: &[Settlement], registry: &Registry) -> Vec<TopEntity> {
    let mut v: Vec<&Settlement> = settled.iter().filter(|s| s.subsidy > Decimal::ZERO).collect();
    v.sort_by(|a, b| b.subsidy.cmp(&a.subsidy).then(a.credit_code.cmp(&b.credit_code)));
    v.into_iter().take(TOP).map(|s| TopEntity { entity: EntityInfo::of(&s.credit_code, registry), subsidy: yuan(s.subsidy) }).collect()
}

/// Σ subsidy by city and month over every month, as `role` may see it: city → month → yuan.
pub fn subsidy_by_city_and_month(book: &Book, role: &Role) -> BTreeMap<String, BTreeMap<Period, Decimal>> {
    let mut out: BTreeMap<String, BTreeMap<Period, Decimal>> = BTreeMap::new();
    for s in book.settlements.iter().filter(|s| role.may_see(&s.credit_code, &book.registry)) {
        let city = entity_field(&book.registry, &s.credit_code, |e| e.city.clone());
        *out.entry(city).or_default().entry(s.period).or_default() += s.subsidy;
    }
    out
}
