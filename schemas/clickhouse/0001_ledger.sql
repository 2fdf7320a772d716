-- Ledger tables: every copy received, one line per record, lines that could
-- not be read, and how far each records partition is re-settled.
-- Runs on ClickHouse 18.16 and current releases: plain ReplacingMergeTree,
-- no LowCardinality, no Nullable in sorting keys. Reads use FINAL.
-- Money: Decimal(18,4) for yuan, Decimal(38,10) for exact contributions.
-- Versions come from the data (revision, registry position), never a clock.

-- Every valid copy of a record as received, keyed by where it arrived.
CREATE TABLE IF NOT EXISTS record_copies
(
    record_id String,
    kafka_partition Int32,
    kafka_offset Int64,
    revision UInt32,
    fingerprint String,
    raw String
)
ENGINE = ReplacingMergeTree
ORDER BY (record_id, kafka_partition, kafka_offset);

-- One line per record: what stands for it (revision, the representing copy's
-- fingerprint and facts, conflict) and what the rules make of it.
-- The highest version stands; reason = '' when eligible.
CREATE TABLE IF NOT EXISTS ledger_lines
(
    record_id String,
    revision UInt32,
    fingerprint String,
    conflict UInt8,
    user_credit_code String,
    center_id String,
    usage_date Date,
    payment_status String,
    paid_amount Decimal(18, 4),
    period UInt32,
    policy_version String,
    rate Decimal(9, 4),
    uplift Decimal(9, 4),
    base Decimal(18, 4),
    contribution Decimal(38, 10),
    reason String,
    kafka_partition Int32,
    kafka_offset Int64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY record_id;

-- Lines that could not be read as records, keyed by bus position so a replay replaces.
CREATE TABLE IF NOT EXISTS rejections
(
    kafka_partition Int32,
    kafka_offset Int64,
    record_id Nullable(String),
    revision Nullable(UInt32),
    reason String,
    field Nullable(String),
    detail String,
    raw String
)
ENGINE = ReplacingMergeTree
ORDER BY (kafka_partition, kafka_offset);

-- Per records partition: the registry position its lines are re-settled up to.
CREATE TABLE IF NOT EXISTS resettle_marks
(
    kafka_partition Int32,
    registry String,
    position UInt64
)
ENGINE = ReplacingMergeTree(position)
ORDER BY kafka_partition;
