//! Crash safety: a child process writing blocks (some of them bad) is killed with SIGKILL
//! at random moments; reopening with the resume file never claims a piece whose bytes do
//! not verify, and the download finishes across restarts.
//!
//! The child is this test binary run again with `SHOAL_CRASH_CHILD` set.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};
use shoal_piece_store::{
    BlockWrite, FileEntry, FileStorage, FileStorageOptions, Layout, PieceHashes, PieceStore,
    ResumeData,
};

const PIECE: u64 = 16 * 1024;
const BLOCK: usize = 4096;

fn layout() -> Layout {
    Layout::new(
        vec![
            FileEntry::new("c/one.bin", 200 * 1024 + 17),
            FileEntry::new("c/empty", 0),
            FileEntry::pad(PIECE - 17),
            FileEntry::new("c/d/two.bin", 300 * 1024 + 5),
            FileEntry::new("three.bin", 90_000),
        ],
        PIECE,
    )
    .unwrap()
}

fn content(layout: &Layout) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, f) in layout.files().iter().enumerate() {
        out.extend((0..f.length).map(|j| {
            if f.pad {
                0
            } else {
                (j as u8).wrapping_mul(7) ^ (i as u8 * 40 + 3)
            }
        }));
    }
    out
}

fn hashes(layout: &Layout, content: &[u8]) -> PieceHashes {
    PieceHashes::V1(
        content
            .chunks(layout.piece_length() as usize)
            .map(|p| Sha1::digest(p).into())
            .collect(),
    )
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn open(dir: &Path) -> PieceStore<FileStorage> {
    let layout = layout();
    let content = content(&layout);
    let storage =
        FileStorage::new(dir.join("data"), &layout, FileStorageOptions::default()).unwrap();
    PieceStore::open_with_resume(
        layout.clone(),
        storage,
        hashes(&layout, &content),
        dir.join("resume"),
        2,
    )
    .unwrap()
}

/// The child: resume, then write the missing pieces' blocks in random order, 1 in 10 of
/// them corrupted, verifying complete pieces and saving resume data every few pieces.
/// Prints one line per step so the parent can kill it at a chosen step.
#[test]
fn crash_child_entry() {
    let Some(dir) = std::env::var_os("SHOAL_CRASH_CHILD") else {
        return; // only runs as the child
    };
    let dir = Path::new(&dir);
    let store = open(dir);
    let layout = store.layout().clone();
    let content = content(&layout);
    let mut rng = Rng(u64::from(std::process::id()));
    let mut blocks = Vec::new();
    for p in (0..layout.num_pieces()).filter(|&p| !store.have(p)) {
        let size = layout.piece_size(p).unwrap() as usize;
        blocks.extend((0..size).step_by(BLOCK).map(|o| (p, o)));
    }
    let mut verified = 0;
    while !blocks.is_empty() {
        let (p, o) = blocks.swap_remove(rng.below(blocks.len() as u64) as usize);
        let (start, size) = layout.piece_range(p).unwrap();
        let s = start as usize + o;
        let mut data = content[s..s + BLOCK.min(size as usize - o)].to_vec();
        if rng.below(10) == 0 {
            data[0] ^= 0x55;
        }
        println!("wrote {p} {o}");
        if store.write_block(p, o as u32, &data).unwrap() == BlockWrite::PieceComplete {
            if store.verify_piece(p).unwrap() {
                verified += 1;
                if verified % 2 == 0 {
                    store.save_resume(dir.join("resume")).unwrap();
                    println!("saved");
                }
            } else {
                // Re-queue the whole piece, as a client would re-request it.
                blocks.extend((0..size as usize).step_by(BLOCK).map(|o| (p, o)));
            }
        }
    }
    store.save_resume(dir.join("resume")).unwrap();
    println!("done");
}

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child's stdout lines, read on a thread so the parent can wait with a deadline.
fn lines_of(child: &mut KillOnDrop) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn spawn_child(dir: &Path) -> KillOnDrop {
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child_entry",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("SHOAL_CRASH_CHILD", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    KillOnDrop(child)
}

/// Every piece the resume file lets a store claim (without hashing) really verifies.
fn assert_claims_verify(dir: &Path) -> u32 {
    let layout = layout();
    let content = content(&layout);
    let storage =
        FileStorage::new(dir.join("data"), &layout, FileStorageOptions::default()).unwrap();
    let store = PieceStore::new(layout.clone(), storage, hashes(&layout, &content)).unwrap();
    let Some(resume) = ResumeData::load(dir.join("resume")).unwrap() else {
        return 0;
    };
    store.apply_resume(&resume).unwrap();
    for p in store.bitfield().ones() {
        let (start, size) = layout.piece_range(p).unwrap();
        let on_disk = store.read_block(p, 0, size).unwrap();
        assert!(
            on_disk == content[start as usize..(start + u64::from(size)) as usize],
            "piece {p} claimed but its bytes are wrong"
        );
    }
    // And what a reopening store claims (resume + recheck of changed files) is right too.
    let reopened = open(dir);
    for p in reopened.bitfield().ones() {
        assert!(
            reopened.check_piece(p).unwrap(),
            "piece {p} claimed after reopen but bad"
        );
    }
    reopened.num_have()
}

#[test]
fn sigkill_at_random_moments_never_claims_bad_pieces() {
    if std::env::var_os("SHOAL_CRASH_CHILD").is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed);
    let mut finished = false;
    let mut progress = Vec::new();
    for _round in 0..12 {
        let mut child = spawn_child(dir.path());
        let kill_after = rng.below(120);
        let lines = lines_of(&mut child);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut steps = 0;
        while steps < kill_after {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) if line.starts_with("wrote") || line == "saved" => steps += 1,
                Ok(line) if line == "done" => {
                    finished = true;
                    break;
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("child made no progress in 60 s"),
            }
        }
        child.0.kill().unwrap(); // SIGKILL
        child.0.wait().unwrap();
        progress.push(assert_claims_verify(dir.path()));
        if finished {
            break;
        }
    }
    eprintln!("pieces held after each kill: {progress:?}");
    // Let the last child run to the end: the files are complete and correct.
    let mut child = spawn_child(dir.path());
    let _drain = lines_of(&mut child);
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "last child did not finish in 120 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "child failed: {status}");
    let layout = layout();
    let store = open(dir.path());
    assert!(store.is_complete(), "progress per round: {progress:?}");
    let content = content(&layout);
    assert_eq!(
        std::fs::read(dir.path().join("data/c/d/two.bin")).unwrap(),
        &content[(200 * 1024 + 17 + PIECE as usize - 17)..][..300 * 1024 + 5]
    );
    assert!(
        progress.iter().any(|&n| n > 0),
        "some progress survived kills: {progress:?}"
    );
}
