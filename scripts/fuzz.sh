#!/usr/bin/env bash
# Fuzzes the decoders that read outside data, each for a bounded time:
#   record_decoder  platform record lines (subsidy_core::parse_record)
#   policy_file     the policy TOML (PolicySet::from_toml)
#   token_file      the API's token file (auth::Tokens::parse)
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 60)
#   bash scripts/fuzz.sh build                     builds the targets, fuzzes nothing
#
# Needs the nightly toolchain; installs cargo-fuzz (pinned) when missing.
# Seeds are fuzz/seeds/TARGET (golden records, the built-in policy, a token
# file); what the fuzzer learns goes to fuzz/corpus/TARGET, crashes to
# fuzz/artifacts/TARGET (both ignored by git). A crash fails the script and
# its input is copied into fuzz/seeds/TARGET, where the ordinary test command
# replays every seed (crates/cli/tests/fuzz_seeds.rs): commit it with the fix.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO/fuzz"
CARGO_FUZZ_VERSION="0.13.1"
if [[ "$(cargo fuzz --version 2>/dev/null)" != *"$CARGO_FUZZ_VERSION"* ]]; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked -q
fi
if [[ "${1:-}" == build ]]; then
    exec cargo +nightly fuzz build -O
fi
SECONDS_PER_TARGET="${1:-60}"
status=0
for target in record_decoder policy_file token_file; do
    mkdir -p "corpus/$target"
    echo "== fuzzing $target for $SECONDS_PER_TARGET s"
    if ! cargo +nightly fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -max_len=65536 2>"corpus/$target.log"; then
        echo "!! $target crashed; the input is copied into fuzz/seeds/$target (commit it with the fix):" >&2
        for crash in "artifacts/$target"/*; do
            [[ -f "$crash" ]] && cp "$crash" "seeds/$target/$(basename "$crash")" && echo "   fuzz/seeds/$target/$(basename "$crash")" >&2
        done
        tail -n 30 "corpus/$target.log" >&2
        status=1
    fi
    grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" "corpus/$target.log" | tail -n 1 || true
done
exit "$status"
