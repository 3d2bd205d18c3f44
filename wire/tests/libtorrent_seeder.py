"""A libtorrent 2.0 seeder for wire/tests/libtorrent.rs.

Usage: /usr/bin/python3 libtorrent_seeder.py DIR SIZE PIECE_LENGTH

Writes a SIZE-byte file into DIR, makes a v1 torrent of it with lt.create_torrent,
seeds it (seed_mode) on 127.0.0.1 with DHT, LSD, UPnP, NAT-PMP, uTP and encryption off,
then prints one line per fact, "key value", ending with "ready":
    port, info_hash (hex), num_pieces, piece_length, total_size, metadata_size,
    piece I HEX (SHA-1 of every piece, from the torrent)
and runs until its stdin closes.
"""

import os
import sys
import time

import libtorrent as lt


def main():
    folder, size, piece_length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    path = os.path.join(folder, "payload.bin")
    # Deterministic, non-repeating content: a wrong block offset changes the hash.
    with open(path, "wb") as f:
        f.write(bytes((i * 7 + i // 251) % 256 for i in range(size)))

    fs = lt.file_storage()
    lt.add_files(fs, path)
    ct = lt.create_torrent(fs, piece_length, flags=lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, folder)
    info = lt.torrent_info(ct.generate())

    ses = lt.session(
        {
            "listen_interfaces": "127.0.0.1:0",
            "enable_dht": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "in_enc_policy": 2,
            "out_enc_policy": 2,
            "enable_incoming_utp": False,
            "enable_outgoing_utp": False,
            "allow_multiple_connections_per_ip": True,
        }
    )
    params = lt.add_torrent_params()
    params.ti = info
    params.save_path = folder
    params.flags |= lt.torrent_flags.seed_mode
    # Added torrents start paused and auto-managed; until the auto manager resumes
    # one, libtorrent refuses incoming connections ("no active torrents").
    params.flags &= ~lt.torrent_flags.paused
    params.flags &= ~lt.torrent_flags.auto_managed
    handle = ses.add_torrent(params)

    deadline = time.monotonic() + 30
    while (
        handle.status().state != lt.torrent_status.seeding
        or handle.flags() & lt.torrent_flags.paused
        or ses.listen_port() == 0
    ):
        if time.monotonic() > deadline:
            sys.exit("seeder: not seeding after 30 s")
        time.sleep(0.05)

    out = sys.stdout
    out.write("port %d\n" % ses.listen_port())
    out.write("info_hash %s\n" % str(info.info_hashes().v1))
    out.write("num_pieces %d\n" % info.num_pieces())
    out.write("piece_length %d\n" % info.piece_length())
    out.write("total_size %d\n" % info.total_size())
    out.write("metadata_size %d\n" % len(info.info_section()))
    for i in range(info.num_pieces()):
        out.write("piece %d %s\n" % (i, info.hash_for_piece(i).hex()))
    out.write("ready\n")
    out.flush()

    sys.stdin.read()  # until the test closes our stdin (or kills us)


if __name__ == "__main__":
    main()
