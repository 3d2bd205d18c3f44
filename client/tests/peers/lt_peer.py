#!/usr/bin/python3
"""A libtorrent 2.0 peer for shoal's interop tests and benchmark (Debian's python3-libtorrent).

Seed:  lt_peer.py seed  --torrent T --save DIR [--port P]
Leech: lt_peer.py leech (--torrent T | --magnet URI) --save DIR [--peer HOST:PORT] [--port P]
(both: [--upload-limit BYTES_PER_S] [--setting NAME=INT]...)

Prints "PORT <n>" once listening, "DONE <seconds>" when a leech completes (then exits 0),
progress on stderr. Loopback only; DHT, LSD, UPnP, NAT-PMP, uTP and encryption are off.
"""
import argparse
import sys
import time

import libtorrent as lt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["seed", "leech"])
    ap.add_argument("--torrent")
    ap.add_argument("--magnet")
    ap.add_argument("--save", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--peer", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--upload-limit", type=int, default=0, help="bytes/s, 0 = none")
    ap.add_argument("--setting", action="append", default=[],
                    help="NAME=INT: an integer libtorrent setting applied after the defaults")
    a = ap.parse_args()

    ses = lt.session({
        "listen_interfaces": "127.0.0.1:%d" % a.port,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "in_enc_policy": 2,
        "out_enc_policy": 2,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": 0,
    })
    extra = {}
    for kv in a.setting:
        name, _, value = kv.partition("=")
        extra[name] = int(value)
    if extra:
        ses.apply_settings(extra)
    atp = lt.add_torrent_params()
    if a.magnet:
        atp = lt.parse_magnet_uri(a.magnet)
    else:
        atp.ti = lt.torrent_info(a.torrent)
    atp.save_path = a.save
    if a.mode == "seed":
        atp.flags |= lt.torrent_flags.seed_mode
    atp.flags &= ~lt.torrent_flags.auto_managed
    atp.flags &= ~lt.torrent_flags.paused
    h = ses.add_torrent(atp)
    if a.upload_limit:
        # Per torrent: the session-wide limit leaves loopback peers unlimited (their
        # "local" peer class).
        h.set_upload_limit(a.upload_limit)
    # Wait until the listen socket is up to report the port.
    for _ in range(100):
        if ses.listen_port() != 0:
            break
        time.sleep(0.05)
    print("PORT %d" % ses.listen_port(), flush=True)
    for p in a.peer:
        host, port = p.rsplit(":", 1)
        h.connect_peer((host.strip("[]"), int(port)))
    start = time.time()
    last = 0
    # Seeds run until killed; leeches give up after --timeout seconds.
    while a.mode == "seed" or time.time() - start < a.timeout:
        s = h.status()
        if a.mode == "leech" and s.is_seeding:
            print("DONE %.3f" % (time.time() - start), flush=True)
            return 0
        if not a.quiet and time.time() - last > 1:
            last = time.time()
            print("%s %.1f%% peers=%d down=%d up=%d" % (s.state, s.progress * 100,
                  s.num_peers, s.download_rate, s.upload_rate), file=sys.stderr, flush=True)
        if a.mode == "leech" and s.num_peers == 0:
            for p in a.peer:
                host, port = p.rsplit(":", 1)
                h.connect_peer((host.strip("[]"), int(port)))
        time.sleep(0.05)
    print("TIMEOUT", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
