//! Interop with Transmission 3.00 (transmission-cli) through shoal's embedded tracker.
//! Transmission never dials 127.0.0.0/8 peers learned from a tracker, so shoal dials it in
//! both directions. Transmission uploads at about 1 MB/s: payloads stay small.
//!
//! Run with `cargo test -p shoal --test interop_transmission -- --ignored`.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;

/// A transmission-cli process, its listening port and the file its output goes to.
struct Transmission {
    _guard: ChildGuard,
    port: u16,
    log: PathBuf,
}

impl Transmission {
    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// What transmission-cli printed last (for a failure message).
    fn log_tail(&self) -> String {
        log_tail(&self.log, 2000)
    }
}

/// Starts transmission-cli on `torrent` with data folder `dir`, loopback only.
fn transmission(config: &Path, dir: &Path, torrent: &Path, verify: bool) -> Transmission {
    std::fs::create_dir_all(config).unwrap();
    std::fs::write(
        config.join("settings.json"),
        r#"{
  "dht-enabled": false,
  "lpd-enabled": false,
  "pex-enabled": false,
  "utp-enabled": false,
  "port-forwarding-enabled": false,
  "encryption": 0,
  "bind-address-ipv4": "127.0.0.1",
  "bind-address-ipv6": "::1",
  "rpc-enabled": false,
  "speed-limit-up-enabled": false,
  "speed-limit-down-enabled": false
}"#,
    )
    .unwrap();
    let port = free_port();
    let port_s = port.to_string();
    let mut args = vec![
        "-g",
        config.to_str().unwrap(),
        "-w",
        dir.to_str().unwrap(),
        "-p",
        &port_s,
        "-et",
        "-M",
    ];
    if verify {
        args.push("-v");
    }
    args.push(torrent.to_str().unwrap());
    let log = config.join("output.log");
    Transmission {
        _guard: ChildGuard::spawn_logged("transmission-cli", &args, &log),
        port,
        log,
    }
}

/// A payload Transmission uploads at about 1 MB/s: kept small.
async fn payload(folder: bool) -> TrackedPayload {
    tracked_payload(folder, &[600_000, 20_000, 400_000], 1_000_000, 5, 32 * 1024).await
}

async fn shoal_from_transmission(folder: bool) {
    let p = payload(folder).await;
    let tr = transmission(&p.dir.path().join("trconf"), &p.seed_dir, &p.torrent, true);
    let s = session(true).await;
    let out = p.dir.path().join("out");
    // Both announce to the tracker; shoal is also given Transmission's address, so the
    // test does not hang on when Transmission's first announce gets through.
    let h = add(&s, &p.meta, &out, vec![tr.addr()]).await;
    if let Err(e) = try_wait_completed(&h, 120).await {
        panic!("{e}\ntransmission-cli printed:\n{}", tr.log_tail());
    }
    assert_same_sha256(&p.src, &out.join(p.src.file_name().unwrap()));
    s.shutdown().await;
    p.tracker.shutdown().await;
}

async fn transmission_from_shoal(folder: bool) {
    let p = payload(folder).await;
    let out = p.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    // Transmission first: it only accepts connections, so shoal must find it and dial.
    let tr = transmission(&p.dir.path().join("trconf"), &out, &p.torrent, false);
    let s = session(true).await;
    let h = add(&s, &p.meta, &p.seed_dir, vec![tr.addr()]).await;
    wait_completed(&h, 30).await;
    let expected = sha256_tree(&p.src);
    let target = out.join(p.src.file_name().unwrap());
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // Transmission writes `<name>.part` files and renames them when complete: done
        // when every file is there with the right hash.
        if try_sha256_tree(&target).is_ok_and(|t| t == expected) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "transmission did not finish in 120 s (shoal uploaded {})\ntransmission-cli printed:\n{}",
            h.stats().uploaded,
            tr.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    s.shutdown().await;
    p.tracker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs transmission-cli: scripts/install-peers.sh"]
async fn shoal_downloads_one_file_from_transmission() {
    shoal_from_transmission(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs transmission-cli: scripts/install-peers.sh"]
async fn shoal_downloads_folder_from_transmission() {
    shoal_from_transmission(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs transmission-cli: scripts/install-peers.sh"]
async fn transmission_downloads_one_file_from_shoal() {
    transmission_from_shoal(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs transmission-cli: scripts/install-peers.sh"]
async fn transmission_downloads_folder_from_shoal() {
    transmission_from_shoal(true).await;
}
