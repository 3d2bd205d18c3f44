//! In-process swarms on loopback: seeders, leechers and a tracker in one test.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_seeder_one_leecher_by_peer_address() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "payload", &[300_000, 1_000_000, 5, 70_000]);
    let meta = make_torrent(&payload, 32 * 1024, &[]);

    let seeder = session(false).await;
    let seed = add(&seeder, &meta, &src, vec![]).await;
    wait_completed(&seed, 20).await;

    let leecher = session(false).await;
    let out = dir.path().join("out");
    let leech = add(&leecher, &meta, &out, vec![seeder.listen_addr().unwrap()]).await;
    wait_completed(&leech, 30).await;
    assert_same_tree(&payload, &out.join("payload"));
    let stats = leech.stats();
    assert!(stats.complete);
    assert_eq!(stats.have_len, stats.total_len);
    leecher.shutdown().await;
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracker_swarm_one_seeder_three_leechers() {
    let tracker = tracker::Tracker::start(tracker::TrackerConfig {
        http: Some("127.0.0.1:0".parse().unwrap()),
        udp: Some("127.0.0.1:0".parse().unwrap()),
        udp_workers: 1,
        interval: Duration::from_secs(2),
        ..tracker::TrackerConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "payload", &[700_000, 900_000, 123_457]);
    // Two tiers: HTTP and UDP, both ours.
    let meta = make_torrent(
        &payload,
        16 * 1024,
        &[
            tracker.announce_url_http().unwrap(),
            tracker.announce_url_udp().unwrap(),
        ],
    );
    let seeder = session(true).await;
    let seed = add(&seeder, &meta, &src, vec![]).await;
    wait_completed(&seed, 20).await;

    let mut leechers = Vec::new();
    for i in 0..3 {
        let s = session(true).await;
        let out = dir.path().join(format!("out{i}"));
        let h = add(&s, &meta, &out, vec![]).await;
        leechers.push((s, h, out));
    }
    for (_, h, out) in &leechers {
        wait_completed(h, 60).await;
        assert_same_tree(&payload, &out.join("payload"));
    }
    for (s, _, _) in &leechers {
        s.shutdown().await;
    }
    seeder.shutdown().await;
    tracker.shutdown().await;
}
