#!/usr/bin/env bash
# Freshness: seconds from a record's appearance on the platform to its line
# being visible through the API, under a steady load.
#
#   bash scripts/bench/freshness.sh [RATE] [SECONDS]      (defaults: 2000 records/s, 60 s)
#
# Steps: the simulator writes RATE × (SECONDS + 15) record lines for 20,000
# entities (no malformed lines; duplicates and revisions as usual) and serves
# them releasing RATE lines a second; `collect` polls it every
# BENCH_POLL_MS into a throwaway tansu on its sqlite engine, one `aggregate`
# writes a fresh ClickHouse database, and `serve` answers the API. The probe
# (freshness_probe.py) samples 10 record lines a second after a 10 s
# warm-up and times each from its release to `GET /v1/records/{id}` showing
# its line. Prints the probe's p50/p90/p99/max, and the aggregator's
# `subsidy_aggregator_record_age_seconds` (topic to store) beside it.
#
# Env: BENCH_BIN (a built subsidy-meter; default: build the release one),
#      BENCH_POLL_MS (collector poll interval, 1000), BENCH_LINGER_MS
#      (aggregator batch linger, 200), BENCH_SAMPLES (probe samples a second, 10),
#      BENCH_OUT (keep the logs there).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
source scripts/bench/common.sh
RATE="${1:-2000}"
SECONDS_SAMPLED="${2:-60}"
WARMUP=10
POLL_MS="${BENCH_POLL_MS:-1000}"
LINGER_MS="${BENCH_LINGER_MS:-200}"
SAMPLES="${BENCH_SAMPLES:-10}"
CH_HTTP="http://127.0.0.1:${SUBSIDY_CH_HTTP_PORT:-8123}"
CH_TCP="${SUBSIDY_CH_TCP_PORT:-9000}"
bash deploy/dev/services.sh start clickhouse >/dev/null
if [ -z "${BENCH_BIN:-}" ]; then
    cargo build --release -q -p subsidy-meter
    BENCH_BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/subsidy-meter"
fi
BIN="$BENCH_BIN"
PY=python3  # the probe needs only the standard library
export SUBSIDY_PLATFORM_TOKEN="${SUBSIDY_PLATFORM_TOKEN:-bench-token}"

WORK="${BENCH_OUT:-$(mktemp -d)}"
mkdir -p "$WORK"
DB="fresh_bench_$$"
PREFIX="fresh-$$"
PIDS=()
chq() { clickhouse-client --host 127.0.0.1 --port "$CH_TCP" "$@"; }
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    chq --query "DROP DATABASE IF EXISTS $DB" || true
    [ -z "$BROKER_PORT" ] || private_broker stop kafka >/dev/null 2>&1 || true
    [ -n "${BENCH_OUT:-}" ] || rm -rf "$WORK"
}
BROKER_PORT=""
trap cleanup EXIT
BROKER_PORT=$(free_port) BROKER_ENGINE=sqlite
private_broker start kafka >/dev/null
BROKERS="127.0.0.1:$BROKER_PORT"
wait_http() { for _ in $(seq 300); do curl -sf -o /dev/null "$@" && return 0; sleep 0.1; done; echo "no answer from $*" >&2; return 1; }

lines=$(awk -v r="$RATE" -v s="$SECONDS_SAMPLED" -v w="$WARMUP" 'BEGIN {printf "%d", r * (s + w + 5)}')
"$BIN" platform-sim --records "$lines" --entities 20000 --centers 60 --malformed-share 0 \
    --write-files "$WORK/data" --write-only --force 2>/dev/null
store=(--clickhouse-url "$CH_HTTP" --clickhouse-database "$DB")
topics=(--topic-records "$PREFIX.records" --topic-entities "$PREFIX.entities" --topic-centers "$PREFIX.centers")
chq --query "CREATE DATABASE $DB"
"$BIN" migrate "${store[@]}" >/dev/null 2>&1

token_out=$("$BIN" token new --role bureau 2>/dev/null)
TOKEN=$(head -n 1 <<<"$token_out")
tail -n +2 <<<"$token_out" >"$WORK/tokens.toml"
api_port=$(free_port)
"$BIN" serve --listen "127.0.0.1:$api_port" --tokens "$WORK/tokens.toml" --kafka-brokers "$BROKERS" "${store[@]}" 2>"$WORK/serve.log" &
PIDS+=($!)
wait_http "http://127.0.0.1:$api_port/openapi.json"

agg_metrics="127.0.0.1:$(free_port)"
"$BIN" aggregate --kafka-brokers "$BROKERS" "${topics[@]}" "${store[@]}" --group "$PREFIX" --fetch-wait-ms 20 \
    --batch-linger-ms "$LINGER_MS" --metrics-addr "$agg_metrics" 2>"$WORK/aggregate.log" &
PIDS+=($!)

sim_port=$(free_port)
"$BIN" platform-sim --listen "127.0.0.1:$sim_port" --data-dir "$WORK/data" --release-rate "$RATE" 2>"$WORK/sim.log" &
PIDS+=($!)
wait_http -H "Authorization: Bearer $SUBSIDY_PLATFORM_TOKEN" "http://127.0.0.1:$sim_port/v1/compute-centers"
t0_ms=$(sed -nE 's/.*releasing .* records\/s from unix ms ([0-9]+).*/\1/p' "$WORK/sim.log" | head -n 1)
[ -n "$t0_ms" ] || { echo "the simulator did not say when its release began" >&2; cat "$WORK/sim.log" >&2; exit 1; }

"$BIN" collect --platform-url "http://127.0.0.1:$sim_port" --kafka-brokers "$BROKERS" "${topics[@]}" \
    --topic-dead-letter "$PREFIX.dead-letter" --topic-checkpoints "$PREFIX.checkpoints" \
    --poll-interval-ms "$POLL_MS" --metrics-addr 127.0.0.1:0 2>"$WORK/collect.log" &
PIDS+=($!)

echo "freshness at $RATE records/s: $lines lines released from unix ms $t0_ms; collector polls every $POLL_MS ms, aggregator lingers $LINGER_MS ms"
set +e
probe=$("$PY" scripts/bench/freshness_probe.py --records "$WORK/data/records.jsonl" --rate "$RATE" --t0-ms "$t0_ms" \
    --api "http://127.0.0.1:$api_port" --token "$TOKEN" --warmup "$WARMUP" --duration "$SECONDS_SAMPLED" \
    --samples-per-sec "$SAMPLES")
probe_rc=$?
set -e
echo "probe: $probe"
# The aggregator's own view of its share: the histogram's p99 bucket bound.
curl -sf "http://$agg_metrics/metrics" >"$WORK/aggregate.prom" || true
awk '$1=="subsidy_aggregator_batches_written_total" {b=$2} $1=="subsidy_aggregator_store_write_duration_seconds_sum" {s=$2}
     END {if (b) printf "aggregator: %d batches, mean store write %.3f s\n", b, s/b}' "$WORK/aggregate.prom"
"$PY" -c '
import re, sys
text = open(sys.argv[1]).read()
buckets = [(float(m.group(1)), float(m.group(2))) for m in
           re.finditer(r"subsidy_aggregator_record_age_seconds_bucket\{le=\"([^\"]+)\"\} ([0-9.e+]+)", text)]
total = buckets[-1][1] if buckets else 0
p99 = next((le for le, n in buckets if total and n >= 0.99 * total), None)
print(f"aggregator record age (topic to store): {int(total)} records, p99 at most {p99} s")' "$WORK/aggregate.prom" || echo "aggregator metrics not readable"
python3 - "$probe" "$RATE" <<'PYEOF'
import json, sys
r = json.loads(sys.argv[1])
print("freshness," + ",".join(str(x) for x in (sys.argv[2], r.get("p50"), r.get("p99"), r.get("samples"), r.get("missing"))))
PYEOF
exit "$probe_rc"
