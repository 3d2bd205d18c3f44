//! Helpers shared by the integration tests: payloads, torrents, sessions, waiting.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use metainfo::{Metainfo, TorrentBuilder, TorrentVersion};
use shoal::{AddTorrent, Event, Session, SessionConfig, Source, TorrentHandle};

/// Deterministic pseudo-random bytes.
pub fn payload_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = shoal::SmallRng::seeded(seed);
    let mut v = vec![0u8; len];
    rng.fill(&mut v);
    v
}

/// Writes a folder `root/name` with a few files of the given sizes; returns its path.
pub fn make_folder(root: &Path, name: &str, sizes: &[usize]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    for (i, size) in sizes.iter().enumerate() {
        let path = if i % 2 == 0 {
            dir.join(format!("file{i}.bin"))
        } else {
            dir.join("sub").join(format!("file{i}.bin"))
        };
        std::fs::write(path, payload_bytes(*size, i as u64 + 1)).unwrap();
    }
    dir
}

/// A torrent of `path` with `piece_length` and optional trackers.
pub fn make_torrent(path: &Path, piece_length: u64, trackers: &[String]) -> Metainfo {
    make_torrent_version(path, piece_length, trackers, TorrentVersion::V1)
}

/// Same with a chosen version.
pub fn make_torrent_version(
    path: &Path,
    piece_length: u64,
    trackers: &[String],
    version: TorrentVersion,
) -> Metainfo {
    let mut b = TorrentBuilder::new(path)
        .piece_length(piece_length)
        .version(version);
    for t in trackers {
        b = b.tracker(t.clone());
    }
    b.build().unwrap()
}

/// A loopback session.
pub async fn session(use_trackers: bool) -> Session {
    Session::new(SessionConfig {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        use_trackers,
        min_announce_interval: Duration::from_secs(1),
        ..SessionConfig::default()
    })
    .await
    .unwrap()
}

/// Adds `meta` with data folder `output`.
pub async fn add(
    session: &Session,
    meta: &Metainfo,
    output: &Path,
    peers: Vec<std::net::SocketAddr>,
) -> TorrentHandle {
    let mut add = AddTorrent::new(Source::TorrentBytes(meta.to_torrent_bytes()), output);
    add.peers = peers;
    session.add(add).await.unwrap()
}

/// Waits for `Completed` (or fails on `Error`), within `secs`.
pub async fn wait_completed(handle: &TorrentHandle, secs: u64) {
    let mut events = handle.events();
    let wait = async {
        if handle.stats().complete {
            return;
        }
        while let Some(e) = events.next().await {
            match e {
                Event::Completed => return,
                Event::Error { message } => panic!("torrent error: {message}"),
                _ => {}
            }
        }
        panic!("event stream ended");
    };
    tokio::time::timeout(Duration::from_secs(secs), wait)
        .await
        .unwrap_or_else(|_| panic!("not complete in {secs} s: {:?}", handle.stats()));
}

/// Every file under `a` has the same bytes under `b`.
pub fn assert_same_tree(a: &Path, b: &Path) {
    let mut n = 0;
    for entry in walk(a) {
        let rel = entry.strip_prefix(a).unwrap();
        let x = std::fs::read(&entry).unwrap();
        let y = std::fs::read(b.join(rel)).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
        assert!(x == y, "{} differs", rel.display());
        n += 1;
    }
    assert!(n > 0, "no files compared");
}

fn walk(p: &Path) -> Vec<PathBuf> {
    if p.is_file() {
        return vec![p.to_path_buf()];
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap() {
        let path = e.unwrap().path();
        if path.file_name().is_some_and(|n| n == ".shoal") {
            continue;
        }
        out.extend(walk(&path));
    }
    out
}
