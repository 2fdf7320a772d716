-- No double funding. Each line keeps the contract its record names ('' for
-- none), so a funded-elsewhere entry naming the contract finds it again when
-- the list changes. Lines written before this migration read '' until their
-- record is settled again.
ALTER TABLE ledger_lines ADD COLUMN contract_id TEXT NOT NULL DEFAULT '';

-- The funded-elsewhere list (scheme, and a record id or a contract id:
-- target_kind 'record' or 'contract') and the supplier claims (the platform
-- record id and the claiming supplier's credit code), as the registry keeps
-- them: written whole at each re-settlement round, the rows of the highest
-- registry position stand.
CREATE TABLE IF NOT EXISTS funded_elsewhere (
    scheme           TEXT NOT NULL,
    target_kind      TEXT NOT NULL,
    target_id        TEXT NOT NULL,
    version          INTEGER NOT NULL,
    PRIMARY KEY (scheme, target_kind, target_id)
);

CREATE TABLE IF NOT EXISTS supplier_claims (
    record_id            TEXT NOT NULL,
    supplier_credit_code TEXT NOT NULL,
    version              INTEGER NOT NULL,
    PRIMARY KEY (record_id, supplier_credit_code)
);
