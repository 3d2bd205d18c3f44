//! The `shoal` binary: `seed` then `download --peer` over loopback; plain errors.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const SHOAL: &str = env!("CARGO_BIN_EXE_shoal");

#[test]
fn seed_then_download_with_peer_exits_zero_with_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "payload", &[600_000, 10, 250_000]);
    let meta = make_torrent(&payload, 32 * 1024, &[]);
    let torrent = write_torrent(dir.path(), &meta);
    let (seeder, listen) = start_shoal_seeder(&torrent, &src, "--json", 20);
    let out = dir.path().join("out");
    let result = Command::new(SHOAL)
        .args([
            "download",
            torrent.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--peer",
            &listen,
            "--listen",
            "127.0.0.1:0",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "download failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert_same_sha256(&payload, &out.join("payload"));
    drop(seeder);
}

#[test]
fn a_torrent_that_does_not_parse_gets_one_plain_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.torrent");
    std::fs::write(&bad, b"this is not bencode").unwrap();
    let out = Command::new(SHOAL)
        .args([
            "download",
            bad.to_str().unwrap(),
            "-o",
            dir.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not parse"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn a_missing_torrent_file_is_named() {
    let out = Command::new(SHOAL)
        .args([
            "download",
            "/nonexistent/x.torrent",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/x.torrent does not exist"),
        "{err}"
    );
}

#[test]
fn seeding_data_that_does_not_match_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "payload", &[100_000]);
    let meta = make_torrent(&payload, 16 * 1024, &[]);
    let torrent = write_torrent(dir.path(), &meta);
    let other = dir.path().join("empty");
    std::fs::create_dir_all(&other).unwrap();
    let out = Command::new(SHOAL)
        .args([
            "seed",
            torrent.to_str().unwrap(),
            "--data",
            other.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not match the torrent: 0 of"), "{err}");
}

#[test]
fn ctrl_c_saves_resume_data_and_the_same_command_continues() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "payload", &[3_000_000]);
    let meta = make_torrent(&payload, 32 * 1024, &[]);
    let torrent = write_torrent(dir.path(), &meta);
    let (_seeder, listen) = start_shoal_seeder(&torrent, &src, "--json", 20);
    let out = dir.path().join("out");
    let args = [
        "download",
        torrent.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--peer",
        &listen,
        "--listen",
        "127.0.0.1:0",
        "--max-down",
        "300k",
        "--json",
    ];
    // Slow download; interrupt it once a few pieces are verified.
    let first = ChildGuard::spawn(SHOAL, &args);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut verified = 0;
    while verified < 5 {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = first.lines.recv_timeout(left).expect("no progress");
        if line.contains("piece_verified") {
            verified += 1;
        }
    }
    let mut first = first;
    let status = first.interrupt(20);
    assert_eq!(
        status.code(),
        Some(130),
        "interrupted download must not exit 0"
    );
    assert!(
        out.join(".shoal").read_dir().unwrap().next().is_some(),
        "no resume data"
    );

    // The same command (without the limit) continues and completes.
    let again = Command::new(SHOAL)
        .args(&args[..args.len() - 3])
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_same_sha256(&payload, &out.join("payload"));
}

#[test]
fn a_file_size_limit_gives_one_plain_sentence_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "payload", &[300_000, 2_000_000]);
    let meta = make_torrent(&payload, 32 * 1024, &[]);
    let torrent = write_torrent(dir.path(), &meta);
    let (seeder, listen) = start_shoal_seeder(&torrent, &src, "--json", 20);
    let out = dir.path().join("out");
    // RLIMIT_FSIZE of 1 MiB: the 2 MB file cannot be sized or written, as on a full disk.
    let result = Command::new("bash")
        .args([
            "-c",
            "ulimit -f 1024; exec \"$0\" \"$@\"",
            SHOAL,
            "download",
        ])
        .args([torrent.to_str().unwrap(), "-o", out.to_str().unwrap()])
        .args(["--peer", &listen, "--listen", "127.0.0.1:0", "--quiet"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(
        result.status.code(),
        Some(1),
        "a plain failure, not a signal: {stderr}"
    );
    let big = out.join("payload").join("sub").join("file1.bin");
    assert!(
        stderr.contains(&format!("cannot write {}", big.display()))
            && stderr.contains("file size limit"),
        "stderr names the file and the cause: {stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");
    drop(seeder);
}
