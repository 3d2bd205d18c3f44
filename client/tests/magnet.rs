//! A magnet link: metadata over ut_metadata (BEP 9) from a shoal seeder, then the data.

mod common;

use common::*;
use metainfo::Magnet;
use shoal::{AddTorrent, Event, Source};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_download_fetches_metadata_then_data() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "payload", &[200_000, 90_000, 1]);
    let meta = make_torrent(&payload, 16 * 1024, &[]);

    let seeder = session(false).await;
    let seed = add(&seeder, &meta, &src, vec![]).await;
    wait_completed(&seed, 20).await;

    let leecher = session(false).await;
    let out = dir.path().join("out");
    let uri = Magnet::from_metainfo(&meta).to_string();
    let mut a = AddTorrent::new(Source::Magnet(uri), &out);
    a.peers = vec![seeder.listen_addr().unwrap()];
    let h = leecher.add(a).await.unwrap();
    assert_eq!(h.stats().total_len, 0);
    let mut events = h.events();
    let first = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            if let Some(Event::MetadataReceived {
                name, total_len, ..
            }) = events.next().await
            {
                return (name, total_len);
            }
        }
    })
    .await
    .expect("no metadata");
    assert_eq!(first.0, "payload");
    assert_eq!(first.1, meta.total_length());
    wait_completed(&h, 30).await;
    assert_same_tree(&payload, &out.join("payload"));
    leecher.shutdown().await;
    seeder.shutdown().await;
}

/// Leeches `meta` (seeded by shoal from `src`) by its magnet link; checks the payload.
async fn magnet_swarm(meta: &metainfo::Metainfo, src: &std::path::Path, payload: &std::path::Path) {
    let seeder = session(false).await;
    let seed = add(&seeder, meta, src, vec![]).await;
    wait_completed(&seed, 20).await;

    let leecher = session(false).await;
    let out = tempfile::tempdir().unwrap();
    let uri = Magnet::from_metainfo(meta).to_string();
    let mut a = AddTorrent::new(Source::Magnet(uri), out.path());
    a.peers = vec![seeder.listen_addr().unwrap()];
    let h = leecher.add(a).await.unwrap();
    wait_completed(&h, 60).await;
    assert_eq!(h.stats().have_len, meta.total_length());
    assert_same_tree(payload, &out.path().join(payload.file_name().unwrap()));
    leecher.shutdown().await;
    seeder.shutdown().await;
}

/// A v2-only magnet link (`xt=urn:btmh:`): the info dictionary has no piece layers, so
/// they come over BEP 52 hash requests, proved against each file's pieces root. One file
/// has 600 pieces (two requests of 512 hashes with proofs), one fits in a piece (its root
/// is its hash, no request), one has a handful.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_magnet_fetches_piece_layers_with_hash_requests() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "v2", &[600 * 16 * 1024 - 77, 9_000, 100_000]);
    let meta = make_torrent_version(&payload, 16 * 1024, &[], metainfo::TorrentVersion::V2);
    let uri = Magnet::from_metainfo(&meta).to_string();
    assert!(uri.contains("xt=urn:btmh:1220"), "{uri}");
    assert!(!uri.contains("btih"), "{uri}");
    let bare = metainfo::Metainfo::from_info_bytes(meta.info_bytes()).unwrap();
    assert!(
        !bare.has_all_piece_layers(),
        "the info dict alone lacks the layers"
    );
    magnet_swarm(&meta, &src, &payload).await;
}

/// A hybrid magnet link (btih and btmh) still downloads (verified with its v1 hashes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_magnet_downloads() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "hy", &[300_000, 5, 70_000]);
    let meta = make_torrent_version(&payload, 16 * 1024, &[], metainfo::TorrentVersion::Hybrid);
    let uri = Magnet::from_metainfo(&meta).to_string();
    assert!(uri.contains("btih") && uri.contains("btmh"), "{uri}");
    magnet_swarm(&meta, &src, &payload).await;
}
