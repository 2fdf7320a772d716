//! `claims`, `batches`, `findings`, `receivables` and `budget`: the programme
//! after the ledger. Thin: parse the flags, read the programme
//! ([`subsidy_store::read_programme`]) or add one step through the store's
//! fence ([`subsidy_store::append_step`]: SQLite's transaction, or on
//! ClickHouse the programme's claims in the log of closes), print. Every rule
//! is the core's; a step it refuses exits non-zero with its reason.

pub mod batches;
pub mod claims;
pub mod views;

use crate::cli::{ClosesLogArgs, ProgrammeRead, ProgrammeWrite, StoreArgs};
use anyhow::{anyhow, bail, Result};
use std::sync::Arc;
use subsidy_core::programme::{Action, Event, Party};
use subsidy_core::{CreditCode, Period, PolicySet, Registry};
use subsidy_pipeline::programme_log::ProgrammeLog;
use subsidy_store::{append_step, read_programme, AppendError, CloseFence, LedgerStore, ProgrammeBook, Step, StepLog};

/// A ledger's store and the policy (with its budgets) the programme is read under.
pub struct Ledger {
    /// The store.
    pub store: Arc<dyn LedgerStore>,
    /// The ledger's policy document in force.
    pub policy: PolicySet,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").finish_non_exhaustive()
    }
}

impl Ledger {
    /// Opens the store the flags name, migrated, under the ledger's policy document.
    pub async fn open(read: &ProgrammeRead) -> Result<Ledger> {
        let store = crate::store::open(&read.store).await?;
        store.migrate().await.map_err(|e| anyhow!("migration failed: {e}"))?;
        let policy = crate::ledger_policy::for_reading(store.as_ref(), read.policy.as_deref()).await?.0.set;
        Ok(Ledger { store, policy })
    }

    /// The programme as the ledger holds it.
    pub async fn book(&self) -> Result<ProgrammeBook> {
        read_programme(self.store.as_ref(), &self.policy).await.map_err(|e| anyhow!("cannot read the programme: {e}"))
    }

    /// The registry the ledger holds.
    pub async fn registry(&self) -> Result<Registry> {
        Ok(self.store.registry().await.map_err(|e| anyhow!("cannot read the ledger's registry: {e}"))?.registry())
    }

    /// Adds a step taken by `party` (or the party `--acting-as` names) through the store's fence.
    pub async fn append(&self, write: &ProgrammeWrite, party: Party, action: Action) -> Result<Event> {
        let party = match &write.acting_as {
            Some(text) => parse_party(text)?,
            None => party,
        };
        let log = step_log(self.store.as_ref(), &write.read.store, &write.log).await?;
        let step = Step { party, label: label(write.label.as_deref()), at: chrono::Utc::now(), action };
        match append_step(self.store.as_ref(), log.as_deref(), &self.policy, step).await {
            Ok(event) => Ok(event),
            Err(AppendError::Refused(why)) => bail!("refused: {why}"),
            Err(AppendError::Store(e)) => bail!("the step is not recorded: {e}"),
        }
    }
}

/// The fence of the programme's steps for a store without transactions (ClickHouse): the
/// programme's claims in the log of closes. `None` where the store's transaction fences them.
pub async fn step_log(store: &dyn LedgerStore, flags: &StoreArgs, log: &ClosesLogArgs) -> Result<Option<Arc<dyn StepLog>>> {
    match store.close_fence() {
        CloseFence::Transaction => Ok(None),
        CloseFence::Log => {
            let opened = ProgrammeLog::open(&log.kafka_brokers, &log.topic_closes, &flags.clickhouse_database).await.map_err(|e| anyhow!("cannot open the log of closes, which fences the programme's steps: {e}"))?;
            Ok(Some(Arc::new(opened)))
        }
    }
}

/// The label recorded with a step: the flag's, or `cli:<$USER>` (`cli:operator` without it).
pub fn label(given: Option<&str>) -> String {
    match given {
        Some(l) => l.to_string(),
        None => format!("cli:{}", std::env::var("USER").ok().filter(|u| !u.trim().is_empty()).unwrap_or_else(|| "operator".into())),
    }
}

/// `bureau`, `city:<city>` or `entity:<credit code>`.
pub fn parse_party(text: &str) -> Result<Party> {
    match text.split_once(':') {
        None if text == "bureau" => Ok(Party::Bureau),
        Some(("city", city)) if !city.trim().is_empty() => Ok(Party::City { city: subsidy_core::place::city(city) }),
        Some(("entity", code)) => Ok(Party::Entity { credit_code: credit_code("--acting-as", code)? }),
        _ => bail!("--acting-as {text:?}: give bureau, city:<city> or entity:<credit code>"),
    }
}

/// A credit code given in a flag.
pub fn credit_code(flag: &str, text: &str) -> Result<CreditCode> {
    CreditCode::check(text.trim()).map_err(|e| anyhow!("{flag} {text:?} is not a valid unified social credit code: {e}"))
}

/// Comma-separated YYYY-MM months given in a flag, in the order given.
pub fn months(flag: &str, text: &str) -> Result<Vec<Period>> {
    text.split(',').map(str::trim).map(|m| subsidy_api::params::month("month", m).map_err(|e| anyhow!("{flag}: {e}"))).collect()
}

/// A programme text for the terminal: outside input, control characters made visible.
pub fn safe(text: &str) -> std::borrow::Cow<'_, str> {
    crate::terminal::safe(text)
}

/// Prints a value as pretty JSON, made safe for the terminal.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    println!("{}", crate::terminal::safe_json(&serde_json::to_string_pretty(value)?));
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_party_is_named_by_role() {
        assert_eq!(parse_party("bureau").unwrap(), Party::Bureau);
        assert_eq!(parse_party("city:阜阳").unwrap(), Party::City { city: "阜阳市".into() });
        assert!(parse_party("entity:nope").unwrap_err().to_string().contains("credit code"));
        assert!(parse_party("mayor").is_err());
        assert!(parse_party("city: ").is_err());
    }

    #[test]
    fn months_are_checked_one_by_one() {
        assert_eq!(months("--months", "2026-01, 2026-02").unwrap(), vec![Period::new(2026, 1).unwrap(), Period::new(2026, 2).unwrap()]);
        assert!(months("--months", "2026-01,2026-13").unwrap_err().to_string().contains("--months"));
        assert!(months("--months", "").is_err());
    }

    #[test]
    fn the_label_defaults_to_the_user() {
        assert_eq!(label(Some("desk 3")), "desk 3");
        assert!(label(None).starts_with("cli:"));
    }
}
