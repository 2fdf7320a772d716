-- No double funding. Each line keeps the contract its record names ('' for
-- none), so a funded-elsewhere entry naming the contract finds it again when
-- the list changes. Lines written before this migration read '' until their
-- record is settled again.
ALTER TABLE ledger_lines ADD COLUMN contract_id String DEFAULT '';
-- The funded-elsewhere list (scheme, and a record id or a contract id:
-- target_kind 'record' or 'contract') and the supplier claims (the platform
-- record id and the claiming supplier's credit code), as the registry keeps
-- them: written whole at each re-settlement round, the rows of the highest
-- registry position stand.
CREATE TABLE IF NOT EXISTS funded_elsewhere
(
    scheme String,
    target_kind String,
    target_id String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (scheme, target_kind, target_id);
CREATE TABLE IF NOT EXISTS supplier_claims
(
    record_id String,
    supplier_credit_code String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (record_id, supplier_credit_code)
