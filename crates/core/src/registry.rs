//! Entities (compute users and owners) and compute centers, and the registry
//! that classification looks them up in.
//!
//! Both arrive from the platform as JSON objects. Each item is checked on its
//! own; a bad item is refused with a reason and the rest still load. Province
//! and city names are kept in canonical form ([`crate::place`]). An entry
//! given again replaces the earlier one, as an update would, in files and in
//! the stream alike; every change says which ledger lines it may re-settle
//! ([`Affected`]). What looks wrong but is not refused (a repeated entry, a
//! city that disagrees with the credit code's division) is a [`Finding`].

use crate::credit_code::CreditCode;
use crate::place;
use crate::reason::ReasonCode;
use crate::record::Rejection;
use crate::standing::Facts;
use ahash::AHashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

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
}

#[derive(Deserialize)]
struct EntityWire {
    credit_code: String,
    name: String,
    kind: EntityKind,
    province: String,
    city: String,
    related_group: Option<String>,
}

#[derive(Deserialize)]
struct CenterWire {
    center_id: String,
    name: String,
    owner_credit_code: String,
    province: String,
    city: String,
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
    Ok(Entity { credit_code, name: w.name, kind: w.kind, province, city, related_group })
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
    Ok(ComputeCenter { center_id: w.center_id, name: w.name, owner_credit_code: owner, province: place::province(&w.province), city: place::city(&w.city) })
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
/// users, and those run on these centers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Affected {
    /// Users whose own lines are affected.
    pub users: BTreeSet<CreditCode>,
    /// Centers whose lines are affected.
    pub centers: BTreeSet<String>,
}

impl Affected {
    /// Nothing affected.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.centers.is_empty()
    }

    /// Adds what another change affects.
    pub fn merge(&mut self, other: Affected) {
        self.users.extend(other.users);
        self.centers.extend(other.centers);
    }

    /// Whether a line with these facts may be affected.
    pub fn touches(&self, facts: &Facts) -> bool {
        self.users.contains(&facts.user) || self.centers.contains(&facts.center_id)
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

/// The entities and centers known at a point in time.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    entities: AHashMap<CreditCode, Entity>,
    centers: AHashMap<Box<str>, ComputeCenter>,
    /// Center ids by owner: the lines a change of the owner's group may re-settle.
    owned: AHashMap<CreditCode, BTreeSet<String>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds or replaces an entity (a later entry wins); returns the lines it may re-settle.
    pub fn upsert_entity(&mut self, entity: Entity) -> Affected {
        let mut affected = Affected::default();
        let before = self.entities.get(&entity.credit_code);
        if before.is_none_or(|b| b.rules_differ(&entity)) {
            affected.users.insert(entity.credit_code);
        }
        // As a center owner only the group counts (related parties); an unknown owner has none.
        if before.and_then(|b| b.related_group.as_ref()) != entity.related_group.as_ref() {
            affected.centers.extend(self.owned.get(&entity.credit_code).into_iter().flatten().cloned());
        }
        self.entities.insert(entity.credit_code, entity);
        affected
    }

    /// Adds or replaces a compute center; returns the lines it may re-settle.
    pub fn upsert_center(&mut self, center: ComputeCenter) -> Affected {
        let mut affected = Affected::default();
        let before = self.centers.get(center.center_id.as_str()).map(|c| c.owner_credit_code);
        if before != Some(center.owner_credit_code) {
            affected.centers.insert(center.center_id.clone());
        }
        if let Some(old) = before {
            if let Some(set) = self.owned.get_mut(&old) {
                set.remove(&center.center_id);
            }
        }
        self.owned.entry(center.owner_credit_code).or_default().insert(center.center_id.clone());
        self.centers.insert(center.center_id.clone().into_boxed_str(), center);
        affected
    }

    /// Removes an entity (the platform withdrew it); returns the lines it may re-settle: its
    /// own (they become `unknown_entity`) and, when it had a related-party group, those on
    /// the centers it owns. Removing an entity the registry does not hold changes nothing.
    pub fn remove_entity(&mut self, code: &CreditCode) -> Affected {
        let mut affected = Affected::default();
        let Some(before) = self.entities.remove(code) else { return affected };
        affected.users.insert(before.credit_code);
        if before.related_group.is_some() {
            affected.centers.extend(self.owned.get(code).into_iter().flatten().cloned());
        }
        affected
    }

    /// Removes a compute center; returns the lines it may re-settle (those run on it, which
    /// become `unknown_center`). Removing a center the registry does not hold changes nothing.
    pub fn remove_center(&mut self, id: &str) -> Affected {
        let mut affected = Affected::default();
        let Some(before) = self.centers.remove(id) else { return affected };
        if let Some(set) = self.owned.get_mut(&before.owner_credit_code) {
            set.remove(id);
            if set.is_empty() {
                self.owned.remove(&before.owner_credit_code);
            }
        }
        affected.centers.insert(before.center_id);
        affected
    }

    /// Looks up an entity.
    pub fn entity(&self, code: &CreditCode) -> Option<&Entity> {
        self.entities.get(code)
    }

    /// Looks up a center.
    pub fn center(&self, id: &str) -> Option<&ComputeCenter> {
        self.centers.get(id)
    }

    /// Number of entities.
    pub fn entity_count(&self) -> usize {
        self.entities.len()
    }

    /// Number of centers.
    pub fn center_count(&self) -> usize {
        self.centers.len()
    }

    /// Every entity, in credit-code order.
    pub fn entities_sorted(&self) -> Vec<&Entity> {
        let mut v: Vec<_> = self.entities.values().collect();
        v.sort_by_key(|e| e.credit_code);
        v
    }

    /// Every center, in id order.
    pub fn centers_sorted(&self) -> Vec<&ComputeCenter> {
        let mut v: Vec<_> = self.centers.values().collect();
        v.sort_by(|a, b| a.center_id.cmp(&b.center_id));
        v
    }

    /// Entities whose registration their credit code contradicts, in credit-code order.
    pub fn findings(&self) -> Vec<Finding> {
        self.entities_sorted().into_iter().filter_map(check_entity).collect()
    }

    /// Loads a JSON array of entities. Refused items are listed; an entity given again
    /// replaces the earlier one and is reported.
    pub fn load_entities(&mut self, json: &str) -> Result<LoadReport, serde_json::Error> {
        self.load(json, parse_entity, |e| e.credit_code.to_string(), |r, e| {
            r.upsert_entity(e);
        })
    }

    /// Loads a JSON array of compute centers; as [`Registry::load_entities`].
    pub fn load_centers(&mut self, json: &str) -> Result<LoadReport, serde_json::Error> {
        self.load(json, parse_center, |c| c.center_id.clone(), |r, c| {
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
        let center = ComputeCenter { center_id: "C1".into(), name: "c".into(), owner_credit_code: owner, province: "安徽省".into(), city: "合肥市".into() };
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
        let center = ComputeCenter { center_id: "C1".into(), name: "c".into(), owner_credit_code: owner, province: "安徽省".into(), city: "合肥市".into() };
        r.upsert_center(center.clone());

        let a = r.remove_entity(&user);
        assert_eq!((a.users.iter().collect::<Vec<_>>(), a.centers.len()), (vec![&user], 0), "a user without a group: its own lines");
        assert!(r.entity(&user).is_none());
        assert!(r.remove_entity(&user).is_empty(), "removing it again changes nothing");
        let a = r.remove_entity(&owner);
        assert!(a.users.contains(&owner) && a.centers.contains("C1"), "an owner with a group: its own lines and its centers' lines: {a:?}");

        let a = r.remove_center("C1");
        assert!(a.users.is_empty() && a.centers.contains("C1"), "{a:?}");
        assert!(r.center("C1").is_none());
        assert!(r.remove_center("C1").is_empty());
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
}
