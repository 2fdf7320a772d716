-- The transparency log of what is payable: the checkpoints the bureau signed
-- after each close, and the cosignatures the cities' witnesses sent for them.
-- The leaves are not stored: they are recomputed from the statements, so an
-- audit catches a statement changed after it was signed.
-- size: the number of statement lines in the log; root: its RFC 6962 root,
-- base64; note: the signed checkpoint (C2SP tlog-checkpoint, signed note);
-- period: the last closed month it holds, YYYYMM.
CREATE TABLE IF NOT EXISTS tlog_checkpoints (
    size             INTEGER PRIMARY KEY,
    root             TEXT NOT NULL,
    note             TEXT NOT NULL,
    period           INTEGER NOT NULL
);

-- line: the cosignature line (C2SP tlog-cosignature) of witness on the
-- checkpoint of that size; a witness cosigning again replaces its line.
CREATE TABLE IF NOT EXISTS tlog_cosignatures (
    size             INTEGER NOT NULL,
    witness          TEXT NOT NULL,
    line             TEXT NOT NULL,
    PRIMARY KEY (size, witness)
);
