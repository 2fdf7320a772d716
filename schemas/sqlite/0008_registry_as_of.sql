-- The registry as of the usage (see the ClickHouse migration of the same
-- name): every entry of an entity or center, one per key and day
-- (valid_from, '' for an undated entry), and the entries each ledger line
-- was judged by. The entry tables replace registry_entities and
-- registry_centers, which are no longer written or read.

CREATE TABLE IF NOT EXISTS registry_entity_entries (
    credit_code      TEXT NOT NULL,
    valid_from       TEXT NOT NULL,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    province         TEXT NOT NULL,
    city             TEXT NOT NULL,
    related_group    TEXT NOT NULL,
    version          INTEGER NOT NULL,
    PRIMARY KEY (credit_code, valid_from)
);

CREATE TABLE IF NOT EXISTS registry_center_entries (
    center_id         TEXT NOT NULL,
    valid_from        TEXT NOT NULL,
    name              TEXT NOT NULL,
    owner_credit_code TEXT NOT NULL,
    province          TEXT NOT NULL,
    city              TEXT NOT NULL,
    version           INTEGER NOT NULL,
    PRIMARY KEY (center_id, valid_from)
);

ALTER TABLE ledger_lines ADD COLUMN entity_entry TEXT NOT NULL DEFAULT '';
ALTER TABLE ledger_lines ADD COLUMN center_entry TEXT NOT NULL DEFAULT '';
