//! Entities (compute users and owners) and compute centers, and the registry
//! that classification looks them up in.
//!
//! Both arrive from the platform as JSON objects. Each item is checked on its
//! own; a bad item is refused with a reason and the rest still load. Province
//! and city names are kept in canonical form ([`crate::place`]).
//!
//! An item may carry `valid_from`, the day (China Standard Time) it takes
//! effect: the registry keeps every entry of a key, one per day, and a record
//! is judged by the entries standing on its usage day ([`Registry::entity_on`],
//! [`Registry::center_on`]). The earliest entry of a key also covers every day
//! before it; an undated entry counts as the earliest. An item with the key and
//! day of an earlier entry is a correction and replaces it, as an update
//! would, in files and in the stream alike. Every change says which ledger
//! lines it may re-settle ([`Affected`]); a dated change can alter only lines
//! from its day on, since earlier days are judged by the entries before it.
//! What looks wrong but is not refused (a repeated entry, a city that
//! disagrees with the credit code's division) is a [`Finding`].

use crate::credit_code::CreditCode;
use crate::funding::{FundedEntry, FundedTarget, FundingLists, SupplierClaim};
use crate::place;
use crate::reason::ReasonCode;
use crate::record::Rejection;
use crate::standing::Facts;
use ahash::AHashMap;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Earliest `valid_from` accepted: entries before the policy's era are mistakes.
pub const EARLIEST_VALID_FROM: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// Latest `valid_from` accepted (a day every ledger store can hold).
pub const LATEST_VALID_FROM: NaiveDate = match NaiveDate::from_ymd_opt(2099, 12, 31) {
    Some(d) => d,
    None => NaiveDate::MAX,
};

/// What kind of organisation an entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// 企业
    Enterprise,
    /// 高校
    University,
    /// 科研院所
    ResearchInstitute,
    /// 政府机关
    Government,
    /// 个人
    Individual,
    /// 其他
    Other,
}

impl EntityKind {
    /// The snake_case name used in files and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Enterprise => "enterprise",
            EntityKind::University => "university",
            EntityKind::ResearchInstitute => "research_institute",
            EntityKind::Government => "government",
            EntityKind::Individual => "individual",
            EntityKind::Other => "other",
        }
    }

    /// Every kind, in declaration order.
    pub const ALL: [EntityKind; 6] =
        [EntityKind::Enterprise, EntityKind::University, EntityKind::ResearchInstitute, EntityKind::Government, EntityKind::Individual, EntityKind::Other];

    /// The kind named by [`EntityKind::as_str`]; `None` for any other text.
    pub fn parse(text: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// A registered compute user or center owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entity {
    /// Unified social credit code.
    pub credit_code: CreditCode,
    /// Registered name.
    pub name: String,
    /// Organisation kind.
    pub kind: EntityKind,
    /// Province of registration, canonical, e.g. 安徽省.
    pub province: String,
    /// City of registration, canonical, e.g. 阜阳市.
    pub city: String,
    /// Entities sharing a group are related parties.
    pub related_group: Option<String>,
    /// The day this entry takes effect; `None` for an undated entry (from the beginning).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<NaiveDate>,
}

impl Entity {
    /// Whether the rules could read `other` differently from `self` (the name does not count).
    fn rules_differ(&self, other: &Entity) -> bool {
        self.kind != other.kind || self.province != other.province || self.city != other.city || self.related_group != other.related_group
    }
}

/// A compute center on the scheduling platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComputeCenter {
    /// Platform id of the center.
    pub center_id: String,
    /// Name.
    pub name: String,
    /// Credit code of the owner.
    pub owner_credit_code: CreditCode,
    /// Province where it stands, canonical.
    pub province: String,
    /// City where it stands, canonical.
    pub city: String,
    /// The day this entry takes effect; `None` for an undated entry (from the beginning).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<NaiveDate>,
}

#[derive(Deserialize)]
struct EntityWire {
    credit_code: String,
    name: String,
    kind: EntityKind,
    province: String,
    city: String,
    related_group: Option<String>,
    #[serde(default)]
    valid_from: Option<String>,
}

#[derive(Deserialize)]
struct CenterWire {
    center_id: String,
    name: String,
    owner_credit_code: String,
    province: String,
    city: String,
    #[serde(default)]
    valid_from: Option<String>,
}

/// Checks an item's `valid_from`: a day "YYYY-MM-DD" between [`EARLIEST_VALID_FROM`] and
/// [`LATEST_VALID_FROM`]; absent or null for an undated entry.
pub fn parse_valid_from(text: Option<&str>) -> Result<Option<NaiveDate>, Rejection> {
    let Some(text) = text else { return Ok(None) };
    let bad = |why: String| Rejection::new(ReasonCode::InvalidField, Some("valid_from"), why);
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad(format!("valid_from {:?} is not a day YYYY-MM-DD", text.chars().take(32).collect::<String>())))?;
    if !(EARLIEST_VALID_FROM..=LATEST_VALID_FROM).contains(&day) {
        return Err(bad(format!("valid_from {day} is outside {EARLIEST_VALID_FROM} … {LATEST_VALID_FROM}")));
    }
    Ok(Some(day))
}

/// The key of one registry entry as the bus and the stores carry it: the credit code or
/// center id, then `@` and the day for a dated entry (`91340100MA0000001@2026-03-10`).
pub fn entry_key(key: &str, valid_from: Option<NaiveDate>) -> String {
    match valid_from {
        Some(day) => format!("{key}@{day}"),
        None => key.to_string(),
    }
}

/// The inverse of [`entry_key`]: the key and the day; `None` when the day does not parse.
pub fn split_entry_key(text: &str) -> Option<(&str, Option<NaiveDate>)> {
    match text.rsplit_once('@') {
        Some((key, day)) => Some((key, Some(NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?))),
        None => Some((text, None)),
    }
}

fn wire_error(e: serde_json::Error) -> Rejection {
    let text = e.to_string();
    let reason = if text.starts_with("missing field") {
        ReasonCode::MissingField
    } else {
        ReasonCode::InvalidField
    };
    Rejection::new(reason, None, text)
}

/// Checks one entity object from the platform.
pub fn parse_entity(value: &serde_json::Value) -> Result<Entity, Rejection> {
    let w = EntityWire::deserialize(value).map_err(wire_error)?;
    let credit_code = CreditCode::check(&w.credit_code)
        .map_err(|e| Rejection::new(ReasonCode::InvalidCreditCode, Some("credit_code"), format!("credit code {:?} {e}", w.credit_code)))?;
    let (province, city) = (place::province(&w.province), place::city(&w.city));
    if w.name.trim().is_empty() || province.is_empty() || city.is_empty() {
        return Err(Rejection::new(ReasonCode::InvalidField, None, "name, province and city must not be empty".into()));
    }
    let related_group = w.related_group.map(|g| place::clean(&g)).filter(|g| !g.is_empty());
    let valid_from = parse_valid_from(w.valid_from.as_deref())?;
    Ok(Entity { credit_code, name: w.name, kind: w.kind, province, city, related_group, valid_from })
}

/// Checks one compute-center object from the platform.
pub fn parse_center(value: &serde_json::Value) -> Result<ComputeCenter, Rejection> {
    let w = CenterWire::deserialize(value).map_err(wire_error)?;
    let owner = CreditCode::check(&w.owner_credit_code).map_err(|e| {
        Rejection::new(ReasonCode::InvalidCreditCode, Some("owner_credit_code"), format!("owner credit code {:?} {e}", w.owner_credit_code))
    })?;
    if w.center_id.is_empty() || w.center_id.len() > crate::record::MAX_ID_LEN || w.center_id.chars().any(char::is_control) {
        return Err(Rejection::new(ReasonCode::InvalidField, Some("center_id"), format!("center_id must be 1–{} bytes without control characters", crate::record::MAX_ID_LEN)));
    }
    let valid_from = parse_valid_from(w.valid_from.as_deref())?;
    Ok(ComputeCenter { center_id: w.center_id, name: w.name, owner_credit_code: owner, province: place::province(&w.province), city: place::city(&w.city), valid_from })
}

/// An item of a registry file that was refused, with its position in the array.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedItem {
    /// Zero-based index in the array.
    pub index: usize,
    /// Why it was refused.
    pub rejection: Rejection,
}

/// Something in the registry that looks wrong but is not refused: it is reported,
/// and the rules go by what was registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Issue {
    /// An entity or center given more than once; the later entry stands.
    Repeated,
    /// The registered province is not the one the credit code's division code names.
    ProvinceDisagreesWithCode,
    /// The registered Anhui city is not the one the credit code's division code names.
    CityDisagreesWithCode,
}

impl Issue {
    /// The stable snake_case name (metric label).
    pub const fn as_str(self) -> &'static str {
        match self {
            Issue::Repeated => "repeated_entry",
            Issue::ProvinceDisagreesWithCode => "province_disagrees_with_code",
            Issue::CityDisagreesWithCode => "city_disagrees_with_code",
        }
    }
}

/// A data-quality finding about one registry entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// What is wrong.
    pub issue: Issue,
    /// The entry's key: credit code or center id.
    pub key: String,
    /// A sentence for people.
    pub detail: String,
}

/// What an entity says that its credit code contradicts, if anything.
pub fn check_entity(e: &Entity) -> Option<Finding> {
    let division = e.credit_code.division();
    let finding = |issue, detail| Some(Finding { issue, key: e.credit_code.to_string(), detail });
    if let Some(province) = place::division_province(division) {
        if province != e.province {
            return finding(Issue::ProvinceDisagreesWithCode, format!("registered in {} but its credit code's division {division} is in {province}", e.province));
        }
    }
    match place::division_city(division) {
        Some(city) if city != e.city => finding(Issue::CityDisagreesWithCode, format!("registered in {} but its credit code's division {division} is in {city}", e.city)),
        _ => None,
    }
}

/// Which ledger lines a registry change may classify differently: those of these
/// users, those run on these centers, and (a change of the funding lists) those of these
/// record ids and contracts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Affected {
    /// Users whose own lines are affected.
    pub users: BTreeSet<CreditCode>,
    /// Centers whose lines are affected.
    pub centers: BTreeSet<String>,
    /// Record ids whose lines are affected.
    pub records: BTreeSet<String>,
    /// Contract ids whose lines are affected.
    pub contracts: BTreeSet<String>,
}

impl Affected {
    /// Nothing affected.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.centers.is_empty() && self.records.is_empty() && self.contracts.is_empty()
    }

    /// Adds what another change affects.
    pub fn merge(&mut self, other: Affected) {
        self.users.extend(other.users);
        self.centers.extend(other.centers);
        self.records.extend(other.records);
        self.contracts.extend(other.contracts);
    }

    /// Whether a line with these facts may be affected.
    pub fn touches(&self, facts: &Facts) -> bool {
        self.users.contains(&facts.user)
            || self.centers.contains(&facts.center_id)
            || self.records.contains(&facts.record_id)
            || facts.contract_id.as_ref().is_some_and(|c| self.contracts.contains(c))
    }
}

/// What loading a registry file did besides loading.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// Items refused, with why.
    pub refused: Vec<RefusedItem>,
    /// Entries given again (the later stands).
    pub repeated: Vec<Finding>,
}

/// The lines a funded-elsewhere change may re-settle: none when it changed nothing.
fn funded_affected(changed: bool, target: FundedTarget) -> Affected {
    let mut a = Affected::default();
    match (changed, target) {
        (false, _) => {}
        (true, FundedTarget::Record(id)) => {
            a.records.insert(id);
        }
        (true, FundedTarget::Contract(id)) => {
            a.contracts.insert(id);
        }
    }
    a
}

/// The entries of one key by the day each takes effect; the undated entry (`None`) sorts first.
type Entries<T> = BTreeMap<Option<NaiveDate>, T>;

/// The entry standing on `day`: the latest taking effect by then, else the earliest
/// (which also covers every day before it).
fn on<T>(entries: &Entries<T>, day: NaiveDate) -> Option<&T> {
    entries.range(..=Some(day)).next_back().map(|(_, e)| e).or_else(|| entries.values().next())
}

/// The entry a new one at `from` takes over from: the one it corrects, else the one that
/// stood on its day (for an undated entry, the earliest).
fn prior<T>(entries: &Entries<T>, from: Option<NaiveDate>) -> Option<&T> {
    match (entries.get(&from), from) {
        (Some(e), _) => Some(e),
        (None, Some(day)) => on(entries, day),
        (None, None) => entries.values().next(),
    }
}

/// The entities and centers, each with every entry it has had.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    entities: AHashMap<CreditCode, Entries<Entity>>,
    centers: AHashMap<Box<str>, Entries<ComputeCenter>>,
    /// Center ids by every owner any of their entries names: the lines a change of the
    /// owner's group may re-settle.
    owned: AHashMap<CreditCode, BTreeSet<String>>,
    /// What other schemes fund and what suppliers claim ([`crate::funding`]).
    funding: FundingLists,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds an entry, or replaces the one of its key and day (a correction); returns the
    /// lines it may re-settle. A new entry (or one the rules read differently) touches the
    /// entity's own lines; a new related-party group touches the lines on its centers.
    pub fn upsert_entity(&mut self, entity: Entity) -> Affected {
        let mut affected = Affected::default();
        let entries = self.entities.entry(entity.credit_code).or_default();
        let is_new = !entries.contains_key(&entity.valid_from);
        let before = prior(entries, entity.valid_from);
        if is_new || before.is_none_or(|b| b.rules_differ(&entity)) {
            affected.users.insert(entity.credit_code);
        }
        // As a center owner only the group counts (related parties); an unknown owner has none.
        if before.and_then(|b| b.related_group.as_ref()) != entity.related_group.as_ref() {
            affected.centers.extend(self.owned.get(&entity.credit_code).into_iter().flatten().cloned());
        }
        entries.insert(entity.valid_from, entity);
        affected
    }

    /// Adds a center entry, or replaces the one of its id and day; returns the lines it may
    /// re-settle: the center's, when the entry is new or names another owner.
    pub fn upsert_center(&mut self, center: ComputeCenter) -> Affected {
        let mut affected = Affected::default();
        let entries = self.centers.entry(center.center_id.clone().into_boxed_str()).or_default();
        let is_new = !entries.contains_key(&center.valid_from);
        if is_new || prior(entries, center.valid_from).map(|c| c.owner_credit_code) != Some(center.owner_credit_code) {
            affected.centers.insert(center.center_id.clone());
        }
        entries.insert(center.valid_from, center.clone());
        self.reindex_owners(&center.center_id);
        affected
    }

    /// Removes the entity entry of one day (`None`: the undated one), as a tombstone of its
    /// [`entry_key`] does; returns the lines it may re-settle: the entity's own and, when the
    /// entry had a related-party group, those on its centers. Removing an entry the registry
    /// does not hold changes nothing.
    pub fn remove_entity(&mut self, code: &CreditCode, valid_from: Option<NaiveDate>) -> Affected {
        let mut affected = Affected::default();
        let Some(entries) = self.entities.get_mut(code) else { return affected };
        let Some(before) = entries.remove(&valid_from) else { return affected };
        if entries.is_empty() {
            self.entities.remove(code);
        }
        affected.users.insert(before.credit_code);
        if before.related_group.is_some() {
            affected.centers.extend(self.owned.get(code).into_iter().flatten().cloned());
        }
        affected
    }

    /// Removes the center entry of one day; returns the lines it may re-settle (those run on
    /// the center). Removing an entry the registry does not hold changes nothing.
    pub fn remove_center(&mut self, id: &str, valid_from: Option<NaiveDate>) -> Affected {
        let mut affected = Affected::default();
        let Some(entries) = self.centers.get_mut(id) else { return affected };
        if entries.remove(&valid_from).is_none() {
            return affected;
        }
        if entries.is_empty() {
            self.centers.remove(id);
        }
        self.reindex_owners(id);
        affected.centers.insert(id.to_string());
        affected
    }

    /// Brings the owner index up to date for one center: it is listed under every owner one
    /// of its entries names, and no other.
    fn reindex_owners(&mut self, id: &str) {
        let owners: BTreeSet<CreditCode> = self.centers.get(id).into_iter().flat_map(|e| e.values()).map(|c| c.owner_credit_code).collect();
        for (owner, ids) in self.owned.iter_mut() {
            if !owners.contains(owner) {
                ids.remove(id);
            }
        }
        self.owned.retain(|_, ids| !ids.is_empty());
        for owner in owners {
            self.owned.entry(owner).or_default().insert(id.to_string());
        }
    }

    /// The funded-elsewhere list and the supplier claims as they stand.
    pub fn funding(&self) -> &FundingLists {
        &self.funding
    }

    /// Adds a funded-elsewhere entry; returns the lines it may re-settle (none for a repeat).
    pub fn upsert_funded(&mut self, entry: FundedEntry) -> Affected {
        let target = entry.target.clone();
        let added = self.funding.add_funded(entry);
        funded_affected(added, target)
    }

    /// Removes a funded-elsewhere entry; returns the lines it may re-settle.
    pub fn remove_funded(&mut self, entry: &FundedEntry) -> Affected {
        let removed = self.funding.remove_funded(entry);
        funded_affected(removed, entry.target.clone())
    }

    /// Adds a supplier claim; returns the lines it may re-settle (the claimed record's).
    pub fn upsert_claim(&mut self, claim: SupplierClaim) -> Affected {
        let id = claim.record_id.clone();
        let added = self.funding.add_claim(claim);
        Affected { records: if added { [id].into() } else { BTreeSet::new() }, ..Affected::default() }
    }

    /// Removes a supplier claim; returns the lines it may re-settle.
    pub fn remove_claim(&mut self, claim: &SupplierClaim) -> Affected {
        let removed = self.funding.remove_claim(claim);
        Affected { records: if removed { [claim.record_id.clone()].into() } else { BTreeSet::new() }, ..Affected::default() }
    }

    /// The entity entry standing on `day`.
    pub fn entity_on(&self, code: &CreditCode, day: NaiveDate) -> Option<&Entity> {
        self.entities.get(code).and_then(|e| on(e, day))
    }

    /// The center entry standing on `day`.
    pub fn center_on(&self, id: &str, day: NaiveDate) -> Option<&ComputeCenter> {
        self.centers.get(id).and_then(|e| on(e, day))
    }

    /// An entity's latest entry: its registration as the platform gives it now.
    pub fn entity(&self, code: &CreditCode) -> Option<&Entity> {
        self.entities.get(code).and_then(|e| e.values().next_back())
    }

    /// A center's latest entry.
    pub fn center(&self, id: &str) -> Option<&ComputeCenter> {
        self.centers.get(id).and_then(|e| e.values().next_back())
    }

    /// Number of entities (keys, not entries).
    pub fn entity_count(&self) -> usize {
        self.entities.len()
    }

    /// Number of centers (keys, not entries).
    pub fn center_count(&self) -> usize {
        self.centers.len()
    }

    /// Every entity entry, in credit-code order, then by day (undated first).
    pub fn entities_sorted(&self) -> Vec<&Entity> {
        let mut v: Vec<_> = self.entities.values().flat_map(|e| e.values()).collect();
        v.sort_by_key(|e| (e.credit_code, e.valid_from));
        v
    }

    /// Every center entry, in id order, then by day.
    pub fn centers_sorted(&self) -> Vec<&ComputeCenter> {
        let mut v: Vec<_> = self.centers.values().flat_map(|e| e.values()).collect();
        v.sort_by(|a, b| (&a.center_id, a.valid_from).cmp(&(&b.center_id, b.valid_from)));
        v
    }

    /// Entities whose latest registration their credit code contradicts, in credit-code order.
    pub fn findings(&self) -> Vec<Finding> {
        let mut latest: Vec<&Entity> = self.entities.values().filter_map(|e| e.values().next_back()).collect();
        latest.sort_by_key(|e| e.credit_code);
        latest.into_iter().filter_map(check_entity).collect()
    }

    /// Loads a JSON array of entities. Refused items are listed; an entry given again (same
    /// credit code and `valid_from`) replaces the earlier one and is reported.
    pub fn load_entities(&mut self, json: &str) -> Result<LoadReport, serde_json::Error> {
        self.load(json, parse_entity, |e| entry_key(e.credit_code.as_str(), e.valid_from), |r, e| {
            r.upsert_entity(e);
        })
    }

    /// Loads a JSON array of compute centers; as [`Registry::load_entities`].
    pub fn load_centers(&mut self, json: &str) -> Result<LoadReport, serde_json::Error> {
        self.load(json, parse_center, |c| entry_key(&c.center_id, c.valid_from), |r, c| {
            r.upsert_center(c);
        })
    }

    fn load<T>(
        &mut self,
        json: &str,
        parse: fn(&serde_json::Value) -> Result<T, Rejection>,
        key: fn(&T) -> String,
        upsert: fn(&mut Registry, T),
    ) -> Result<LoadReport, serde_json::Error> {
        let items: Vec<serde_json::Value> = serde_json::from_str(json)?;
        let mut report = LoadReport::default();
        let mut seen = ahash::AHashMap::new();
        for (index, item) in items.iter().enumerate() {
            match parse(item) {
                Ok(v) => {
                    let k = key(&v);
                    if let Some(first) = seen.insert(k.clone(), index) {
                        let detail = format!("item {index} repeats item {first}; the later one stands");
                        report.repeated.push(Finding { issue: Issue::Repeated, key: k, detail });
                    }
                    upsert(self, v);
                }
                Err(rejection) => report.refused.push(RefusedItem { index, rejection }),
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn entity_json(code: &str, name: &str, city: &str, group: Option<&str>) -> String {
        serde_json::json!({"credit_code": code, "name": name, "kind": "enterprise", "province": "安徽省", "city": city, "related_group": group}).to_string()
    }

    #[test]
    fn loads_good_items_refuses_bad_ones_and_the_later_entry_stands() {
        let good = CreditCode::complete("91340100MA2MTN5C3").unwrap();
        let json = format!(
            "[{}, {}, {}, {}, {}]",
            entity_json(good.as_str(), "合肥某公司", "合肥市", None),
            entity_json("91340100MA2MTN5C3X", "x", "合肥市", None),
            entity_json(good.as_str(), "again", " 合肥 ", None),
            r#"{"credit_code":"91340100MA2MTN5C3X","name":"x","kind":"alien","province":"安徽省","city":"合肥市"}"#,
            r#"{"name":"x"}"#,
        );
        let mut r = Registry::new();
        let report = r.load_entities(&json).unwrap();
        assert_eq!(r.entity_count(), 1);
        assert_eq!(r.entity(&good).map(|e| (e.name.as_str(), e.city.as_str())), Some(("again", "合肥市")));
        let reasons: Vec<_> = report.refused.iter().map(|x| (x.index, x.rejection.reason)).collect();
        assert_eq!(reasons, vec![(1, ReasonCode::InvalidCreditCode), (3, ReasonCode::InvalidField), (4, ReasonCode::MissingField)]);
        assert_eq!(report.repeated.len(), 1);
        assert_eq!(report.repeated[0].issue, Issue::Repeated);
        assert!(r.load_entities("{not json").is_err());
    }

    #[test]
    fn changes_say_which_lines_they_affect() {
        let owner = CreditCode::complete("91340100MA0000001").unwrap();
        let parse = |s: &str| parse_entity(&serde_json::from_str(s).unwrap()).unwrap();
        let mut r = Registry::new();
        let center = ComputeCenter { center_id: "C1".into(), name: "c".into(), owner_credit_code: owner, province: "安徽省".into(), city: "合肥市".into(), valid_from: None };
        assert_eq!(r.upsert_center(center.clone()).centers.len(), 1, "a new center");
        assert!(r.upsert_center(ComputeCenter { name: "renamed".into(), ..center.clone() }).is_empty(), "a new name changes no line");
        let e = parse(&entity_json(owner.as_str(), "n", "合肥市", None));
        let a = r.upsert_entity(e.clone());
        assert!(a.users.contains(&owner) && a.centers.is_empty(), "a new entity, no group: {a:?}");
        assert!(r.upsert_entity(Entity { name: "other".into(), ..e.clone() }).is_empty());
        let a = r.upsert_entity(parse(&entity_json(owner.as_str(), "n", "阜阳市", Some("G"))));
        assert!(a.users.contains(&owner) && a.centers.contains("C1"), "city and group changed: {a:?}");
    }

    #[test]
    fn removals_say_which_lines_they_affect_and_leave_the_entry_unknown() {
        let owner = CreditCode::complete("91340100MA0000001").unwrap();
        let user = CreditCode::complete("91340100MA0000002").unwrap();
        let parse = |s: &str| parse_entity(&serde_json::from_str(s).unwrap()).unwrap();
        let mut r = Registry::new();
        r.upsert_entity(parse(&entity_json(owner.as_str(), "owner", "合肥市", Some("G"))));
        r.upsert_entity(parse(&entity_json(user.as_str(), "user", "合肥市", None)));
        let center = ComputeCenter { center_id: "C1".into(), name: "c".into(), owner_credit_code: owner, province: "安徽省".into(), city: "合肥市".into(), valid_from: None };
        r.upsert_center(center.clone());

        let a = r.remove_entity(&user, None);
        assert_eq!((a.users.iter().collect::<Vec<_>>(), a.centers.len()), (vec![&user], 0), "a user without a group: its own lines");
        assert!(r.entity(&user).is_none());
        assert!(r.remove_entity(&user, None).is_empty(), "removing it again changes nothing");
        let a = r.remove_entity(&owner, None);
        assert!(a.users.contains(&owner) && a.centers.contains("C1"), "an owner with a group: its own lines and its centers' lines: {a:?}");

        let a = r.remove_center("C1", None);
        assert!(a.users.is_empty() && a.centers.contains("C1"), "{a:?}");
        assert!(r.center("C1").is_none());
        assert!(r.remove_center("C1", None).is_empty());
        // The same entries given again count as new.
        assert!(r.upsert_center(center).centers.contains("C1"));
        assert!(r.upsert_entity(parse(&entity_json(user.as_str(), "user", "合肥市", None))).users.contains(&user));
    }

    #[test]
    fn a_city_the_code_contradicts_is_a_finding_not_a_refusal() {
        let hefei_code = CreditCode::complete("91340100MA0000001").unwrap();
        let mut r = Registry::new();
        r.load_entities(&format!("[{}]", entity_json(hefei_code.as_str(), "n", "阜阳", None))).unwrap();
        assert_eq!(r.entity(&hefei_code).map(|e| e.city.as_str()), Some("阜阳市"), "the registration stands");
        let f = r.findings();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].issue, Issue::CityDisagreesWithCode);
        // A provincial-level code (340000) names no city: nothing to contradict.
        let provincial = CreditCode::complete("12340000485000001").unwrap();
        r.load_entities(&format!("[{}]", entity_json(provincial.as_str(), "n", "宿州市", None))).unwrap();
        assert_eq!(r.findings().len(), 1);
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn dated(json: &str, from: &str) -> serde_json::Value {
        let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
        v["valid_from"] = from.into();
        v
    }

    #[test]
    fn a_record_is_judged_by_the_entry_standing_on_its_day() {
        let code = CreditCode::complete("91340100MA0000001").unwrap();
        let mut r = Registry::new();
        r.upsert_entity(parse_entity(&dated(&entity_json(code.as_str(), "n", "合肥市", None), "2025-01-01")).unwrap());
        let a = r.upsert_entity(parse_entity(&dated(&entity_json(code.as_str(), "n", "阜阳市", None), "2026-03-10")).unwrap());
        assert!(a.users.contains(&code), "a dated move re-settles the entity's lines (those before its day do not change)");
        let city_of = |r: &Registry, d: &str| r.entity_on(&code, day(d)).map(|e| e.city.clone());
        assert_eq!(city_of(&r, "2024-06-01").as_deref(), Some("合肥市"), "the earliest entry covers the days before it");
        assert_eq!(city_of(&r, "2026-03-09").as_deref(), Some("合肥市"));
        assert_eq!(city_of(&r, "2026-03-10").as_deref(), Some("阜阳市"));
        assert_eq!(r.entity(&code).map(|e| e.city.as_str()), Some("阜阳市"), "the latest entry is the registration now");
        assert_eq!((r.entity_count(), r.entities_sorted().len()), (1, 2), "one entity, two entries");
        // A correction of the earlier entry (same key and day) replaces it.
        let a = r.upsert_entity(parse_entity(&dated(&entity_json(code.as_str(), "n", "六安市", None), "2025-01-01")).unwrap());
        assert!(a.users.contains(&code));
        assert_eq!(city_of(&r, "2026-03-09").as_deref(), Some("六安市"));
        assert_eq!(r.entities_sorted().len(), 2);
        // The same correction again changes nothing.
        assert!(r.upsert_entity(parse_entity(&dated(&entity_json(code.as_str(), "n", "六安市", None), "2025-01-01")).unwrap()).is_empty());
        // Removing the later entry leaves the earlier one standing on every day.
        assert!(r.remove_entity(&code, Some(day("2026-03-10"))).users.contains(&code));
        assert_eq!(city_of(&r, "2026-12-01").as_deref(), Some("六安市"));
    }

    #[test]
    fn a_center_sold_on_a_day_changes_owner_from_that_day() {
        let (seller, buyer) = (CreditCode::complete("91340100MA0000001").unwrap(), CreditCode::complete("91340100MA0000002").unwrap());
        let center = |owner: CreditCode, from: Option<&str>| ComputeCenter { center_id: "C1".into(), name: "c".into(), owner_credit_code: owner, province: "安徽省".into(), city: "合肥市".into(), valid_from: from.map(day) };
        let mut r = Registry::new();
        r.upsert_center(center(seller, None));
        let a = r.upsert_center(center(buyer, Some("2026-05-01")));
        assert!(a.centers.contains("C1"));
        assert_eq!(r.center_on("C1", day("2026-04-30")).map(|c| c.owner_credit_code), Some(seller));
        assert_eq!(r.center_on("C1", day("2026-05-01")).map(|c| c.owner_credit_code), Some(buyer));
        // Both owners' group changes reach the center's lines.
        let a = r.upsert_entity(parse_entity(&serde_json::from_str(&entity_json(seller.as_str(), "s", "合肥市", Some("G"))).unwrap()).unwrap());
        assert!(a.centers.contains("C1"));
        let a = r.upsert_entity(parse_entity(&serde_json::from_str(&entity_json(buyer.as_str(), "b", "合肥市", Some("H"))).unwrap()).unwrap());
        assert!(a.centers.contains("C1"));
        // Once the sale's entry is withdrawn, the buyer owns nothing.
        r.remove_center("C1", Some(day("2026-05-01")));
        let a = r.upsert_entity(parse_entity(&serde_json::from_str(&entity_json(buyer.as_str(), "b", "合肥市", Some("K"))).unwrap()).unwrap());
        assert!(a.centers.is_empty(), "{a:?}");
    }

    #[test]
    fn valid_from_is_a_day_within_bounds_and_keys_name_it() {
        let json = entity_json("91340100MA2MTN5C3", "n", "合肥市", None).replace("91340100MA2MTN5C3", CreditCode::complete("91340100MA2MTN5C3").unwrap().as_str());
        for bad in ["2026-02-30", "10 March", "1999-12-31", "2100-01-01"] {
            let e = parse_entity(&dated(&json, bad)).unwrap_err();
            assert_eq!((e.reason, e.field), (ReasonCode::InvalidField, Some("valid_from")), "{bad}");
        }
        let e = parse_entity(&dated(&json, "2026-03-10")).unwrap();
        assert_eq!(e.valid_from, Some(day("2026-03-10")));
        let key = entry_key(e.credit_code.as_str(), e.valid_from);
        assert_eq!(split_entry_key(&key), Some((e.credit_code.as_str(), e.valid_from)));
        assert_eq!(split_entry_key("C1"), Some(("C1", None)));
        assert_eq!(split_entry_key("C1@never"), None);
        // Two entries of one key on different days are not repeats; the same day is.
        let mut r = Registry::new();
        let text = format!("[{}, {}, {}]", dated(&json, "2026-03-10"), dated(&json, "2026-04-10"), dated(&json, "2026-04-10"));
        let report = r.load_entities(&text).unwrap();
        assert_eq!((r.entities_sorted().len(), report.repeated.len()), (2, 1));
    }
}
