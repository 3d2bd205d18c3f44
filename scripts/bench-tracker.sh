#!/usr/bin/env bash
# UDP tracker throughput: `shoal tracker --udp` against aquatic_udp, both driven by
# aquatic_udp_load_test with the same load settings and the same number of socket
# workers, in one run. Rounds alternate (shoal, aquatic, shoal, aquatic, ...) so that
# load from other programs on the machine falls on both alike.
#
# Prints responses/s of each round, the median of each, their ratio, peak RSS (VmHWM
# from /proc just before the server is stopped), and the server's CPU time per response
# (less sensitive than responses/s to other programs competing for the CPUs).
#
# Settings (environment):
#   WORKERS=1        socket workers of each tracker (shoal --udp-workers, aquatic socket_workers)
#   LOAD_WORKERS=1   load-test workers
#   DURATION=15      seconds per round (the first 3 are not counted)
#   ROUNDS=3         rounds per tracker
#
# aquatic 0.9.0 is installed with `cargo install` if missing. aquatic_udp's default
# `prometheus` feature pulls metrics 0.22, which no longer compiles with current rustc, so
# it is built with `--no-default-features --features mimalloc` (its default allocator kept).
set -euo pipefail

WORKERS=${WORKERS:-1}
LOAD_WORKERS=${LOAD_WORKERS:-1}
DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-3}
SHOAL_PORT=${SHOAL_PORT:-39001}
AQUATIC_PORT=${AQUATIC_PORT:-39002}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if ! command -v aquatic_udp_load_test >/dev/null; then
    cargo install aquatic_udp_load_test --version 0.9.0 --locked
fi
if ! command -v aquatic_udp >/dev/null; then
    cargo install aquatic_udp --version 0.9.0 --locked --no-default-features --features mimalloc
fi
cargo build --release -p shoal --bin shoal >&2
shoal="$root/target/release/shoal"

work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

aquatic_udp -p >"$work/aquatic.toml"
sed -i "s/^address = .*/address = \"127.0.0.1:$AQUATIC_PORT\"/; s/^socket_workers = .*/socket_workers = $WORKERS/" \
    "$work/aquatic.toml"

load_config() { # port -> config file
    local f="$work/load-$1.toml"
    aquatic_udp_load_test -p >"$f"
    sed -i "s/^server_address = .*/server_address = \"127.0.0.1:$1\"/; s/^workers = .*/workers = $LOAD_WORKERS/; \
s/^duration = .*/duration = $DURATION/; s/^summarize_last = .*/summarize_last = $((DURATION - 3))/" "$f"
    echo "$f"
}

wait_udp_listening() { # port
    for _ in $(seq 1 100); do
        if ss -Hlun "sport = :$1" | grep -q .; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on UDP port $1" >&2
    return 1
}

# run_round NAME PORT CMD... ; prints "responses_per_sec peak_rss_kib cpu_us_per_response"
run_round() {
    local name=$1 port=$2
    shift 2
    "$@" >"$work/$name.server.log" 2>&1 &
    server_pid=$!
    wait_udp_listening "$port"
    aquatic_udp_load_test -c "$(load_config "$port")" >"$work/$name.load.log" 2>&1
    local rss cpu_ticks
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
    # user + system CPU time of the whole server process, in clock ticks
    cpu_ticks=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    local rps
    rps=$(awk '/Average responses per second/ {print $5}' "$work/$name.load.log")
    if [ -z "$rps" ]; then
        echo "no result from the load test against $name:" >&2
        cat "$work/$name.load.log" >&2
        exit 1
    fi
    # CPU per response, over the whole round (warm-up included, so slightly high for both)
    local cpu_us
    cpu_us=$(awk -v t="$cpu_ticks" -v hz="$(getconf CLK_TCK)" -v r="$rps" -v d="$DURATION" \
        'BEGIN {printf "%.2f", t / hz * 1e6 / (r * d)}')
    echo "$rps $rss $cpu_us"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "load: aquatic_udp_load_test 0.9.0 defaults, workers=$LOAD_WORKERS, ${DURATION}s per round (last $((DURATION - 3))s counted)"
echo "trackers: $WORKERS socket worker(s) each; $ROUNDS rounds each, alternating"
: >"$work/shoal.results"
: >"$work/aquatic.results"
for round in $(seq 1 "$ROUNDS"); do
    r=$(run_round shoal "$SHOAL_PORT" "$shoal" tracker --udp "127.0.0.1:$SHOAL_PORT" --udp-workers "$WORKERS")
    echo "$r" >>"$work/shoal.results"
    read -r rps rss cpu <<<"$r"
    echo "round $round shoal:   $rps responses/s, peak RSS $rss KiB, $cpu CPU-µs/response"
    r=$(run_round aquatic "$AQUATIC_PORT" aquatic_udp -c "$work/aquatic.toml")
    echo "$r" >>"$work/aquatic.results"
    read -r rps rss cpu <<<"$r"
    echo "round $round aquatic: $rps responses/s, peak RSS $rss KiB, $cpu CPU-µs/response"
done
shoal_rps=$(cut -d' ' -f1 "$work/shoal.results" | median)
aquatic_rps=$(cut -d' ' -f1 "$work/aquatic.results" | median)
shoal_rss=$(cut -d' ' -f2 "$work/shoal.results" | sort -n | tail -1)
aquatic_rss=$(cut -d' ' -f2 "$work/aquatic.results" | sort -n | tail -1)
echo "median responses/s: shoal $shoal_rps, aquatic_udp $aquatic_rps"
echo "ratio shoal/aquatic: $(awk -v a="$shoal_rps" -v b="$aquatic_rps" 'BEGIN {printf "%.2f", a / b}')"
echo "peak RSS: shoal $shoal_rss KiB, aquatic_udp $aquatic_rss KiB"
shoal_cpu=$(cut -d' ' -f3 "$work/shoal.results" | median)
aquatic_cpu=$(cut -d' ' -f3 "$work/aquatic.results" | median)
echo "median CPU per response: shoal $shoal_cpu µs, aquatic_udp $aquatic_cpu µs"
