//! Property tests of the programme over random years of closes, claims,
//! reviews, refunds, findings and batches: it never pays over a cap or the
//! budget, `pro_rata` pays exactly the budget, `first_come` pays in approval
//! order, the province and city parts always make the amount, receivables are
//! recovered oldest first and nothing is paid below zero, a batch never moves
//! once made, and the same history with independent steps in another order
//! gives the same batches.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};
use subsidy_core::accrual::{Accrual, AccrualKey, Accruals};
use subsidy_core::budget::{Budget, OverBudget};
use subsidy_core::close::{close_month, CloseInput, Statement};
use subsidy_core::programme::{Action, BatchState, Event, Party, Programme, ReceivableSource, Stage, Status, Verdict};
use subsidy_core::{settle, CreditCode, Period, PolicySet};

const CITIES: [&str; 3] = ["阜阳市", "合肥市", "宿州市"];

/// One thing that happens in a generated year.
#[derive(Debug, Clone)]
enum Op {
    /// The next month closes; before it, earlier months change by the given fen (refunds
    /// when negative) and every entity accrues the given 1/10000 yuan in the month.
    Close { changes: Vec<(usize, usize, i64)>, accrued: Vec<u32> },
    Claim { entity: usize, months: usize, latest: bool },
    CityReview { pick: usize, approve: bool },
    BureauReview { pick: usize, approve: bool },
    Batch { mask: u16 },
    Finding { entity: usize, fen: u32 },
    CloseYear { year: i32 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (prop::collection::vec((0usize..4, 0usize..6, -40_000i64..20_000), 0..4), prop::collection::vec(0u32..3_000_000, 4))
            .prop_map(|(changes, accrued)| Op::Close { changes, accrued }),
        4 => (0usize..4, 1usize..3, any::<bool>()).prop_map(|(entity, months, latest)| Op::Claim { entity, months, latest }),
        4 => (0usize..8, prop::bool::weighted(0.85)).prop_map(|(pick, approve)| Op::CityReview { pick, approve }),
        4 => (0usize..8, prop::bool::weighted(0.85)).prop_map(|(pick, approve)| Op::BureauReview { pick, approve }),
        2 => any::<u16>().prop_map(|mask| Op::Batch { mask }),
        1 => (0usize..4, 1u32..50_000).prop_map(|(entity, fen)| Op::Finding { entity, fen }),
        // 2026 (the budgeted year) closes at the end of every history.
        1 => Just(Op::CloseYear { year: 2025 }),
    ]
}

/// The policy: the built-in rules with an optional cap and an optional 2026 budget.
fn policy(cap: Option<u32>, budget: Option<(OverBudget, u32)>) -> PolicySet {
    let mut p = PolicySet::builtin();
    for v in &mut p.versions {
        v.annual_cap_yuan = cap.map(Decimal::from);
    }
    if let Some((over_budget, amount)) = budget {
        let city_shares = BTreeMap::from([("阜阳市".to_string(), Decimal::new(5, 1)), ("合肥市".to_string(), Decimal::new(3, 1))]);
        p.budgets.push(Budget { year: 2026, amount_yuan: Decimal::from(amount), over_budget, city_shares });
    }
    p.validate().unwrap();
    p
}

fn policy_strategy() -> impl Strategy<Value = PolicySet> {
    let rule = prop_oneof![Just(OverBudget::FirstCome), Just(OverBudget::ProRata)];
    (prop::option::weighted(0.4, 100u32..800), prop::option::weighted(0.8, (rule, 50u32..1_500))).prop_map(|(cap, budget)| policy(cap, budget))
}

/// A generated year: the ledger's closes and the programme's steps as a fenced writer takes them.
struct World {
    policy: PolicySet,
    codes: Vec<CreditCode>,
    months: Vec<Period>,
    contributions: BTreeMap<(usize, Period), Decimal>,
    statements: Vec<Statement>,
    closed: Vec<Period>,
    events: Vec<Event>,
    made: Vec<BatchState>,
    findings: u32,
}

impl World {
    fn new(policy: PolicySet) -> World {
        let codes = (1..=4).map(|i| CreditCode::complete(&format!("91340100MA000{i:04}")).unwrap()).collect();
        let mut months = vec![Period::new(2025, 11).unwrap()];
        while months.len() < 8 {
            months.push(months[months.len() - 1].next());
        }
        World { policy, codes, months, contributions: BTreeMap::new(), statements: Vec::new(), closed: Vec::new(), events: Vec::new(), made: Vec::new(), findings: 0 }
    }

    fn state(&self) -> Programme {
        Programme::replay(&self.events, &self.statements, &self.policy)
    }

    fn city(&self, entity: usize) -> &'static str {
        CITIES[entity % CITIES.len()]
    }

    fn run(&mut self, op: &Op) {
        match op {
            Op::Close { changes, accrued } => self.close(changes, accrued),
            other => {
                let state = self.state();
                if let Some((party, action)) = self.step(&state, other) {
                    self.take(&state, party, action);
                }
            }
        }
    }

    fn close(&mut self, changes: &[(usize, usize, i64)], accrued: &[u32]) {
        let Some(&month) = self.months.get(self.closed.len()) else { return };
        for &(entity, back, fen) in changes {
            let Some(&earlier) = self.closed.iter().rev().nth(back) else { continue };
            let c = self.contributions.entry((entity, earlier)).or_default();
            *c = (*c + Decimal::new(fen, 2)).max(Decimal::ZERO);
        }
        for (entity, amount) in accrued.iter().enumerate() {
            self.contributions.insert((entity, month), Decimal::new(i64::from(*amount), 4));
        }
        let mut accruals = Accruals::new();
        for (&(entity, period), contribution) in &self.contributions {
            accruals.insert(AccrualKey { user: self.codes[entity], period }, &Accrual { eligible_records: 1, eligible_base: *contribution * Decimal::from(5), contribution: *contribution });
        }
        let settlements = settle(&accruals, &self.policy);
        let months_with_lines: Vec<Period> = self.contributions.keys().map(|(_, p)| *p).collect();
        let booked = close_month(month, CloseInput { settlements: &settlements, booked: &self.statements, closed: &self.closed, months_with_lines: &months_with_lines }).unwrap();
        self.statements.extend(booked);
        self.closed.push(month);
    }

    /// The step an op asks for in this state (`None`: nothing it could name).
    fn step(&mut self, state: &Programme, op: &Op) -> Option<(Party, Action)> {
        let pick = |status: Status, pick: usize| {
            let c: Vec<&str> = state.claims.iter().filter(|c| c.status == status).map(|c| c.claim_id.as_str()).collect();
            (!c.is_empty()).then(|| c[pick % c.len()].to_string())
        };
        match *op {
            Op::Claim { entity, months, latest } => {
                let code = self.codes[entity];
                let mut open: Vec<Period> = self.closed.iter().copied().filter(|m| state.claim_of_month(&code, *m).is_none()).collect();
                if latest {
                    open.reverse();
                }
                let year = open.first()?.year();
                let chosen: Vec<Period> = open.into_iter().filter(|m| m.year() == year).take(months).collect();
                Some((Party::Entity { credit_code: code }, Action::Claim { credit_code: code, city: self.city(entity).to_string(), months: chosen }))
            }
            Op::CityReview { pick: p, approve } => {
                let id = pick(Status::Filed, p)?;
                let city = state.claim(&id)?.city.clone();
                Some((Party::City { city }, review(id, Stage::City, approve)))
            }
            Op::BureauReview { pick: p, approve } => Some((Party::Bureau, review(pick(Status::CityApproved, p)?, Stage::Bureau, approve))),
            Op::Batch { mask } => {
                let payable: Vec<String> = state.claims.iter().filter(|c| c.is_payable()).map(|c| c.claim_id.clone()).collect();
                let mut chosen: Vec<String> = payable.iter().enumerate().filter(|(i, _)| mask & (1 << (i % 16)) != 0).map(|(_, c)| c.clone()).collect();
                if chosen.is_empty() {
                    chosen = payable.into_iter().take(1).collect();
                }
                (!chosen.is_empty()).then(|| (Party::Bureau, Action::Batch { payout_date: NaiveDate::from_ymd_opt(2026, 7, 1).unwrap(), claims: chosen }))
            }
            Op::Finding { entity, fen } => {
                self.findings += 1;
                let months = vec![*self.closed.first()?];
                Some((Party::Bureau, Action::Finding { case_id: format!("F{}", self.findings), credit_code: self.codes[entity], months, amount: Decimal::new(i64::from(fen), 2), reason: "unannounced check".into() }))
            }
            Op::CloseYear { year } => Some((Party::Bureau, Action::CloseYear { year })),
            Op::Close { .. } => None,
        }
    }

    fn take(&mut self, state: &Programme, party: Party, action: Action) {
        let event = Event { sequence: state.last_sequence + 1, party, label: "test".into(), at: Utc.timestamp_opt(1_780_000_000, 0).unwrap(), through: self.closed.last().copied(), policy: String::new(), action };
        if state.check(&event).is_err() {
            return;
        }
        let is_batch = matches!(event.action, Action::Batch { .. });
        self.events.push(event);
        if is_batch {
            self.made.push(self.state().batches.last().unwrap().clone());
        }
    }
}

fn review(claim_id: String, stage: Stage, approve: bool) -> Action {
    Action::Review { claim_id, stage, verdict: if approve { Verdict::Approve } else { Verdict::Reject }, reason: "reviewed".into() }
}

fn world(policy: PolicySet, ops: &[Op]) -> World {
    let mut w = World::new(policy);
    for op in ops {
        w.run(op);
    }
    // At the end every claim in review is approved, the year closed (a pro_rata year is
    // divided) and everything payable paid.
    for _ in 0..16 {
        w.run(&Op::CityReview { pick: 0, approve: true });
        w.run(&Op::BureauReview { pick: 0, approve: true });
    }
    for op in [Op::CloseYear { year: 2026 }, Op::Batch { mask: u16::MAX }] {
        w.run(&op);
    }
    w
}

/// A batch row by content: entity, months, province part, city part, recovered, net paid.
type RowContent = (CreditCode, Vec<Period>, Decimal, Decimal, Decimal, Decimal);

/// Batches by content, independent of the ids the sequence gave claims and batches.
fn batch_content(p: &Programme) -> Vec<Vec<RowContent>> {
    p.batches
        .iter()
        .map(|b| {
            let mut rows: Vec<_> = b.rows.iter().map(|r| (r.credit_code, p.claim(&r.claim_id).unwrap().months.clone(), r.province_part, r.city_part, r.recovered, r.net_paid)).collect();
            rows.sort();
            rows
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn a_year_of_the_programme_keeps_every_rule(policy in policy_strategy(), ops in prop::collection::vec(op(), 10..80)) {
        let w = world(policy, &ops);
        let p = w.state();
        prop_assert!(p.skipped.is_empty(), "a fenced writer stores only steps that fit: {:?}", p.skipped);
        prop_assert_eq!(&p.batches, &w.made, "a batch never moves once made, whatever closes and steps come after");
        budgets_hold(&w, &p)?;
        rows_add_up(&p)?;
        receivables_are_recovered_in_order(&w, &p)?;
    }

    #[test]
    fn no_entity_is_paid_over_its_cap(cap in 100u32..800, ops in prop::collection::vec(op(), 10..80)) {
        let w = world(policy(Some(cap), None), &ops);
        let p = w.state();
        for code in &w.codes {
            for year in [2025, 2026] {
                let paid: Decimal = p.claims.iter().filter(|c| c.credit_code == *code && c.status == Status::Paid).filter_map(|c| c.part(year)).filter_map(|part| part.granted).sum();
                let owed: Decimal = p.receivables_of(code, None).iter().filter(|r| matches!(&r.source, ReceivableSource::Adjustment { for_period, .. } if for_period.year() == year)).map(|r| r.amount).sum();
                prop_assert!(paid - owed <= Decimal::from(cap), "{code} {year}: paid {paid}, owed back {owed}, cap {cap}");
            }
        }
    }

    #[test]
    fn independent_steps_in_another_order_give_the_same_batches(policy in policy_strategy(), ops in prop::collection::vec(op(), 10..80), seed in any::<u64>()) {
        let w = world(policy, &ops);
        let reordered = reorder_independent(&w.events, seed);
        let p = w.state();
        let q = Programme::replay(&reordered, &w.statements, &w.policy);
        prop_assert!(q.skipped.is_empty(), "{:?}", q.skipped);
        prop_assert_eq!(batch_content(&p), batch_content(&q));
    }
}

/// Each year's grants stay within its budget; `pro_rata` pays it exactly once divided;
/// `first_come` pays in approval order.
fn budgets_hold(w: &World, p: &Programme) -> Result<(), TestCaseError> {
    for b in &w.policy.budgets {
        let mut parts: Vec<(u64, Decimal, Option<Decimal>)> =
            p.claims.iter().filter_map(|c| Some((c.bureau_review.as_ref()?.sequence, c.part(b.year)?.asked, c.part(b.year)?.granted))).collect();
        parts.sort_by_key(|x| x.0);
        let granted: Decimal = parts.iter().filter_map(|x| x.2).sum();
        let asked: Decimal = parts.iter().map(|x| x.1).sum();
        prop_assert!(granted <= b.amount_yuan, "{}: granted {granted} over budget {}", b.year, b.amount_yuan);
        match b.over_budget {
            OverBudget::ProRata => {
                if p.closed_years.contains(&b.year) && asked > b.amount_yuan {
                    prop_assert_eq!(granted, b.amount_yuan, "pro_rata pays exactly the budget");
                }
            }
            OverBudget::FirstCome => {
                // Full grants, then at most one partial one, then nothing.
                let mut short = false;
                for (_, a, g) in &parts {
                    let g = g.unwrap();
                    if short {
                        prop_assert!(g.is_zero(), "a claim approved after the budget ran out is paid nothing");
                    } else if g < *a {
                        short = true;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Province + city = amount, amount − recovered = net paid, nothing below zero.
fn rows_add_up(p: &Programme) -> Result<(), TestCaseError> {
    for b in &p.batches {
        for r in &b.rows {
            prop_assert_eq!(r.province_part + r.city_part, r.amount);
            prop_assert!(r.city_part >= Decimal::ZERO && r.province_part >= Decimal::ZERO);
            prop_assert!(r.recovered >= Decimal::ZERO && r.recovered <= r.amount);
            prop_assert_eq!(r.net_paid, r.amount - r.recovered);
            prop_assert!(r.net_paid >= Decimal::ZERO);
            let claim = p.claim(&r.claim_id).unwrap();
            prop_assert_eq!(r.amount, claim.granted());
        }
        let recovered: Decimal = b.recoveries.iter().map(|x| x.amount).sum();
        prop_assert_eq!(recovered, b.rows.iter().map(|r| r.recovered).sum::<Decimal>(), "a batch nets exactly what it recovers");
    }
    Ok(())
}

/// Within each batch an entity's receivables are recovered oldest first: every one
/// recovered but the last is then fully recovered, and none is recovered beyond its amount.
fn receivables_are_recovered_in_order(w: &World, p: &Programme) -> Result<(), TestCaseError> {
    let mut so_far: HashMap<String, Decimal> = HashMap::new();
    for b in &p.batches {
        for code in &w.codes {
            let mine: Vec<_> = b.recoveries.iter().filter(|r| r.credit_code == *code).collect();
            let list = p.receivables_of(code, None);
            let key = |id: &str| list.iter().find(|r| r.id == id).map(|r| (r.order_key(), r.amount)).unwrap();
            for pair in mine.windows(2) {
                prop_assert!(key(&pair[0].receivable_id).0 < key(&pair[1].receivable_id).0, "oldest first");
            }
            for (i, r) in mine.iter().enumerate() {
                let total = so_far.entry(r.receivable_id.clone()).or_default();
                *total += r.amount;
                let amount = key(&r.receivable_id).1;
                prop_assert!(*total <= amount, "{} recovered {} of {}", r.receivable_id, total, amount);
                if i + 1 < mine.len() {
                    prop_assert_eq!(*total, amount, "an older receivable is recovered whole before a newer one");
                }
            }
        }
    }
    for r in p.receivables() {
        prop_assert!(r.recovered <= r.amount);
    }
    Ok(())
}

/// The same history with claims filed and city approvals moved among each other (each claim
/// still filed before its review, and every other step kept in place), renumbered: what
/// two entities and their cities do between two bureau steps does not depend on who was first.
fn reorder_independent(events: &[Event], seed: u64) -> Vec<Event> {
    let mut rng = seed;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    // A rejection frees months another claim may then take: it stays in place.
    let movable = |e: &Event| matches!(e.action, Action::Claim { .. } | Action::Review { stage: Stage::City, verdict: Verdict::Approve, .. });
    let mut out: Vec<Event> = Vec::with_capacity(events.len());
    let mut run: Vec<Event> = Vec::new();
    let flush = |run: &mut Vec<Event>, out: &mut Vec<Event>, next: &mut dyn FnMut() -> u64| {
        // A random order that keeps each claim's filing before its review.
        while !run.is_empty() {
            let ready: Vec<usize> = (0..run.len()).filter(|&i| !depends_on_earlier(&run[i], &run[..i])).collect();
            let i = ready[(next() % ready.len() as u64) as usize];
            out.push(run.remove(i));
        }
    };
    for e in events {
        if movable(e) {
            run.push(e.clone());
        } else {
            flush(&mut run, &mut out, &mut next);
            out.push(e.clone());
        }
    }
    flush(&mut run, &mut out, &mut next);
    renumber(out)
}

/// Whether a city review names a claim filed by an earlier event of the run.
fn depends_on_earlier(e: &Event, earlier: &[Event]) -> bool {
    match &e.action {
        Action::Review { claim_id, .. } => earlier.iter().any(|x| subsidy_core::programme::claim_id(x.sequence) == *claim_id),
        _ => false,
    }
}

/// Numbers the events 1.. in their new order, renaming the claims they refer to.
fn renumber(events: Vec<Event>) -> Vec<Event> {
    let names: HashMap<String, String> =
        events.iter().enumerate().map(|(i, e)| (subsidy_core::programme::claim_id(e.sequence), subsidy_core::programme::claim_id(i as u64 + 1))).collect();
    let rename = |id: &String| names.get(id).cloned().unwrap_or_else(|| id.clone());
    events
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e.sequence = i as u64 + 1;
            match &mut e.action {
                Action::Review { claim_id, .. } => *claim_id = rename(claim_id),
                Action::Batch { claims, .. } => *claims = claims.iter().map(rename).collect(),
                _ => {}
            }
            e
        })
        .collect()
}

/// A worked year, by hand: two entities, a first-come budget of 500.00, a refund after
/// payment and an audit finding.
///
/// | step | A (阜阳市, city share 0.5) | B (合肥市, 0.3) |
/// |---|---|---|
/// | 2026-01 closes | settled 100.00 | settled 300.00 |
/// | claims approved, batch 1 | 100.00 = 50.00 + 50.00 | 300.00 = 210.00 + 90.00 |
/// | 2026-02 closes | Jan refunded to 60.00 (adjustment −40.00); Feb 80.00 | — |
/// | receivable | 40.00 (the whole adjustment: Jan was granted in full) | finding F1: 10.00 |
/// | Feb claim, batch 2 | 80.00 granted (100.00 left), 40.00 recovered, 40.00 paid | nothing to net: 10.00 owed |
#[test]
fn a_worked_year_matches_the_hand_computed_table() {
    let policy = policy(None, Some((OverBudget::FirstCome, 500)));
    let a = CreditCode::complete("91340100MA0000001").unwrap();
    let b = CreditCode::complete("91340100MA0000002").unwrap();
    let (jan, feb) = (Period::new(2026, 1).unwrap(), Period::new(2026, 2).unwrap());
    let d = |s: &str| s.parse::<Decimal>().unwrap();
    let line = |code, payout, month, kind, subsidy: &str| Statement { credit_code: code, payout_period: payout, for_period: month, kind, eligible_base: d(subsidy) * Decimal::from(5), subsidy: d(subsidy) };
    use subsidy_core::StatementKind::{Adjustment, Settled};
    let mut statements = vec![line(a, jan, jan, Settled, "100.00"), line(b, jan, jan, Settled, "300.00")];
    let at = Utc.timestamp_opt(1_770_000_000, 0).unwrap();
    let mut events: Vec<Event> = Vec::new();
    let step = |statements: &[Statement], events: &mut Vec<Event>, party: Party, action: Action, through: Period| {
        let mut p = Programme::replay(events, statements, &policy);
        let e = Event { sequence: events.len() as u64 + 1, party, label: "hand".into(), at, through: Some(through), policy: String::new(), action };
        p.apply(&e).unwrap();
        events.push(e);
    };
    let city = |c: &str| Party::City { city: c.into() };
    step(&statements, &mut events, Party::Entity { credit_code: a }, Action::Claim { credit_code: a, city: "阜阳市".into(), months: vec![jan] }, jan);
    step(&statements, &mut events, Party::Entity { credit_code: b }, Action::Claim { credit_code: b, city: "合肥市".into(), months: vec![jan] }, jan);
    step(&statements, &mut events, city("阜阳市"), review("C-1".into(), Stage::City, true), jan);
    step(&statements, &mut events, city("合肥市"), review("C-2".into(), Stage::City, true), jan);
    step(&statements, &mut events, Party::Bureau, review("C-1".into(), Stage::Bureau, true), jan);
    step(&statements, &mut events, Party::Bureau, review("C-2".into(), Stage::Bureau, true), jan);
    let payout = NaiveDate::from_ymd_opt(2026, 2, 10).unwrap();
    step(&statements, &mut events, Party::Bureau, Action::Batch { payout_date: payout, claims: vec!["C-1".into(), "C-2".into()] }, jan);
    statements.extend([line(a, feb, jan, Adjustment, "-40.00"), line(a, feb, feb, Settled, "80.00")]);
    step(&statements, &mut events, Party::Bureau, Action::Finding { case_id: "F1".into(), credit_code: b, months: vec![jan], amount: d("10.00"), reason: "unannounced check".into() }, feb);
    step(&statements, &mut events, Party::Entity { credit_code: a }, Action::Claim { credit_code: a, city: "阜阳市".into(), months: vec![feb] }, feb);
    step(&statements, &mut events, city("阜阳市"), review("C-9".into(), Stage::City, true), feb);
    step(&statements, &mut events, Party::Bureau, review("C-9".into(), Stage::Bureau, true), feb);
    step(&statements, &mut events, Party::Bureau, Action::Batch { payout_date: payout, claims: vec!["C-9".into()] }, feb);
    let p = Programme::replay(&events, &statements, &policy);
    let rows = |i: usize| p.batches[i].rows.iter().map(|r| (r.claim_id.as_str(), r.province_part.to_string(), r.city_part.to_string(), r.amount.to_string(), r.recovered.to_string(), r.net_paid.to_string())).collect::<Vec<_>>();
    let s = |x: &str| x.to_string();
    assert_eq!(rows(0), [("C-1", s("50.00"), s("50.00"), s("100.00"), s("0.00"), s("100.00")), ("C-2", s("210.00"), s("90.00"), s("300.00"), s("0.00"), s("300.00"))]);
    assert_eq!(rows(1), [("C-9", s("40.00"), s("40.00"), s("80.00"), s("40.00"), s("40.00"))]);
    let owed = |code| p.receivables_of(&code, None).iter().map(|r| (r.id.clone(), r.amount.to_string(), r.outstanding().to_string())).collect::<Vec<_>>();
    assert_eq!(owed(a), [(format!("adjustment:{a}:2026-02:2026-01"), s("40.00"), s("0.00"))]);
    assert_eq!(owed(b), [(s("finding:F1"), s("10.00"), s("10.00"))]);
    // The budget view: 480.00 paid, March accruing 20.00 (open): 500.00 committed, the budget reached.
    let march = subsidy_core::Settlement { credit_code: a, period: Period::new(2026, 3).unwrap(), eligible_records: 1, eligible_base: d("100"), uncapped: d("20"), subsidy: d("20.00") };
    let closed = std::collections::BTreeSet::from([jan, feb]);
    let input = subsidy_core::programme::ViewInput { programme: &p, settlements: &[march], closed: &closed, policy: &policy };
    let city_of = |code: &CreditCode, _: Period| if *code == a { "阜阳市".to_string() } else { "合肥市".to_string() };
    let view = subsidy_core::programme::budget_view(2026, input, &city_of);
    assert_eq!((view.figures.paid, view.figures.approved_unpaid, view.figures.claimable, view.figures.accrued), (d("480.00"), d("0"), d("0"), d("20.00")));
    assert_eq!(view.headroom, Some(d("0")));
    let forecast = view.forecast.unwrap();
    assert!(forecast.reached);
    assert_eq!(forecast.as_of, NaiveDate::from_ymd_opt(2026, 3, 31).unwrap());
    assert_eq!(view.by_city["阜阳市"].paid, d("180.00"));
    assert_eq!(view.by_city["合肥市"].paid, d("300.00"));
    assert_eq!(view.by_version.keys().collect::<Vec<_>>(), ["v2"]);
    let csv = subsidy_core::programme::batch_csv(&p.batches[1], |_| "=cmd|A".into());
    assert_eq!(csv, format!("credit_code,name,claim_id,province_part,city_part,amount,recovered,net_paid\n{a},\"'=cmd|A\",C-9,40.00,40.00,80.00,40.00,40.00\n"));
}

/// A step is judged by the budgets of the document it names: a budget raised later grants
/// later approvals from the new amount and never moves a grant or a batch made before.
#[test]
fn a_policy_change_never_moves_what_was_granted_or_paid_before_it() {
    let a = CreditCode::complete("91340100MA0000001").unwrap();
    let (jan, feb) = (Period::new(2026, 1).unwrap(), Period::new(2026, 2).unwrap());
    let settled = |m: Period| Statement { credit_code: a, payout_period: m, for_period: m, kind: subsidy_core::StatementKind::Settled, eligible_base: Decimal::from(500), subsidy: Decimal::new(10000, 2) };
    let statements = [settled(jan), settled(feb)];
    let (small, large) = (policy(None, Some((OverBudget::FirstCome, 60))), policy(None, Some((OverBudget::FirstCome, 1000))));
    let documents = BTreeMap::from([("small".to_string(), small.clone()), ("large".to_string(), large.clone())]);
    let at = Utc.timestamp_opt(1_770_000_000, 0).unwrap();
    let mut events = Vec::new();
    let mut take = |party: Party, action: Action, document: &str, through: Period| {
        events.push(Event { sequence: events.len() as u64 + 1, party, label: "t".into(), at, through: Some(through), policy: document.into(), action });
    };
    let approve = |id: &str| review(id.into(), Stage::Bureau, true);
    let city = Party::City { city: "阜阳市".into() };
    take(Party::Entity { credit_code: a }, Action::Claim { credit_code: a, city: "阜阳市".into(), months: vec![jan] }, "small", jan);
    take(city.clone(), review("C-1".into(), Stage::City, true), "small", jan);
    take(Party::Bureau, approve("C-1"), "small", jan);
    take(Party::Bureau, Action::Batch { payout_date: NaiveDate::from_ymd_opt(2026, 2, 5).unwrap(), claims: vec!["C-1".into()] }, "small", jan);
    // The budget is raised (a new document in force); February is claimed under it.
    take(Party::Entity { credit_code: a }, Action::Claim { credit_code: a, city: "阜阳市".into(), months: vec![feb] }, "large", feb);
    take(city, review("C-5".into(), Stage::City, true), "large", feb);
    take(Party::Bureau, approve("C-5"), "large", feb);
    let p = Programme::replay_documented(&events, &statements, &large, documents);
    assert!(p.skipped.is_empty(), "{:?}", p.skipped);
    assert_eq!(p.claim("C-1").unwrap().granted(), Decimal::new(6000, 2), "granted under the budget in force at its approval");
    assert_eq!(p.batches[0].rows[0].amount, Decimal::new(6000, 2), "the batch keeps what it paid");
    assert_eq!(p.claim("C-5").unwrap().granted(), Decimal::new(10000, 2), "a later approval is granted from the raised budget");
}
