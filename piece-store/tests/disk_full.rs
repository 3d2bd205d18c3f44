//! Disk full: a child process runs under `ulimit -f` (RLIMIT_FSIZE, with SIGXFSZ ignored so
//! writes fail with EFBIG instead of killing it). The error names the file and the
//! operation, nothing verified is lost, and the store works again once the limit is gone.
//!
//! The child is this test binary run again with `SHOAL_FULL_CHILD` set.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};
use shoal_piece_store::{
    BlockWrite, FileEntry, FileStorage, FileStorageOptions, Layout, PieceHashes, PieceStore,
};

const PIECE: u64 = 32 * 1024;
/// The child's file size limit, in bash's 1024-byte `ulimit -f` units: 512 KiB.
const LIMIT_KIB: u64 = 512;

fn layout() -> Layout {
    Layout::new(
        vec![
            FileEntry::new("small.bin", 100 * 1024),
            FileEntry::new("dir/big.bin", 2 << 20),
        ],
        PIECE,
    )
    .unwrap()
}

fn content(layout: &Layout) -> Vec<u8> {
    (0..layout.total_length())
        .map(|i| (i % 251) as u8 ^ (i >> 12) as u8)
        .collect()
}

fn store(dir: &Path) -> PieceStore<FileStorage> {
    let layout = layout();
    let content = content(&layout);
    let hashes = PieceHashes::V1(
        content
            .chunks(PIECE as usize)
            .map(|p| Sha1::digest(p).into())
            .collect(),
    );
    let storage =
        FileStorage::new(dir.join("data"), &layout, FileStorageOptions::default()).unwrap();
    PieceStore::open_with_resume(layout, storage, hashes, dir.join("resume"), 2).unwrap()
}

fn write_piece(
    store: &PieceStore<FileStorage>,
    content: &[u8],
    p: u32,
) -> shoal_piece_store::Result<bool> {
    let (start, size) = store.layout().piece_range(p).unwrap();
    for o in (0..size).step_by(16 * 1024) {
        let s = (start + u64::from(o)) as usize;
        let len = (16 * 1024).min(size - o) as usize;
        if store.write_block(p, o, &content[s..s + len])? == BlockWrite::PieceComplete {
            return store.verify_piece(p);
        }
    }
    Ok(false)
}

/// The child: write every piece in order under the file size limit, report each error.
#[test]
fn disk_full_child_entry() {
    let Some(dir) = std::env::var_os("SHOAL_FULL_CHILD") else {
        return; // only runs as the child
    };
    let dir = Path::new(&dir);
    let store = store(dir);
    let content = content(store.layout());
    for p in 0..store.layout().num_pieces() {
        match write_piece(&store, &content, p) {
            Ok(ok) => println!("piece {p} {ok}"),
            Err(e) => {
                println!("error piece {p}: {e}");
                assert!(!store.have(p), "a failed piece is never claimed");
            }
        }
    }
    store.save_resume(dir.join("resume")).unwrap();
    println!("saved {}", store.num_have());
}

fn run_limited_child(dir: &Path) -> String {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {LIMIT_KIB}; exec \"$0\" \"$@\""
        ))
        .arg(exe)
        .args([
            "--exact",
            "disk_full_child_entry",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("SHOAL_FULL_CHILD", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The child prints a few hundred lines at most: the pipes never fill, so polling
    // for its exit with a deadline cannot deadlock.
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("disk-full child did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn file_size_limit_errors_name_the_file_and_lose_nothing() {
    if std::env::var_os("SHOAL_FULL_CHILD").is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let layout = layout();
    let content = content(&layout);
    let small_pieces = layout.pieces_of_file(0).unwrap();
    let big_pieces = layout.pieces_of_file(1).unwrap();

    // Round 1: big.bin cannot even be sized to 2 MiB.
    let out = run_limited_child(dir.path());
    let first_big = big_pieces.start;
    // Piece 3 holds the end of small.bin and the start of big.bin.
    assert!(
        out.contains(&format!("error piece {first_big}: cannot set length of"))
            && out.contains("dir/big.bin"),
        "{out}"
    );
    assert!(out.contains("File too large"), "{out}");
    let s = store(dir.path());
    for p in small_pieces.clone() {
        if !big_pieces.contains(&p) {
            assert!(s.have(p), "small.bin piece {p} kept: {out}");
        }
    }
    assert!(big_pieces.clone().all(|p| !s.have(p)));
    drop(s);

    // Round 2: big.bin exists at full (sparse) length, so writes below the limit succeed
    // and writes past it fail with the file's name.
    std::fs::File::options()
        .write(true)
        .open(dir.path().join("data/dir/big.bin"))
        .unwrap()
        .set_len(2 << 20)
        .unwrap();
    let out = run_limited_child(dir.path());
    // The piece holding big.bin's byte at the limit (big.bin starts 100 KiB in).
    let limit_piece = ((100 * 1024 + LIMIT_KIB * 1024) / PIECE) as u32;
    assert!(
        out.contains(&format!("error piece {limit_piece}: cannot write"))
            && out.contains("dir/big.bin"),
        "{out}"
    );
    let s = store(dir.path());
    let kept = s.num_have();
    assert_eq!(
        kept, limit_piece,
        "every piece below the limit was kept\n{out}"
    );
    for p in s.bitfield().ones() {
        assert!(s.check_piece(p).unwrap());
    }

    // The cause is gone (no limit in this process): the same store finishes the job.
    for p in 0..layout.num_pieces() {
        if !s.have(p) {
            assert!(write_piece(&s, &content, p).unwrap(), "piece {p}");
        }
    }
    assert!(s.is_complete());
    assert_eq!(
        std::fs::read(dir.path().join("data/dir/big.bin")).unwrap(),
        &content[100 * 1024..]
    );
}
