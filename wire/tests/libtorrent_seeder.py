"""A libtorrent 2.0 seeder for wire/tests/libtorrent.rs.

Usage: /usr/bin/python3 libtorrent_seeder.py DIR SIZE PIECE_LENGTH [v1|hybrid]

Writes a SIZE-byte file into DIR, makes a v1 (default) or hybrid v1+v2 torrent of it
with lt.create_torrent,
seeds it (seed_mode) on 127.0.0.1 with DHT, LSD, UPnP, NAT-PMP, uTP and encryption off,
then prints one line per fact, "key value", ending with "ready":
    port, info_hash (hex), num_pieces, piece_length, total_size, metadata_size,
    piece I HEX (SHA-1 of every piece, from the torrent)
for a hybrid torrent also: info_hash_v2 (hex), pieces_root (hex, from the torrent),
    layer I HEX (the file's BEP 52 piece layer, computed here from the file's bytes)
and runs until its stdin closes.
"""

import hashlib
import os
import sys
import time

import libtorrent as lt


def main():
    folder, size, piece_length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    hybrid = len(sys.argv) > 4 and sys.argv[4] == "hybrid"
    path = os.path.join(folder, "payload.bin")
    # Deterministic, non-repeating content: a wrong block offset changes the hash.
    content = bytes((i * 7 + i // 251) % 256 for i in range(size))
    with open(path, "wb") as f:
        f.write(content)

    fs = lt.file_storage()
    lt.add_files(fs, path)
    flags = 0 if hybrid else lt.create_torrent.v1_only
    ct = lt.create_torrent(fs, piece_length, flags=flags)
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
    if hybrid:
        out.write("info_hash_v2 %s\n" % str(info.info_hashes().v2))
        out.write("pieces_root %s\n" % str(info.files().root(0)))
        for i, h in enumerate(piece_layer(content, piece_length)):
            out.write("layer %d %s\n" % (i, h.hex()))
    out.write("ready\n")
    out.flush()

    sys.stdin.read()  # until the test closes our stdin (or kills us)


def piece_layer(content, piece_length):
    """BEP 52: SHA-256 of each 16 KiB block; each piece's hash is the merkle root of its
    blocks, leaves past the end of the file being zero hashes."""
    block = 16 * 1024
    per_piece = piece_length // block
    layer = []
    for start in range(0, len(content), piece_length):
        piece = content[start : start + piece_length]
        nodes = [hashlib.sha256(piece[b : b + block]).digest() for b in range(0, len(piece), block)]
        nodes += [bytes(32)] * (per_piece - len(nodes))
        while len(nodes) > 1:
            nodes = [hashlib.sha256(nodes[i] + nodes[i + 1]).digest() for i in range(0, len(nodes), 2)]
        layer.append(nodes[0])
    return layer


if __name__ == "__main__":
    main()
