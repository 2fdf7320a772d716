-- The change log of ledger lines: every write that changes what a line adds to
-- the sums (user, month, reason, policy document, center, day, amounts) is
-- logged by a trigger, in the transaction of the write itself, with the line's
-- effect before (old_*, NULL for a record's first line) and after (new_*,
-- NULL for a removed line). Readers fold the changes after the last seq they
-- folded instead of summing every line again (see crates/store/src/changes.rs).
-- seq: the rowid, one past the highest (pruning keeps the newest changes, so
-- the highest is never deleted and a seq is never given twice; plain rowids
-- cost a writer far less than AUTOINCREMENT); writes are serialised by
-- SQLite's one writer, so seq order is commit order. The oldest changes are
-- pruned; line_changes_pruned.upto says up to which seq, so a reader marked
-- before it knows it must read the sums whole.
CREATE TABLE IF NOT EXISTS line_changes (
    seq                  INTEGER PRIMARY KEY,
    record_id            TEXT NOT NULL,
    old_user_credit_code TEXT,
    old_period           INTEGER,
    old_reason           TEXT,
    old_policy_hash      TEXT,
    old_center_id        TEXT,
    old_usage_date       TEXT,
    old_paid_amount      TEXT,
    old_base             TEXT,
    old_contribution     TEXT,
    new_user_credit_code TEXT,
    new_period           INTEGER,
    new_reason           TEXT,
    new_policy_hash      TEXT,
    new_center_id        TEXT,
    new_usage_date       TEXT,
    new_paid_amount      TEXT,
    new_base             TEXT,
    new_contribution     TEXT
);

CREATE TABLE IF NOT EXISTS line_changes_pruned (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    upto             INTEGER NOT NULL
);
INSERT OR IGNORE INTO line_changes_pruned (id, upto) VALUES (1, 0);

-- An upsert that inserts fires only the INSERT trigger; one that updates (its
-- guard let the new line replace the stored one) fires only the UPDATE
-- trigger; one whose guard refuses fires neither.
CREATE TRIGGER IF NOT EXISTS ledger_lines_logged_insert AFTER INSERT ON ledger_lines
BEGIN
    INSERT INTO line_changes (record_id, new_user_credit_code, new_period, new_reason, new_policy_hash, new_center_id, new_usage_date, new_paid_amount, new_base, new_contribution)
    VALUES (NEW.record_id, NEW.user_credit_code, NEW.period, NEW.reason, NEW.policy_hash, NEW.center_id, NEW.usage_date, NEW.paid_amount, NEW.base, NEW.contribution);
END;

-- A replay (or a re-settlement that moves nothing) leaves the effect as it was: not logged.
CREATE TRIGGER IF NOT EXISTS ledger_lines_logged_update AFTER UPDATE ON ledger_lines
WHEN OLD.user_credit_code IS NOT NEW.user_credit_code OR OLD.period IS NOT NEW.period OR OLD.reason IS NOT NEW.reason
  OR OLD.policy_hash IS NOT NEW.policy_hash OR OLD.center_id IS NOT NEW.center_id OR OLD.usage_date IS NOT NEW.usage_date
  OR OLD.paid_amount IS NOT NEW.paid_amount OR OLD.base IS NOT NEW.base OR OLD.contribution IS NOT NEW.contribution
BEGIN
    INSERT INTO line_changes (record_id, old_user_credit_code, old_period, old_reason, old_policy_hash, old_center_id, old_usage_date, old_paid_amount, old_base, old_contribution,
                              new_user_credit_code, new_period, new_reason, new_policy_hash, new_center_id, new_usage_date, new_paid_amount, new_base, new_contribution)
    VALUES (NEW.record_id, OLD.user_credit_code, OLD.period, OLD.reason, OLD.policy_hash, OLD.center_id, OLD.usage_date, OLD.paid_amount, OLD.base, OLD.contribution,
            NEW.user_credit_code, NEW.period, NEW.reason, NEW.policy_hash, NEW.center_id, NEW.usage_date, NEW.paid_amount, NEW.base, NEW.contribution);
END;

CREATE TRIGGER IF NOT EXISTS ledger_lines_logged_delete AFTER DELETE ON ledger_lines
BEGIN
    INSERT INTO line_changes (record_id, old_user_credit_code, old_period, old_reason, old_policy_hash, old_center_id, old_usage_date, old_paid_amount, old_base, old_contribution)
    VALUES (OLD.record_id, OLD.user_credit_code, OLD.period, OLD.reason, OLD.policy_hash, OLD.center_id, OLD.usage_date, OLD.paid_amount, OLD.base, OLD.contribution);
END;
