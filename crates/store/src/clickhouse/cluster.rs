//! The cluster form of the migrations. `schemas/clickhouse/` stays the one
//! description of the schema; on a cluster each of its statements becomes,
//! `ON CLUSTER`, a `Replicated*MergeTree` table `<name>_local` on every
//! server and a `Distributed` table with the plain name over it, so every
//! query of the store runs unchanged against any server of the cluster.
//!
//! Record-keyed tables are sharded by record id, so every version of a line
//! and every copy of a record meet on one shard (where `FINAL` and the
//! by-user index are exact); rejections by bus position; the small tables
//! live on the first shard.

/// A migration statement that has no cluster form. The statements are built in, so
/// retrying never helps: it is a defect of the migration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// A statement of a kind the cluster form does not cover.
    #[error("no cluster form for the statement {0:?}")]
    Unsupported(String),
    /// A part the statement needs is missing.
    #[error("{table}: no {part}")]
    Missing {
        /// The table.
        table: String,
        /// What is missing (`ENGINE`, `AS SELECT`, `FROM`).
        part: &'static str,
    },
    /// The table's engine has no replicated form.
    #[error("{table}: engine {engine} has no replicated form")]
    NotReplicable {
        /// The table.
        table: String,
        /// Its engine.
        engine: String,
    },
    /// No table name, or one that is not a plain identifier.
    #[error("table name {0:?} is not a plain identifier")]
    TableName(String),
}

impl ClusterError {
    /// Whether retrying can help: never.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// A cluster named in the servers' `remote_servers`, and the ledger database on it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cluster<'a> {
    /// The cluster's name (a plain identifier).
    pub(crate) name: &'a str,
    /// The ledger database (a plain identifier).
    pub(crate) database: &'a str,
    /// Whether the cluster has more than one shard.
    pub(crate) sharded: bool,
}

/// How rows of a table are spread over the shards.
fn sharding_key(table: &str) -> &'static str {
    match table {
        "record_copies" | "ledger_lines" | "ledger_lines_by_user" | "line_changes" => "cityHash64(record_id)",
        "rejections" => "cityHash64(kafka_partition, kafka_offset)",
        _ => "0",
    }
}

impl Cluster<'_> {
    /// The statements that apply `statement` (one statement of a migration file) to the cluster.
    pub(crate) fn rewrite(&self, statement: &str) -> Result<Vec<String>, ClusterError> {
        let s = statement.trim();
        if let Some(rest) = s.strip_prefix("CREATE TABLE IF NOT EXISTS ") {
            return self.table(rest);
        }
        if let Some(rest) = s.strip_prefix("CREATE MATERIALIZED VIEW IF NOT EXISTS ") {
            return self.view(rest);
        }
        if let Some(alter) = super::schema::AddColumns::parse(s) {
            return Ok(self.add_column(&alter));
        }
        Err(ClusterError::Unsupported(s.lines().next().unwrap_or_default().to_string()))
    }

    /// `NAME (columns) ENGINE = E[(args)] ORDER BY …`.
    fn table(&self, rest: &str) -> Result<Vec<String>, ClusterError> {
        let (name, body) = split_name(rest)?;
        let (columns, engine_onwards) = body.split_once("ENGINE = ").ok_or_else(|| missing(name, "ENGINE"))?;
        let (engine, tail) = self.replicated(name, engine_onwards)?;
        let db = self.database;
        let local = format!("CREATE TABLE IF NOT EXISTS {db}.{name}_local ON CLUSTER {c} {columns}ENGINE = {engine}{tail}", c = self.name);
        Ok(vec![local, self.distributed(name)])
    }

    /// `NAME ENGINE = E[(args)] ORDER BY … [POPULATE] AS SELECT … FROM source`.
    fn view(&self, rest: &str) -> Result<Vec<String>, ClusterError> {
        let (name, body) = split_name(rest)?;
        let engine_onwards = body.trim_start().strip_prefix("ENGINE = ").ok_or_else(|| missing(name, "ENGINE"))?;
        let (engine, tail) = self.replicated(name, engine_onwards)?;
        let (order, select) = tail.split_once("AS SELECT ").ok_or_else(|| missing(name, "AS SELECT"))?;
        // A new cluster has nothing to populate from, and a replicated POPULATE would run on every replica.
        let order = order.replace("POPULATE", "");
        let (columns, source) = select.rsplit_once(" FROM ").ok_or_else(|| missing(name, "FROM"))?;
        let db = self.database;
        let local = format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{name}_local ON CLUSTER {c} ENGINE = {engine}{order}AS SELECT {columns} FROM {db}.{source}_local",
            c = self.name,
            source = source.trim()
        );
        Ok(vec![local, self.distributed(name)])
    }

    /// An added column goes to the local tables. On one shard, through the server the client
    /// talks to: ClickHouse's replication of the `ALTER` carries it to the other replicas (the
    /// `ALTER` waits for the active ones). Not `ON CLUSTER` there: on ClickHouse 18.16 two
    /// replicas of a shard can both take such a task, and the second one's `Node exists`
    /// stops its DDL worker for good (every later `ON CLUSTER` task then times out). Only a
    /// cluster of several shards, which one server cannot reach, takes that risk. The
    /// `Distributed` table (which holds no rows and cannot be altered `ON CLUSTER` on
    /// ClickHouse 18.16) is made again over the local tables.
    fn add_column(&self, alter: &super::schema::AddColumns<'_>) -> Vec<String> {
        let (db, c, table) = (self.database, self.name, alter.table);
        let on_cluster = if self.sharded { format!(" ON CLUSTER {c}") } else { String::new() };
        vec![
            format!("ALTER TABLE {db}.{table}_local{on_cluster} {}", alter.clauses()),
            format!("DROP TABLE IF EXISTS {db}.{table} ON CLUSTER {c}"),
            self.distributed(table),
        ]
    }

    /// `Replicated<engine>(path, replica[, args])` and what follows the engine.
    fn replicated<'s>(&self, table: &str, engine_onwards: &'s str) -> Result<(String, &'s str), ClusterError> {
        let end = engine_onwards.find(char::is_whitespace).unwrap_or(engine_onwards.len());
        let (engine, tail) = engine_onwards.split_at(end);
        let (kind, args) = match engine.split_once('(') {
            Some((kind, args)) => (kind, format!(", {}", args.trim_end_matches(')'))),
            None => (engine, String::new()),
        };
        if !kind.ends_with("MergeTree") {
            return Err(ClusterError::NotReplicable { table: table.to_string(), engine: engine.to_string() });
        }
        let path = format!("/clickhouse/tables/{{shard}}/{}/{table}_local", self.database);
        Ok((format!("Replicated{kind}('{path}', '{{replica}}'{args})"), tail))
    }

    fn distributed(&self, table: &str) -> String {
        let (db, c) = (self.database, self.name);
        format!("CREATE TABLE IF NOT EXISTS {db}.{table} ON CLUSTER {c} AS {db}.{table}_local ENGINE = Distributed({c}, {db}, {table}_local, {})", sharding_key(table))
    }
}

fn missing(table: &str, part: &'static str) -> ClusterError {
    ClusterError::Missing { table: table.to_string(), part }
}

/// The table name at the start of `rest` and what follows it.
fn split_name(rest: &str) -> Result<(&str, &str), ClusterError> {
    let end = rest.find(|c: char| c.is_whitespace() || c == '(').ok_or_else(|| ClusterError::TableName(rest.chars().take(64).collect()))?;
    let (name, body) = rest.split_at(end);
    if !super::config::is_plain_identifier(name) {
        return Err(ClusterError::TableName(name.to_string()));
    }
    Ok((name, body))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const C: Cluster<'static> = Cluster { name: "subsidy", database: "ledger", sharded: false };

    #[test]
    fn a_table_becomes_a_replicated_local_table_and_a_distributed_one() {
        let got = C.rewrite("CREATE TABLE IF NOT EXISTS ledger_lines\n(\n    record_id String,\n    version UInt64\n)\nENGINE = ReplacingMergeTree(version)\nORDER BY record_id").unwrap();
        assert_eq!(
            got,
            [
                "CREATE TABLE IF NOT EXISTS ledger.ledger_lines_local ON CLUSTER subsidy \n(\n    record_id String,\n    version UInt64\n)\nENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/ledger/ledger_lines_local', '{replica}', version)\nORDER BY record_id",
                "CREATE TABLE IF NOT EXISTS ledger.ledger_lines ON CLUSTER subsidy AS ledger.ledger_lines_local ENGINE = Distributed(subsidy, ledger, ledger_lines_local, cityHash64(record_id))",
            ]
        );
        let plain = C.rewrite("CREATE TABLE IF NOT EXISTS schema_migrations (id String, applied_at DateTime) ENGINE = ReplacingMergeTree ORDER BY id").unwrap();
        assert!(plain[0].contains("ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/ledger/schema_migrations_local', '{replica}') ORDER BY id"), "{}", plain[0]);
        assert!(plain[1].ends_with("Distributed(subsidy, ledger, schema_migrations_local, 0)"), "{}", plain[1]);
    }

    #[test]
    fn a_view_reads_the_local_table_and_is_not_populated() {
        let got = C
            .rewrite("CREATE MATERIALIZED VIEW IF NOT EXISTS ledger_lines_by_user\nENGINE = ReplacingMergeTree(version)\nORDER BY (user_credit_code, period, record_id)\nPOPULATE\nAS SELECT user_credit_code, period, record_id, version FROM ledger_lines")
            .unwrap();
        assert!(got[0].starts_with("CREATE MATERIALIZED VIEW IF NOT EXISTS ledger.ledger_lines_by_user_local ON CLUSTER subsidy ENGINE = ReplicatedReplacingMergeTree("), "{}", got[0]);
        assert!(got[0].ends_with("AS SELECT user_credit_code, period, record_id, version FROM ledger.ledger_lines_local"), "{}", got[0]);
        assert!(!got[0].contains("POPULATE"));
        assert!(got[1].ends_with("Distributed(subsidy, ledger, ledger_lines_by_user_local, cityHash64(record_id))"), "{}", got[1]);
    }

    #[test]
    fn an_added_column_alters_the_local_table_and_remakes_the_distributed_one() {
        let got = C.rewrite("ALTER TABLE ledger_lines ADD COLUMN accelerator String DEFAULT ''").unwrap();
        assert_eq!(
            got,
            [
                "ALTER TABLE ledger.ledger_lines_local ADD COLUMN accelerator String DEFAULT ''",
                "DROP TABLE IF EXISTS ledger.ledger_lines ON CLUSTER subsidy",
                "CREATE TABLE IF NOT EXISTS ledger.ledger_lines ON CLUSTER subsidy AS ledger.ledger_lines_local ENGINE = Distributed(subsidy, ledger, ledger_lines_local, cityHash64(record_id))",
            ]
        );
    }

    #[test]
    fn on_several_shards_an_added_column_goes_on_cluster() {
        let sharded = Cluster { sharded: true, ..C };
        let got = sharded.rewrite("ALTER TABLE ledger_lines ADD COLUMN a String, ADD COLUMN b UInt8").unwrap();
        assert_eq!(got[0], "ALTER TABLE ledger.ledger_lines_local ON CLUSTER subsidy ADD COLUMN a String, ADD COLUMN b UInt8");
    }

    #[test]
    fn every_migration_statement_has_a_cluster_form() {
        for (id, sql) in super::super::schema::MIGRATIONS {
            for statement in super::super::schema::statements(sql) {
                let got = C.rewrite(&statement).unwrap_or_else(|e| panic!("{id}: {e}"));
                // Every statement but a replicated table's ALTER runs on every server.
                assert!(got.iter().all(|s| s.contains(" ON CLUSTER subsidy") || s.starts_with("ALTER TABLE ledger.")), "{id}: {got:?}");
            }
        }
        assert_eq!(C.rewrite("DROP TABLE x"), Err(ClusterError::Unsupported("DROP TABLE x".into())));
        let log = C.rewrite("CREATE TABLE IF NOT EXISTS x (a String) ENGINE = Log").unwrap_err();
        assert_eq!(log, ClusterError::NotReplicable { table: "x".into(), engine: "Log".into() });
        assert_eq!(C.rewrite("CREATE TABLE IF NOT EXISTS x (a String) ORDER BY a"), Err(ClusterError::Missing { table: "x".into(), part: "ENGINE" }));
        assert!(!log.is_retryable());
    }
}
