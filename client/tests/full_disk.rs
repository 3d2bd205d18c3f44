//! A real full disk: `shoal download` into a 2 MiB tmpfs fails with one plain sentence
//! naming the file, keeps what it verified, and once the tmpfs is remounted larger the
//! same command resumes and completes. Needs root (mount); `.ci/run` runs it as root.
//!
//! Run with `cargo test -p shoal --test full_disk -- --ignored`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const SHOAL: &str = env!("CARGO_BIN_EXE_shoal");

/// A tmpfs mounted on a folder, unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount -t tmpfs on {} failed", dir.display());
        Tmpfs {
            dir: dir.to_path_buf(),
        }
    }

    fn resize(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount of {} failed", self.dir.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Still busy (a child not yet gone): detach it so nothing stays mounted.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// Runs `shoal download --json`; returns its exit code, the pieces it verified, stderr.
fn download(torrent: &Path, out: &Path, peer: &str) -> (Option<i32>, usize, String) {
    let result = Command::new(SHOAL)
        .args(["download", torrent.to_str().unwrap(), "-o"])
        .arg(out)
        .args(["--peer", peer, "--listen", "127.0.0.1:0", "--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&result.stdout);
    let verified = stdout
        .lines()
        .filter(|l| l.contains("piece_verified"))
        .count();
    let stderr = String::from_utf8_lossy(&result.stderr).into_owned();
    (result.status.code(), verified, stderr)
}

#[test]
#[ignore = "needs root to mount a tmpfs: run by .ci/run"]
fn a_full_disk_stops_with_one_sentence_and_the_download_resumes_after_space_is_freed() {
    assert!(is_root(), "this test mounts a tmpfs and must run as root");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    // 4.5 MB of payload for a 2 MiB file system.
    let payload = make_folder(&src, "payload", &[1_500_000, 3_000_000]);
    let meta = make_torrent(&payload, 32 * 1024, &[]);
    let torrent = write_torrent(dir.path(), &meta);
    let (_seeder, peer) = start_shoal_seeder(&torrent, &src, "--quiet", 30);
    let out = dir.path().join("small");
    let disk = Tmpfs::mount(&out, "2m");

    let (code, first_verified, stderr) = download(&torrent, &out, &peer);
    assert_eq!(code, Some(1), "a full disk is a failure: {stderr}");
    let line = stderr.trim();
    assert_eq!(line.lines().count(), 1, "one sentence: {stderr}");
    let named = meta.files().iter().any(|f| {
        let path = out
            .join("payload")
            .join(f.path.iter().skip(1).collect::<PathBuf>());
        line.contains(&format!("cannot write {}", path.display()))
    });
    assert!(
        named && line.ends_with("the disk is full"),
        "names the file and says the disk is full: {stderr}"
    );
    assert!(
        first_verified > 0,
        "some pieces fit and were verified before the disk filled"
    );
    let total = meta.num_pieces() as usize;
    eprintln!("first run: {first_verified} of {total} pieces verified; {line}");
    assert!(first_verified < total, "the payload cannot fit in 2 MiB");

    // Space freed: the same command continues from what was verified and completes.
    disk.resize("16m");
    let (code, second_verified, stderr) = download(&torrent, &out, &peer);
    assert_eq!(code, Some(0), "{stderr}");
    assert_same_sha256(&payload, &out.join("payload"));
    eprintln!("second run: {second_verified} pieces verified");
    assert!(
        second_verified <= total - first_verified,
        "what the first run verified was kept: {first_verified} then {second_verified} \
         of {total} pieces"
    );
    drop(disk);
}
