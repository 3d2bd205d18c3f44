//! Interop with aria2 through shoal's embedded tracker (aria2 cannot be handed a peer
//! address), both directions, one file and a folder; sha256 of every file checked.
//!
//! Run with `cargo test -p shoal --test interop_aria2 -- --ignored`.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn aria2_args<'a>(port: &'a str, dir: &'a str, torrent: &'a str, seed: bool) -> Vec<&'a str> {
    let mut args = vec![
        "--no-conf",
        "--quiet",
        "--interface=127.0.0.1",
        "--enable-dht=false",
        "--enable-dht6=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--bt-require-crypto=false",
        "--file-allocation=none",
        "--bt-tracker-interval=2",
        "--listen-port",
        port,
        "-d",
        dir,
    ];
    if seed {
        args.extend(["--seed-ratio=0.0", "--bt-seed-unverified=true"]);
    } else {
        args.push("--seed-time=0");
    }
    args.push(torrent);
    args
}

async fn payload(folder: bool) -> TrackedPayload {
    tracked_payload(
        folder,
        &[1_000_000, 345_678, 2_100_000],
        2_500_000,
        9,
        64 * 1024,
    )
    .await
}

async fn shoal_from_aria2(folder: bool) {
    let p = payload(folder).await;
    let port = free_port();
    let port_s = port.to_string();
    let _aria = ChildGuard::spawn(
        "aria2c",
        &aria2_args(
            &port_s,
            p.seed_dir.to_str().unwrap(),
            p.torrent.to_str().unwrap(),
            true,
        ),
    );
    let s = session(true).await;
    let out = p.dir.path().join("out");
    // Found through the tracker too; the address keeps the test from waiting on when
    // aria2's first announce gets through.
    let aria = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let h = add(&s, &p.meta, &out, vec![aria]).await;
    wait_completed(&h, 120).await;
    assert_same_sha256(&p.src, &out.join(p.src.file_name().unwrap()));
    s.shutdown().await;
    p.tracker.shutdown().await;
}

async fn aria2_from_shoal(folder: bool) {
    let p = payload(folder).await;
    let s = session(true).await;
    let h = add(&s, &p.meta, &p.seed_dir, vec![]).await;
    wait_completed(&h, 30).await;
    let out = p.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let port = free_port().to_string();
    let out_s = out.to_str().unwrap().to_string();
    let t = p.torrent.to_str().unwrap().to_string();
    let status = tokio::task::spawn_blocking(move || {
        let mut aria = ChildGuard::spawn("aria2c", &aria2_args(&port, &out_s, &t, false));
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = aria.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "aria2 did not finish in 120 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    assert!(status.success(), "aria2 failed: {status}");
    assert_same_sha256(&p.src, &out.join(p.src.file_name().unwrap()));
    assert!(h.stats().uploaded >= p.meta.total_length());
    s.shutdown().await;
    p.tracker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs aria2c: scripts/install-peers.sh"]
async fn shoal_downloads_one_file_from_aria2() {
    shoal_from_aria2(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs aria2c: scripts/install-peers.sh"]
async fn shoal_downloads_folder_from_aria2() {
    shoal_from_aria2(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs aria2c: scripts/install-peers.sh"]
async fn aria2_downloads_one_file_from_shoal() {
    aria2_from_shoal(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs aria2c: scripts/install-peers.sh"]
async fn aria2_downloads_folder_from_shoal() {
    aria2_from_shoal(true).await;
}
