//! Command-line definitions (clap). Flags that name infrastructure have environment equivalents.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

pub mod programme;
pub mod tlog;
pub use programme::*;
pub use tlog::*;

/// Meters Anhui's AI-compute subsidy: pulls usage from the scheduling platform,
/// settles it under the policy in force, and keeps auditable ledgers.
#[derive(Debug, Parser)]
#[command(name = "subsidy-meter", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Settle months straight from files: the audit path, same rules as the pipeline.
    Recompute(RecomputeArgs),
    /// Serve the scheduling platform's API from generated or fixed data, with fault switches.
    PlatformSim(PlatformSimArgs),
    /// Pull usage records, entities and centers from the platform into Kafka.
    Collect(CollectArgs),
    /// Create or upgrade the ledger store's tables (idempotent).
    Migrate(MigrateArgs),
    /// Consume usage records from Kafka, settle them and write ledgers to the store.
    Aggregate(AggregateArgs),
    /// Close a month: freeze its settlements and book adjustments for earlier closed months.
    Close(CloseArgs),
    /// Compare a month of the ledger with the platform's usage counts per center and day.
    Reconcile(ReconcileArgs),
    /// Write the settlements of the ledger as it stands as CSV, in the format of `recompute`.
    Export(ExportArgs),
    /// Write what has been fixed for payment (closed months and adjustments) as CSV.
    Statements(StatementsArgs),
    /// The whole pipeline in one process: simulator, collector, in-process broker, aggregator, embedded ledger.
    Demo(DemoArgs),
    /// Serve the accruals API and portal over the ledger store.
    Serve(ServeArgs),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// No double funding: import the funded-elsewhere list or supplier claims onto their topics.
    #[command(subcommand)]
    Funding(FundingCommand),
    /// The ledger's policy document: show the one in force, or apply a new one.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// An entity's months: accrued, fixed for payment, excluded and why.
    Accruals(AccrualsArgs),
    /// Every line of one month of an entity, explained.
    Ledger(LedgerArgs),
    /// Claims of closed months: file, review, list, and close a year's claims.
    #[command(subcommand)]
    Claims(ClaimsCommand),
    /// Payout batches of approved claims, and the finance bureau's CSV.
    #[command(subcommand)]
    Batches(BatchesCommand),
    /// Audit findings: money an entity must give back.
    #[command(subcommand)]
    Findings(FindingsCommand),
    /// What entities owe: claw-backs of later adjustments and findings, and what was recovered.
    Receivables(ReceivablesArgs),
    /// A year's budget: paid, approved, under review, claimable, accrued, headroom and forecast.
    Budget(BudgetArgs),
    /// Signing and witness keys of the transparency log.
    #[command(subcommand)]
    Key(KeyCommand),
    /// The transparency log of what is payable: checkpoints, signing, proofs.
    #[command(subcommand)]
    Log(LogCommand),
    /// Check the whole transparency log against the statements in the store.
    Audit(AuditArgs),
    /// A city's witness: cosign the newest checkpoint if it extends the last one cosigned.
    Witness(WitnessArgs),
    /// Check a proof of statement lines offline.
    Verify(VerifyArgs),
}

/// `serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on.
    #[arg(long, env = "SUBSIDY_API_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// The token file (TOML of `[[token]]` entries holding SHA-256 hashes); re-read on SIGHUP.
    #[arg(long, env = "SUBSIDY_API_TOKENS")]
    pub tokens: PathBuf,
    /// Policy versions (TOML): must be the ledger's policy document, which is used without it
    /// and followed when it changes (the built-in RULES.md for a ledger that holds none).
    #[arg(long, env = "SUBSIDY_POLICY")]
    pub policy: Option<PathBuf>,
    /// Mark the portal's session cookie `Secure`: set it when browsers reach the server over
    /// HTTPS (a TLS-terminating proxy in front), so the cookie is never sent in clear.
    #[arg(long, env = "SUBSIDY_API_COOKIE_SECURE")]
    pub cookie_secure: bool,
    /// What one client may take.
    #[command(flatten)]
    pub limits: ServeLimitArgs,
    /// The log of closes, which fences a ClickHouse ledger's programme steps (claims,
    /// reviews, batches) taken through the API and the portal.
    #[command(flatten)]
    pub log: ClosesLogArgs,
    /// A city witness's verifier key (`subsidy-meter key new --witness` prints it); repeat
    /// for each city. The server takes a cosignature only when it verifies under one of them.
    #[arg(long = "witness-key", value_name = "VKEY")]
    pub witness_keys: Vec<String>,
}

/// `serve`'s limits (docs/OPERATIONS.md, "Server limits").
#[derive(Debug, Args)]
pub struct ServeLimitArgs {
    /// Seconds a client has to send a request's headers; the connection is closed past it.
    #[arg(long, env = "SUBSIDY_API_HEADER_READ_TIMEOUT_SECS", default_value_t = subsidy_api::limits::DEFAULT_HEADER_READ_TIMEOUT.as_secs())]
    pub header_read_timeout_secs: u64,
    /// Seconds from a request's headers to its answer: 408 while a body is still arriving, else 503.
    #[arg(long, env = "SUBSIDY_API_REQUEST_TIMEOUT_SECS", default_value_t = subsidy_api::limits::DEFAULT_REQUEST_TIMEOUT.as_secs())]
    pub request_timeout_secs: u64,
    /// Connections served at once; more wait in the listen backlog.
    #[arg(long, env = "SUBSIDY_API_MAX_CONNECTIONS", default_value_t = subsidy_api::limits::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Requests answered at once over every route, portal included; more get 503 with Retry-After.
    #[arg(long, env = "SUBSIDY_API_MAX_IN_FLIGHT", default_value_t = subsidy_api::limits::DEFAULT_MAX_IN_FLIGHT)]
    pub max_in_flight: usize,
    /// Largest request body in bytes (413 past it).
    #[arg(long, env = "SUBSIDY_API_MAX_BODY_BYTES", default_value_t = subsidy_api::limits::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Largest request line and headers in bytes (431 past it).
    #[arg(long, env = "SUBSIDY_API_MAX_HEADER_BYTES", default_value_t = subsidy_api::limits::DEFAULT_MAX_HEADER_BYTES)]
    pub max_header_bytes: usize,
    /// Largest path and query in bytes (414 past it).
    #[arg(long, env = "SUBSIDY_API_MAX_URI_BYTES", default_value_t = subsidy_api::limits::DEFAULT_MAX_URI_BYTES)]
    pub max_uri_bytes: usize,
    /// Bytes of computed answers kept (keys and bodies), least recently used dropped first.
    #[arg(long, env = "SUBSIDY_API_CACHE_BYTES", default_value_t = subsidy_api::limits::DEFAULT_CACHE_BYTES)]
    pub cache_bytes: usize,
}

impl ServeLimitArgs {
    /// The limits, checked.
    pub fn limits(&self) -> Result<subsidy_api::ServerLimits, subsidy_api::limits::LimitsError> {
        let limits = subsidy_api::ServerLimits {
            header_read_timeout: std::time::Duration::from_secs(self.header_read_timeout_secs),
            request_timeout: std::time::Duration::from_secs(self.request_timeout_secs),
            max_connections: self.max_connections,
            max_in_flight: self.max_in_flight,
            max_body_bytes: self.max_body_bytes,
            max_header_bytes: self.max_header_bytes,
            max_uri_bytes: self.max_uri_bytes,
            cache_bytes: self.cache_bytes,
            cursor_key: None,
        };
        limits.validate()?;
        Ok(limits)
    }
}

/// `policy` subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Record a policy file as the ledger's document in force and re-settle every line under
    /// it; closed months keep their figures and the next close books the changes as adjustments.
    Apply(PolicyApplyArgs),
    /// Print the ledger's policy document in force: sequence, hash, when and how it was applied, its text.
    Show(PolicyShowArgs),
}

/// `policy apply` flags.
#[derive(Debug, Args)]
pub struct PolicyApplyArgs {
    /// The policy file (TOML, the format of deploy/policy/default.toml).
    pub file: PathBuf,
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The log of closes, which fences policy changes of a ClickHouse ledger.
    #[command(flatten)]
    pub log: ClosesLogArgs,
}

/// `policy show` flags.
#[derive(Debug, Args)]
pub struct PolicyShowArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// List every document the ledger recorded, oldest first, instead of the text of the one in force.
    #[arg(long)]
    pub history: bool,
}

/// The log of closes (one partition, kept for good): it fences the closes and the policy
/// changes of a ClickHouse ledger.
#[derive(Debug, Clone, Args)]
pub struct ClosesLogArgs {
    /// Bootstrap servers of the log of closes.
    #[arg(long, env = "SUBSIDY_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub kafka_brokers: String,
    /// The log of closes.
    #[arg(long, env = "SUBSIDY_TOPIC_CLOSES", default_value = subsidy_bus::CLOSES_TOPIC)]
    pub topic_closes: String,
}

/// `token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a fresh random token and the entry to add to the token file.
    New(TokenNewArgs),
}

/// `funding` subcommands.
#[derive(Debug, Subcommand)]
pub enum FundingCommand {
    /// Check a list file whole, then produce every entry to its compacted topic, where the
    /// aggregator reads it like the registry (a change re-settles the lines it names).
    Import(FundingImportArgs),
}

/// `funding import` flags.
#[derive(Debug, Args)]
pub struct FundingImportArgs {
    /// The list: CSV with a header row or a JSON array of objects. Funded elsewhere:
    /// `scheme`, and `record_id` or `contract_id`; supplier claims: `record_id`, `supplier_credit_code`.
    pub file: PathBuf,
    /// The file holds supplier claims, not funded-elsewhere entries.
    #[arg(long, env = "SUBSIDY_FUNDING_CLAIMS")]
    pub claims: bool,
    /// Kafka.
    #[command(flatten)]
    pub kafka: KafkaArgs,
}

/// `token new` flags.
#[derive(Debug, Args)]
pub struct TokenNewArgs {
    /// `bureau`, `city` or `entity`.
    #[arg(long)]
    pub role: String,
    /// The entity's credit code (entity tokens).
    #[arg(long)]
    pub credit_code: Option<String>,
    /// The city (city tokens), e.g. 阜阳市.
    #[arg(long)]
    pub city: Option<String>,
}

/// Where `accruals` and `ledger` read: a running API, or the store itself.
#[derive(Debug, Args)]
pub struct ReadFrom {
    /// Base URL of a running API (token from SUBSIDY_API_TOKEN); without it, the store is read directly.
    #[arg(long, env = "SUBSIDY_API_URL")]
    pub api: Option<String>,
    /// The store, when no API is given.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Policy versions (TOML), when reading the store: must be the ledger's policy document,
    /// which is used without it (the built-in RULES.md for a ledger that holds none).
    #[arg(long, env = "SUBSIDY_POLICY")]
    pub policy: Option<PathBuf>,
    /// Print JSON (the API's body) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `accruals` flags.
#[derive(Debug, Args)]
pub struct AccrualsArgs {
    /// The entity's credit code.
    #[arg(long)]
    pub entity: String,
    /// Only this month (YYYY-MM).
    #[arg(long)]
    pub period: Option<String>,
    /// Where to read.
    #[command(flatten)]
    pub from: ReadFrom,
}

/// `ledger` flags.
#[derive(Debug, Args)]
pub struct LedgerArgs {
    /// The entity's credit code.
    #[arg(long)]
    pub entity: String,
    /// The month (YYYY-MM).
    #[arg(long)]
    pub period: String,
    /// Where to read.
    #[command(flatten)]
    pub from: ReadFrom,
}

/// `recompute` flags.
#[derive(Debug, Args)]
pub struct RecomputeArgs {
    /// Usage records, one JSON object per line.
    #[arg(long)]
    pub records: PathBuf,
    /// Entities, a JSON array.
    #[arg(long)]
    pub entities: PathBuf,
    /// Compute centers, a JSON array.
    #[arg(long)]
    pub centers: PathBuf,
    /// Policy versions (TOML); the built-in default is RULES.md.
    #[arg(long, env = "SUBSIDY_POLICY")]
    pub policy: Option<PathBuf>,
    /// Where to write the settlement CSV.
    #[arg(long)]
    pub out: PathBuf,
    /// Where to write every excluded or rejected record, one JSON object per line.
    #[arg(long)]
    pub exclusions: Option<PathBuf>,
    /// Where to write the registry's data-quality findings, one JSON object per line.
    #[arg(long)]
    pub findings: Option<PathBuf>,
    /// Usage another scheme already funds (CSV or a JSON array: scheme, and record_id or
    /// contract_id): excluded as `subsidized_elsewhere`. Any refused entry is an error.
    #[arg(long)]
    pub funded_elsewhere: Option<PathBuf>,
    /// Compute suppliers' claims (CSV or a JSON array: record_id, supplier_credit_code): a
    /// claim by the center's owner excludes the record for its user as `claimed_by_supplier`.
    #[arg(long)]
    pub supplier_claims: Option<PathBuf>,
    /// Replace output files that already exist (without it, an existing file is an error).
    #[arg(long)]
    pub force: bool,
    /// Memory for the per-record state (K, M, G: binary units). When the records file's
    /// estimated need is larger, the state is spilled to disk in `--temp-dir` and taken back
    /// in groups that fit: same output, memory independent of the number of lines.
    #[arg(long, default_value = "2G", value_parser = crate::commands::recompute::spill::parse_bytes)]
    pub memory_budget: u64,
    /// Where to spill (a temporary folder is made inside and removed at the end); the folder
    /// of `--out` when not given. Free space is checked before spilling.
    #[arg(long)]
    pub temp_dir: Option<PathBuf>,
}

/// Where Kafka is and what the topics are called (shared by `collect`, `aggregate` and `demo`).
#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    /// Bootstrap servers.
    #[arg(long, env = "SUBSIDY_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub kafka_brokers: String,
    /// Usage-records topic (keyed by record id).
    #[arg(long, env = "SUBSIDY_TOPIC_RECORDS", default_value = "subsidy.usage-records")]
    pub topic_records: String,
    /// Entities topic (compacted).
    #[arg(long, env = "SUBSIDY_TOPIC_ENTITIES", default_value = "subsidy.entities")]
    pub topic_entities: String,
    /// Compute-centers topic (compacted).
    #[arg(long, env = "SUBSIDY_TOPIC_CENTERS", default_value = "subsidy.compute-centers")]
    pub topic_centers: String,
    /// Dead-letter topic.
    #[arg(long, env = "SUBSIDY_TOPIC_DEAD_LETTER", default_value = "subsidy.dead-letter")]
    pub topic_dead_letter: String,
    /// Collector checkpoints topic (compacted).
    #[arg(long, env = "SUBSIDY_TOPIC_CHECKPOINTS", default_value = "subsidy.collector-checkpoints")]
    pub topic_checkpoints: String,
    /// The platform's usage counts per center and day (compacted).
    #[arg(long, env = "SUBSIDY_TOPIC_USAGE_COUNTS", default_value = "subsidy.usage-counts")]
    pub topic_usage_counts: String,
    /// Funded-elsewhere topic (compacted): usage other schemes fund.
    #[arg(long, env = "SUBSIDY_TOPIC_FUNDED_ELSEWHERE", default_value = "subsidy.funded-elsewhere")]
    pub topic_funded_elsewhere: String,
    /// Supplier-claims topic (compacted): compute suppliers' claims on platform records.
    #[arg(long, env = "SUBSIDY_TOPIC_SUPPLIER_CLAIMS", default_value = "subsidy.supplier-claims")]
    pub topic_supplier_claims: String,
    /// Partitions of the records topic when it is created here.
    #[arg(long, env = "SUBSIDY_RECORD_PARTITIONS", default_value_t = 8)]
    pub record_partitions: i32,
}

impl KafkaArgs {
    /// The bus configuration these flags describe.
    pub fn bus(&self) -> subsidy_bus::BusConfig {
        subsidy_bus::BusConfig {
            brokers: self.kafka_brokers.clone(),
            topics: subsidy_bus::Topics {
                records: self.topic_records.clone(),
                entities: self.topic_entities.clone(),
                centers: self.topic_centers.clone(),
                dead_letter: self.topic_dead_letter.clone(),
                checkpoints: self.topic_checkpoints.clone(),
                usage_counts: self.topic_usage_counts.clone(),
                funded_elsewhere: self.topic_funded_elsewhere.clone(),
                supplier_claims: self.topic_supplier_claims.clone(),
            },
            record_partitions: self.record_partitions,
        }
    }
}

/// The platform API and its credentials.
#[derive(Debug, Clone, Args)]
pub struct PlatformArgs {
    /// Base URL of the scheduling platform's API.
    #[arg(long, env = "SUBSIDY_PLATFORM_URL", default_value = "http://127.0.0.1:8080")]
    pub platform_url: String,
    /// Bearer token for the platform (prefer the environment variable).
    #[arg(long, env = "SUBSIDY_PLATFORM_TOKEN", hide_env_values = true)]
    pub platform_token: String,
    /// Per-request timeout, seconds.
    #[arg(long, env = "SUBSIDY_PLATFORM_TIMEOUT_SECS", default_value_t = 30)]
    pub platform_timeout_secs: u64,
}

/// `collect` flags.
#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Platform.
    #[command(flatten)]
    pub platform: PlatformArgs,
    /// Kafka.
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Checkpoint key of this collector.
    #[arg(long, env = "SUBSIDY_COLLECTOR_ID", default_value = "platform")]
    pub collector_id: String,
    /// Records per page (1–1000).
    #[arg(long, env = "SUBSIDY_PAGE_LIMIT", default_value_t = 1000)]
    pub page_limit: u32,
    /// Milliseconds between polls once caught up: a record waits on the platform up to this long
    /// before it is collected.
    #[arg(long, env = "SUBSIDY_POLL_INTERVAL_MS", default_value_t = 1000)]
    pub poll_interval_ms: u64,
    /// Seconds between polls of the entity and center lists.
    #[arg(long, env = "SUBSIDY_REGISTRY_INTERVAL_SECS", default_value_t = 60)]
    pub registry_interval_secs: u64,
    /// Longest wait, seconds, a platform's `Retry-After` is honoured for; a longer one is cut to it.
    #[arg(long, env = "SUBSIDY_MAX_RETRY_AFTER_SECS", default_value_t = 300)]
    pub max_retry_after_secs: u64,
    /// Exit once the platform has nothing more.
    #[arg(long)]
    pub exit_when_caught_up: bool,
    /// Address of `/metrics`.
    #[arg(long, env = "SUBSIDY_COLLECT_METRICS_ADDR", default_value = "127.0.0.1:9464")]
    pub metrics_addr: std::net::SocketAddr,
}

/// `platform-sim` flags.
#[derive(Debug, Args)]
pub struct PlatformSimArgs {
    /// Address to listen on.
    #[arg(long, env = "SUBSIDY_SIM_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Bearer token clients must present.
    #[arg(long, env = "SUBSIDY_PLATFORM_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Serve these files (records.jsonl, entities.json, centers.json) instead of generated data.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Write the data served to this directory (records.jsonl, entities.json, centers.json).
    #[arg(long)]
    pub write_files: Option<PathBuf>,
    /// Write the files and exit without serving.
    #[arg(long, requires = "write_files")]
    pub write_only: bool,
    /// Replace output files that already exist (without it, an existing file is an error).
    #[arg(long)]
    pub force: bool,
    /// Seed of the generated province.
    #[arg(long, default_value_t = 2025)]
    pub seed: u64,
    /// Entities generated.
    #[arg(long, default_value_t = 300)]
    pub entities: usize,
    /// Compute centers generated.
    #[arg(long, default_value_t = 20)]
    pub centers: usize,
    /// Record lines generated (revisions, duplicates and malformed lines included).
    #[arg(long, default_value_t = 10_000)]
    pub records: usize,
    /// First month of usage, YYYY-MM.
    #[arg(long, default_value = "2025-06")]
    pub first_month: String,
    /// Last month of usage, YYYY-MM.
    #[arg(long, default_value = "2025-11")]
    pub last_month: String,
    /// Share of malformed lines.
    #[arg(long, default_value_t = 0.01)]
    pub malformed_share: f64,
    /// Share of exact duplicate lines.
    #[arg(long, default_value_t = 0.02)]
    pub duplicate_share: f64,
    /// Share of records that get later revisions.
    #[arg(long, default_value_t = 0.15)]
    pub revision_share: f64,
    /// Records released per second (0: all at once).
    #[arg(long, default_value_t = 0.0)]
    pub release_rate: f64,
    /// Share of requests answered 500/503.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Share of requests answered 429.
    #[arg(long, default_value_t = 0.0)]
    pub rate_limit_rate: f64,
    /// Retry-After seconds sent with 429/503.
    #[arg(long, default_value_t = 1)]
    pub retry_after_secs: u64,
    /// Share of slow responses.
    #[arg(long, default_value_t = 0.0)]
    pub slow_rate: f64,
    /// Delay of a slow response, ms.
    #[arg(long, default_value_t = 2000)]
    pub slow_ms: u64,
    /// Share of responses whose body is cut short.
    #[arg(long, default_value_t = 0.0)]
    pub truncate_rate: f64,
    /// Share of responses whose body is a proxy's HTML error page instead of JSON.
    #[arg(long, default_value_t = 0.0)]
    pub malformed_rate: f64,
    /// Share of record pages that start half a page early, repeating records already sent.
    #[arg(long, default_value_t = 0.0)]
    pub repeat_rate: f64,
    /// Answer the first this many record-page requests 429 with `--retry-after-secs` (0: off).
    #[arg(long, default_value_t = 0)]
    pub rate_limit_first: u64,
    /// Add to each registry list an oversized copy of its first item, padded past this many bytes (0: off).
    #[arg(long, default_value_t = 0)]
    pub oversized_registry_bytes: usize,
    /// Answer every request 307 with this `Location`.
    #[arg(long)]
    pub redirect_to: Option<String>,
    /// Seed of the fault dice.
    #[arg(long, default_value_t = 7)]
    pub fault_seed: u64,
}

/// Which ledger store to use (shared by `migrate`, `aggregate`, `close`, `export` and `demo`).
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// ClickHouse HTTP endpoint.
    #[arg(long, env = "SUBSIDY_CLICKHOUSE_URL", default_value = "http://127.0.0.1:8123")]
    pub clickhouse_url: String,
    /// ClickHouse database.
    #[arg(long, env = "SUBSIDY_CLICKHOUSE_DATABASE", default_value = "subsidy")]
    pub clickhouse_database: String,
    /// ClickHouse user (environment only).
    #[arg(skip = std::env::var("SUBSIDY_CLICKHOUSE_USER").unwrap_or_else(|_| "default".into()))]
    pub clickhouse_user: String,
    /// ClickHouse password (environment only).
    #[arg(skip = std::env::var("SUBSIDY_CLICKHOUSE_PASSWORD").unwrap_or_default())]
    pub clickhouse_password: String,
    /// Use the embedded SQLite ledger at this path instead of ClickHouse.
    #[arg(long, env = "SUBSIDY_SQLITE")]
    pub sqlite: Option<PathBuf>,
}

/// `migrate` flags.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Create the schema on every server of this ClickHouse cluster (named in the servers'
    /// `remote_servers`): replicated tables with `Distributed` tables over them.
    #[arg(long, env = "SUBSIDY_CLICKHOUSE_CLUSTER")]
    pub cluster: Option<String>,
    /// Print the ClickHouse statements instead of applying them (every one, in order, for
    /// a new database; nothing is read or written).
    #[arg(long)]
    pub print_ddl: bool,
}

/// `aggregate` flags.
#[derive(Debug, Args)]
pub struct AggregateArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Kafka.
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Consumer group.
    #[arg(long, env = "SUBSIDY_AGGREGATOR_GROUP", default_value = "subsidy-aggregator")]
    pub group: String,
    /// Policy versions (TOML). Only for a ledger that holds no policy document yet, which
    /// records it (the built-in RULES.md without it); otherwise it must be the ledger's
    /// document, which is used without it. Change it with `policy apply`.
    #[arg(long, env = "SUBSIDY_POLICY")]
    pub policy: Option<PathBuf>,
    /// The log of closes: on a ClickHouse ledger, recording its first policy document is
    /// fenced by it (the Kafka brokers are `--kafka-brokers`).
    #[arg(long, env = "SUBSIDY_TOPIC_CLOSES", default_value = subsidy_bus::CLOSES_TOPIC)]
    pub topic_closes: String,
    /// Most messages per batch. ClickHouse wants large inserts: each becomes a part that
    /// background merges rewrite, so small batches cost it far more work per row.
    #[arg(long, env = "SUBSIDY_BATCH_ROWS", default_value_t = 50_000)]
    pub batch_rows: usize,
    /// Most payload bytes per batch.
    #[arg(long, env = "SUBSIDY_BATCH_BYTES", default_value_t = 32 << 20)]
    pub batch_bytes: usize,
    /// Longest wait for a batch to fill, ms.
    #[arg(long, env = "SUBSIDY_BATCH_LINGER_MS", default_value_t = 500)]
    pub batch_linger_ms: u64,
    /// Exit once caught up and this many seconds passed without a message.
    #[arg(long)]
    pub exit_when_idle_secs: Option<u64>,
    /// Consumer-group session timeout, ms: how long a silent member keeps its partitions.
    #[arg(long, env = "SUBSIDY_SESSION_TIMEOUT_MS", default_value_t = 30_000)]
    pub session_timeout_ms: u64,
    /// Longest pause between polls, ms; also bounds how long a rebalance waits for a dead member.
    #[arg(long, env = "SUBSIDY_MAX_POLL_INTERVAL_MS", default_value_t = 300_000)]
    pub max_poll_interval_ms: u64,
    /// Longest wait of a records fetch at the broker, ms. A Kafka broker answers as soon as
    /// it has data; tansu holds every fetch for the whole wait, so against it a small value
    /// (20) is much faster, at the cost of frequent empty fetches while idle.
    #[arg(long, env = "SUBSIDY_FETCH_WAIT_MS", default_value_t = 500)]
    pub fetch_wait_ms: u32,
    /// Rejoin the group when partitions of a silent member stop moving: a workaround for
    /// development brokers (tansu) whose coordinator does not expire dead members.
    /// Leave off against Kafka, which expires them by the session timeout.
    #[arg(long, env = "SUBSIDY_REJOIN_STALLED_PARTITIONS")]
    pub rejoin_stalled_partitions: bool,
    /// Address of `/metrics`.
    #[arg(long, env = "SUBSIDY_AGGREGATE_METRICS_ADDR", default_value = "127.0.0.1:9465")]
    pub metrics_addr: std::net::SocketAddr,
}

/// `close` flags.
#[derive(Debug, Args)]
pub struct CloseArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The month to close, YYYY-MM. Months close in order; earlier months still open with
    /// no lines close with it, at nothing.
    #[arg(long)]
    pub period: String,
    /// Policy versions (TOML). A close computes under the ledger's policy document; a file
    /// naming another document is refused (change it with `policy apply`).
    #[arg(long, env = "SUBSIDY_POLICY")]
    pub policy: Option<PathBuf>,
    /// Close a month that has not ended in China Standard Time (needs --reason).
    #[arg(long, env = "SUBSIDY_CLOSE_FORCE_EARLY")]
    pub force_early: bool,
    /// Why the month is closed early: recorded in its closure.
    #[arg(long, env = "SUBSIDY_CLOSE_REASON")]
    pub reason: Option<String>,
    /// Close although the ledger and the platform's usage counts differ for some center-days
    /// (refused without it): why, recorded with the closure, the operator and the gap then.
    #[arg(long, env = "SUBSIDY_CLOSE_FORCE_REASON")]
    pub force_reason: Option<String>,
    /// Who closes, as recorded with a forced close (default `cli:<$USER>`, `cli:operator` without it).
    #[arg(long, env = "SUBSIDY_OPERATOR")]
    pub operator: Option<String>,
    /// Bootstrap servers of the log of closes (a ClickHouse ledger's closes are fenced by it).
    #[arg(long, env = "SUBSIDY_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub kafka_brokers: String,
    /// The log of closes: one partition, kept for good.
    #[arg(long, env = "SUBSIDY_TOPIC_CLOSES", default_value = subsidy_bus::CLOSES_TOPIC)]
    pub topic_closes: String,
    /// Longest wait, in seconds, for the ClickHouse replica answering to hold every
    /// acknowledged write before the close reads.
    #[arg(long, env = "SUBSIDY_CLOSE_REPLICA_WAIT", default_value_t = 120)]
    pub replica_wait: u64,
    /// The bureau's signing key: after the close, a checkpoint of the log is signed with it.
    #[command(flatten)]
    pub key: SigningKeyArgs,
}

/// `reconcile` flags.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The month, YYYY-MM.
    #[arg(long)]
    pub period: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `export` flags.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Where to write the settlement CSV (the format of `recompute`).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace output files that already exist (without it, an existing file is an error).
    #[arg(long)]
    pub force: bool,
    /// Only this month (YYYY-MM).
    #[arg(long)]
    pub period: Option<String>,
    /// Policy versions (TOML): must be the ledger's policy document, which is used without it
    /// (the built-in RULES.md for a ledger that holds none).
    #[arg(long, env = "SUBSIDY_POLICY")]
    pub policy: Option<PathBuf>,
}

/// `statements` flags.
#[derive(Debug, Args)]
pub struct StatementsArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Where to write the statements CSV.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace output files that already exist (without it, an existing file is an error).
    #[arg(long)]
    pub force: bool,
}

/// `demo` flags.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed of the generated province.
    #[arg(long, default_value_t = 2025)]
    pub seed: u64,
    /// Entities generated.
    #[arg(long, default_value_t = 400)]
    pub entities: usize,
    /// Record lines generated (revisions, duplicates and malformed lines included).
    #[arg(long, default_value_t = 50_000)]
    pub records: usize,
    /// The embedded ledger (SQLite) file.
    #[arg(long, env = "SUBSIDY_SQLITE", default_value = "subsidy-demo.sqlite")]
    pub sqlite: PathBuf,
    /// Use this ClickHouse instead of the embedded ledger. Only as a flag: the demo stays
    /// embedded whatever the environment names for the other subcommands.
    #[arg(long, conflicts_with = "sqlite")]
    pub clickhouse_url: Option<String>,
    /// ClickHouse database (with `--clickhouse-url`).
    #[arg(long, default_value = "subsidy_demo")]
    pub clickhouse_database: String,
    /// Use this Kafka instead of the in-process broker.
    #[arg(long)]
    pub kafka_brokers: Option<String>,
    /// Write the data the simulator serves to this directory (for `recompute`).
    #[arg(long)]
    pub write_files: Option<PathBuf>,
    /// Replace output files that already exist (without it, an existing file is an error).
    #[arg(long)]
    pub force: bool,
    /// Exit once the simulated data is settled (scripts, tests).
    #[arg(long)]
    pub exit_after_settle: bool,
    /// Address of `/metrics`.
    #[arg(long, env = "SUBSIDY_DEMO_METRICS_ADDR", default_value = "127.0.0.1:9464")]
    pub metrics_addr: std::net::SocketAddr,
}
