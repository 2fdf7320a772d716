//! Opening the ledger store the flags name: ClickHouse by default, SQLite with `--sqlite`.

use crate::cli::StoreArgs;
use anyhow::{anyhow, Result};
use std::sync::Arc;
use subsidy_store::{ClickHouseConfig, ClickHouseStore, LedgerStore, SqliteStore};

/// Opens the store and checks that it answers.
pub async fn open(args: &StoreArgs) -> Result<Arc<dyn LedgerStore>> {
    if let Some(path) = &args.sqlite {
        let store = SqliteStore::open(path).map_err(|e| anyhow!("cannot open the SQLite ledger {}: {e}", path.display()))?;
        return Ok(Arc::new(store));
    }
    Ok(Arc::new(open_clickhouse(args).await?))
}

/// Opens the ClickHouse store the flags name and checks that it answers.
pub async fn open_clickhouse(args: &StoreArgs) -> Result<ClickHouseStore> {
    ClickHouseStore::connect(&clickhouse_config(args)).await.map_err(|e| anyhow!("cannot reach ClickHouse at {}: {e}", args.clickhouse_url))
}

/// The ClickHouse settings the flags name.
pub fn clickhouse_config(args: &StoreArgs) -> ClickHouseConfig {
    ClickHouseConfig {
        url: args.clickhouse_url.clone(),
        database: args.clickhouse_database.clone(),
        user: args.clickhouse_user.clone(),
        password: args.clickhouse_password.clone(),
    }
}
