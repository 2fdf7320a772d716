-- Ledger tables of the embedded store. Decimals are TEXT (exact, summed in
-- Rust); periods are yyyymm integers; reason = '' when eligible.
-- Writes are upserts that keep the highest revision / version.

CREATE TABLE IF NOT EXISTS usage_records (
    record_id        TEXT PRIMARY KEY,
    revision         INTEGER NOT NULL,
    user_credit_code TEXT NOT NULL,
    center_id        TEXT NOT NULL,
    usage_end        TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    amount           TEXT NOT NULL,
    paid_amount      TEXT NOT NULL,
    payment_status   TEXT NOT NULL,
    raw              TEXT NOT NULL,
    kafka_partition  INTEGER NOT NULL,
    kafka_offset     INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS ledger_lines (
    record_id        TEXT PRIMARY KEY,
    revision         INTEGER NOT NULL,
    user_credit_code TEXT NOT NULL,
    center_id        TEXT NOT NULL,
    period           INTEGER NOT NULL,
    policy_version   TEXT NOT NULL,
    rate             TEXT NOT NULL,
    uplift           TEXT NOT NULL,
    base             TEXT NOT NULL,
    contribution     TEXT NOT NULL,
    reason           TEXT NOT NULL,
    kafka_partition  INTEGER NOT NULL,
    kafka_offset     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_lines_by_user ON ledger_lines (user_credit_code, period);
CREATE INDEX IF NOT EXISTS ledger_lines_by_partition ON ledger_lines (kafka_partition);

CREATE TABLE IF NOT EXISTS rejections (
    kafka_partition  INTEGER NOT NULL,
    kafka_offset     INTEGER NOT NULL,
    record_id        TEXT,
    revision         INTEGER,
    reason           TEXT NOT NULL,
    field            TEXT,
    detail           TEXT NOT NULL,
    raw              TEXT NOT NULL,
    PRIMARY KEY (kafka_partition, kafka_offset)
);

-- ver = revision * 2 + released: a release replaces the held row of its revision.
CREATE TABLE IF NOT EXISTS held_records (
    record_id        TEXT PRIMARY KEY,
    revision         INTEGER NOT NULL,
    reason           TEXT NOT NULL,
    raw              TEXT NOT NULL,
    kafka_partition  INTEGER NOT NULL,
    kafka_offset     INTEGER NOT NULL,
    released         INTEGER NOT NULL,
    ver              INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS adjustments (
    record_id          TEXT NOT NULL,
    revision           INTEGER NOT NULL,
    credit_code        TEXT NOT NULL,
    original_period    INTEGER NOT NULL,
    target_period      INTEGER NOT NULL,
    delta_base         TEXT NOT NULL,
    delta_contribution TEXT NOT NULL,
    PRIMARY KEY (record_id, revision)
);
