#!/usr/bin/env bash
# Installs the independent BitTorrent programs that the interop tests talk to on loopback,
# and the tools the benchmarks use. Idempotent: skips what is already there.
set -euo pipefail

need=()
command -v aria2c >/dev/null || need+=(aria2)
command -v transmission-cli >/dev/null || need+=(transmission-cli)
command -v qbittorrent-nox >/dev/null || need+=(qbittorrent-nox)
command -v opentracker >/dev/null || need+=(opentracker)
command -v mktorrent >/dev/null || need+=(mktorrent)
[ -x /usr/bin/time ] || need+=(time)
/usr/bin/python3 -c 'import libtorrent' 2>/dev/null || need+=(python3-libtorrent)

if [ ${#need[@]} -gt 0 ]; then
    echo "install-peers: installing ${need[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "install-peers: aria2c $(aria2c --version | head -1 | awk '{print $3}'), libtorrent $(/usr/bin/python3 -c 'import libtorrent; print(libtorrent.__version__)'), transmission-cli, qbittorrent-nox, opentracker, mktorrent present"
