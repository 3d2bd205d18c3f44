#!/usr/bin/env bash
# Leech SIZE MiB (1 MiB pieces) over loopback from one libtorrent seeder, on a tmpfs:
# shoal vs libtorrent vs aria2 in the same run — wall time, CPU time (user+sys) and peak
# RSS from /usr/bin/time -v. Then shoal seeding to a libtorrent leecher vs libtorrent
# seeding to it.
#
#   scripts/bench-client.sh [SIZE_MIB=256] [RUNS=1] [all|leech|seed]
#
# SKIP_ARIA2=1 leaves aria2 out (some of its runs stall near 4 MB/s for minutes).
# SEED_SETTINGS="name=int,..." applies libtorrent settings to the libtorrent seeder, e.g.
# SEED_SETTINGS=send_buffer_low_watermark=512000 takes away its slow first second per
# connection (see random_pause below), leaving only the leechers' own differences.
#
# Needs: /usr/bin/python3 with libtorrent (python3-libtorrent), aria2c, /usr/bin/time.
set -euo pipefail
SIZE=${1:-256}
RUNS=${2:-1}
WHAT=${3:-all}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHOAL=$ROOT/target/release/shoal
LT="/usr/bin/python3 $ROOT/client/tests/peers/lt_peer.py"
NULL=$ROOT/target/release/examples/null_leech
(cd "$ROOT" && cargo build --release -q -p shoal --bin shoal --example null_leech)

BASE=/dev/shm
[ -d "$BASE" ] || BASE=${TMPDIR:-/tmp}
WORK=$(mktemp -d "$BASE/shoal-bench.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Start a background command writing stdout to FILE; wait for "PORT n" in it; echo n.
wait_port() {
    local file=$1
    for _ in $(seq 1 200); do
        if grep -q '^PORT ' "$file" 2>/dev/null; then grep '^PORT ' "$file" | head -1 | cut -d' ' -f2; return; fi
        sleep 0.05
    done
    echo "no PORT line in $file" >&2; exit 1
}

mkdir -p "$WORK/seed"
head -c $((SIZE * 1024 * 1024)) /dev/urandom > "$WORK/seed/payload.bin"
TPORT=$(free_port)
"$SHOAL" tracker --http "127.0.0.1:$TPORT" --interval 5 > "$WORK/tracker.log" 2>&1 &
TRACKERPID=$!
PIDS+=($TRACKERPID)
"$SHOAL" create "$WORK/seed/payload.bin" -l 1M -t "http://127.0.0.1:$TPORT/announce" -o "$WORK/t.torrent" > /dev/null

SEED_ARGS=()
IFS=',' read -r -a SEED_KV <<< "${SEED_SETTINGS:-}"
for kv in "${SEED_KV[@]}"; do SEED_ARGS+=(--setting "$kv"); done
$LT seed --quiet --torrent "$WORK/t.torrent" --save "$WORK/seed" "${SEED_ARGS[@]}" > "$WORK/ltseed.out" 2>/dev/null &
SEEDPID=$!
PIDS+=($SEEDPID)
SEEDPORT=$(wait_port "$WORK/ltseed.out")
sleep 1 # let the seeder announce so aria2 finds it through the tracker

# CPU seconds (user+sys) a process has used so far, from /proc/PID/stat.
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$1/stat"; }

# A libtorrent seeder reads one 16 KiB block at a time for each new connection until its
# next rate tick: its send buffer target is half of what the peer got in the last tick
# (send_buffer_watermark_factor), floored at send_buffer_low_watermark (10 KiB). So every
# leecher's first 0-1 s runs at ~100-180 MB/s here, whoever it is. Back-to-back runs of
# similar length meet that tick at similar phases, which made one leecher lucky and another
# unlucky run after run; a random pause (not timed) before each run spreads the phase evenly.
random_pause() { sleep "0.$(printf '%03d' $((RANDOM % 1000)))"; }

measure() { # name, command...
    local name=$1; shift
    rm -rf "$WORK/out"; mkdir -p "$WORK/out"
    random_pause
    local seed_before
    seed_before=$(proc_cpu "$SEEDPID")
    /usr/bin/time -v timeout 300 "$@" > "$WORK/$name.stdout" 2> "$WORK/$name.time" || { echo "$name failed:"; tail -5 "$WORK/$name.time"; return; }
    local wall cpu rss
    wall=$(grep 'Elapsed (wall clock)' "$WORK/$name.time" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u+s}' "$WORK/$name.time")
    rss=$(awk -F': ' '/Maximum resident/ {print int($2/1024)}' "$WORK/$name.time")
    if [ ! -e "$WORK/out/payload.bin" ] && grep -q "^bytes $((SIZE * 1024 * 1024)) " "$WORK/$name.stdout"; then
        ok="ok (data discarded)"
    else
        cmp -s "$WORK/seed/payload.bin" "$WORK/out/payload.bin" && ok=ok || ok=CORRUPT
    fi
    # The libtorrent seeder shares the two cores: its CPU time bounds every leecher's.
    local seed_cpu
    seed_cpu=$(echo "$(proc_cpu "$SEEDPID") - $seed_before" | bc -l)
    printf '%-21s wall %6.2f s  %6.0f MB/s  cpu %6.2f s  peak RSS %5d MiB  seeder cpu %5.2f s  %s\n' \
        "$name" "$wall" "$(echo "$SIZE*1.048576/$wall" | bc -l)" "$cpu" "$rss" "$seed_cpu" "$ok"
    [ "$ok" = CORRUPT ] || echo "$name	$wall	$seed_cpu" >> "$WORK/results.tsv"
}

# Median wall time and seeder CPU of each leecher, and each one's wall time as a ratio of
# libtorrent's median. The floor's ratio is the best any leecher could reach in this run.
summary() {
    echo "medians over $RUNS runs, middle half of the runs in brackets (ratio = wall / libtorrent's median wall):"
    awk -F'\t' '
        { n[$1]++; w[$1, n[$1]] = $2; c[$1, n[$1]] = $3; if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 } }
        # The q-quantile (0.5 = median) of one leecher column, interpolated between runs.
        function q(arr, name, cnt, p,   i, j, t, v, x) {
            for (i = 1; i <= cnt; i++) v[i] = arr[name, i]
            for (i = 2; i <= cnt; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
            x = 1 + p * (cnt - 1); i = int(x)
            return i >= cnt ? v[cnt] : v[i] + (x - i) * (v[i + 1] - v[i])
        }
        function med(arr, name, cnt) { return q(arr, name, cnt, 0.5) }
        END {
            lt = ("libtorrent" in n) ? med(w, "libtorrent", n["libtorrent"]) : 0
            for (i = 1; i <= k; i++) {
                name = order[i]
                if (name == "warm-up") continue
                m = med(w, name, n[name])
                printf "  %-21s wall %6.2f s (middle half %.2f-%.2f)  seeder cpu %5.2f s", name, m,
                    q(w, name, n[name], 0.25), q(w, name, n[name], 0.75), med(c, name, n[name])
                if (lt > 0) printf "  %5.2fx libtorrent", m / lt
                printf "\n"
            }
        }' "$WORK/results.tsv"
}

if [ "$WHAT" != seed ]; then
echo "leeching $SIZE MiB from a libtorrent seeder (127.0.0.1:$SEEDPORT${SEED_SETTINGS:+, $SEED_SETTINGS}), tmpfs $WORK"
# The seeder's first transfer pays for faulting its mapped file in (about 1 s of seeder
# CPU per GiB): a warm-up leech, not reported, so whoever runs first is not penalised.
measure warm-up $LT leech --quiet --torrent "$WORK/t.torrent" --save "$WORK/out" --peer "127.0.0.1:$SEEDPORT" > /dev/null
leech_one() { # which
    case $1 in
    # The floor: a leecher that requests every block and discards it (no hashing, no
    # writing). What it takes is the seeder's share of every leecher's time.
    floor) measure "floor (null leecher)" "$NULL" "$WORK/t.torrent" "127.0.0.1:$SEEDPORT" ;;
    shoal) measure shoal "$SHOAL" download "$WORK/t.torrent" -o "$WORK/out" --peer "127.0.0.1:$SEEDPORT" --listen 127.0.0.1:0 --quiet ;;
    libtorrent) measure libtorrent $LT leech --quiet --torrent "$WORK/t.torrent" --save "$WORK/out" --peer "127.0.0.1:$SEEDPORT" ;;
    aria2) measure aria2 aria2c --no-conf --quiet --interface=127.0.0.1 --enable-dht=false --bt-enable-lpd=false \
        --enable-peer-exchange=false --bt-require-crypto=false --seed-time=0 --file-allocation=none \
        --listen-port="$(free_port)" -d "$WORK/out" "$WORK/t.torrent" ;;
    esac
}
LEECHERS=(floor shoal libtorrent)
[ -n "${SKIP_ARIA2:-}" ] || LEECHERS+=(aria2)
for run in $(seq 1 "$RUNS"); do
    # Each run starts with the next leecher in turn, so none always follows the same one.
    n=${#LEECHERS[@]}
    for i in $(seq 0 $((n - 1))); do
        leech_one "${LEECHERS[$(((run - 1 + i) % n))]}"
    done
done
summary
fi
[ "$WHAT" = leech ] && exit 0

echo "seeding $SIZE MiB to a libtorrent leecher"
# Stop the tracker first: otherwise the leecher finds both seeders through it and the
# libtorrent seeder serves part of every "shoal->libtorrent" run (and shoal part of every
# "libtorrent->libtorrent" one). The seeder CPU column shows that it stays idle.
kill "$TRACKERPID" 2>/dev/null || true
wait "$TRACKERPID" 2>/dev/null || true
# shoal seeds from the payload folder; libtorrent leeches from it.
"$SHOAL" seed "$WORK/t.torrent" --data "$WORK/seed" --listen 127.0.0.1:0 --quiet --json > "$WORK/shoalseed.out" 2>&1 &
SHOALSEED=$!
PIDS+=($SHOALSEED)
SHOALPORT=""
for _ in $(seq 1 200); do
    SHOALPORT=$(ss -ltnp 2>/dev/null | grep "pid=$SHOALSEED," | awk '{print $4}' | sed 's/.*://' | head -1)
    [ -n "$SHOALPORT" ] && break
    sleep 0.05
done
sleep 1
for run in $(seq 1 "$RUNS"); do
    measure "shoal->libtorrent" $LT leech --quiet --torrent "$WORK/t.torrent" --save "$WORK/out" --peer "127.0.0.1:$SHOALPORT"
    measure "libtorrent->libtorrent" $LT leech --quiet --torrent "$WORK/t.torrent" --save "$WORK/out" --peer "127.0.0.1:$SEEDPORT"
done
