"""Helper for metainfo/tests/interop.rs, run with Debian's /usr/bin/python3 (libtorrent 2.0).

  load TORRENT [SAVE_PATH]  print the info-hashes and files libtorrent reads; with
                            SAVE_PATH, also add the torrent there, let libtorrent check the
                            data, and print whether it found every piece.
  create PATH OUT MODE PL   create a torrent of PATH with libtorrent (MODE: v1|v2|hybrid,
                            PL: piece length), write it to OUT, print its info-hashes.
Output: one JSON object on stdout.
"""
import json
import os
import sys
import time

import libtorrent as lt


def hashes(ti):
    ih = ti.info_hashes()
    return {
        "v1": str(ih.v1) if ih.has_v1() else None,
        "v2": str(ih.v2) if ih.has_v2() else None,
    }


def load(path, save_path=None):
    ti = lt.torrent_info(path)
    fs = ti.files()
    out = hashes(ti)
    out["files"] = [
        {"path": fs.file_path(i), "length": fs.file_size(i), "pad": bool(fs.file_flags(i) & 1)}
        for i in range(fs.num_files())
    ]
    out["num_pieces"] = ti.num_pieces()
    if save_path is not None:
        ses = lt.session({
            "listen_interfaces": "127.0.0.1:0",
            "enable_dht": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "alert_mask": 0,
        })
        h = ses.add_torrent({"ti": ti, "save_path": save_path})
        start = time.monotonic()
        checking = (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data)
        seen_checking = False
        st = h.status()
        # Poll (with a deadline) until libtorrent has checked the files on disk: it is
        # seeding, or it has left the checking state, or it never entered it in 5 s.
        while time.monotonic() - start < 60:
            st = h.status()
            if st.is_seeding or st.errc.value():
                break
            if st.state in checking:
                seen_checking = True
            elif seen_checking or time.monotonic() - start > 5:
                break
            time.sleep(0.02)
        out["pieces_have"] = st.num_pieces
        out["complete"] = bool(st.is_seeding)
        out["error"] = str(st.errc.message()) if st.errc.value() else None
        ses.remove_torrent(h)
    print(json.dumps(out))


def create(path, out_path, mode, piece_length):
    fs = lt.file_storage()
    lt.add_files(fs, path)
    flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}[mode]
    ct = lt.create_torrent(fs, int(piece_length), flags=flags)
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(path)))
    data = lt.bencode(ct.generate())
    with open(out_path, "wb") as f:
        f.write(data)
    print(json.dumps(hashes(lt.torrent_info(out_path))))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "load":
        load(*args)
    elif cmd == "create":
        create(*args)
    else:
        sys.exit("unknown command " + cmd)
