//! The book: what the ledger says at one generation of the store — the
//! registry, every entity's settled months and exclusions, the statements, the
//! closed months, the policy document in force and the programme.
//!
//! A book is made either whole, from the sums of every standing line
//! ([`Book::read`], [`Book::of_sums`]), or from the book before it
//! ([`Book::advance`]): only the entities whose sums or statements changed are
//! settled again (caps are per entity and year, so an entity settles alone);
//! the others are shared with the book before. Both give the same book; a
//! test compares them after random histories.

use crate::views::ExclusionSums;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use subsidy_core::{CreditCode, Period, PolicyDocument, PolicySet, Registry, Settlement, Statement};
use subsidy_store::{programme_over, settle_sums, LedgerStore, LedgerSums, LineSum, ProgrammeBook, StoreError, StoreResult};

/// What the ledger says at one generation of the store.
#[derive(Debug, Default)]
pub struct Book {
    /// The store generation it was read at (`None` before the first read).
    pub generation: Option<String>,
    /// The registry as the aggregator last wrote it.
    pub registry: Arc<Registry>,
    /// Every entity and month with eligible lines, settled, sorted: what `export` writes.
    pub settlements: Vec<Settlement>,
    /// Each entity with lines or statements: its months.
    pub entities: HashMap<CreditCode, Arc<EntityBook>>,
    /// Months with standing lines.
    pub months: BTreeSet<Period>,
    /// Closed months.
    pub closed: BTreeSet<Period>,
    /// The policy document the figures are computed under: the ledger's in force (the
    /// server's given policy for a ledger that records none).
    pub policy: Arc<PolicyDocument>,
    /// The programme after the ledger, under `policy` (`None` before the first read).
    pub programme: Option<Arc<ProgrammeBook>>,
}

/// One entity's months in the book.
#[derive(Debug, Default, PartialEq)]
pub struct EntityBook {
    /// Settled months (eligible lines).
    pub settled: BTreeMap<Period, Settlement>,
    /// Spend excluded per month, by reason.
    pub excluded: BTreeMap<Period, ExclusionSums>,
    /// Statement lines of completed closes, by payout month, month, kind.
    pub statements: Vec<Statement>,
}

impl EntityBook {
    /// The book of one entity: its settlements, its line sums (the excluded ones are added
    /// up by month and reason, whatever document they were settled under) and its statements.
    fn of(settled: &[Settlement], sums: &[&LineSum], mut statements: Vec<Statement>) -> EntityBook {
        let mut e = EntityBook { settled: settled.iter().map(|s| (s.period, s.clone())).collect(), ..EntityBook::default() };
        for (s, reason) in sums.iter().filter_map(|s| Some((s, s.reason?))) {
            e.excluded.entry(s.period).or_default().add(reason, s.records, s.paid_amount);
        }
        statements.sort_by_key(|s| (s.payout_period, s.for_period, s.kind));
        e.statements = statements;
        e
    }

    fn is_empty(&self) -> bool {
        self.settled.is_empty() && self.excluded.is_empty() && self.statements.is_empty()
    }
}

/// What a book holds besides the ledger's sums: read whole at each generation (they are
/// small next to the lines).
#[derive(Debug, Clone)]
pub struct Parts {
    policy: Arc<PolicyDocument>,
    registry: Arc<Registry>,
    closed: BTreeSet<Period>,
    statements: Vec<Statement>,
    programme: Arc<ProgrammeBook>,
}

impl Parts {
    /// Reads them from the store, under the ledger's document in force (`fallback`'s when it
    /// records none).
    pub async fn read(store: &dyn LedgerStore, fallback: &PolicySet) -> StoreResult<Parts> {
        let policy = Arc::new(document_in_force(store, fallback).await?);
        let registry = Arc::new(store.registry().await?.registry());
        // Closed months before statements, so the programme folds every line of each.
        let closed: BTreeSet<Period> = store.closures().await?.into_iter().map(|c| c.period).collect();
        let statements = store.statements().await?;
        let programme = Arc::new(programme_over(store, &policy.set, closed.clone(), &statements).await?);
        Ok(Parts { policy, registry, closed, statements, programme })
    }
}

/// Statements by entity.
fn by_entity(statements: Vec<Statement>) -> HashMap<CreditCode, Vec<Statement>> {
    let mut out: HashMap<CreditCode, Vec<Statement>> = HashMap::new();
    for s in statements {
        out.entry(s.credit_code).or_default().push(s);
    }
    for v in out.values_mut() {
        v.sort_by_key(|s| (s.payout_period, s.for_period, s.kind));
    }
    out
}

impl Book {
    /// Reads the book of the store as it stands, labelled with `generation`: every line summed.
    pub async fn read(store: &dyn LedgerStore, fallback: &PolicySet, generation: String) -> StoreResult<Book> {
        let parts = Parts::read(store, fallback).await?;
        let sums = store.line_sums().await?;
        Ok(Book::of_sums(generation, parts, &sums))
    }

    /// The book of `parts` and the sums of every standing line.
    pub fn of_sums(generation: String, parts: Parts, sums: &[LineSum]) -> Book {
        let settlements = settle_sums(sums, &parts.policy.set);
        let months = sums.iter().map(|s| s.period).collect();
        let mut statements = by_entity(parts.statements);
        let mut users: BTreeMap<CreditCode, Vec<&LineSum>> = BTreeMap::new();
        for s in sums {
            users.entry(s.user_credit_code).or_default().push(s);
        }
        let mut entities: HashMap<CreditCode, Arc<EntityBook>> = HashMap::new();
        for (code, settled) in settled_by_user(&settlements) {
            let sums = users.remove(&code).unwrap_or_default();
            entities.insert(code, Arc::new(EntityBook::of(settled, &sums, statements.remove(&code).unwrap_or_default())));
        }
        for (code, sums) in users {
            entities.insert(code, Arc::new(EntityBook::of(&[], &sums, statements.remove(&code).unwrap_or_default())));
        }
        for (code, s) in statements {
            entities.insert(code, Arc::new(EntityBook::of(&[], &[], s)));
        }
        let Parts { policy, registry, closed, programme, .. } = parts;
        Book { generation: Some(generation), registry, settlements, entities, months, closed, policy, programme: Some(programme) }
    }

    /// The book after `prev`, labelled with `generation`, from `parts` and the folded sums
    /// of the ledger, of which only the users in `touched` moved since `prev`. Every other
    /// entity whose statements are unchanged is shared with `prev`; a change of the policy
    /// document in force settles every entity again (from the sums in memory).
    pub fn advance(prev: &Book, generation: String, parts: Parts, ledger: &LedgerSums, touched: &BTreeSet<CreditCode>) -> Book {
        let mut statements = by_entity(parts.statements);
        let mut touched = touched.clone();
        if prev.policy.hash != parts.policy.hash || prev.generation.is_none() {
            touched.extend(prev.entities.keys().copied());
            touched.extend(ledger.users().copied());
        }
        // Entities whose statements changed (a close, or a new entity's first).
        for (code, e) in &prev.entities {
            if statements.get(code).map_or(&[][..], Vec::as_slice) != e.statements.as_slice() {
                touched.insert(*code);
            }
        }
        touched.extend(statements.keys().filter(|c| !prev.entities.contains_key(c)).copied());
        let mut entities = prev.entities.clone();
        let mut settlements: Vec<Settlement> = prev.settlements.iter().filter(|s| !touched.contains(&s.credit_code)).cloned().collect();
        for code in &touched {
            let sums = ledger.user_sums(code);
            let settled = settle_sums(&sums, &parts.policy.set);
            let e = EntityBook::of(&settled, &sums.iter().collect::<Vec<_>>(), statements.remove(code).unwrap_or_default());
            if e.is_empty() {
                entities.remove(code);
            } else {
                entities.insert(*code, Arc::new(e));
            }
            settlements.extend(settled);
        }
        // Two sorted runs: the sort merges them.
        settlements.sort_by_key(|s| (s.credit_code, s.period));
        let Parts { policy, registry, closed, programme, .. } = parts;
        Book { generation: Some(generation), registry, settlements, entities, months: ledger.months(), closed, policy, programme: Some(programme) }
    }

    /// Months with standing lines that are not closed, oldest first.
    pub fn open_months(&self) -> impl Iterator<Item = Period> + '_ {
        self.months.iter().copied().filter(|m| !self.closed.contains(m))
    }

    /// Whether the registry or the ledger knows the entity.
    pub fn knows(&self, code: &CreditCode) -> bool {
        self.registry.entity(code).is_some() || self.entities.contains_key(code)
    }
}

/// Settlements (sorted by entity) in runs of one entity.
fn settled_by_user(settlements: &[Settlement]) -> impl Iterator<Item = (CreditCode, &[Settlement])> {
    settlements.chunk_by(|a, b| a.credit_code == b.credit_code).map(|run| (run[0].credit_code, run))
}

/// The ledger's policy document in force, or `fallback`'s when it records none.
async fn document_in_force(store: &dyn LedgerStore, fallback: &PolicySet) -> StoreResult<PolicyDocument> {
    match store.policy_documents().await?.last() {
        Some(top) => top.document().map_err(|e| StoreError::corrupt(format!("the ledger's policy document {}: {e}", top.sequence))),
        None => PolicyDocument::of(fallback).map_err(|e| StoreError::rejected(format!("the server's policy: {e}"))),
    }
}
