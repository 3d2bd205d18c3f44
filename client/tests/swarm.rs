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
    assert!(tracker.stats().peers >= 4);
    for (s, _, _) in &leechers {
        s.shutdown().await;
    }
    seeder.shutdown().await;
    // Every session said `stopped` on the way out.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while tracker.stats().peers > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "peers left: {}",
            tracker.stats().peers
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tracker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_loopback_download() {
    let listen6 = |s: &str| shoal::SessionConfig {
        listen: Some(s.parse().unwrap()),
        use_trackers: false,
        ..shoal::SessionConfig::default()
    };
    let Ok(seeder) = shoal::Session::new(listen6("[::1]:0")).await else {
        // No IPv6 loopback on this machine: nothing to test.
        eprintln!("skipped: no ::1");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "payload", &[200_000, 33_333]);
    let meta = make_torrent(&payload, 16 * 1024, &[]);
    let seed = add(&seeder, &meta, &src, vec![]).await;
    wait_completed(&seed, 20).await;
    let leecher = shoal::Session::new(listen6("[::1]:0")).await.unwrap();
    let out = dir.path().join("out");
    let leech = add(&leecher, &meta, &out, vec![seeder.listen_addr().unwrap()]).await;
    wait_completed(&leech, 30).await;
    assert_same_tree(&payload, &out.join("payload"));
    leecher.shutdown().await;
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pex_introduces_peers() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "payload", &[300_000]);
    let meta = make_torrent(&payload, 16 * 1024, &[]);
    let s = session(false).await;
    let seed = add(&s, &meta, &src, vec![]).await;
    wait_completed(&seed, 20).await;
    // A knows the seeder; B knows only A.
    let a = session(false).await;
    let ha = add(
        &a,
        &meta,
        &dir.path().join("a"),
        vec![s.listen_addr().unwrap()],
    )
    .await;
    wait_completed(&ha, 30).await;
    let b = session(false).await;
    let a_addr = a.listen_addr().unwrap();
    let hb = add(&b, &meta, &dir.path().join("b"), vec![a_addr]).await;
    let mut events = hb.events();
    let other = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match events.next().await {
                Some(shoal::Event::PeerConnected { addr }) if addr != a_addr => return addr,
                Some(_) => {}
                None => panic!("events ended"),
            }
        }
    })
    .await
    .expect("B never met a peer A did not introduce");
    assert!(other.ip().is_loopback());
    wait_completed(&hb, 30).await;
    for x in [b, a, s] {
        x.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_file_is_not_downloaded() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    // Files are 0 (top), 1 (sub/), 2 (top); piece length 16 KiB, sizes on piece boundaries.
    let payload = make_folder(&src, "payload", &[64 * 1024, 256 * 1024, 32 * 1024]);
    let meta = make_torrent(&payload, 16 * 1024, &[]);
    let s = session(false).await;
    let seed = add(&s, &meta, &src, vec![]).await;
    wait_completed(&seed, 20).await;
    let l = session(false).await;
    let out = dir.path().join("out");
    let mut a = shoal::AddTorrent::new(shoal::Source::TorrentBytes(meta.to_torrent_bytes()), &out);
    a.peers = vec![s.listen_addr().unwrap()];
    a.paused = true;
    let h = l.add(a).await.unwrap();
    let big = meta
        .files()
        .iter()
        .position(|f| f.length == 256 * 1024)
        .unwrap();
    h.set_file_priority(big, 0);
    h.start();
    wait_completed(&h, 30).await;
    let st = h.stats();
    assert_eq!(st.total_len - st.have_len, 256 * 1024, "{st:?}");
    for (i, f) in meta.files().iter().enumerate() {
        if i != big {
            let rel: std::path::PathBuf = f.path.iter().collect();
            assert_eq!(
                std::fs::read(out.join(&rel)).unwrap(),
                std::fs::read(src.join(&rel)).unwrap()
            );
        }
    }
    l.shutdown().await;
    s.shutdown().await;
}
