#!/usr/bin/env bash
# Checks the Grafana dashboards in this directory against real data.
#
# For every PromQL target of every panel (the `expr` fields):
#   1. the metric names it uses are declared in crates/pipeline/src/metrics.rs;
#   2. it is valid PromQL: `promtool query instant` fails on a syntax error;
#   3. it returns at least one series (with a value other than NaN) while the
#      demo runs, unless it is listed in ALLOWED_EMPTY below with a reason.
# For every SQL target (the `rawSql` fields, Grafana's ClickHouse data
# source): it runs on the real ClickHouse against the demo's ledger and
# returns at least one row.
#
# What it does: starts ClickHouse and Prometheus (deploy/dev/services.sh),
# builds and starts `subsidy-meter demo` in the background with its ledger in
# a fresh ClickHouse database and /metrics on a port that Prometheus scrapes
# (the first free one of 9464-9466), waits until the demo has settled and
# closes its first month (so statements exist), waits until Prometheus
# scrapes it, checks every query, then kills the demo and drops the
# database. A Prometheus started by this script is stopped again; one that
# was already running is left alone.
#
# Grafana variables are replaced before a query is sent: $instance by the
# demo's instance (so only this run's series count), $job by subsidy-meter,
# other multi-value variables by their "All" value, and $__rate_interval,
# $__interval and $__range by CHECK_WINDOW.
#
# Usage: dashboards/check.sh [DASHBOARD.json...]   (default: dashboards/*.json)
# Environment (all optional):
#   CHECK_WINDOW        range for $__rate_interval/$__range (default 1m)
#   CHECK_TIMEOUT       seconds to wait for every expression to have data (default 120)
#   CHECK_RECORDS       --records of the demo (default 20000)
#   CHECK_METRICS_PORT  /metrics port of the demo (default: first free of 9464 9465 9466)
#   SUBSIDY_PROM_PORT   Prometheus port (default 9090), as for deploy/dev/services.sh
#   SUBSIDY_METER       a subsidy-meter binary already built (scripts/test.sh passes
#                       the one its test build made); default: build it here
#
# Output: one line per query: ok / no data / no data (allowed) / error.
# Exit status: 0 if every expression is ok or allowed to be empty, 1 if any
# has an error or lacks data it should have, 2 if the setup failed.
set -euo pipefail

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$DIR/.." && pwd)"
PROM_PORT="${SUBSIDY_PROM_PORT:-9090}"
PROM_URL="http://127.0.0.1:$PROM_PORT"
WINDOW="${CHECK_WINDOW:-1m}"
TIMEOUT="${CHECK_TIMEOUT:-120}"
RECORDS="${CHECK_RECORDS:-20000}"

log() { echo "check: $*" >&2; }
die() { log "$*"; exit 2; }

for tool in python3 promtool curl cargo clickhouse-client; do
    command -v "$tool" >/dev/null || die "$tool not found (promtool comes with Debian's prometheus package: deploy/dev/services.sh install)"
done

if [[ $# -gt 0 ]]; then
    DASHBOARDS=("$@")
else
    DASHBOARDS=("$DIR"/*.json)
fi

# ---------------------------------------------------------------- expressions
# The Python below lists the expressions (mode `list`) and checks them (mode
# `check`). Expressions that may legitimately return nothing in a clean demo
# are listed in ALLOWED_EMPTY, keyed by "dashboard file: panel title", with
# the reason.
PY_CHECK="$(cat <<'PY'
import json, math, os, re, subprocess, sys, time

ALLOWED_EMPTY = {
    "pipeline-operators.json: Retries by cause /s":
        "the demo's platform simulator injects no faults, so no request is retried and the retries counter has no series",
    "pipeline-operators.json: Store errors by kind /s":
        "the demo's SQLite ledger does not fail, so the store-errors counter has no series",
    "pipeline-operators.json: Store write latency p50 / p95":
        "the demo writes its batches while it settles, in its first seconds; afterwards no new records arrive, "
        "so the histogram has no observations in the window and the quantile is NaN",
    "pipeline-operators.json: Unreadable lines by reason /s":
        "the collector dead-letters every line the parser refuses, so the aggregator only meets an unreadable line "
        "that another producer put on the records topic; the demo has none, so the counter has no series",
}

def targets(paths):
    out = []
    for path in paths:
        name = os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            dash = json.load(f)
        variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
        ids, titles = set(), set()
        def walk(panels):
            for p in panels:
                if p.get("id") in ids:
                    raise SystemExit(f"{name}: duplicate panel id {p.get('id')}")
                ids.add(p.get("id"))
                if p.get("targets"):  # titles name panels in ALLOWED_EMPTY and in the output
                    if p.get("title") in titles:
                        raise SystemExit(f"{name}: duplicate panel title {p.get('title')!r}")
                    titles.add(p.get("title"))
                for t in p.get("targets", []):
                    if "expr" in t:
                        lang, text = "promql", t["expr"]
                    elif "rawSql" in t:
                        lang, text = "sql", t["rawSql"]
                    else:
                        continue
                    if not t.get("refId"):
                        raise SystemExit(f"{name}: panel {p.get('title')!r} has a target without refId")
                    out.append({"file": name, "panel": p.get("title", ""), "ref": t["refId"],
                                "expr": text, "lang": lang, "vars": variables})
                walk(p.get("panels", []))
        walk(dash.get("panels", []))
    return out

def substitute(expr, variables, instance, window):
    fixed = {"__rate_interval": window, "__interval": window, "__range": window,
             "instance": instance, "job": "subsidy-meter"}
    def value(name):
        if name in fixed:
            return fixed[name]
        v = variables.get(name)
        if v is None:
            return None
        if v.get("includeAll"):
            return v.get("allValue") or ".*"
        cur = v.get("current", {}).get("value")
        return cur[0] if isinstance(cur, list) and cur else cur
    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        val = value(name)
        return m.group(0) if val is None else str(val)
    # ${name}, ${name:format}, [[name]] and $name; longest names first via the regex.
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)", repl, expr)

def declared_metrics(repo):
    with open(os.path.join(repo, "crates/pipeline/src/metrics.rs"), encoding="utf-8") as f:
        return set(re.findall(r'"(subsidy_[a-z0-9_]+)"', f.read()))

def unknown_metrics(expr, declared):
    bad = []
    for name in re.findall(r"\bsubsidy_[a-z0-9_]+", expr):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in declared and base not in declared:
            bad.append(name)
    return bad

def query(prom, expr):
    p = subprocess.run(["promtool", "query", "instant", "-o", "json", prom, expr],
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        return "error", (p.stderr.strip() or p.stdout.strip() or f"promtool exited {p.returncode}"), 0
    try:
        data = json.loads(p.stdout or "[]")
    except json.JSONDecodeError:
        return "error", f"unreadable promtool output: {p.stdout[:200]}", 0
    if isinstance(data, dict):  # a scalar or string result
        data = [data]
    values = []
    for s in data:
        v = s.get("value") if isinstance(s, dict) else None
        if isinstance(v, list) and len(v) == 2:
            values.append(float(v[1]))
    if not values:
        return "no data", "no series", 0
    if all(math.isnan(v) for v in values):
        return "no data", f"{len(values)} series, all NaN", len(values)
    return "ok", f"{len(values)} series", len(values)

def query_sql(database, sql):
    p = subprocess.run(["clickhouse-client", "--port", os.environ.get("SUBSIDY_CH_TCP_PORT", "9000"),
                        "--database", database, "--format", "JSONCompact", "--query", sql],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        return "error", (p.stderr.strip().splitlines() or [f"clickhouse-client exited {p.returncode}"])[0][:300], 0
    rows = json.loads(p.stdout or "{}").get("data", [])
    return ("ok", f"{len(rows)} rows", len(rows)) if rows else ("no data", "no rows", 0)

def main():
    mode, repo = sys.argv[1], sys.argv[2]
    if mode == "list":
        for t in targets(sys.argv[3:]):
            print(f"{t['file']}: {t['panel']} [{t['ref']}]")
        return 0
    prom, instance, window, timeout, demo_pid, database = sys.argv[3:9]
    paths = sys.argv[9:]
    ts = targets(paths)
    declared = declared_metrics(repo)
    known_keys = {f"{t['file']}: {t['panel']}" for t in ts}
    checked_files = {os.path.basename(p) for p in paths}
    for k in ALLOWED_EMPTY:
        if k.split(": ", 1)[0] in checked_files and k not in known_keys:
            print(f"check: ALLOWED_EMPTY names a panel that does not exist: {k}", file=sys.stderr)
            return 1
    for t in ts:
        t["key"] = f"{t['file']}: {t['panel']}"
        t["allowed"] = ALLOWED_EMPTY.get(t["key"])
        t["query"] = substitute(t["expr"], t["vars"], instance, window) if t["lang"] == "promql" else t["expr"]
        t["status"], t["detail"] = None, ""
        bad = unknown_metrics(t["expr"], declared) if t["lang"] == "promql" else []
        if bad:
            t["status"], t["detail"] = "error", "not declared in crates/pipeline/src/metrics.rs: " + ", ".join(bad)
        elif re.search(r"\$\w|\$\{|\[\[", t["query"]):
            t["status"], t["detail"] = "error", "unresolved variable in " + t["query"]
    deadline = time.time() + float(timeout)
    rounds = 0
    while True:
        rounds += 1
        for t in ts:
            if t["status"] in ("ok", "error"):
                continue
            if t["lang"] == "sql":
                t["status"], t["detail"], _ = query_sql(database, t["query"])
            else:
                t["status"], t["detail"], _ = query(prom, t["query"])
        waiting = [t for t in ts if t["status"] == "no data" and not t["allowed"]]
        if not waiting or time.time() >= deadline:
            break
        try:
            os.kill(int(demo_pid), 0)
        except OSError:
            print("check: the demo exited while expressions were still waiting for data", file=sys.stderr)
            break
        time.sleep(5)
    counts = {"ok": 0, "allowed": 0, "no data": 0, "error": 0}
    width = max(len(f"{t['key']} [{t['ref']}]") for t in ts)
    for t in ts:
        label = f"{t['key']} [{t['ref']}]".ljust(width)
        if t["status"] == "ok":
            counts["ok"] += 1
            print(f"ok                 {label}  {t['detail']}")
        elif t["status"] == "no data" and t["allowed"]:
            counts["allowed"] += 1
            print(f"no data (allowed)  {label}  {t['detail']}: {t['allowed']}")
        elif t["status"] == "no data":
            counts["no data"] += 1
            print(f"NO DATA            {label}  {t['detail']}\n    expr: {t['query']}")
        else:
            counts["error"] += 1
            print(f"ERROR              {label}  {t['detail']}\n    expr: {t['query']}")
    print(f"\n{len(ts)} expressions in {len(paths)} dashboards: {counts['ok']} ok, "
          f"{counts['allowed']} empty but allowed, {counts['no data']} without data, {counts['error']} errors "
          f"(window {window}, {rounds} rounds)")
    return 1 if counts["no data"] or counts["error"] else 0

sys.exit(main())
PY
)"

N_EXPR="$(python3 -c "$PY_CHECK" list "$REPO" "${DASHBOARDS[@]}" | wc -l)" ||
    die "cannot read the dashboards"
[[ "$N_EXPR" -gt 0 ]] || die "no expressions found in ${DASHBOARDS[*]}"
log "$N_EXPR expressions in ${#DASHBOARDS[@]} dashboards"

# ---------------------------------------------------------------- prometheus
prom_ready() { curl -sf --max-time 2 "$PROM_URL/-/ready" >/dev/null 2>&1; }
STARTED_PROM=0
if ! prom_ready; then
    STARTED_PROM=1
fi
bash "$REPO/deploy/dev/services.sh" start prometheus clickhouse || die "cannot start Prometheus and ClickHouse"
prom_ready || die "Prometheus does not answer on $PROM_URL"

# ---------------------------------------------------------------- demo
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT="${CHECK_METRICS_PORT:-}"
if [[ -z "$PORT" ]]; then
    for p in 9464 9465 9466; do # the targets in deploy/prometheus/prometheus.yml
        if ! port_busy "$p"; then PORT="$p"; break; fi
    done
    [[ -n "$PORT" ]] || die "ports 9464-9466 are all in use; stop what listens there or set CHECK_METRICS_PORT"
elif port_busy "$PORT"; then
    die "127.0.0.1:$PORT is in use"
fi
INSTANCE="127.0.0.1:$PORT"

if [[ -n "${SUBSIDY_METER:-}" ]]; then
    METER="$SUBSIDY_METER"
    [[ -x "$METER" ]] || die "SUBSIDY_METER=$METER is not an executable"
else
    log "building subsidy-meter (release)"
    (cd "$REPO" && cargo build --release -q -p subsidy-meter) || die "cargo build failed"
    METER="$REPO/target/release/subsidy-meter"
fi

TMP="$(mktemp -d)"
DEMO_PID=""
CH_HTTP="http://127.0.0.1:${SUBSIDY_CH_HTTP_PORT:-8123}"
CH_DB="dashboards_check_$$"
chq() { clickhouse-client --port "${SUBSIDY_CH_TCP_PORT:-9000}" "$@"; }
cleanup() {
    local rc=$? i
    if [[ -n "$DEMO_PID" ]] && kill -0 "$DEMO_PID" 2>/dev/null; then
        kill -TERM "$DEMO_PID" 2>/dev/null || true
        for ((i = 0; i < 150; i++)); do
            kill -0 "$DEMO_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$DEMO_PID" 2>/dev/null || true
        wait "$DEMO_PID" 2>/dev/null || true
        log "demo stopped"
    fi
    chq --query "DROP DATABASE IF EXISTS $CH_DB" >/dev/null 2>&1 || true
    if [[ $STARTED_PROM -eq 1 ]]; then
        bash "$REPO/deploy/dev/services.sh" stop prometheus >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "starting the demo ($RECORDS records, ledger in ClickHouse database $CH_DB, /metrics on $INSTANCE)"
(cd "$TMP" && exec "$METER" demo --records "$RECORDS" \
    --metrics-addr "$INSTANCE" --clickhouse-url "$CH_HTTP" --clickhouse-database "$CH_DB" >"$TMP/demo.out" 2>"$TMP/demo.log") &
DEMO_PID=$!

demo_alive() {
    kill -0 "$DEMO_PID" 2>/dev/null && return 0
    log "the demo exited; its log ends with:"
    tail -n 20 "$TMP/demo.log" >&2
    exit 2
}

# The demo prints its summary once everything is settled; then close its
# first month, so the statements panels have a close to show.
t0=$SECONDS
until [[ -s "$TMP/demo.out" ]]; do
    demo_alive
    ((SECONDS - t0 < 300)) || die "the demo did not settle within 300 s"
    sleep 1
done
FIRST_MONTH="$(chq --query "SELECT concat(substring(toString(min(period)), 1, 4), '-', substring(toString(min(period)), 5, 2)) FROM $CH_DB.ledger_lines FINAL")"
"$METER" close --period "$FIRST_MONTH" --clickhouse-url "$CH_HTTP" --clickhouse-database "$CH_DB" >&2 ||
    die "cannot close $FIRST_MONTH"
log "the demo settled in $((SECONDS - t0)) s; closed $FIRST_MONTH"

# Wait until Prometheus has scraped the demo successfully.
t0=$SECONDS
until promtool query instant -o json "$PROM_URL" "up{job=\"subsidy-meter\", instance=\"$INSTANCE\"} == 1" 2>/dev/null |
    python3 -c 'import json, sys; sys.exit(0 if json.load(sys.stdin) else 1)' 2>/dev/null; do
    demo_alive
    ((SECONDS - t0 < 60)) || die "Prometheus has not scraped $INSTANCE within 60 s"
    sleep 1
done
log "Prometheus scrapes $INSTANCE (after $((SECONDS - t0)) s); checking, up to ${TIMEOUT} s for data"

set +e
python3 -c "$PY_CHECK" check "$REPO" "$PROM_URL" "$INSTANCE" "$WINDOW" "$TIMEOUT" "$DEMO_PID" "$CH_DB" "${DASHBOARDS[@]}"
RC=$?
set -e
exit "$RC"
