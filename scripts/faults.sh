#!/usr/bin/env bash
# The fault suite's long form: a million generated record lines through the
# pipeline while it is hurt in seven ways (crates/cli/tests/faults.rs says
# how), then `export == recompute`, statements summing to it, nothing lost or
# doubled; the table is written into docs/RELIABILITY.md.
#
#   bash scripts/faults.sh [RECORDS] [KILLS] [OUTAGE_SECS]     (1000000 10 60)
#
# The long form runs its scenarios on librdkafka's mock cluster
# (SUBSIDY_FAULT_BUS=mock, one cluster per scenario), except the broker
# scenario, which SIGKILLs tansu, the development broker, and restarts it on its
# SQLite storage: ten kills of each process on tansu's SQLite engine stall under
# a million records (docs/RELIABILITY.md says how). SUBSIDY_FAULT_BUS=services
# runs every scenario on the broker of deploy/dev/services.sh, started empty.
# The test command runs the short form (20,000 lines, 3 kills, 8 s outage) on
# tansu, without writing the file.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# A fresh broker: tansu's sqlite engine slows down as earlier runs' topics pile up.
bash deploy/dev/services.sh reset-kafka
bash deploy/dev/services.sh start
eval "$(bash deploy/dev/services.sh env)"
export SUBSIDY_FAULT_RECORDS="${1:-1000000}" SUBSIDY_FAULT_KILLS="${2:-10}" SUBSIDY_FAULT_OUTAGE_SECS="${3:-60}"
export SUBSIDY_FAULT_REPORT="$REPO/docs/RELIABILITY.md"
export SUBSIDY_FAULT_BUS="${SUBSIDY_FAULT_BUS:-mock}"
cargo test --release -p subsidy-meter --test faults -- --nocapture
