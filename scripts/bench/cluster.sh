#!/usr/bin/env bash
# The aggregator into the replicated cluster beside the single server, in one run:
# one data set on one throwaway broker, then `aggregate` (fresh group, fresh
# database, one member) into the single ClickHouse server and into the
# cluster of deploy/dev/cluster.sh (one shard, two replicas, through the
# Distributed tables of `migrate --cluster subsidy`), alternating, ROUNDS times.
#
#   bash scripts/bench/cluster.sh            (default: 300,000 record lines, 2 rounds)
#
# records/s = messages consumed ÷ (wall time to exit − the idle wait), so
# start-up (migrations, registry load, group join) is included. Prints the
# median of each target and their ratio. Env: BENCH_RECORDS, BENCH_ROUNDS.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
source scripts/bench/common.sh
RECORDS="${BENCH_RECORDS:-300000}"
ROUNDS="${BENCH_ROUNDS:-2}"
IDLE=3
CH_SINGLE="http://127.0.0.1:${SUBSIDY_CH_HTTP_PORT:-8123}"
CH_CLUSTER="http://127.0.0.1:${SUBSIDY_CLUSTER_HTTP_PORT:-8124}"

bash deploy/dev/services.sh start clickhouse cluster >/dev/null
cargo build --release -q -p subsidy-meter
BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/subsidy-meter"
export SUBSIDY_PLATFORM_TOKEN="${SUBSIDY_PLATFORM_TOKEN:-bench-token}"
WORK="$(mktemp -d)"
BROKER_PORT=""
DATABASES=()
cleanup() {
    for db in "${DATABASES[@]}"; do
        case "$db" in
            cluster:*) curl -sf --data-binary "DROP DATABASE IF EXISTS ${db#cluster:} ON CLUSTER subsidy" "$CH_CLUSTER/" >/dev/null || true ;;
            *) curl -sf --data-binary "DROP DATABASE IF EXISTS $db" "$CH_SINGLE/" >/dev/null || true ;;
        esac
    done
    [ -z "$BROKER_PORT" ] || private_broker stop kafka >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $RECORDS record lines, $ROUNDS rounds"
"$BIN" platform-sim --records "$RECORDS" --malformed-share 0 --write-files "$WORK/data" --write-only 2>/dev/null
load_into_private_broker cb

run() { # target round -> records/s
    local target="$1" n="$2" url db t0 t1 out consumed
    db="cluster_bench_${target}_$$_$n"
    if [ "$target" = cluster ]; then
        url="$CH_CLUSTER"
        "$BIN" migrate --cluster subsidy --clickhouse-url "$url" --clickhouse-database "$db" >/dev/null 2>&1
    else
        url="$CH_SINGLE"
    fi
    t0=$(date +%s.%N)
    out=$("$BIN" aggregate --kafka-brokers "$BROKERS" "${topics[@]}" --clickhouse-url "$url" --clickhouse-database "$db" \
        --group "cb-$$-$target-$n" --fetch-wait-ms 20 --exit-when-idle-secs "$IDLE" --metrics-addr 127.0.0.1:0 2>&1 | grep '^aggregate:')
    t1=$(date +%s.%N)
    consumed=$(sed -E 's/^aggregate: ([0-9]+) messages.*/\1/' <<<"$out")
    awk -v c="$consumed" -v a="$t0" -v b="$t1" -v i="$IDLE" 'BEGIN { printf "%.0f\n", c / (b - a - i) }'
}
single=() cluster=()
for n in $(seq "$ROUNDS"); do
    # Registered here: `run` runs in a subshell, which cannot add to the list.
    DATABASES+=("cluster_bench_single_$$_$n" "cluster:cluster_bench_cluster_$$_$n")
    s=$(run single "$n"); c=$(run cluster "$n")
    echo "round $n: single server $s records/s, cluster $c records/s"
    single+=("$s"); cluster+=("$c")
done
python3 - "${single[*]}" "${cluster[*]}" <<'PY'
import statistics, sys
s = [float(x) for x in sys.argv[1].split()]
c = [float(x) for x in sys.argv[2].split()]
ms, mc = statistics.median(s), statistics.median(c)
print(f"median: single server {ms:,.0f} records/s, cluster (1 shard × 2 replicas) {mc:,.0f} records/s, ratio cluster/single {mc / ms:.2f}")
PY
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
