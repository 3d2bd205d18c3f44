//! Through opentracker (Debian's build, whitelist-only): a shoal seeder and two shoal
//! leechers find each other over its HTTP and UDP announces.
//!
//! Run with `cargo test -p shoal --test interop_opentracker -- --ignored`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs opentracker: scripts/install-peers.sh"]
async fn swarm_through_opentracker_http_and_udp() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "payload", &[900_000, 300_000]);
    // opentracker chroots into -d and drops to nobody: the folder must be readable.
    let otdir = dir.path().join("ot");
    std::fs::create_dir_all(&otdir).unwrap();
    std::fs::set_permissions(&otdir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // A free port may be taken by someone else before opentracker binds it: retry.
    let (meta, tracker) = 'start: {
        for _ in 0..5 {
            let port = free_port();
            let http = format!("http://127.0.0.1:{port}/announce");
            let udp = format!("udp://127.0.0.1:{port}/announce");
            let meta = make_torrent(&payload, 32 * 1024, &[http, udp]);
            let list = otdir.join("whitelist.txt");
            std::fs::write(&list, format!("{}\n", meta.info_hash())).unwrap();
            std::fs::set_permissions(&list, std::fs::Permissions::from_mode(0o644)).unwrap();
            let p = port.to_string();
            let args = [
                "-i",
                "127.0.0.1",
                "-p",
                &p,
                "-P",
                &p,
                "-d",
                otdir.to_str().unwrap(),
                "-w",
                "/whitelist.txt",
            ];
            let mut tracker = ChildGuard::spawn("opentracker", &args);
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            // Still running after answering: it owns the port.
            std::thread::sleep(Duration::from_millis(100));
            if tracker.child.try_wait().unwrap().is_none() {
                break 'start (meta, tracker);
            }
        }
        panic!("opentracker did not start");
    };

    let seeder = session(true).await;
    let seed = add(&seeder, &meta, &src, vec![]).await;
    wait_completed(&seed, 20).await;
    let mut leechers = Vec::new();
    for i in 0..2 {
        let s = session(true).await;
        let out = dir.path().join(format!("out{i}"));
        let h = add(&s, &meta, &out, vec![]).await;
        leechers.push((s, h, out));
    }
    for (_, h, out) in &leechers {
        wait_completed(h, 60).await;
        assert_same_sha256(&payload, &out.join("payload"));
    }
    for (s, _, _) in &leechers {
        s.shutdown().await;
    }
    seeder.shutdown().await;
    let pid = tracker.child.id();
    drop(tracker);
    // A daemon that dropped privileges must still be gone.
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/status"))
                .is_ok_and(|s| s.contains("State:\tZ")),
        "opentracker {pid} survived"
    );
}
