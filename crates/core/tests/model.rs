//! Model-based property test of the settlement contract: the settled ledger
//! is a function of the final set of records and the final registry alone,
//! and closed months pay, to the fen, what that ledger settles.
//!
//! A random history — records with revisions that change amount, status,
//! user, center and month; same-revision conflicts; duplicates; registry
//! entries added, changed and repeated, dated entries (moves, center sales)
//! and corrections of them; funded-elsewhere entries and supplier claims
//! added and withdrawn; months closed; with and without a cap — is
//! streamed in a
//! random order through simulated aggregator members that own partitions of
//! the records, move partitions between them, look up what stands in a shared
//! store, write lines with their versions, and re-settle lines when the
//! registry changes, exactly as the aggregator composes the core's functions.
//! At the end the store's lines and settlements must equal `Ledger` (the
//! recompute path) over the final records and registry, and that must equal
//! an oracle written without the step; every closed month's frozen figure
//! plus its adjustments must equal the final settlement.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use proptest::prelude::*;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use subsidy_core::close::fixed;
use subsidy_core::{
    close_month, settle, step, Accruals, Affected, CloseInput, ComputeCenter, CreditCode, Entity, EntityKind, Fingerprint, FundedEntry,
    FundedTarget, Ledger, Line, SupplierClaim, PaymentStatus, Period, PolicySet, Registry, Settlement, Standing, Statement, UsageRecord,
};

const PARTITIONS: usize = 4;

/// A small deterministic generator (xorshift64*), so a failing case names its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A registry entry as the platform sends it.
#[derive(Debug, Clone)]
enum Item {
    Entity(Entity),
    Center(ComputeCenter),
    /// A funded-elsewhere entry added (`true`) or withdrawn.
    Funded(FundedEntry, bool),
    /// A supplier claim added (`true`) or withdrawn.
    Claim(SupplierClaim, bool),
}

impl Item {
    fn apply(self, r: &mut Registry) -> Affected {
        match self {
            Item::Entity(e) => r.upsert_entity(e),
            Item::Center(c) => r.upsert_center(c),
            Item::Funded(f, true) => r.upsert_funded(f),
            Item::Funded(f, false) => r.remove_funded(&f),
            Item::Claim(c, true) => r.upsert_claim(c),
            Item::Claim(c, false) => r.remove_claim(&c),
        }
    }
}

/// A funded-elsewhere entry naming one of the first records or one of the contracts, or a
/// claim on one of the first records by one of the possible owners (often not the owner).
fn funding_item(rng: &mut Rng) -> Item {
    let add = !rng.chance(20);
    let record = format!("R{}", rng.below(6));
    match rng.below(3) {
        0 => Item::Funded(FundedEntry { scheme: ["city-a", "city-b"][rng.below(2)].into(), target: FundedTarget::Record(record) }, add),
        1 => Item::Funded(FundedEntry { scheme: "city-a".into(), target: FundedTarget::Contract(format!("K{}", rng.below(3))) }, add),
        _ => Item::Claim(SupplierClaim { record_id: record, supplier: code(rng.below(7)) }, add),
    }
}

#[derive(Debug, Clone)]
enum Event {
    Copy(usize),
    Registry(usize),
    Round(usize),
    Close(usize),
    Reassign(usize, usize),
}

#[derive(Debug)]
struct History {
    copies: Vec<UsageRecord>,
    items: Vec<Item>,
    events: Vec<Event>,
    members: usize,
}

fn code(i: usize) -> CreditCode {
    CreditCode::complete(&format!("9134{:013}", 7 + i)).unwrap_or_else(|| panic!("fixture code {i}"))
}

fn entity(rng: &mut Rng, i: usize) -> Entity {
    let kinds = [EntityKind::Enterprise, EntityKind::University, EntityKind::ResearchInstitute, EntityKind::Government];
    let cities = ["合肥市", "阜阳市", "宿州市", "芜湖市"];
    let (province, city) = if rng.chance(10) { ("江苏省", "南京市") } else { ("安徽省", cities[rng.below(cities.len())]) };
    Entity {
        credit_code: code(i),
        name: format!("entity {i}"),
        kind: kinds[rng.below(kinds.len())],
        province: province.into(),
        city: city.into(),
        related_group: [None, Some("G1"), Some("G2")][rng.below(3)].map(str::to_string),
        valid_from: valid_from(rng),
    }
}

/// Half the entries undated, the rest taking effect on one of three days that fall between
/// the usage ends of [`ENDS`]; an entry of a key and day given again is a correction.
fn valid_from(rng: &mut Rng) -> Option<chrono::NaiveDate> {
    let days = ["2025-08-08", "2025-09-01", "2025-10-01"];
    rng.chance(50).then(|| chrono::NaiveDate::parse_from_str(days[rng.below(days.len())], "%Y-%m-%d").unwrap())
}

fn center(rng: &mut Rng, id: &str) -> ComputeCenter {
    // Owners among the users (self-built, related parties) and one never registered.
    let owner = code(rng.below(7));
    // A dated entry naming another owner is a sale from that day.
    ComputeCenter { center_id: id.into(), name: id.into(), owner_credit_code: owner, province: "安徽省".into(), city: "合肥市".into(), valid_from: valid_from(rng) }
}

/// Minutes after 2023-09-01 CST of usage ends around the months that matter:
/// v1 in July, both sides of 2025-08-10/11, then September to November.
const ENDS: [i64; 6] = [989_280, 1_018_020, 1_018_140, 1_052_220, 1_087_140, 1_153_140];

fn content(rng: &mut Rng, id: &str, revision: u32) -> UsageRecord {
    // Users 0–5 get registered at some point; 6 never is.
    let user = code(rng.below(7));
    let centers = ["C0", "C1", "C2", "CX"];
    let status = [PaymentStatus::Paid, PaymentStatus::Paid, PaymentStatus::Unpaid, PaymentStatus::Refunded][rng.below(4)];
    let paid = rng.below(1_000_000) as i64 + 1;
    let mut r = common::record(id, revision, user, centers[rng.below(centers.len())], ENDS[rng.below(ENDS.len())], paid, status);
    r.contract_id = [None, Some("K0"), Some("K1"), Some("K2")][rng.below(4)].map(str::to_string);
    r
}

fn history(seed: u64) -> History {
    let mut rng = Rng(seed | 1);
    // Registry: most users and centers up front, then changes, late arrivals and repeats.
    let mut items: Vec<Item> = (0..5).map(|i| Item::Entity(entity(&mut rng, i))).collect();
    items.extend(["C0", "C1", "C2"].map(|c| Item::Center(center(&mut rng, c))));
    for _ in 0..rng.below(12) {
        let (kind, pick) = (rng.below(5), rng.next() as usize);
        let item = match kind {
            0 => Item::Center(center(&mut rng, ["C0", "C1", "C2", "CX"][pick % 4])),
            1 => items[pick % items.len()].clone(),
            _ => Item::Entity(entity(&mut rng, pick % 6)),
        };
        items.push(item);
    }
    // What other schemes fund and what suppliers claim, added and withdrawn.
    for _ in 0..rng.below(8) {
        let item = funding_item(&mut rng);
        items.push(item);
    }
    // Records: revisions, conflicting copies of one revision, duplicates.
    let mut copies = Vec::new();
    for r in 0..1 + rng.below(20) {
        let id = format!("R{r}");
        for revision in 1..=1 + rng.below(3) as u32 {
            let mut versions = vec![content(&mut rng, &id, revision)];
            if rng.chance(15) {
                versions.push(content(&mut rng, &id, revision));
            }
            for v in versions {
                for _ in 0..1 + usize::from(rng.chance(25)) {
                    let mut copy = v.clone();
                    copy.updated_at += chrono::Duration::seconds(rng.below(1000) as i64);
                    copies.push(copy);
                }
            }
        }
    }
    let members = 1 + rng.below(3);
    // Copies in any order; registry entries keep theirs (one compacted partition).
    let mut keyed: Vec<(u64, Event)> = (0..copies.len()).map(|i| (rng.next(), Event::Copy(i))).collect();
    let mut registry_keys: Vec<u64> = (0..items.len()).map(|_| rng.next()).collect();
    registry_keys.sort_unstable();
    // The first entries come before any record, as a member loads the registry before consuming.
    for (i, k) in registry_keys.into_iter().enumerate() {
        keyed.push((if i < 8 { i as u64 } else { k }, Event::Registry(i)));
    }
    for _ in 0..rng.below(12) {
        keyed.push((rng.next(), Event::Round(rng.below(members))));
    }
    for _ in 0..rng.below(5) {
        keyed.push((rng.next(), Event::Close(rng.below(6))));
    }
    for _ in 0..rng.below(5) {
        keyed.push((rng.next(), Event::Reassign(rng.below(PARTITIONS), rng.below(members))));
    }
    keyed.sort_by_key(|(k, _)| *k);
    History { copies, items, events: keyed.into_iter().map(|(_, e)| e).collect(), members }
}

fn partition(record_id: &str) -> usize {
    record_id.bytes().map(usize::from).sum::<usize>() % PARTITIONS
}

/// A line as a store keeps it: the highest version stands, and an equal one replaces.
#[derive(Debug, Clone)]
struct Stored {
    version: u64,
    line: Line,
}

#[derive(Debug, Default)]
struct Member {
    owned: BTreeSet<usize>,
    /// Standing lines it has seen or written (the aggregator's memory of recent lines).
    cache: HashMap<String, Standing>,
    /// Registry changes not yet re-settled in its partitions.
    pending: Affected,
}

struct Sim<'p> {
    policy: &'p PolicySet,
    registry: Registry,
    /// Registry entries applied: the position in the registry topics.
    position: u64,
    /// What each registry position changed.
    changes: Vec<(u64, Affected)>,
    members: Vec<Member>,
    lines: BTreeMap<String, Stored>,
    /// Per partition: registry position up to which its lines are re-settled.
    marks: [u64; PARTITIONS],
    statements: Vec<Statement>,
    closed: Vec<Period>,
    /// Lines written by a re-settlement, and lines that moved to another user or month.
    resettled: usize,
    moved: usize,
    /// Copies streamed, by decision.
    decisions: BTreeMap<&'static str, usize>,
}

impl<'p> Sim<'p> {
    fn new(policy: &'p PolicySet, members: usize) -> Sim<'p> {
        let mut members: Vec<Member> = (0..members).map(|_| Member::default()).collect();
        for p in 0..PARTITIONS {
            let n = members.len();
            members[p % n].owned.insert(p);
        }
        Sim { policy, registry: Registry::new(), position: 0, changes: Vec::new(), members, lines: BTreeMap::new(), marks: [0; PARTITIONS], statements: Vec::new(), closed: Vec::new(), resettled: 0, moved: 0, decisions: BTreeMap::new() }
    }

    fn write(&mut self, id: &str, line: Line) {
        let version = line.standing.version(self.position);
        if let Some(old) = self.lines.get(id) {
            // A write the store would ignore would be a lost update: the version order must agree.
            assert!(version >= old.version, "{id}: version {version:#x} would not replace {:#x}", old.version);
            let key = |l: &Line| (l.standing.facts.user, l.assessment.period);
            if key(&old.line) != key(&line) {
                self.moved += 1;
            }
        }
        self.lines.insert(id.to_string(), Stored { version, line });
    }

    fn owner(&self, p: usize) -> usize {
        self.members.iter().position(|m| m.owned.contains(&p)).unwrap_or_else(|| panic!("partition {p} has no owner"))
    }

    fn copy(&mut self, record: &UsageRecord) {
        let m = self.owner(partition(&record.record_id));
        let standing = self.members[m].cache.get(&record.record_id).or_else(|| self.lines.get(&record.record_id).map(|s| &s.line.standing));
        let step = step(standing, record, Fingerprint::of(record), &self.registry, self.policy);
        *self.decisions.entry(step.decision.as_str()).or_default() += 1;
        if let Some(line) = step.line {
            self.members[m].cache.insert(record.record_id.clone(), line.standing.clone());
            self.write(&record.record_id, line);
        }
    }

    fn registry(&mut self, item: &Item) {
        let affected = item.clone().apply(&mut self.registry);
        self.position += 1;
        self.changes.push((self.position, affected.clone()));
        for m in &mut self.members {
            m.pending.merge(affected.clone());
        }
    }

    /// Re-settles the lines of `partitions` that `affected` touches, then marks them current.
    fn resettle(&mut self, partitions: &BTreeSet<usize>, affected: &Affected) {
        let touched: Vec<(String, Line)> = self
            .lines
            .iter()
            .filter(|(id, s)| partitions.contains(&partition(id)) && affected.touches(&s.line.standing.facts))
            .filter_map(|(id, s)| s.line.resettle(&self.registry, self.policy).map(|l| (id.clone(), l)))
            .collect();
        for (id, line) in touched {
            self.resettled += 1;
            self.write(&id, line);
        }
        for p in partitions {
            self.marks[*p] = self.position;
        }
    }

    fn round(&mut self, m: usize) {
        let pending = std::mem::take(&mut self.members[m].pending);
        let owned = self.members[m].owned.clone();
        self.resettle(&owned, &pending);
    }

    /// A partition changes hands: both members rebuild, and the new owner re-settles
    /// what changed in the registry since the partition's mark.
    fn reassign(&mut self, p: usize, to: usize) {
        let from = self.owner(p);
        self.members[from].owned.remove(&p);
        self.members[to].owned.insert(p);
        for m in [from, to] {
            self.members[m].cache.clear();
        }
        let mut since = Affected::default();
        for (_, a) in self.changes.iter().filter(|(pos, _)| *pos > self.marks[p]) {
            since.merge(a.clone());
        }
        self.resettle(&BTreeSet::from([p]), &since);
    }

    fn settlements(&self) -> Vec<Settlement> {
        let mut accruals = Accruals::new();
        for s in self.lines.values() {
            accruals.apply(None, s.line.effect().as_ref());
        }
        settle(&accruals, self.policy)
    }

    fn months_with_lines(&self) -> Vec<Period> {
        let set: BTreeSet<Period> = self.lines.values().map(|s| s.line.assessment.period).collect();
        set.into_iter().collect()
    }

    fn close(&mut self, period: Period) -> bool {
        let settlements = self.settlements();
        let months = self.months_with_lines();
        let input = CloseInput { settlements: &settlements, booked: &self.statements, closed: &self.closed, months_with_lines: &months };
        let Ok(booked) = close_month(period, input) else { return false };
        self.statements.extend(booked);
        self.closed.push(period);
        assert_fixed_equals(&self.statements, &self.closed, &settlements);
        true
    }
}

/// For every closed month and entity: what statements fixed equals the settlement.
fn assert_fixed_equals(statements: &[Statement], closed: &[Period], settlements: &[Settlement]) {
    let settled: BTreeMap<(CreditCode, Period), (Decimal, Decimal)> =
        settlements.iter().filter(|s| closed.contains(&s.period)).map(|s| ((s.credit_code, s.period), (s.eligible_base, s.subsidy))).collect();
    let fixed: BTreeMap<_, _> = fixed(statements).into_iter().filter(|(_, (b, s))| !b.is_zero() || !s.is_zero()).collect();
    let settled: BTreeMap<_, _> = settled.into_iter().filter(|(_, (b, s))| !b.is_zero() || !s.is_zero()).collect();
    assert_eq!(fixed, settled, "frozen + adjustments differ from the settlement");
}

const MONTHS: [(i32, u32); 6] = [(2025, 7), (2025, 8), (2025, 9), (2025, 10), (2025, 11), (2025, 12)];

/// Streams the history; returns the simulation after the last close.
fn stream<'p>(h: &History, policy: &'p PolicySet) -> Sim<'p> {
    let mut sim = Sim::new(policy, h.members);
    for e in &h.events {
        match e {
            Event::Copy(i) => sim.copy(&h.copies[*i]),
            Event::Registry(i) => sim.registry(&h.items[*i]),
            Event::Round(m) => sim.round(*m),
            Event::Close(i) => {
                let (y, m) = MONTHS[*i];
                sim.close(Period::new(y, m).unwrap_or_else(|| panic!("month {y}-{m}")));
            }
            Event::Reassign(p, m) => sim.reassign(*p, *m),
        }
    }
    for m in 0..sim.members.len() {
        sim.round(m);
    }
    // Close what is open, oldest first, then one month past the data to book the last differences.
    for month in sim.months_with_lines() {
        if !sim.closed.contains(&month) {
            assert!(sim.close(month), "closing {month} in order failed");
        }
    }
    let last = sim.months_with_lines().into_iter().chain(sim.closed.iter().copied()).max();
    let after = last.map_or_else(|| Period::new(2026, 1).unwrap_or_else(|| panic!("2026-01")), Period::next);
    if !sim.closed.contains(&after) {
        assert!(sim.close(after), "closing {after} failed");
    }
    sim
}

/// The final registry: every entry applied in its order.
fn final_registry(items: &[Item]) -> Registry {
    let mut r = Registry::new();
    for item in items.iter().cloned() {
        item.apply(&mut r);
    }
    r
}

/// The oracle, without the step: per record id the highest revision stands; its
/// copies that differ in content make a conflict represented by the smallest fingerprint.
fn oracle(copies: &[UsageRecord], registry: &Registry, policy: &PolicySet) -> BTreeMap<String, Line> {
    let mut by_id: BTreeMap<&str, Vec<&UsageRecord>> = BTreeMap::new();
    for c in copies {
        by_id.entry(&c.record_id).or_default().push(c);
    }
    by_id
        .into_iter()
        .map(|(id, copies)| {
            let top = copies.iter().map(|c| c.revision).max().unwrap_or(0);
            let mut at_top: Vec<(Fingerprint, &UsageRecord)> = copies.iter().filter(|c| c.revision == top).map(|c| (Fingerprint::of(c), *c)).collect();
            at_top.sort_by_key(|(f, _)| *f);
            at_top.dedup_by_key(|(f, _)| *f);
            let (fingerprint, representative) = at_top[0];
            let standing = Standing { conflict: at_top.len() > 1, ..Standing::of(representative, fingerprint) };
            (id.to_string(), Line::settle(standing, registry, policy))
        })
        .collect()
}

fn check(seed: u64, policy: &PolicySet) {
    let h = history(seed);
    let sim = stream(&h, policy);
    let registry = final_registry(&h.items);
    // The recompute path: the in-memory ledger over the final records, in file order.
    let mut ledger = Ledger::new(policy);
    for (i, c) in h.copies.iter().enumerate() {
        ledger.ingest(c, Fingerprint::of(c), i as u64, &registry);
    }
    let recompute: BTreeMap<String, Line> = ledger.lines().map(|(id, l)| (id.to_string(), l.clone())).collect();
    assert_eq!(recompute, oracle(&h.copies, &registry, policy), "seed {seed}: recompute differs from the oracle");
    let streamed: BTreeMap<String, Line> = sim.lines.iter().map(|(id, s)| (id.clone(), s.line.clone())).collect();
    assert_eq!(streamed, recompute, "seed {seed}: streamed lines differ from recompute");
    let expected = ledger.settle();
    assert_eq!(sim.settlements(), expected, "seed {seed}: streamed settlements differ from recompute");
    assert_fixed_equals(&sim.statements, &sim.closed, &expected);
    assert_years_within_cap(&expected, policy);
}

/// No capped year pays other than min(cap, Σ of its months each floored to the fen).
fn assert_years_within_cap(settlements: &[Settlement], policy: &PolicySet) {
    let mut years: BTreeMap<(CreditCode, i32), (Decimal, Decimal)> = BTreeMap::new();
    for s in settlements {
        let year = years.entry((s.credit_code, s.period.year())).or_default();
        year.0 += subsidy_core::round_down_to_fen(s.uncapped);
        year.1 += s.subsidy;
    }
    for ((user, year), (floored, paid)) in years {
        let want = policy.annual_cap(year).map_or(floored, |cap| floored.min(cap));
        assert_eq!(paid, want, "{user} {year}: paid {paid}, floored sum {floored}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, .. ProptestConfig::default() })]

    #[test]
    fn streaming_in_any_order_over_any_members_equals_recompute(seed in any::<u64>()) {
        check(seed, &PolicySet::builtin());
    }

    #[test]
    fn the_same_holds_under_an_annual_cap(seed in any::<u64>(), cap_fen in 1i64..500_000) {
        let mut policy = PolicySet::builtin();
        for v in &mut policy.versions {
            v.annual_cap_yuan = Some(Decimal::new(cap_fen, 2));
        }
        check(seed, &policy);
    }
}

#[test]
fn histories_exercise_every_case() {
    // Guards the properties above against passing on histories that never conflict,
    // never move a record, never re-settle, or never close.
    let policy = PolicySet::builtin();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for seed in 1..300u64 {
        let h = history(seed);
        let sim = stream(&h, &policy);
        seen.extend(sim.decisions.keys());
        if sim.lines.values().any(|s| s.line.standing.conflict) {
            seen.insert("conflict line");
        }
        if sim.statements.iter().any(|s| s.kind == subsidy_core::StatementKind::Adjustment) {
            seen.insert("adjustment");
        }
        if sim.lines.values().any(|s| s.line.is_held()) {
            seen.insert("held at the end");
        }
        if sim.resettled > 0 {
            seen.insert("re-settled");
        }
        if sim.moved > 0 {
            seen.insert("moved to another user or month");
        }
        if sim.lines.values().any(|s| s.line.assessment.entity_entry.is_some() || s.line.assessment.center_entry.is_some()) {
            seen.insert("judged by a dated entry");
        }
        for reason in [subsidy_core::ReasonCode::SubsidizedElsewhere, subsidy_core::ReasonCode::ClaimedBySupplier] {
            if sim.lines.values().any(|s| s.line.assessment.reason == Some(reason)) {
                seen.insert(reason.as_str());
            }
        }
        if sim.settlements().iter().map(|s| s.credit_code).collect::<BTreeSet<_>>().len() > 2 {
            seen.insert("several users");
        }
    }
    for want in ["first", "replaces", "duplicate", "superseded", "conflict", "conflict line", "adjustment", "held at the end", "re-settled", "moved to another user or month", "several users", "judged by a dated entry", "subsidized_elsewhere", "claimed_by_supplier"] {
        assert!(seen.contains(want), "no history had {want}: {seen:?}");
    }
}
