"""A libtorrent 2.0 peer for the tracker's real-client tests (run with Debian's /usr/bin/python3).

usage: lt_peer.py seed|leech TORRENT SAVE_DIR PORT

Prints one line per state change, flushed:
  listening            the session is up
  announced N          a tracker replied (N = peers it gave, as libtorrent counts them)
  seeding              the torrent is complete (seed mode or after the download)
  error MESSAGE        a tracker or torrent error
Runs until killed (the test kills it by PID), or 120 s at most.
"""

import sys
import time

import libtorrent as lt

mode, torrent_path, save_dir, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

session = lt.session(
    {
        "listen_interfaces": f"127.0.0.1:{port}",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "in_enc_policy": 2,
        "out_enc_policy": 2,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "allow_multiple_connections_per_ip": True,
        "announce_to_all_trackers": True,
        "alert_mask": lt.alert.category_t.status_notification
        | lt.alert.category_t.error_notification
        | lt.alert.category_t.tracker_notification,
    }
)
print("listening", flush=True)

params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent_path)
params.save_path = save_dir
if mode == "seed":
    params.flags |= lt.torrent_flags.seed_mode
handle = session.add_torrent(params)

said_seeding = False
deadline = time.time() + 120
while time.time() < deadline:
    session.wait_for_alert(200)
    for alert in session.pop_alerts():
        if isinstance(alert, lt.tracker_reply_alert):
            print(f"announced {alert.num_peers}", flush=True)
        elif isinstance(alert, (lt.tracker_error_alert, lt.torrent_error_alert)):
            print(f"error {alert.message()}", flush=True)
    status = handle.status()
    if not said_seeding and status.is_seeding:
        said_seeding = True
        print("seeding", flush=True)
        # Tell the tracker at once (the `completed` event), as a real client does.
        handle.force_reannounce()
