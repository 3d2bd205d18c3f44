//! Interop with libtorrent 2.0 (Debian's python3-libtorrent), both directions, one file
//! and a folder, a magnet link, v2 and hybrid torrents. sha256 of every file checked.
//!
//! Run with `cargo test -p shoal --test interop_libtorrent -- --ignored`.

mod common;

use common::*;
use metainfo::{Magnet, TorrentVersion};
use shoal::{AddTorrent, Source};

/// A libtorrent seeder of `meta` (written to `dir/t.torrent`) with its data under
/// `seed_dir`, and `extra` arguments; returns it and its port.
fn libtorrent_seeder(
    dir: &std::path::Path,
    meta: &metainfo::Metainfo,
    seed_dir: &std::path::Path,
    extra: &[&str],
) -> (ChildGuard, u16) {
    let torrent = write_torrent(dir, meta);
    let mut args = vec![
        "--torrent",
        torrent.to_str().unwrap(),
        "--save",
        seed_dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    spawn_libtorrent("seed", &args)
}

async fn shoal_from_libtorrent(folder: bool, version: TorrentVersion, magnet: bool) {
    shoal_from_libtorrent_sized(
        folder,
        version,
        magnet,
        &[1_234_567, 700_000, 3, 2_000_000],
        64 * 1024,
    )
    .await;
}

async fn shoal_from_libtorrent_sized(
    folder: bool,
    version: TorrentVersion,
    magnet: bool,
    folder_sizes: &[usize],
    piece_length: u64,
) {
    let dir = tempfile::tempdir().unwrap();
    let (seed_dir, src) = seed_payload(dir.path(), folder, folder_sizes, 3_333_333, 42);
    let meta = make_torrent_version(&src, piece_length, &[], version);
    let (_lt, port) = libtorrent_seeder(dir.path(), &meta, &seed_dir, &[]);
    let s = session(false).await;
    let out = dir.path().join("out");
    let source = if magnet {
        Source::Magnet(Magnet::from_metainfo(&meta).to_string())
    } else {
        Source::TorrentBytes(meta.to_torrent_bytes())
    };
    let mut add = AddTorrent::new(source, &out);
    add.peers = vec![format!("127.0.0.1:{port}").parse().unwrap()];
    let h = s.add(add).await.unwrap();
    wait_completed(&h, 120).await;
    let name = src.file_name().unwrap();
    assert_same_sha256(&src, &out.join(name));
    s.shutdown().await;
}

async fn libtorrent_from_shoal(folder: bool, version: TorrentVersion) {
    libtorrent_from_shoal_by(folder, version, false).await;
}

/// libtorrent leeches from a shoal seeder, given the .torrent or (`magnet`) its magnet link.
async fn libtorrent_from_shoal_by(folder: bool, version: TorrentVersion, magnet: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (seed_dir, src) = seed_payload(
        dir.path(),
        folder,
        &[1_234_567, 700_000, 3, 2_000_000],
        3_333_333,
        42,
    );
    let meta = make_torrent_version(&src, 64 * 1024, &[], version);
    let torrent = write_torrent(dir.path(), &meta)
        .to_str()
        .unwrap()
        .to_string();
    let s = session(false).await;
    let h = add(&s, &meta, &seed_dir, vec![]).await;
    wait_completed(&h, 30).await;
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let peer = s.listen_addr().unwrap().to_string();
    let out_s = out.to_str().unwrap().to_string();
    let (how, what) = if magnet {
        ("--magnet", Magnet::from_metainfo(&meta).to_string())
    } else {
        ("--torrent", torrent)
    };
    tokio::task::spawn_blocking(move || {
        let (mut lt, _) =
            spawn_libtorrent("leech", &[how, &what, "--save", &out_s, "--peer", &peer]);
        lt.wait_line("DONE", 120);
        // libtorrent 2.0 may call a piece complete from blocks still queued for writing;
        // its session flushes them as it shuts down, so let the script exit by itself
        // rather than kill it.
        let status = lt.wait_exit(60, "of DONE");
        assert!(
            status.success(),
            "the libtorrent leecher exited with {status}"
        );
    })
    .await
    .unwrap();
    let name = src.file_name().unwrap();
    assert_same_sha256(&src, &out.join(name));
    assert!(h.stats().uploaded >= meta.total_length());
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs libtorrent: scripts/install-peers.sh"]
async fn shoal_downloads_one_file_from_libtorrent() {
    shoal_from_libtorrent(false, TorrentVersion::V1, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs libtorrent: scripts/install-peers.sh"]
async fn shoal_downloads_folder_from_libtorrent() {
    shoal_from_libtorrent(true, TorrentVersion::V1, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs libtorrent: scripts/install-peers.sh"]
async fn libtorrent_downloads_one_file_from_shoal() {
    libtorrent_from_shoal(false, TorrentVersion::V1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs libtorrent: scripts/install-peers.sh"]
async fn libtorrent_downloads_folder_from_shoal() {
    libtorrent_from_shoal(true, TorrentVersion::V1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs libtorrent: scripts/install-peers.sh"]
async fn shoal_downloads_magnet_from_libtorrent() {
    shoal_from_libtorrent(true, TorrentVersion::V1, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs libtorrent: scripts/install-peers.sh"]
async fn shoal_downloads_hybrid_from_libtorrent() {
    shoal_from_libtorrent(true, TorrentVersion::Hybrid, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs libtorrent: scripts/install-peers.sh"]
async fn libtorrent_downloads_hybrid_from_shoal() {
    libtorrent_from_shoal(true, TorrentVersion::Hybrid).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs libtorrent: scripts/install-peers.sh"]
async fn shoal_downloads_v2_from_libtorrent() {
    shoal_from_libtorrent(true, TorrentVersion::V2, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs libtorrent: scripts/install-peers.sh"]
async fn libtorrent_downloads_v2_from_shoal() {
    libtorrent_from_shoal(true, TorrentVersion::V2).await;
}

/// A v2-only magnet link (btmh only): the metadata from libtorrent with ut_metadata, then
/// each file's piece layer with BEP 52 hash requests, proved against its pieces root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3-libtorrent: scripts/install-peers.sh"]
async fn shoal_downloads_v2_magnet_from_libtorrent() {
    shoal_from_libtorrent(true, TorrentVersion::V2, true).await;
}

/// The same with 16 KiB pieces and a file of 1100 pieces: its layer comes in three
/// requests of 512 hashes, each with the uncle hashes up to the root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3-libtorrent: scripts/install-peers.sh"]
async fn shoal_downloads_v2_magnet_with_chunked_layers_from_libtorrent() {
    shoal_from_libtorrent_sized(
        true,
        TorrentVersion::V2,
        true,
        &[1100 * 16 * 1024 - 999, 40_000, 5],
        16 * 1024,
    )
    .await;
}

/// A hybrid magnet link (btih and btmh) from libtorrent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3-libtorrent: scripts/install-peers.sh"]
async fn shoal_downloads_hybrid_magnet_from_libtorrent() {
    shoal_from_libtorrent(true, TorrentVersion::Hybrid, true).await;
}

/// libtorrent leeches a v2-only torrent from shoal by magnet link: it takes the metadata
/// with ut_metadata and the piece layers with BEP 52 hash requests that shoal answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3-libtorrent: scripts/install-peers.sh"]
async fn libtorrent_downloads_v2_magnet_from_shoal() {
    libtorrent_from_shoal_by(true, TorrentVersion::V2, true).await;
}

/// A stream's seek to the end of a file is served before the rest, from a libtorrent
/// seeder limited to 2 MB/s (libtorrent honours the cancels that make room for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3-libtorrent: scripts/install-peers.sh"]
async fn shoal_streams_a_seek_first_from_a_slow_libtorrent_seeder() {
    let dir = tempfile::tempdir().unwrap();
    let payload = payload_bytes(6 << 20, 12);
    let (seed_dir, src) = seed_payload(dir.path(), false, &[], 0, 0);
    std::fs::write(&src, &payload).unwrap();
    let meta = make_torrent(&src, 64 * 1024, &[]);
    let (_lt, port) =
        libtorrent_seeder(dir.path(), &meta, &seed_dir, &["--upload-limit", "2000000"]);
    let s = session(false).await;
    let h = add(
        &s,
        &meta,
        &dir.path().join("out"),
        vec![format!("127.0.0.1:{port}").parse().unwrap()],
    )
    .await;
    stream_tail_first(&h, &payload).await;
    s.shutdown().await;
}
