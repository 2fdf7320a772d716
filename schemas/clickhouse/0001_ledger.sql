-- Ledger tables: accepted records, ledger lines, rejections, held records, adjustments.
-- Runs on ClickHouse 18.16 and current releases: plain ReplacingMergeTree,
-- no LowCardinality, no Nullable in sorting keys. Reads use FINAL.
-- Money: Decimal(18,4) for yuan, Decimal(38,10) for exact contributions.

-- The standing revision of each accepted record, with the platform's bytes.
CREATE TABLE IF NOT EXISTS usage_records
(
    record_id String,
    revision UInt32,
    user_credit_code String,
    center_id String,
    usage_end DateTime,
    updated_at DateTime,
    amount Decimal(18, 4),
    paid_amount Decimal(18, 4),
    payment_status String,
    raw String,
    kafka_partition Int32,
    kafka_offset Int64
)
ENGINE = ReplacingMergeTree(revision)
ORDER BY record_id;

-- One ledger line per record: the highest revision stands. reason = '' when eligible.
CREATE TABLE IF NOT EXISTS ledger_lines
(
    record_id String,
    revision UInt32,
    user_credit_code String,
    center_id String,
    period UInt32,
    policy_version String,
    rate Decimal(9, 4),
    uplift Decimal(9, 4),
    base Decimal(18, 4),
    contribution Decimal(38, 10),
    reason String,
    kafka_partition Int32,
    kafka_offset Int64
)
ENGINE = ReplacingMergeTree(revision)
ORDER BY record_id;

-- Refused, duplicate and superseded lines, keyed by bus position so a replay replaces.
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

-- Records waiting for the registry. ver = revision * 2 + released, so a release
-- replaces the held row of the same revision and a later revision replaces both.
CREATE TABLE IF NOT EXISTS held_records
(
    record_id String,
    revision UInt32,
    reason String,
    raw String,
    kafka_partition Int32,
    kafka_offset Int64,
    released UInt8,
    ver UInt64
)
ENGINE = ReplacingMergeTree(ver)
ORDER BY record_id;

-- Changes to records of closed months, booked in the earliest open month.
CREATE TABLE IF NOT EXISTS adjustments
(
    record_id String,
    revision UInt32,
    credit_code String,
    original_period UInt32,
    target_period UInt32,
    delta_base Decimal(18, 4),
    delta_contribution Decimal(38, 10)
)
ENGINE = ReplacingMergeTree
ORDER BY (record_id, revision);
