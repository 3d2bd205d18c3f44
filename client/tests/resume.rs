//! Stop, then start again (in a new session): the download continues where verified data
//! ends instead of starting over.

mod common;

use std::time::Duration;

use common::*;
use shoal::{AddTorrent, Event, Source};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_restart_continues_from_verified_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "payload", &[1_500_000, 500_000]);
    let meta = make_torrent(&payload, 32 * 1024, &[]);
    let total = meta.num_pieces();

    let seeder = session(false).await;
    let seed = add(&seeder, &meta, &src, vec![]).await;
    wait_completed(&seed, 20).await;
    let seed_addr = seeder.listen_addr().unwrap();

    // A slow download (limited to 400 kB/s), stopped after a few pieces.
    let out = dir.path().join("out");
    let source = Source::TorrentBytes(meta.to_torrent_bytes());
    let stopped = download_some_then_stop(source, seed_addr, &out, 8, 30).await;
    assert!(
        stopped.pieces_have >= 8 && stopped.pieces_have < total,
        "{stopped:?}"
    );

    // A new session on the same folder: verified pieces come back from resume data.
    let second = session(false).await;
    let mut a = AddTorrent::new(Source::TorrentBytes(meta.to_torrent_bytes()), &out);
    a.paused = true;
    let h2 = second.add(a).await.unwrap();
    let mut events = h2.events();
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(e) = events.next().await {
            if let Event::MetadataReceived { .. } = e {
                return;
            }
        }
    })
    .await
    .expect("no metadata event");
    let resumed = h2.stats();
    assert!(
        resumed.pieces_have >= stopped.pieces_have,
        "resumed with {} pieces, had {}",
        resumed.pieces_have,
        stopped.pieces_have
    );
    assert_eq!(resumed.downloaded, 0);
    second.shutdown().await;

    // And the rest downloads.
    let third = session(false).await;
    let h3 = add(&third, &meta, &out, vec![seed_addr]).await;
    wait_completed(&h3, 60).await;
    assert!(
        h3.stats().downloaded < meta.total_length(),
        "downloaded everything again"
    );
    assert_same_tree(&payload, &out.join("payload"));
    third.shutdown().await;
    seeder.shutdown().await;
}
