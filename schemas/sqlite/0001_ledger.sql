-- Ledger tables of the embedded store. Decimals are TEXT (exact, summed in
-- Rust); periods are yyyymm integers; dates are YYYY-MM-DD; reason = '' when
-- eligible. Writes are upserts that keep the highest version.

CREATE TABLE IF NOT EXISTS record_copies (
    record_id        TEXT NOT NULL,
    kafka_partition  INTEGER NOT NULL,
    kafka_offset     INTEGER NOT NULL,
    revision         INTEGER NOT NULL,
    fingerprint      TEXT NOT NULL,
    raw              TEXT NOT NULL,
    PRIMARY KEY (record_id, kafka_partition, kafka_offset)
);

CREATE TABLE IF NOT EXISTS ledger_lines (
    record_id        TEXT PRIMARY KEY,
    revision         INTEGER NOT NULL,
    fingerprint      TEXT NOT NULL,
    conflict         INTEGER NOT NULL,
    user_credit_code TEXT NOT NULL,
    center_id        TEXT NOT NULL,
    usage_date       TEXT NOT NULL,
    payment_status   TEXT NOT NULL,
    paid_amount      TEXT NOT NULL,
    period           INTEGER NOT NULL,
    policy_version   TEXT NOT NULL,
    rate             TEXT NOT NULL,
    uplift           TEXT NOT NULL,
    base             TEXT NOT NULL,
    contribution     TEXT NOT NULL,
    reason           TEXT NOT NULL,
    kafka_partition  INTEGER NOT NULL,
    kafka_offset     INTEGER NOT NULL,
    version          INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_lines_by_user ON ledger_lines (user_credit_code, period);
CREATE INDEX IF NOT EXISTS ledger_lines_by_center ON ledger_lines (center_id);
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

CREATE TABLE IF NOT EXISTS resettle_marks (
    kafka_partition  INTEGER PRIMARY KEY,
    registry         TEXT NOT NULL,
    position         INTEGER NOT NULL
);
