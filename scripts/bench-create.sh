#!/usr/bin/env bash
# Times torrent creation of one file on tmpfs, in one run, against real peers:
#   shoal create (release)  v1 / v2 / hybrid
#   mktorrent -t 2          v1
#   libtorrent 2.0 create_torrent + set_piece_hashes (Debian's /usr/bin/python3) v1 / v2 / hybrid
# and prints each time with the ratio shoal / peer. All use 1 MiB pieces.
# Usage: scripts/bench-create.sh [SIZE_MIB=1024] [RUNS=3]   (the best of RUNS is kept)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib="${1:-1024}"
runs="${2:-3}"

command -v mktorrent >/dev/null || { echo "needs mktorrent: scripts/install-peers.sh"; exit 1; }
/usr/bin/python3 -c "import libtorrent" || { echo "needs python3-libtorrent: scripts/install-peers.sh"; exit 1; }

cargo build --release -p shoal --quiet
dir=$(mktemp -d /dev/shm/shoal-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$dir/data.bin"

/usr/bin/python3 - "$dir" "$runs" "$PWD/target/release/shoal" <<'EOF'
import os, resource, subprocess, sys, time
import libtorrent as lt

d, runs, shoal = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = os.path.join(d, "data.bin")
out = os.path.join(d, "out.torrent")
size = os.path.getsize(data)
PL = 1 << 20

def cpu(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime

def run(cmd):
    """(wall seconds, CPU seconds of the child: user + system, all threads)."""
    if os.path.exists(out):
        os.remove(out)
    c = cpu(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t, cpu(resource.RUSAGE_CHILDREN) - c

def libtorrent(mode):
    flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}[mode]
    c = cpu(resource.RUSAGE_SELF)
    t = time.perf_counter()
    fs = lt.file_storage()
    lt.add_files(fs, data)
    ct = lt.create_torrent(fs, PL, flags=flags)
    lt.set_piece_hashes(ct, d)
    lt.bencode(ct.generate())
    return time.perf_counter() - t, cpu(resource.RUSAGE_SELF) - c

tools = {
    ("shoal", m): (lambda m=m: run([shoal, "create", data, "-o", out, "--" + m, "-l", str(PL),
                                    "--no-date", "-q", "-t", "http://127.0.0.1/announce"]))
    for m in ("v1", "v2", "hybrid")
}
tools[("mktorrent -t 2", "v1")] = lambda: run(["mktorrent", "-t", "2", "-l", "20", "-a",
                                                "http://127.0.0.1/announce", "-o", out, data])
for m in ("v1", "v2", "hybrid"):
    tools[("libtorrent", m)] = lambda m=m: libtorrent(m)

best, best_cpu = {}, {}
for _ in range(runs):  # interleaved, so load from others hits every tool alike
    for key, f in tools.items():
        wall, used = f()
        best[key] = min(best.get(key, 1e9), wall)
        best_cpu[key] = min(best_cpu.get(key, 1e9), used)

print(f"create a {size / 2**30:.2f} GiB file on tmpfs, 1 MiB pieces, best of {runs}, "
      f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
print(f"{'tool':<16}{'mode':<8}{'wall s':>8}{'GB/s':>7}{'CPU s':>8}")
for (tool, mode), t in best.items():
    print(f"{tool:<16}{mode:<8}{t:>8.3f}{size / t / 1e9:>7.2f}{best_cpu[(tool, mode)]:>8.3f}")
print()
print("ratios shoal / peer (wall time; CPU time = user + system of all threads)")
for mode, peer, goal in (("v1", "mktorrent -t 2", 1.0), ("v1", "libtorrent", None),
                         ("v2", "libtorrent", 0.5), ("hybrid", "libtorrent", 0.5)):
    r = best[("shoal", mode)] / best[(peer, mode)]
    rc = best_cpu[("shoal", mode)] / best_cpu[(peer, mode)]
    g = f"  goal wall <= {goal:.1f}: {'met' if r <= goal else 'NOT met'}" if goal else ""
    print(f"shoal {mode:<7} / {peer:<15} wall {r:.2f}x  CPU {rc:.2f}x{g}")
EOF
