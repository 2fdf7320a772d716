#!/usr/bin/env bash
# The fault suite's long form: a million generated record lines through the
# pipeline while it is hurt in seven ways (crates/cli/tests/faults.rs says
# how), then `export == recompute`, statements summing to it, nothing lost or
# doubled; the table is written into docs/RELIABILITY.md.
#
#   bash scripts/faults.sh [RECORDS] [KILLS] [OUTAGE_SECS]     (1000000 10 60)
#
# Every scenario runs on the broker of deploy/dev/services.sh, tansu on its
# SQLite engine, started empty; the broker scenario SIGKILLs it and restarts it
# on that storage. The test command runs the short form (20,000 lines, 3 kills,
# 8 s outage) the same way, without writing the file.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# A fresh broker: tansu's sqlite engine slows down as earlier runs' topics pile up.
bash deploy/dev/services.sh reset-kafka
bash deploy/dev/services.sh start
eval "$(bash deploy/dev/services.sh env)"
export SUBSIDY_FAULT_RECORDS="${1:-1000000}" SUBSIDY_FAULT_KILLS="${2:-10}" SUBSIDY_FAULT_OUTAGE_SECS="${3:-60}"
export SUBSIDY_FAULT_REPORT="$REPO/docs/RELIABILITY.md"
cargo test --release -p subsidy-meter --test faults -- --nocapture
