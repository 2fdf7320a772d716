//! Double funding: usage another scheme already funds, and usage its compute
//! supplier claims, so that the province never pays for the same compute twice.
//!
//! Two lists, read like the registry (as they stand when a line is judged):
//! - the **funded-elsewhere** list: entries `(scheme, record_id)` or `(scheme, contract_id)`;
//!   a record matches by its platform record id or by its `contract_id`. Such a line is
//!   excluded as `subsidized_elsewhere`, naming the scheme (不重复支持).
//! - **supplier claims**: entries `(record_id, supplier_credit_code)`: the compute supplier
//!   claims the compute of that platform record. A claim counts only when the claiming
//!   supplier owns, on the record's usage day, the center the record ran in; then the line
//!   is excluded for the user as `claimed_by_supplier`, naming the supplier. A claim by
//!   anyone else changes nothing and is reported ([`claim_refusal`]).
//!
//! Items are checked one by one ([`parse_funded_item`], [`parse_claim_item`]); files are a
//! JSON array of objects or CSV with a header row ([`read_items`]). Nothing here does IO.

use crate::credit_code::CreditCode;
use crate::reason::ReasonCode;
use crate::record::{Rejection, MAX_ID_LEN};
use crate::registry::Registry;
use crate::standing::Facts;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What a funded-elsewhere entry points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FundedTarget {
    /// One platform record, by its record id.
    Record(String),
    /// Every record carrying this contract id.
    Contract(String),
}

impl FundedTarget {
    /// `record_id` or `contract_id`: the field the target is given in.
    pub fn field(&self) -> &'static str {
        match self {
            FundedTarget::Record(_) => "record_id",
            FundedTarget::Contract(_) => "contract_id",
        }
    }

    /// The id.
    pub fn id(&self) -> &str {
        match self {
            FundedTarget::Record(id) | FundedTarget::Contract(id) => id,
        }
    }

    /// `record` or `contract`: the kind the entry's key and the stores name it by.
    pub fn kind(&self) -> &'static str {
        match self {
            FundedTarget::Record(_) => "record",
            FundedTarget::Contract(_) => "contract",
        }
    }

    /// The inverse of [`FundedTarget::kind`] and [`FundedTarget::id`]; `None` for another
    /// kind or an empty id.
    pub fn of(kind: &str, id: &str) -> Option<FundedTarget> {
        match kind {
            "record" if !id.is_empty() => Some(FundedTarget::Record(id.to_string())),
            "contract" if !id.is_empty() => Some(FundedTarget::Contract(id.to_string())),
            _ => None,
        }
    }
}

/// One entry of the funded-elsewhere list: a record or contract another scheme funds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FundedEntry {
    /// The scheme that funds it, e.g. `hefei-voucher-2026`.
    pub scheme: String,
    /// The record or contract.
    pub target: FundedTarget,
}

impl FundedEntry {
    /// The key the bus and the stores carry the entry under: `scheme|record:ID` or `scheme|contract:ID`.
    pub fn key(&self) -> String {
        format!("{}|{}:{}", self.scheme, self.target.kind(), self.target.id())
    }

    /// The inverse of [`FundedEntry::key`] (a tombstone names the entry it removes by its key).
    pub fn from_key(key: &str) -> Option<FundedEntry> {
        let (scheme, target) = key.split_once('|')?;
        let (kind, id) = target.split_once(':')?;
        let target = FundedTarget::of(kind, id)?;
        (!scheme.is_empty()).then(|| FundedEntry { scheme: scheme.to_string(), target })
    }
}

/// A compute supplier's claim on the compute of one platform record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SupplierClaim {
    /// The platform's record id (the key of the claim).
    pub record_id: String,
    /// The supplier's unified social credit code.
    pub supplier: CreditCode,
}

impl SupplierClaim {
    /// The key the bus and the stores carry the claim under: `record_id|supplier`.
    pub fn key(&self) -> String {
        format!("{}|{}", self.record_id, self.supplier)
    }

    /// The inverse of [`SupplierClaim::key`].
    pub fn from_key(key: &str) -> Option<SupplierClaim> {
        let (record_id, supplier) = key.rsplit_once('|')?;
        if record_id.is_empty() {
            return None;
        }
        Some(SupplierClaim { record_id: record_id.to_string(), supplier: CreditCode::parse(supplier)? })
    }
}

/// Why a line is excluded for double funding, with what excluded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundingExclusion {
    /// `subsidized_elsewhere` or `claimed_by_supplier`.
    pub reason: ReasonCode,
    /// The scheme(s) or the supplier, for people: `scheme hefei-voucher-2026 (record r1)`.
    pub detail: String,
}

/// Both lists as they stand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FundingLists {
    records: BTreeMap<String, BTreeSet<String>>,
    contracts: BTreeMap<String, BTreeSet<String>>,
    claims: BTreeMap<String, BTreeSet<CreditCode>>,
}

impl FundingLists {
    /// Empty lists.
    pub fn new() -> FundingLists {
        FundingLists::default()
    }

    /// Adds an entry; `false` when it was there already (a repeat changes nothing).
    pub fn add_funded(&mut self, entry: FundedEntry) -> bool {
        let (map, id) = match entry.target {
            FundedTarget::Record(id) => (&mut self.records, id),
            FundedTarget::Contract(id) => (&mut self.contracts, id),
        };
        map.entry(id).or_default().insert(entry.scheme)
    }

    /// Removes an entry; `false` when it was not there.
    pub fn remove_funded(&mut self, entry: &FundedEntry) -> bool {
        let map = match entry.target {
            FundedTarget::Record(_) => &mut self.records,
            FundedTarget::Contract(_) => &mut self.contracts,
        };
        let id = entry.target.id();
        let Some(schemes) = map.get_mut(id) else { return false };
        let removed = schemes.remove(&entry.scheme);
        if schemes.is_empty() {
            map.remove(id);
        }
        removed
    }

    /// Adds a claim; `false` when it was there already.
    pub fn add_claim(&mut self, claim: SupplierClaim) -> bool {
        self.claims.entry(claim.record_id).or_default().insert(claim.supplier)
    }

    /// Removes a claim; `false` when it was not there.
    pub fn remove_claim(&mut self, claim: &SupplierClaim) -> bool {
        let Some(suppliers) = self.claims.get_mut(&claim.record_id) else { return false };
        let removed = suppliers.remove(&claim.supplier);
        if suppliers.is_empty() {
            self.claims.remove(&claim.record_id);
        }
        removed
    }

    /// Whether both lists are empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.contracts.is_empty() && self.claims.is_empty()
    }

    /// Every funded-elsewhere entry, records first, in id then scheme order.
    pub fn funded(&self) -> Vec<FundedEntry> {
        let records = self.records.iter().flat_map(|(id, s)| s.iter().map(|scheme| FundedEntry { scheme: scheme.clone(), target: FundedTarget::Record(id.clone()) }));
        let contracts = self.contracts.iter().flat_map(|(id, s)| s.iter().map(|scheme| FundedEntry { scheme: scheme.clone(), target: FundedTarget::Contract(id.clone()) }));
        records.chain(contracts).collect()
    }

    /// Every supplier claim, in record id then supplier order.
    pub fn claims(&self) -> Vec<SupplierClaim> {
        self.claims.iter().flat_map(|(id, s)| s.iter().map(|supplier| SupplierClaim { record_id: id.clone(), supplier: *supplier })).collect()
    }

    /// Whether a funded-elsewhere entry or a claim names this record id.
    pub fn names_record(&self, record_id: &str) -> bool {
        self.records.contains_key(record_id) || self.claims.contains_key(record_id)
    }

    /// Whether a funded-elsewhere entry names this contract id.
    pub fn names_contract(&self, contract_id: &str) -> bool {
        self.contracts.contains_key(contract_id)
    }

    /// The suppliers claiming a record.
    pub fn claimants(&self, record_id: &str) -> impl Iterator<Item = &CreditCode> {
        self.claims.get(record_id).into_iter().flatten()
    }

    /// Why another scheme funds a line, if one does: the schemes naming its record id, then
    /// those naming its contract, each once.
    fn funded_elsewhere(&self, facts: &Facts) -> Option<String> {
        let mut named: Vec<String> = self.records.get(&*facts.record_id).into_iter().flatten().map(|s| format!("scheme {s} (record {})", facts.record_id)).collect();
        if let Some(contract) = facts.contract_id.as_deref() {
            named.extend(self.contracts.get(contract).into_iter().flatten().map(|s| format!("scheme {s} (contract {contract})")));
        }
        (!named.is_empty()).then(|| named.join("; "))
    }
}

/// Whether the lists exclude a line whose user and center passed the registry checks, and why:
/// funded elsewhere first, then a claim by the center's owner on the usage day.
pub fn funding_exclusion(facts: &Facts, registry: &Registry) -> Option<FundingExclusion> {
    let lists = registry.funding();
    if lists.is_empty() {
        return None;
    }
    if let Some(detail) = lists.funded_elsewhere(facts) {
        return Some(FundingExclusion { reason: ReasonCode::SubsidizedElsewhere, detail });
    }
    let owner = registry.center_on(&facts.center_id, facts.usage_date)?.owner_credit_code;
    lists
        .claimants(&facts.record_id)
        .find(|s| **s == owner)
        .map(|s| FundingExclusion { reason: ReasonCode::ClaimedBySupplier, detail: format!("supplier {s} owns center {} and claims record {}", facts.center_id, facts.record_id) })
}

/// Why a claim on a line is refused, when its supplier does not own the center the record
/// ran in on its usage day (or the center is unknown): a sentence naming both.
pub fn claim_refusal(claim: &SupplierClaim, facts: &Facts, registry: &Registry) -> Option<String> {
    match registry.center_on(&facts.center_id, facts.usage_date) {
        Some(c) if c.owner_credit_code == claim.supplier => None,
        Some(c) => Some(format!(
            "claim by {} on record {} refused: center {} is owned by {} on {}, not by the claimant",
            claim.supplier, claim.record_id, facts.center_id, c.owner_credit_code, facts.usage_date
        )),
        None => Some(format!("claim by {} on record {} refused: center {} is not registered on {}", claim.supplier, claim.record_id, facts.center_id, facts.usage_date)),
    }
}

/// Something about the lists worth a person's look that changes no figure: an entry naming a
/// record or contract no line has, or a claim refused because its supplier does not own the center.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Notice {
    /// `unknown_record`, `unknown_contract` or `claim_refused`.
    pub issue: &'static str,
    /// The entry's key ([`FundedEntry::key`], [`SupplierClaim::key`]).
    pub key: String,
    /// A sentence for people.
    pub detail: String,
}

/// What the lists say that the ledger's standing lines (their facts) do not bear out, sorted.
pub fn review<'a>(lines: impl Iterator<Item = &'a Facts>, registry: &Registry) -> Vec<Notice> {
    let lists = registry.funding();
    if lists.is_empty() {
        return Vec::new();
    }
    let mut records: BTreeMap<&str, &Facts> = BTreeMap::new();
    let mut contracts: BTreeSet<&str> = BTreeSet::new();
    for f in lines {
        records.insert(&f.record_id, f);
        contracts.extend(f.contract_id.as_deref());
    }
    let mut out = Vec::new();
    for e in lists.funded() {
        let known = match &e.target {
            FundedTarget::Record(id) => records.contains_key(id.as_str()),
            FundedTarget::Contract(id) => contracts.contains(id.as_str()),
        };
        if !known {
            let (issue, what) = match e.target {
                FundedTarget::Record(_) => ("unknown_record", "record"),
                FundedTarget::Contract(_) => ("unknown_contract", "contract"),
            };
            out.push(Notice { issue, key: e.key(), detail: format!("scheme {} names {what} {}, which no ledger line has; it excludes nothing yet", e.scheme, e.target.id()) });
        }
    }
    for c in lists.claims() {
        let refusal = match records.get(c.record_id.as_str()) {
            None => Some(("unknown_record", format!("claim by {} names record {}, which no ledger line has; it excludes nothing yet", c.supplier, c.record_id))),
            Some(facts) => claim_refusal(&c, facts, registry).map(|why| ("claim_refused", why)),
        };
        if let Some((issue, detail)) = refusal {
            out.push(Notice { issue, key: c.key(), detail });
        }
    }
    out.sort();
    out
}

fn field_text<'a>(obj: &'a Map<String, Value>, name: &'static str) -> Result<Option<&'a str>, Rejection> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim())),
        Some(v) => Err(Rejection::new(ReasonCode::InvalidField, Some(name), format!("`{name}` must be a string, found {v}"))),
    }
}

fn checked_id(name: &'static str, text: &str) -> Result<String, Rejection> {
    if text.len() > MAX_ID_LEN || text.chars().any(char::is_control) {
        return Err(Rejection::new(ReasonCode::InvalidField, Some(name), format!("`{name}` must be 1–{MAX_ID_LEN} bytes without control characters")));
    }
    Ok(text.to_string())
}

fn object(value: &Value) -> Result<&Map<String, Value>, Rejection> {
    value.as_object().ok_or_else(|| Rejection::new(ReasonCode::Malformed, None, format!("an item must be an object, found {value}")))
}

/// Checks one funded-elsewhere item: a non-empty `scheme` without `|` and exactly one of
/// `record_id` and `contract_id`.
pub fn parse_funded_item(value: &Value) -> Result<FundedEntry, Rejection> {
    let obj = object(value)?;
    let scheme = field_text(obj, "scheme")?.ok_or_else(|| Rejection::new(ReasonCode::MissingField, Some("scheme"), "`scheme` is missing or empty: an entry must name the scheme that funds it".into()))?;
    let scheme = checked_id("scheme", scheme)?;
    if scheme.contains('|') {
        return Err(Rejection::new(ReasonCode::InvalidField, Some("scheme"), "`scheme` must not contain `|` (it separates the scheme in the entry's key)".into()));
    }
    let target = match (field_text(obj, "record_id")?, field_text(obj, "contract_id")?) {
        (Some(r), None) => FundedTarget::Record(checked_id("record_id", r)?),
        (None, Some(c)) => FundedTarget::Contract(checked_id("contract_id", c)?),
        (None, None) => return Err(Rejection::new(ReasonCode::MissingField, Some("record_id"), "an entry must name a `record_id` or a `contract_id`".into())),
        (Some(_), Some(_)) => return Err(Rejection::new(ReasonCode::InvalidField, Some("contract_id"), "an entry names either a `record_id` or a `contract_id`, not both".into())),
    };
    Ok(FundedEntry { scheme, target })
}

/// Checks one supplier-claim item: a non-empty `record_id` and a valid `supplier_credit_code`.
pub fn parse_claim_item(value: &Value) -> Result<SupplierClaim, Rejection> {
    let obj = object(value)?;
    let record_id = field_text(obj, "record_id")?.ok_or_else(|| Rejection::new(ReasonCode::MissingField, Some("record_id"), "`record_id` is missing or empty: a claim names the platform record it claims".into()))?;
    let record_id = checked_id("record_id", record_id)?;
    let code = field_text(obj, "supplier_credit_code")?.ok_or_else(|| Rejection::new(ReasonCode::MissingField, Some("supplier_credit_code"), "`supplier_credit_code` is missing or empty".into()))?;
    let supplier = CreditCode::check(code).map_err(|e| Rejection::new(ReasonCode::InvalidCreditCode, Some("supplier_credit_code"), format!("credit code {code:?} {e}")))?;
    Ok(SupplierClaim { record_id, supplier })
}

/// Why a list file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FileError(pub String);

/// The items of a list file: a JSON array of objects (when the text starts with `[`), else
/// CSV with a header row naming the columns (`scheme,record_id,contract_id`, or
/// `record_id,supplier_credit_code`); a CSV row becomes an object of its non-empty cells.
pub fn read_items(text: &str) -> Result<Vec<Value>, FileError> {
    let text = text.trim_start_matches('\u{feff}');
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(text).map_err(|e| FileError(format!("not a JSON array of objects: {e}")));
    }
    let mut rows = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = rows.next() else { return Ok(Vec::new()) };
    let columns = csv_row(header).map_err(|e| FileError(format!("CSV line 1: {e}")))?;
    if columns.iter().any(|c| c.is_empty()) || columns.iter().collect::<BTreeSet<_>>().len() != columns.len() {
        return Err(FileError(format!("CSV line 1: the header {header:?} must name each column once")));
    }
    rows.map(|(n, line)| {
        let cells = csv_row(line).map_err(|e| FileError(format!("CSV line {}: {e}", n + 1)))?;
        if cells.len() != columns.len() {
            return Err(FileError(format!("CSV line {}: {} cells, the header has {}", n + 1, cells.len(), columns.len())));
        }
        Ok(Value::Object(columns.iter().cloned().zip(cells).filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k, Value::String(v))).collect()))
    })
    .collect()
}

/// The cells of one CSV line (RFC 4180 quoting; no line breaks inside a cell).
fn csv_row(line: &str) -> Result<Vec<String>, String> {
    let (mut cells, mut cell, mut quoted, mut chars) = (Vec::new(), String::new(), false, line.trim_end_matches('\r').chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if cell.is_empty() => quoted = true,
            ('"', false) => return Err("a quote inside an unquoted cell".into()),
            (',', false) => cells.push(std::mem::take(&mut cell).trim().to_string()),
            (c, _) => cell.push(c),
        }
    }
    if quoted {
        return Err("a quoted cell is not closed".into());
    }
    cells.push(cell.trim().to_string());
    Ok(cells)
}

/// An item of a list file that was refused, with its zero-based position.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedEntry {
    /// Zero-based index among the items (the CSV row after the header, or the array index).
    pub index: usize,
    /// Why.
    pub rejection: Rejection,
}

/// What a list file held: the items that passed, the refused ones and the repeats.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListLoad<T> {
    /// Distinct items, in file order.
    pub items: Vec<T>,
    /// Refused items.
    pub refused: Vec<RefusedEntry>,
    /// Items given again: (index, index of the first), kept once.
    pub repeated: Vec<(usize, usize)>,
}

/// Checks every item of a list file with `parse`, keeping each distinct item once.
pub fn load_list<T: Clone + Ord>(text: &str, parse: fn(&Value) -> Result<T, Rejection>) -> Result<ListLoad<T>, FileError> {
    let mut load = ListLoad { items: Vec::new(), refused: Vec::new(), repeated: Vec::new() };
    let mut seen = BTreeMap::new();
    for (index, item) in read_items(text)?.iter().enumerate() {
        match parse(item) {
            Ok(v) => match seen.get(&v) {
                Some(&first) => load.repeated.push((index, first)),
                None => {
                    seen.insert(v.clone(), index);
                    load.items.push(v);
                }
            },
            Err(rejection) => load.refused.push(RefusedEntry { index, rejection }),
        }
    }
    Ok(load)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_json_give_the_same_entries_and_bad_items_say_why() {
        let csv = "scheme,record_id,contract_id\nhefei-voucher-2026,r1,\n\"wuhu,2026\",,K-7\n,r2,\nx,r3,K-8\ny,,\nhefei-voucher-2026,r1,\n";
        let load = load_list(csv, parse_funded_item).unwrap();
        let json = r#"[{"scheme":"hefei-voucher-2026","record_id":"r1"},{"scheme":"wuhu,2026","contract_id":"K-7"},{"record_id":"r2"},{"scheme":"x","record_id":"r3","contract_id":"K-8"},{"scheme":"y"},{"scheme":"hefei-voucher-2026","record_id":"r1"}]"#;
        assert_eq!(load_list(json, parse_funded_item).unwrap(), load);
        assert_eq!(load.items, vec![
            FundedEntry { scheme: "hefei-voucher-2026".into(), target: FundedTarget::Record("r1".into()) },
            FundedEntry { scheme: "wuhu,2026".into(), target: FundedTarget::Contract("K-7".into()) },
        ]);
        let refused: Vec<_> = load.refused.iter().map(|r| (r.index, r.rejection.reason, r.rejection.field)).collect();
        assert_eq!(refused, vec![(2, ReasonCode::MissingField, Some("scheme")), (3, ReasonCode::InvalidField, Some("contract_id")), (4, ReasonCode::MissingField, Some("record_id"))]);
        assert_eq!(load.repeated, vec![(5, 0)]);
    }

    #[test]
    fn a_file_that_is_not_a_list_is_an_error_not_an_empty_list() {
        assert!(read_items("[{").unwrap_err().0.contains("JSON"));
        assert!(read_items("scheme,record_id\na,b,c\n").unwrap_err().0.contains("line 2: 3 cells"));
        assert!(read_items("scheme,scheme\n").unwrap_err().0.contains("each column once"));
        assert!(read_items("scheme,record_id\n\"a,b\n").unwrap_err().0.contains("not closed"));
        assert!(read_items("{\"scheme\":\"a\"}").is_err(), "a JSON object is not a CSV header either");
        let claims = load_list("record_id,supplier_credit_code\nr1,91340100MA2MTN5C3X\n,x\n", parse_claim_item).unwrap();
        let reasons: Vec<_> = claims.refused.iter().map(|r| r.rejection.reason).collect();
        assert_eq!(reasons, vec![ReasonCode::InvalidCreditCode, ReasonCode::MissingField]);
    }

    fn registry_and_facts() -> (Registry, Facts, CreditCode, CreditCode) {
        let (user, owner) = (CreditCode::complete("91340100MA0000001").unwrap(), CreditCode::complete("91340100MA0000002").unwrap());
        let mut r = Registry::new();
        for code in [user, owner] {
            r.upsert_entity(crate::registry::parse_entity(&serde_json::json!({"credit_code": code.as_str(), "name": "n", "kind": "enterprise", "province": "安徽省", "city": "合肥市"})).unwrap());
        }
        r.upsert_center(crate::ComputeCenter { center_id: "C1".into(), name: "c".into(), owner_credit_code: owner, province: "安徽省".into(), city: "合肥市".into(), valid_from: None });
        let facts = Facts {
            record_id: "r1".into(),
            contract_id: Some("K-1".into()),
            user,
            center_id: "C1".into(),
            usage_date: chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            payment_status: crate::PaymentStatus::Paid,
            paid_amount: rust_decimal::Decimal::new(100, 0),
            accelerator: "A".into(),
        };
        (r, facts, user, owner)
    }

    #[test]
    fn a_line_is_excluded_by_scheme_or_by_its_center_owner_s_claim_only() {
        let (mut r, facts, user, owner) = registry_and_facts();
        let policy = crate::PolicySet::builtin();
        assert_eq!(crate::classify(&facts, &r, &policy).reason, None);
        // A claim by anyone but the center's owner changes nothing and is refused with a reason.
        let stranger = SupplierClaim { record_id: "r1".into(), supplier: user };
        assert!(r.upsert_claim(stranger.clone()).records.contains("r1"));
        assert_eq!(crate::classify(&facts, &r, &policy).reason, None);
        let why = claim_refusal(&stranger, &facts, &r).unwrap();
        assert!(why.contains(&format!("owned by {owner}")) && why.contains("not by the claimant"), "{why}");
        // The owner's claim excludes the line for the user and names the supplier.
        let claim = SupplierClaim { record_id: "r1".into(), supplier: owner };
        r.upsert_claim(claim.clone());
        assert_eq!(claim_refusal(&claim, &facts, &r), None);
        let x = funding_exclusion(&facts, &r).unwrap();
        assert_eq!((x.reason, crate::classify(&facts, &r, &policy).reason), (ReasonCode::ClaimedBySupplier, Some(ReasonCode::ClaimedBySupplier)));
        assert!(x.detail.contains(owner.as_str()), "{}", x.detail);
        // Funded elsewhere by contract goes first and names the scheme; withdrawing it restores the claim.
        let by_contract = FundedEntry { scheme: "hefei-voucher-2026".into(), target: FundedTarget::Contract("K-1".into()) };
        assert!(r.upsert_funded(by_contract.clone()).contracts.contains("K-1"));
        let x = funding_exclusion(&facts, &r).unwrap();
        assert_eq!((x.reason, x.detail.as_str()), (ReasonCode::SubsidizedElsewhere, "scheme hefei-voucher-2026 (contract K-1)"));
        assert!(r.upsert_funded(by_contract.clone()).is_empty(), "a repeat changes nothing");
        r.remove_funded(&by_contract);
        assert_eq!(crate::classify(&facts, &r, &policy).reason, Some(ReasonCode::ClaimedBySupplier));
        // An entry for another record or contract does not touch this one.
        r.remove_claim(&claim);
        r.upsert_funded(FundedEntry { scheme: "s".into(), target: FundedTarget::Record("r2".into()) });
        r.upsert_funded(FundedEntry { scheme: "s".into(), target: FundedTarget::Contract("K-2".into()) });
        assert_eq!(crate::classify(&facts, &r, &policy).reason, None);
        // The registry's own exclusions come first: self-built stays self-built.
        let own = Facts { user: owner, ..facts.clone() };
        r.upsert_funded(FundedEntry { scheme: "s".into(), target: FundedTarget::Record("r1".into()) });
        assert_eq!(crate::classify(&own, &r, &policy).reason, Some(ReasonCode::SelfBuiltSelfUsed));
        assert_eq!(crate::classify(&facts, &r, &policy).reason, Some(ReasonCode::SubsidizedElsewhere));
    }

    #[test]
    fn lists_add_and_remove_entries_once() {
        let mut l = FundingLists::new();
        let e = FundedEntry { scheme: "s".into(), target: FundedTarget::Contract("K".into()) };
        assert!(l.add_funded(e.clone()) && !l.add_funded(e.clone()));
        assert_eq!(l.funded(), vec![e.clone()]);
        assert!(l.remove_funded(&e) && !l.remove_funded(&e) && l.is_empty());
        let c = SupplierClaim { record_id: "r".into(), supplier: CreditCode::complete("91340100MA0000001").unwrap() };
        assert!(l.add_claim(c.clone()) && !l.add_claim(c.clone()));
        assert_eq!((l.claims(), c.key()), (vec![c.clone()], format!("r|{}", c.supplier)));
        assert!(l.remove_claim(&c) && l.is_empty());
        assert_eq!(SupplierClaim::from_key(&c.key()), Some(c));
        assert_eq!(FundedEntry::from_key(&e.key()), Some(e));
        let by_record = FundedEntry { scheme: "a-b".into(), target: FundedTarget::Record("r|x:1".into()) };
        assert_eq!(FundedEntry::from_key(&by_record.key()), Some(by_record));
        for bad in ["", "s", "s|record:", "|record:r", "s|person:r", "s|r"] {
            assert_eq!(FundedEntry::from_key(bad), None, "{bad}");
        }
        assert_eq!(SupplierClaim::from_key("r|not-a-code"), None);
        let piped = parse_funded_item(&serde_json::json!({"scheme": "a|b", "record_id": "r"})).unwrap_err();
        assert_eq!((piped.reason, piped.field), (ReasonCode::InvalidField, Some("scheme")));
    }
}
