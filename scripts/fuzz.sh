#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time each: scripts/fuzz.sh [SECONDS_PER_TARGET]
# Needs a nightly toolchain and cargo-fuzz; says so clearly when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"

if ! rustup toolchain list 2>/dev/null | grep -q nightly; then
    echo "fuzz: SKIPPED — no nightly toolchain (rustup toolchain install nightly)"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
fi

targets=$(cargo +nightly fuzz list)
cargo +nightly fuzz build 2>&1 | tail -3
for t in $targets; do
    mkdir -p "fuzz/corpus/$t"
    echo "fuzz: $t for ${secs}s"
    # Seeds live in fuzz/seeds/<target>; new finds go to fuzz/corpus/<target> (ignored by git).
    seeds=()
    [ -d "fuzz/seeds/$t" ] && seeds+=("fuzz/seeds/$t")
    log="target/fuzz-$t.log"
    mkdir -p target
    if ! cargo +nightly fuzz run "$t" "fuzz/corpus/$t" "${seeds[@]}" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log"
        echo "fuzz: $t FAILED (crash input in fuzz/artifacts/$t)"
        exit 1
    fi
    grep -E 'stat::number_of_executed_units' "$log" || tail -3 "$log"
done
echo "fuzz: all targets ran ${secs}s without a failure"
