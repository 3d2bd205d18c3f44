//! A magnet download keeps its metadata: stopped midway and added again in a new session
//! with no peer that could give metadata, it gets `MetadataReceived` from the .torrent it
//! saved under `<output>/.shoal/` and resumes; a saved file that is corrupt or another
//! torrent's is ignored with a warning and the metadata is fetched again.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use metainfo::{Magnet, Metainfo, TorrentVersion, to_hex};
use shoal::{AddTorrent, Event, EventStream, Source, TorrentState};

/// Trackers the magnet link carries (never reached: the sessions do not use trackers).
fn trackers() -> Vec<String> {
    vec![
        "http://127.0.0.1:9/announce".to_string(),
        "udp://127.0.0.1:9".to_string(),
    ]
}

/// Where the engine saves the metadata of `meta`'s magnet link under `out`.
fn saved_path(out: &Path, meta: &Metainfo) -> PathBuf {
    out.join(".shoal")
        .join(format!("{}.torrent", to_hex(&meta.info_hash().wire())))
}

/// Events until `pick` returns a value (every event seen is kept in `seen`), within `secs`.
async fn wait_for<T>(
    events: &mut EventStream,
    seen: &mut Vec<Event>,
    secs: u64,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    let wait = async {
        while let Some(e) = events.next().await {
            let found = pick(&e);
            seen.push(e);
            if let Some(v) = found {
                return v;
            }
        }
        panic!("event stream ended; seen {seen:?}");
    };
    match tokio::time::timeout(Duration::from_secs(secs), wait).await {
        Ok(v) => v,
        Err(_) => panic!("not within {secs} s; seen {seen:?}"),
    }
}

/// A seeder of a two-file payload of version `version`; returns it with its data folder,
/// payload path, torrent and address.
async fn seeder(
    dir: &Path,
    version: TorrentVersion,
) -> (shoal::Session, PathBuf, Metainfo, SocketAddr) {
    let src = dir.join("seed");
    let payload = make_folder(&src, "payload", &[1_500_000, 500_000]);
    let meta = make_torrent_version(&payload, 32 * 1024, &trackers(), version);
    let seeder = session(false).await;
    let seed = add(&seeder, &meta, &src, vec![]).await;
    wait_completed(&seed, 30).await;
    let addr = seeder.listen_addr().unwrap();
    (seeder, payload, meta, addr)
}

/// Downloads `meta` by magnet link from `seed_addr` into `out`, slowly, and stops after
/// a few verified pieces. Returns the pieces verified then.
async fn download_then_stop(meta: &Metainfo, seed_addr: SocketAddr, out: &Path) -> u32 {
    let source = Source::Magnet(Magnet::from_metainfo(meta).to_string());
    let stopped = download_some_then_stop(source, seed_addr, out, 8, 40).await;
    assert!(
        stopped.pieces_have >= 8 && stopped.pieces_have < meta.num_pieces(),
        "{stopped:?}"
    );
    stopped.pieces_have
}

/// The saved .torrent is the torrent itself: the same info dictionary byte for byte (so
/// the same info-hash), the magnet's trackers, and for v2 every piece layer.
fn assert_saved(out: &Path, meta: &Metainfo) {
    let bytes = std::fs::read(saved_path(out, meta)).expect("the metadata was saved");
    let saved = Metainfo::from_bytes(&bytes).expect("the saved .torrent parses");
    assert_eq!(saved.info_bytes(), meta.info_bytes());
    assert_eq!(saved.info_hash(), meta.info_hash());
    let tiers: Vec<Vec<String>> = trackers().into_iter().map(|t| vec![t]).collect();
    assert_eq!(saved.trackers(), tiers.as_slice());
    assert!(saved.has_all_piece_layers());
    for (i, _) in meta.files().iter().enumerate() {
        assert_eq!(saved.piece_layer(i), meta.piece_layer(i), "file {i}");
    }
}

/// Stop midway, then add the magnet link again in a new session with no peer at all:
/// the metadata (and for v2 the piece layers) come from disk — with no peer, there is
/// nobody to fetch them from or send a hash request to — storage resumes at once, and
/// once the seeder is given the download completes without starting over.
async fn restart_without_peers(version: TorrentVersion) {
    let dir = tempfile::tempdir().unwrap();
    let (seeder, payload, meta, seed_addr) = seeder(dir.path(), version).await;
    let out = dir.path().join("out");
    let had = download_then_stop(&meta, seed_addr, &out).await;
    assert_saved(&out, &meta);

    let second = session(false).await;
    let a = AddTorrent::new(
        Source::Magnet(Magnet::from_metainfo(&meta).to_string()),
        &out,
    );
    let h = second.add(a).await.unwrap();
    let mut events = h.events();
    let mut seen = Vec::new();
    let (pieces, total_len) = wait_for(&mut events, &mut seen, 20, |e| match e {
        Event::MetadataReceived {
            pieces, total_len, ..
        } => Some((*pieces, *total_len)),
        _ => None,
    })
    .await;
    assert_eq!(
        (pieces, total_len),
        (meta.num_pieces(), meta.total_length())
    );
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::Warning { .. } | Event::PeerConnected { .. })),
        "no warning and no peer before the metadata: {seen:?}"
    );
    let resumed = h.stats();
    assert_eq!(resumed.peers, 0);
    assert_eq!(resumed.state, TorrentState::Downloading, "{resumed:?}");
    assert!(
        resumed.pieces_have >= had,
        "resumed with {} pieces, had {had}",
        resumed.pieces_have
    );
    assert_eq!(resumed.downloaded, 0);

    h.add_peers([seed_addr]);
    wait_completed(&h, 60).await;
    assert!(
        h.stats().downloaded < meta.total_length(),
        "downloaded everything again: {:?}",
        h.stats()
    );
    assert_same_tree(&payload, &out.join("payload"));
    second.shutdown().await;
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_magnet_restarts_from_saved_metadata_without_peers() {
    restart_without_peers(TorrentVersion::V1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_magnet_restarts_from_saved_metadata_and_layers_without_peers() {
    restart_without_peers(TorrentVersion::V2).await;
}

/// A saved file that does not parse, or that is another torrent's, is not trusted: a
/// warning says so, the metadata is fetched from the seeder, the right payload lands,
/// and the file is replaced by the right torrent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_saved_metadata_is_ignored_and_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let (seeder, payload, meta, seed_addr) = seeder(dir.path(), TorrentVersion::V1).await;
    let other_dir = dir.path().join("other");
    let other_payload = make_folder(&other_dir, "payload", &[70_000]);
    let other = make_torrent(&other_payload, 32 * 1024, &[]);
    let corrupt = meta.to_torrent_bytes()[..100].to_vec();
    for (case, bytes) in [
        ("does not parse", corrupt),
        ("is another torrent", other.to_torrent_bytes()),
    ] {
        let out = dir.path().join(format!("out-{}", case.replace(' ', "-")));
        let path = saved_path(&out, &meta);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();

        let leecher = session(false).await;
        let mut a = AddTorrent::new(
            Source::Magnet(Magnet::from_metainfo(&meta).to_string()),
            &out,
        );
        a.peers = vec![seed_addr];
        let h = leecher.add(a).await.unwrap();
        let mut events = h.events();
        let mut seen = Vec::new();
        let warning = wait_for(&mut events, &mut seen, 20, |e| match e {
            Event::Warning { message } => Some(message.clone()),
            _ => None,
        })
        .await;
        assert!(
            warning.contains(case) && warning.contains("fetching it from peers"),
            "{case}: {warning}"
        );
        assert!(
            !seen
                .iter()
                .any(|e| matches!(e, Event::MetadataReceived { .. })),
            "{case}: the warning comes first: {seen:?}"
        );
        let name = wait_for(&mut events, &mut seen, 20, |e| match e {
            Event::MetadataReceived { name, .. } => Some(name.clone()),
            _ => None,
        })
        .await;
        assert_eq!(name, "payload");
        wait_completed(&h, 60).await;
        assert_eq!(h.stats().have_len, meta.total_length());
        assert_same_tree(&payload, &out.join("payload"));
        assert_saved(&out, &meta);
        leecher.shutdown().await;
    }
    seeder.shutdown().await;
}
