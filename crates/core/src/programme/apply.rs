//! The fold: each event checked against the state before it, then applied.
//!
//! [`Programme::check`] is what a writer calls before it appends a step (under
//! the store's fence, so the state it checks against is the one the step
//! follows); [`Programme::replay`] applies a stored history, each step checked
//! the same way, so a step that does not fit (which a fenced writer never
//! stores) is reported and skipped, never half-applied.

use super::batch::{make_batch, BatchState};
use super::claims::{line_key, ClaimState, LineKey, Part, Receivable, ReceivableSource, Review, Status};
use super::{batch_id, check_text, claim_id, Action, Event, Party, ProgrammeError, Stage, Verdict, MAX_BATCH_CLAIMS, MAX_CLAIM_MONTHS};
use crate::budget::{first_come, pro_rata, OverBudget};
use crate::close::Statement;
use crate::credit_code::CreditCode;
use crate::money::{round_down_to_fen, Money, MAX_AMOUNT_YUAN};
use crate::period::Period;
use crate::policy::PolicySet;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The programme as a history made it.
#[derive(Debug, Clone)]
pub struct Programme {
    /// Every claim, in filing order.
    pub claims: Vec<ClaimState>,
    /// Every batch, in order.
    pub batches: Vec<BatchState>,
    /// Findings entered, as receivables, in order.
    pub findings: Vec<Receivable>,
    /// Years whose claims the bureau closed.
    pub closed_years: BTreeSet<i32>,
    /// The sequence of the last event applied (0 for none).
    pub last_sequence: u64,
    /// Events that did not fit the state before them, with why (a fenced writer stores none).
    pub skipped: Vec<(u64, String)>,
    statements: BTreeMap<CreditCode, Vec<Statement>>,
    /// Each statement line an approval took, with the claim that took it.
    taken: HashMap<LineKey, usize>,
    /// Recovered so far, per receivable id.
    recovered: HashMap<String, Money>,
    policy: PolicySet,
    /// Every policy document the ledger recorded, by hash: a step is judged by the budgets
    /// of the document it names (the current policy for one not known).
    documents: BTreeMap<String, PolicySet>,
    index: HashMap<String, usize>,
}

impl Programme {
    /// An empty programme over the statements booked so far, under `policy`'s budgets.
    pub fn new(statements: &[Statement], policy: &PolicySet) -> Programme {
        let mut by_entity: BTreeMap<CreditCode, Vec<Statement>> = BTreeMap::new();
        for s in statements {
            by_entity.entry(s.credit_code).or_default().push(s.clone());
        }
        for lines in by_entity.values_mut() {
            lines.sort();
        }
        Programme {
            claims: Vec::new(),
            batches: Vec::new(),
            findings: Vec::new(),
            closed_years: BTreeSet::new(),
            last_sequence: 0,
            skipped: Vec::new(),
            statements: by_entity,
            taken: HashMap::new(),
            recovered: HashMap::new(),
            policy: policy.clone(),
            documents: BTreeMap::new(),
            index: HashMap::new(),
        }
    }

    /// The state after `events`, each step judged by the budgets of the policy document it
    /// names (`documents`, by hash; `current` for a step naming none known).
    pub fn replay_documented(events: &[Event], statements: &[Statement], current: &PolicySet, documents: BTreeMap<String, PolicySet>) -> Programme {
        let mut p = Programme::new(statements, current);
        p.documents = documents;
        p.replay_onto(events);
        p
    }

    /// The state after `events` (in sequence order), over the statements booked so far.
    pub fn replay(events: &[Event], statements: &[Statement], policy: &PolicySet) -> Programme {
        let mut p = Programme::new(statements, policy);
        p.replay_onto(events);
        p
    }

    fn replay_onto(&mut self, events: &[Event]) {
        let mut ordered: Vec<&Event> = events.iter().collect();
        ordered.sort_by_key(|e| e.sequence);
        for e in ordered {
            if let Err(why) = self.apply(e) {
                self.skipped.push((e.sequence, why.to_string()));
                self.last_sequence = self.last_sequence.max(e.sequence);
            }
        }
    }

    /// The policy a step is judged by: the document it names, else the current one.
    fn policy_of(&self, event: &Event) -> &PolicySet {
        self.documents.get(&event.policy).unwrap_or(&self.policy)
    }

    /// Checks `event` against the state and applies it; on an error nothing changed.
    pub fn apply(&mut self, event: &Event) -> Result<(), ProgrammeError> {
        self.check(event)?;
        match &event.action {
            Action::Claim { credit_code, city, months } => self.file(event, *credit_code, city, months),
            Action::Review { claim_id, stage, verdict, reason } => self.review(event, claim_id, *stage, *verdict, reason),
            Action::Batch { payout_date, claims } => {
                let batch = make_batch(self, event, *payout_date, claims);
                self.record_batch(batch);
            }
            Action::Finding { case_id, credit_code, months, amount, reason } => self.findings.push(Receivable {
                id: format!("finding:{case_id}"),
                credit_code: *credit_code,
                source: ReceivableSource::Finding { case_id: case_id.clone(), months: months.clone(), reason: reason.clone() },
                arose: event.through.unwrap_or_else(|| months.iter().copied().max().unwrap_or(Period::of_date(chrono::NaiveDate::MIN))),
                amount: *amount,
                due: true,
                recovered: Decimal::ZERO,
            }),
            Action::CloseYear { year } => {
                let policy = self.policy_of(event).clone();
                self.close_year(*year, &policy);
            }
        }
        self.last_sequence = event.sequence;
        Ok(())
    }

    /// Whether `event` may follow the state: the party may take it and it fits.
    pub fn check(&self, event: &Event) -> Result<(), ProgrammeError> {
        if event.sequence != self.last_sequence + 1 {
            return Err(ProgrammeError::Conflict(format!("step {} does not follow step {}", event.sequence, self.last_sequence)));
        }
        check_text("the label", &event.label)?;
        match &event.action {
            Action::Claim { credit_code, city, months } => self.check_claim(event, *credit_code, city, months),
            Action::Review { claim_id, stage, verdict: _, reason } => self.check_review(event, claim_id, *stage, reason),
            Action::Batch { claims, .. } => self.check_batch(event, claims),
            Action::Finding { case_id, months, amount, reason, .. } => self.check_finding(event, case_id, months, *amount, reason),
            Action::CloseYear { year } => {
                bureau_only(&event.party, "close a year's claims")?;
                if self.closed_years.contains(year) {
                    return Err(ProgrammeError::Conflict(format!("the claims of {year} are closed already")));
                }
                Ok(())
            }
        }
    }

    /// A claim by its id.
    pub fn claim(&self, id: &str) -> Option<&ClaimState> {
        self.index.get(id).and_then(|&i| self.claims.get(i))
    }

    /// The budget rule of a year (`None` for a year without a budget).
    pub fn rule(&self, year: i32) -> Option<OverBudget> {
        self.policy.budget(year).map(|b| b.over_budget)
    }

    /// The statement lines of an entity, sorted.
    pub fn statements_of(&self, code: &CreditCode) -> &[Statement] {
        self.statements.get(code).map_or(&[], Vec::as_slice)
    }

    /// Every entity with statement lines, in credit-code order.
    pub fn entities(&self) -> impl Iterator<Item = CreditCode> + '_ {
        self.statements.keys().copied()
    }

    /// Whether an approved claim took the line.
    pub fn is_taken(&self, s: &Statement) -> bool {
        self.taken.contains_key(&line_key(s))
    }

    /// The claim that took a statement line at its approval (and, once paid, its batch).
    pub fn claim_of_line(&self, s: &Statement) -> Option<&ClaimState> {
        self.taken.get(&line_key(s)).and_then(|&i| self.claims.get(i))
    }

    /// The live claim holding an entity's month, if any.
    pub fn claim_of_month(&self, code: &CreditCode, month: Period) -> Option<&ClaimState> {
        self.claims.iter().find(|c| c.credit_code == *code && c.status.is_live() && c.months.contains(&month))
    }

    fn check_claim(&self, event: &Event, code: CreditCode, city: &str, months: &[Period]) -> Result<(), ProgrammeError> {
        if event.party != (Party::Entity { credit_code: code }) && event.party != Party::Bureau {
            return Err(ProgrammeError::Forbidden(format!("only {code} itself (or the bureau for it) may claim its months")));
        }
        check_text("the city", city)?;
        let Some(first) = months.first() else { return Err(ProgrammeError::Invalid("a claim names at least one month".into())) };
        if months.len() > MAX_CLAIM_MONTHS {
            return Err(ProgrammeError::Invalid(format!("a claim names at most {MAX_CLAIM_MONTHS} months")));
        }
        if months.iter().any(|m| m.year() != first.year()) {
            return Err(ProgrammeError::Invalid("a claim's months lie in one calendar year (each year has its own budget)".into()));
        }
        if self.closed_years.contains(&first.year()) {
            return Err(ProgrammeError::Conflict(format!("the claims of {} are closed", first.year())));
        }
        for m in months {
            if event.through.is_none_or(|t| *m > t) {
                return Err(ProgrammeError::Conflict(format!("{m} is not closed: only closed months are claimed")));
            }
            if let Some(other) = self.claim_of_month(&code, *m) {
                return Err(ProgrammeError::Conflict(format!("{m} of {code} is claimed already by {} ({})", other.claim_id, other.status.as_str())));
            }
        }
        let mut sorted = months.to_vec();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != months.len() {
            return Err(ProgrammeError::Invalid("a claim names each month once".into()));
        }
        Ok(())
    }

    fn check_review(&self, event: &Event, id: &str, stage: Stage, reason: &str) -> Result<(), ProgrammeError> {
        check_text("the reason", reason)?;
        let claim = self.claim(id).ok_or_else(|| ProgrammeError::NotFound(format!("no claim {id}")))?;
        match stage {
            Stage::City => {
                if event.party != (Party::City { city: claim.city.clone() }) {
                    return Err(ProgrammeError::Forbidden(format!("{id} is reviewed first by {}", claim.city)));
                }
                if claim.status != Status::Filed {
                    return Err(ProgrammeError::Conflict(format!("{id} is {}, not waiting for its city", claim.status.as_str())));
                }
            }
            Stage::Bureau => {
                bureau_only(&event.party, "review a claim second")?;
                if claim.status != Status::CityApproved {
                    return Err(ProgrammeError::Conflict(format!("{id} is {}, not waiting for the bureau (its city reviews first)", claim.status.as_str())));
                }
            }
        }
        Ok(())
    }

    fn check_batch(&self, event: &Event, claims: &[String]) -> Result<(), ProgrammeError> {
        bureau_only(&event.party, "make a payout batch")?;
        if claims.is_empty() || claims.len() > MAX_BATCH_CLAIMS {
            return Err(ProgrammeError::Invalid(format!("a batch pays 1 to {MAX_BATCH_CLAIMS} claims")));
        }
        let mut seen = HashSet::new();
        for id in claims {
            let claim = self.claim(id).ok_or_else(|| ProgrammeError::NotFound(format!("no claim {id}")))?;
            if !seen.insert(id) {
                return Err(ProgrammeError::Invalid(format!("{id} is named twice")));
            }
            if let Some(b) = &claim.batch_id {
                return Err(ProgrammeError::Conflict(format!("{id} is paid already, in batch {b}")));
            }
            if claim.status != Status::Approved {
                return Err(ProgrammeError::Conflict(format!("{id} is {}, not approved", claim.status.as_str())));
            }
            if !claim.is_payable() {
                return Err(ProgrammeError::Conflict(format!("{id} waits for its year's division: the year's budget is pro_rata and its claims are not closed")));
            }
        }
        Ok(())
    }

    fn check_finding(&self, event: &Event, case_id: &str, months: &[Period], amount: Money, reason: &str) -> Result<(), ProgrammeError> {
        bureau_only(&event.party, "enter an audit finding")?;
        check_text("the case id", case_id)?;
        check_text("the reason", reason)?;
        if months.is_empty() || months.len() > 10 * MAX_CLAIM_MONTHS {
            return Err(ProgrammeError::Invalid("a finding names 1 to 120 months".into()));
        }
        if amount <= Decimal::ZERO || amount.scale() > 2 || amount > Decimal::from(MAX_AMOUNT_YUAN) {
            return Err(ProgrammeError::Invalid(format!("the amount must be positive, at most {MAX_AMOUNT_YUAN}, with at most 2 decimals")));
        }
        if self.findings.iter().any(|f| f.id == format!("finding:{case_id}")) {
            return Err(ProgrammeError::Conflict(format!("case {case_id} is entered already")));
        }
        Ok(())
    }

    fn file(&mut self, event: &Event, code: CreditCode, city: &str, months: &[Period]) {
        let mut months = months.to_vec();
        months.sort();
        let id = claim_id(event.sequence);
        self.index.insert(id.clone(), self.claims.len());
        self.claims.push(ClaimState {
            claim_id: id,
            sequence: event.sequence,
            credit_code: code,
            city: city.to_string(),
            months,
            filed_by: event.label.clone(),
            filed_at: event.at,
            status: Status::Filed,
            city_review: None,
            bureau_review: None,
            through: None,
            lines: Vec::new(),
            parts: Vec::new(),
            batch_id: None,
        });
    }

    fn review(&mut self, event: &Event, id: &str, stage: Stage, verdict: Verdict, reason: &str) {
        let Some(&i) = self.index.get(id) else { return };
        let review = Review { label: event.label.clone(), at: event.at, approved: verdict == Verdict::Approve, reason: reason.to_string(), sequence: event.sequence };
        let claim = &mut self.claims[i];
        match (stage, verdict) {
            (Stage::City, v) => {
                claim.city_review = Some(review);
                claim.status = if v == Verdict::Approve { Status::CityApproved } else { Status::Rejected };
            }
            (Stage::Bureau, Verdict::Reject) => {
                claim.bureau_review = Some(review);
                claim.status = Status::Rejected;
            }
            (Stage::Bureau, Verdict::Approve) => {
                claim.bureau_review = Some(review);
                let policy = self.policy_of(event).clone();
                self.approve(i, event.through, &policy);
            }
        }
    }

    /// The bureau's approval: the claim takes its lines and is granted per year, under
    /// `policy`'s budgets.
    fn approve(&mut self, i: usize, through: Option<Period>, policy: &PolicySet) {
        let lines = self.lines_for(&self.claims[i], through);
        for s in &lines {
            self.taken.insert(line_key(s), i);
        }
        let mut asked: BTreeMap<i32, Money> = BTreeMap::new();
        for s in &lines {
            *asked.entry(s.for_period.year()).or_default() += s.subsidy;
        }
        let city = self.claims[i].city.clone();
        let parts = asked
            .into_iter()
            .map(|(year, asked)| {
                let asked = round_down_to_fen(asked.max(Decimal::ZERO));
                let city_share = policy.budget(year).map_or(Decimal::ZERO, |b| b.city_share(&city));
                Part { year, asked, granted: self.grant_at_approval(policy, year, asked), city_share }
            })
            .collect();
        let claim = &mut self.claims[i];
        claim.status = Status::Approved;
        claim.through = through;
        claim.lines = lines;
        claim.parts = parts;
    }

    /// The lines an approval takes: every line of the claim's months booked by `through`,
    /// and every positive line booked for an earlier approved claim's month after it.
    fn lines_for(&self, claim: &ClaimState, through: Option<Period>) -> Vec<Statement> {
        let Some(through) = through else { return Vec::new() };
        self.statements_of(&claim.credit_code)
            .iter()
            .filter(|s| s.payout_period <= through && !self.is_taken(s))
            .filter(|s| claim.months.contains(&s.for_period) || (s.subsidy > Decimal::ZERO && self.late_for(s).is_some()))
            .cloned()
            .collect()
    }

    /// The approved claim (other than in review) whose month a line corrects after that
    /// claim's approval: the line is late for it.
    pub(crate) fn late_for(&self, s: &Statement) -> Option<&ClaimState> {
        self.claims.iter().find(|c| {
            c.credit_code == s.credit_code && matches!(c.status, Status::Approved | Status::Paid) && c.months.contains(&s.for_period) && c.through.is_some_and(|t| s.payout_period > t)
        })
    }

    /// What a year's budget grants a part asking `asked` at its approval (`None`: a
    /// `pro_rata` year waits for its division; a divided one has nothing left).
    fn grant_at_approval(&self, policy: &PolicySet, year: i32, asked: Money) -> Option<Money> {
        let Some(budget) = policy.budget(year) else { return Some(asked) };
        match budget.over_budget {
            OverBudget::FirstCome => {
                let granted: Money = self.parts_of(year).filter_map(|p| p.granted).sum();
                first_come(&[asked], budget.amount_yuan - granted).first().copied()
            }
            OverBudget::ProRata if self.closed_years.contains(&year) => Some(Decimal::ZERO),
            OverBudget::ProRata => None,
        }
    }

    fn parts_of(&self, year: i32) -> impl Iterator<Item = &Part> {
        self.claims.iter().flat_map(|c| c.parts.iter()).filter(move |p| p.year == year)
    }

    /// Closes a year's claims. Its parts still waiting for a grant (a `pro_rata` year's) are
    /// granted now, in approval order, under the rule of the closing step's document: divided
    /// pro rata, or first come, from what the year's budget has left.
    fn close_year(&mut self, year: i32, policy: &PolicySet) {
        self.closed_years.insert(year);
        let mut pending: Vec<(u64, usize, usize)> = Vec::new();
        for (ci, c) in self.claims.iter().enumerate() {
            for (pi, p) in c.parts.iter().enumerate() {
                if p.year == year && p.granted.is_none() {
                    let approved_at = c.bureau_review.as_ref().map_or(0, |r| r.sequence);
                    pending.push((approved_at, ci, pi));
                }
            }
        }
        pending.sort();
        let asked: Vec<Money> = pending.iter().map(|&(_, ci, pi)| self.claims[ci].parts[pi].asked).collect();
        let grants = match policy.budget(year) {
            None => asked,
            Some(budget) => {
                let left = budget.amount_yuan - self.parts_of(year).filter_map(|p| p.granted).sum::<Money>();
                match budget.over_budget {
                    OverBudget::ProRata => pro_rata(&asked, left),
                    OverBudget::FirstCome => first_come(&asked, left),
                }
            }
        };
        for (grant, (_, ci, pi)) in grants.into_iter().zip(pending) {
            self.claims[ci].parts[pi].granted = Some(grant);
        }
    }

    fn record_batch(&mut self, batch: BatchState) {
        for r in &batch.recoveries {
            *self.recovered.entry(r.receivable_id.clone()).or_default() += r.amount;
        }
        for row in &batch.rows {
            if let Some(&i) = self.index.get(&row.claim_id) {
                self.claims[i].status = Status::Paid;
                self.claims[i].batch_id = Some(batch.batch_id.clone());
            }
        }
        self.batches.push(batch);
    }

    /// Every receivable of an entity that has arisen by `through` (all when `None`), in
    /// the order of recovery, with what was recovered of each.
    pub fn receivables_of(&self, code: &CreditCode, through: Option<Period>) -> Vec<Receivable> {
        let mut out: Vec<Receivable> = self.statements_of(code).iter().filter_map(|s| self.claw_back(s)).collect();
        out.extend(self.findings.iter().filter(|f| f.credit_code == *code).cloned());
        out.retain(|r| through.is_none_or(|t| r.arose <= t));
        for r in &mut out {
            r.recovered = self.recovered.get(&r.id).copied().unwrap_or_default();
        }
        out.sort_by_key(Receivable::order_key);
        out
    }

    /// Every receivable, of every entity, in the order of recovery per entity.
    pub fn receivables(&self) -> Vec<Receivable> {
        let mut codes: BTreeSet<CreditCode> = self.statements.keys().copied().collect();
        codes.extend(self.findings.iter().map(|f| f.credit_code));
        codes.iter().flat_map(|c| self.receivables_of(c, None)).collect()
    }

    /// The receivable a negative line booked after its month's claim was approved makes:
    /// its share of what that claim's year was granted, floored to the fen.
    fn claw_back(&self, s: &Statement) -> Option<Receivable> {
        if s.subsidy >= Decimal::ZERO {
            return None;
        }
        let claim = self.late_for(s)?;
        let part = claim.part(s.for_period.year());
        let (amount, due) = match part {
            Some(Part { asked, granted: Some(g), .. }) if *asked > Decimal::ZERO => (round_down_to_fen(-s.subsidy * *g / *asked), true),
            Some(Part { granted: None, .. }) => (round_down_to_fen(-s.subsidy), false),
            _ => (Decimal::ZERO.round_dp(2), true),
        };
        Some(Receivable {
            id: format!("adjustment:{}:{}:{}", s.credit_code, s.payout_period, s.for_period),
            credit_code: s.credit_code,
            source: ReceivableSource::Adjustment { payout_period: s.payout_period, for_period: s.for_period, claim_id: claim.claim_id.clone(), adjustment: s.subsidy },
            arose: s.payout_period,
            amount,
            due,
            recovered: Decimal::ZERO,
        })
    }

    /// The batch made by the event `sequence`.
    pub fn batch(&self, id: &str) -> Option<&BatchState> {
        self.batches.iter().find(|b| b.batch_id == id)
    }

    /// The id the next batch would take.
    pub fn next_batch_id(&self) -> String {
        batch_id(self.last_sequence + 1)
    }
}

fn bureau_only(party: &Party, what: &str) -> Result<(), ProgrammeError> {
    if *party != Party::Bureau {
        return Err(ProgrammeError::Forbidden(format!("only the bureau may {what}")));
    }
    Ok(())
}
