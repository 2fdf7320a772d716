//! Entities (compute users and owners) and compute centers, and the registry
//! that classification looks them up in.
//!
//! Both arrive from the platform as JSON objects. Each item is checked on its
//! own; a bad item is refused with a reason and the rest still load.

use crate::credit_code::CreditCode;
use crate::reason::ReasonCode;
use crate::record::Rejection;
use ahash::AHashMap;
use serde::{Deserialize, Serialize};

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
    /// Province of registration, e.g. 安徽省.
    pub province: String,
    /// City of registration, e.g. 阜阳市.
    pub city: String,
    /// Entities sharing a group are related parties.
    pub related_group: Option<String>,
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
    /// Province where it stands.
    pub province: String,
    /// City where it stands.
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
    let credit_code = CreditCode::parse(&w.credit_code).ok_or_else(|| {
        Rejection::new(
            ReasonCode::InvalidCreditCode,
            Some("credit_code"),
            format!("credit code {:?} fails the GB 32100-2015 check", w.credit_code),
        )
    })?;
    if w.name.trim().is_empty() || w.province.trim().is_empty() || w.city.trim().is_empty() {
        return Err(Rejection::new(ReasonCode::InvalidField, None, "name, province and city must not be empty".into()));
    }
    Ok(Entity {
        credit_code,
        name: w.name,
        kind: w.kind,
        province: w.province,
        city: w.city,
        related_group: w.related_group.filter(|g| !g.is_empty()),
    })
}

/// Checks one compute-center object from the platform.
pub fn parse_center(value: &serde_json::Value) -> Result<ComputeCenter, Rejection> {
    let w = CenterWire::deserialize(value).map_err(wire_error)?;
    let owner = CreditCode::parse(&w.owner_credit_code).ok_or_else(|| {
        Rejection::new(
            ReasonCode::InvalidCreditCode,
            Some("owner_credit_code"),
            format!("owner credit code {:?} fails the GB 32100-2015 check", w.owner_credit_code),
        )
    })?;
    if w.center_id.is_empty() {
        return Err(Rejection::new(ReasonCode::InvalidField, Some("center_id"), "center_id is empty".into()));
    }
    Ok(ComputeCenter { center_id: w.center_id, name: w.name, owner_credit_code: owner, province: w.province, city: w.city })
}

/// An item of a registry file that was refused, with its position in the array.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedItem {
    /// Zero-based index in the array.
    pub index: usize,
    /// Why it was refused.
    pub rejection: Rejection,
}

/// The entities and centers known at a point in time.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    entities: AHashMap<CreditCode, Entity>,
    centers: AHashMap<Box<str>, ComputeCenter>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds or replaces an entity (a later platform snapshot wins).
    pub fn upsert_entity(&mut self, entity: Entity) {
        self.entities.insert(entity.credit_code, entity);
    }

    /// Adds or replaces a compute center.
    pub fn upsert_center(&mut self, center: ComputeCenter) {
        self.centers.insert(center.center_id.clone().into_boxed_str(), center);
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

    /// Loads a JSON array of entities; refused items are returned beside the count loaded.
    /// A repeated credit code is refused as a duplicate; the first one stays.
    pub fn load_entities(&mut self, json: &str) -> Result<Vec<RefusedItem>, serde_json::Error> {
        let items: Vec<serde_json::Value> = serde_json::from_str(json)?;
        let mut refused = Vec::new();
        let mut seen = ahash::AHashSet::new();
        for (index, item) in items.iter().enumerate() {
            match parse_entity(item) {
                Ok(e) if !seen.insert(e.credit_code) => refused.push(RefusedItem {
                    index,
                    rejection: Rejection::new(ReasonCode::Duplicate, Some("credit_code"), format!("credit code {} repeats an earlier entity", e.credit_code)),
                }),
                Ok(e) => self.upsert_entity(e),
                Err(rejection) => refused.push(RefusedItem { index, rejection }),
            }
        }
        Ok(refused)
    }

    /// Loads a JSON array of compute centers; as [`Registry::load_entities`].
    pub fn load_centers(&mut self, json: &str) -> Result<Vec<RefusedItem>, serde_json::Error> {
        let items: Vec<serde_json::Value> = serde_json::from_str(json)?;
        let mut refused = Vec::new();
        let mut seen = ahash::AHashSet::new();
        for (index, item) in items.iter().enumerate() {
            match parse_center(item) {
                Ok(c) if !seen.insert(c.center_id.clone()) => refused.push(RefusedItem {
                    index,
                    rejection: Rejection::new(ReasonCode::Duplicate, Some("center_id"), format!("center {} repeats an earlier center", c.center_id)),
                }),
                Ok(c) => self.upsert_center(c),
                Err(rejection) => refused.push(RefusedItem { index, rejection }),
            }
        }
        Ok(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_good_items_and_refuses_bad_ones() {
        let good = CreditCode::complete("91340100MA2MTN5C3").unwrap();
        let json = format!(
            r#"[{{"credit_code":"{good}","name":"合肥某公司","kind":"enterprise","province":"安徽省","city":"合肥市","related_group":null}},
               {{"credit_code":"91340100MA2MTN5C3X","name":"x","kind":"enterprise","province":"安徽省","city":"合肥市","related_group":null}},
               {{"credit_code":"{good}","name":"again","kind":"enterprise","province":"安徽省","city":"合肥市","related_group":null}},
               {{"credit_code":"{good}","name":"x","kind":"alien","province":"安徽省","city":"合肥市"}},
               {{"name":"x"}}]"#
        );
        let mut r = Registry::new();
        let refused = r.load_entities(&json).unwrap();
        assert_eq!(r.entity_count(), 1);
        let reasons: Vec<_> = refused.iter().map(|x| (x.index, x.rejection.reason)).collect();
        assert_eq!(
            reasons,
            vec![
                (1, ReasonCode::InvalidCreditCode),
                (2, ReasonCode::Duplicate),
                (3, ReasonCode::InvalidField),
                (4, ReasonCode::MissingField)
            ]
        );
        assert!(r.load_entities("{not json").is_err());
    }
}
