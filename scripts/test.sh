#!/usr/bin/env bash
# The project's test command (CI runs exactly this via .ci/run):
#
#     bash scripts/test.sh
#
# Self-contained: installs missing external services (deploy/dev/services.sh
# install; quick when everything is present), starts them, then runs the
# tests. Extra arguments are passed to `cargo test`.
#
# Environment:
#   SUBSIDY_SKIP_INSTALL=1   skip `services.sh install`
#   SUBSIDY_KEEP_SERVICES=0  stop the services when done (default: keep them
#                            running locally; stop them when CI=true)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
SERVICES="$REPO/deploy/dev/services.sh"

T_START=$SECONDS
phase_start=$SECONDS
phase() { # name
    echo "== [$(date -u +%H:%M:%S)] $1"
    phase_start=$SECONDS
}
phase_done() { # name
    echo "== $1: $((SECONDS - phase_start)) s (total $((SECONDS - T_START)) s)"
}

if [[ "${SUBSIDY_KEEP_SERVICES:-}" == 0 || ( -z "${SUBSIDY_KEEP_SERVICES:-}" && "${CI:-}" == true ) ]]; then
    trap 'bash "$SERVICES" stop || true; bash "$SERVICES" stop cluster || true' EXIT
fi

# The services are installed while the workspace builds: neither needs the
# other, and the broker's own build (`cargo install tansu`) and apt's downloads
# fill the moments the workspace build leaves a core idle.
INSTALL_PID=""
INSTALL_LOG="$REPO/target/services-install.log"
mkdir -p "$REPO/target"
if [[ "${SUBSIDY_SKIP_INSTALL:-0}" != 1 ]]; then
    echo "== [$(date -u +%H:%M:%S)] services install (in the background, log: target/services-install.log)"
    bash "$SERVICES" install >"$INSTALL_LOG" 2>&1 &
    INSTALL_PID=$!
fi

# The `ci` profile is `release` without link-time optimisation (Cargo.toml).
phase "cargo test --workspace --profile ci --no-run"
cargo test --workspace --profile ci --no-run "$@"
phase_done "build"

if [[ -n "$INSTALL_PID" ]]; then
    phase "services install (waiting for it)"
    install_status=0
    wait "$INSTALL_PID" || install_status=$?
    cat "$INSTALL_LOG"
    [[ $install_status == 0 ]] || { echo "== services install failed (rc $install_status)" >&2; exit "$install_status"; }
    phase_done "services install"
fi

phase "services start"
# The broker starts empty: its sqlite engine slows down as earlier runs' topics pile up.
bash "$SERVICES" reset-kafka
bash "$SERVICES" start
bash "$SERVICES" start cluster
bash "$SERVICES" status
phase_done "services start"

eval "$(bash "$SERVICES" env)"

# Each test bounds the processes it starts; this bounds the whole run, so a
# hang fails with a message instead of running into CI's own limit.
TEST_LIMIT_SECS=3000

# The fuzz targets (nightly, with sanitizers) build at the lowest CPU and disk
# priority while the tests run: the tests mostly wait on the services, and the
# build takes only what they leave.
FUZZ_BUILD_LOG="$REPO/target/fuzz-build.log"
echo "== [$(date -u +%H:%M:%S)] fuzz targets building in the background at idle priority (log: target/fuzz-build.log)"
ionice -c 3 nice -n 19 bash scripts/fuzz.sh build >"$FUZZ_BUILD_LOG" 2>&1 &
FUZZ_BUILD_PID=$!

phase "cargo test --workspace --profile ci"
status=0
timeout --kill-after=30 "$TEST_LIMIT_SECS" cargo test --workspace --profile ci --no-fail-fast "$@" || status=$?
if [[ $status == 124 || $status == 137 ]]; then
    echo "== cargo test did not finish within $TEST_LIMIT_SECS s and was stopped" >&2
fi
[[ $status == 0 ]] || exit "$status"
phase_done "cargo test"

phase "migrations on a current ClickHouse (chDB)"
"$SUBSIDY_PYTHON" schemas/check_current_clickhouse.py target/ci/subsidy-meter single
"$SUBSIDY_PYTHON" schemas/check_current_clickhouse.py target/ci/subsidy-meter cluster "${SUBSIDY_ZK_PORT:-2181}"
phase_done "current ClickHouse"

phase "deploy/check.sh (alert rules and their tests, Compose, Kubernetes)"
bash deploy/check.sh
phase_done "deploy checks"

phase "benchmarks, short form (freshness at 500 records/s for 10 s; the long form: scripts/bench/all.sh --long)"
# Fails when a sampled record never shows through the API; its figures are printed, not judged.
BENCH_BIN="$REPO/target/ci/subsidy-meter" bash scripts/bench/freshness.sh 500 10
phase_done "benchmarks, short form"

phase "scripts/fuzz.sh 10 (the decoders of outside data, short form)"
fuzz_build_status=0
wait "$FUZZ_BUILD_PID" || fuzz_build_status=$?
if [[ $fuzz_build_status != 0 ]]; then
    tail -n 40 "$FUZZ_BUILD_LOG" >&2
    echo "== building the fuzz targets failed (rc $fuzz_build_status)" >&2
    exit "$fuzz_build_status"
fi
echo "== fuzz targets built ($((SECONDS - phase_start)) s waited for the build)"
bash scripts/fuzz.sh 10
phase_done "fuzzing"

phase "dashboards/check.sh (every PromQL and SQL panel against real data)"
# The binary the test build made: building it alone would unify features
# differently and compile the workspace a second time.
SUBSIDY_METER="$REPO/target/ci/subsidy-meter" bash dashboards/check.sh
phase_done "dashboard checks"

echo "== all done in $((SECONDS - T_START)) s"
