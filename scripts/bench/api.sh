#!/usr/bin/env bash
# Accruals API under load: a year of data for ENTITIES entities in ClickHouse,
# 64 concurrent clients (oha) on the accruals and the ledger endpoints.
#
#   bash scripts/bench/api.sh            (defaults: 10,000 entities, 1,200,000 record lines)
#
# Steps: generate a province for 2025-01…2025-12 with the simulator (no
# malformed lines), load it through the pipeline — serve it, `collect` into a
# throwaway tansu (memory engine), `aggregate` into a fresh ClickHouse
# database — close 2025-01…2025-06, then start `serve` with a bureau token and
# run oha per endpoint, each request for an entity drawn at random from 500
# with lines (and, for the ledger, a random month): first 500 requests on a
# cold cache, then BENCH_DURATION of steady load, then BENCH_DURATION while a
# batch of lines is replayed into the ledger every second. Prints oha's p50,
# p99 and requests/s per run, serve's CPU time and RSS, and how long serve
# took to read each new book.
# Installs oha (cargo install, pinned) when missing.
#
# Env: BENCH_ENTITIES (10000), BENCH_RECORDS (1200000), BENCH_DURATION (20s),
#      BENCH_CONCURRENCY (64), BENCH_KEEP=1 keeps the database.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
source scripts/bench/common.sh
ENTITIES="${BENCH_ENTITIES:-10000}"
RECORDS="${BENCH_RECORDS:-1200000}"
DURATION="${BENCH_DURATION:-20s}"
CONCURRENCY="${BENCH_CONCURRENCY:-64}"
OHA_VERSION="1.16.0"
CH_HTTP="http://127.0.0.1:${SUBSIDY_CH_HTTP_PORT:-8123}"
CH_TCP="${SUBSIDY_CH_TCP_PORT:-9000}"

if [[ "$(oha --version 2>/dev/null)" != *"$OHA_VERSION"* ]]; then
    echo "installing oha $OHA_VERSION (cargo install)" >&2
    cargo install oha --version "$OHA_VERSION" --locked -q
fi
bash deploy/dev/services.sh start clickhouse >/dev/null
cargo build --release -q -p subsidy-meter
BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/subsidy-meter"
export SUBSIDY_PLATFORM_TOKEN="${SUBSIDY_PLATFORM_TOKEN:-bench-token}"

WORK="$(mktemp -d)"
SERVE_PID="" WRITER_PID="" BROKER_PORT=""
DB="api_bench_$$"
chq() { clickhouse-client --host 127.0.0.1 --port "$CH_TCP" "$@"; }
cleanup() {
    for pid in "$SERVE_PID" "$WRITER_PID"; do [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; done
    if [ -z "${BENCH_KEEP:-}" ]; then chq --query "DROP DATABASE IF EXISTS $DB" || true; else echo "kept database $DB"; fi
    [ -z "$BROKER_PORT" ] || private_broker stop kafka >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
wait_http() { for _ in $(seq 150); do curl -sf -o /dev/null "$@" && return 0; sleep 0.2; done; echo "no answer from $*" >&2; return 1; }

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $ENTITIES entities, $RECORDS record lines, 2025-01…2025-12"
t0=$(date +%s)
"$BIN" platform-sim --entities "$ENTITIES" --records "$RECORDS" --first-month 2025-01 --last-month 2025-12 \
    --malformed-share 0 --write-files "$WORK/data" --write-only 2>/dev/null
load_into_private_broker api-bench
store=(--clickhouse-url "$CH_HTTP" --clickhouse-database "$DB")
"$BIN" aggregate --kafka-brokers "$BROKERS" "${topics[@]}" "${store[@]}" --group api-bench --fetch-wait-ms 20 \
    --exit-when-idle-secs 3 --metrics-addr 127.0.0.1:0 2>&1 | grep '^aggregate:'
for m in 01 02 03 04 05 06; do "$BIN" close --period "2025-$m" "${store[@]}" 2>&1 | grep '^close:'; done
echo "loaded in $(( $(date +%s) - t0 )) s: $(chq --query "SELECT count(), uniqExact(user_credit_code) FROM $DB.ledger_lines FINAL" | tr '\t' ' ') lines and entities"

token_out=$("$BIN" token new --role bureau 2>/dev/null)
TOKEN=$(head -n 1 <<<"$token_out")
tail -n +2 <<<"$token_out" >"$WORK/tokens.toml"
api_port=$(free_port)
"$BIN" serve --listen "127.0.0.1:$api_port" --tokens "$WORK/tokens.toml" --kafka-brokers "$BROKERS" "${store[@]}" 2>"$WORK/serve.log" &
SERVE_PID=$!
wait_http "http://127.0.0.1:$api_port/openapi.json"
codes=$(chq --query "SELECT user_credit_code FROM (SELECT DISTINCT user_credit_code FROM $DB.ledger_lines) ORDER BY cityHash64(user_credit_code) LIMIT 500" | paste -sd'|')
base="http://127.0.0.1:$api_port/v1/entities/($codes)"

HZ=$(getconf CLK_TCK)
cpu_s() { awk -v hz="$HZ" '{printf "%.1f", ($14+$15)/hz}' "/proc/$1/stat"; }
run() { # name url-regex oha-flags…
    local c0 json name="$1" url="$2"
    shift 2
    c0=$(cpu_s "$SERVE_PID")
    json=$(oha --no-tui --output-format json -c "$CONCURRENCY" "$@" -H "Authorization: Bearer $TOKEN" --rand-regex-url "$url")
    python3 - "$name" "$c0" "$(cpu_s "$SERVE_PID")" "$json" <<'PYEOF'
import json, sys
name, c0, c1, raw = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
r = json.loads(raw)
s, p = r["summary"], r["latencyPercentiles"]
codes = r.get("statusCodeDistribution", {})
print(f"{name}: {s['requestsPerSec']:.0f} requests/s, p50 {p['p50']*1000:.1f} ms, p99 {p['p99']*1000:.1f} ms, "
      f"statuses {codes}, success rate {s['successRate']:.4f}; serve CPU {c1 - c0:.1f} s")
PYEOF
}
# Fresh server: the book was read at start; ledger answers are not cached yet, so most of these
# 500 ledger requests (random draws from the 500 entities) read ClickHouse.
run "accruals, fresh server (500 requests)" "$base/accruals" -n 500
run "ledger, fresh server (500 requests)" "$base/ledger\\?period=2025-(0[1-9]|1[0-2])" -n 500
# Steady: the same draws for BENCH_DURATION; answers of the generation are reused.
run "accruals, steady ($DURATION)" "$base/accruals" -z "$DURATION"
run "ledger, steady ($DURATION)" "$base/ledger\\?period=2025-(0[1-9]|1[0-2])" -z "$DURATION"
# Under writes: a batch of 1,000 lines replayed into the ledger every second,
# as an aggregator redelivering after a restart does (figures unchanged, the
# generation moves with each insert), so `serve` reads a new book each time.
replay_batches() {
    while true; do
        chq --query "INSERT INTO $DB.ledger_lines SELECT * FROM $DB.ledger_lines WHERE record_id IN (SELECT record_id FROM $DB.ledger_lines LIMIT 1000)"
        sleep 1
    done
}
replay_batches &
WRITER_PID=$!
run "accruals, while batches are written ($DURATION)" "$base/accruals" -z "$DURATION"
run "ledger, while batches are written ($DURATION)" "$base/ledger\\?period=2025-(0[1-9]|1[0-2])" -z "$DURATION"
kill "$WRITER_PID"; wait "$WRITER_PID" 2>/dev/null || true; WRITER_PID=""
grep -o 'read the book of a new store generation seconds=[0-9.]*' "$WORK/serve.log" | sed 's/.*seconds=//' | python3 -c '
import statistics, sys
t = [float(x) for x in sys.stdin.read().split()]
print(f"book reads: {len(t)}, median {statistics.median(t):.2f} s, max {max(t):.2f} s" if t else "book reads: none logged")'
echo "serve peak RSS: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' "/proc/$SERVE_PID/status"); load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
