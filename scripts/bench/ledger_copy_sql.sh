#!/usr/bin/env bash
# Prints an INSERT that copies up to N standing lines of DB.ledger_lines under
# record ids with PREFIX in front: new lines of the same users, months and
# amounts (the by-user index and any view over ledger_lines get them too).
# The copies are stamped as written before the change log (stream '', no
# prior), so a reader sums them from the lines, never from the log.
# Used by api_long.sh to grow a ledger past what the broker can hold.
#
#   bash scripts/bench/ledger_copy_sql.sh DB PREFIX N
set -euo pipefail
DB="$1" PREFIX="$2" N="$3"
CH_TCP="${SUBSIDY_CH_TCP_PORT:-9000}"
cols=$(clickhouse-client --host 127.0.0.1 --port "$CH_TCP" --query \
    "SELECT name FROM system.columns WHERE database = '$DB' AND table = 'ledger_lines' FORMAT TSV")
list=$(paste -sd, <<<"$cols")
select=$(sed -e "s/^record_id\$/concat('$PREFIX', record_id)/" -e "s/^change_stream\$/''/" -e "s/^change_seq\$/toUInt64(0)/" \
    -e "s/^prior_state\$/toUInt8(0)/" <<<"$cols" | paste -sd,)
echo "INSERT INTO $DB.ledger_lines ($list) SELECT $select FROM $DB.ledger_lines FINAL LIMIT $N"
