//! A real full disk: a 1 MiB tmpfs mounted in a temp folder (needs root, so the test is
//! ignored by default and run by `.ci/run` with `-- --ignored`). Pieces are written until
//! the file system answers ENOSPC; the error names the file and the operation, no piece is
//! claimed whose bytes are not all written, verified pieces stay verified (in the store and
//! in the resume file), and once the tmpfs is grown the same store finishes the download.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha1::{Digest, Sha1};
use shoal_piece_store::{
    BlockWrite, Error, FileEntry, FileOp, FileStorage, FileStorageOptions, Layout, PieceHashes,
    PieceStore, ResumeData,
};

const PIECE: u64 = 32 * 1024;
const BLOCK: u32 = 16 * 1024;

/// A tmpfs mounted on a folder; unmounted on drop, whatever happened in the test.
struct TmpfsMount {
    dir: PathBuf,
}

impl TmpfsMount {
    fn new(dir: &Path, size: &str) -> Self {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mount -t tmpfs failed (this test needs root: run by .ci/run): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        TmpfsMount {
            dir: dir.to_path_buf(),
        }
    }

    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "remount failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Still busy (a handle leaked by a failed assertion): detach it anyway so no
            // mount outlives the test.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

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
        .map(|i| (i % 253) as u8 ^ (i >> 11) as u8)
        .collect()
}

fn hashes(content: &[u8]) -> PieceHashes {
    PieceHashes::V1(
        content
            .chunks(PIECE as usize)
            .map(|p| Sha1::digest(p).into())
            .collect(),
    )
}

fn open(root: &Path, content: &[u8]) -> PieceStore<FileStorage> {
    let layout = layout();
    let storage =
        FileStorage::new(root.join("data"), &layout, FileStorageOptions::default()).unwrap();
    PieceStore::open_with_resume(layout, storage, hashes(content), root.join("resume"), 2).unwrap()
}

/// Write `piece` block by block and verify it when complete.
fn write_piece(
    store: &PieceStore<FileStorage>,
    content: &[u8],
    piece: u32,
) -> shoal_piece_store::Result<bool> {
    let (start, size) = store.layout().piece_range(piece).unwrap();
    for o in (0..size).step_by(BLOCK as usize) {
        let s = (start + u64::from(o)) as usize;
        let len = BLOCK.min(size - o) as usize;
        if store.write_block(piece, o, &content[s..s + len])? == BlockWrite::PieceComplete {
            return store.verify_piece(piece);
        }
    }
    Ok(false)
}

fn assert_enospc(err: &Error, op: FileOp, name: &str) {
    match err {
        Error::Io {
            op: got,
            path,
            source,
        } => {
            assert_eq!(*got, op, "{err}");
            assert!(path.ends_with(name), "error names {name}: {err}");
            assert_eq!(source.kind(), ErrorKind::StorageFull, "{err}");
            let text = err.to_string();
            assert!(
                text.contains(&op.to_string()) && text.contains(name),
                "message names the operation and the file: {text}"
            );
        }
        other => panic!("expected an IO error for {name}, got {other}"),
    }
}

#[test]
#[ignore = "needs root to mount a tmpfs: run by .ci/run"]
fn full_tmpfs_keeps_verified_pieces_and_recovers() {
    assert_eq!(
        effective_uid(),
        Some(0),
        "this test mounts a tmpfs and must run as root (CI runs ignored tests as root)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let mount = TmpfsMount::new(tmp.path(), "1m");
    let root = mount.dir.clone();
    let layout = layout();
    let content = content(&layout);
    let n = layout.num_pieces();

    // Fill the tmpfs piece by piece, saving resume data after each verified piece, until
    // the file system is full.
    let store = open(&root, &content);
    let mut full_at = None;
    for p in 0..n {
        match write_piece(&store, &content, p) {
            Ok(true) => store.save_resume(root.join("resume")).unwrap(),
            Ok(false) => panic!("piece {p} written whole but does not verify"),
            Err(e) => {
                assert_enospc(&e, FileOp::Write, "dir/big.bin");
                full_at = Some(p);
                break;
            }
        }
    }
    let full_at = full_at.expect("a 1 MiB tmpfs cannot hold 2.1 MiB");
    // About 1 MiB (32 pieces) fits; the small file and the resume files take a few pages.
    assert!(
        (26..=32).contains(&full_at),
        "the disk filled at piece {full_at}, not near 1 MiB"
    );
    // Everything before the failing piece was verified; it and everything after are not.
    assert_eq!(store.num_have(), full_at);
    assert!(
        !store.have(full_at),
        "a piece whose write failed is not claimed"
    );
    assert!(
        store.bytes_written(full_at) < layout.piece_size(full_at).unwrap(),
        "the failed block is not recorded as written"
    );
    // Every later piece fails too, with the same named error, and is not claimed.
    for p in full_at + 1..(full_at + 4).min(n) {
        let e = write_piece(&store, &content, p).unwrap_err();
        assert_enospc(&e, FileOp::Write, "dir/big.bin");
        assert!(!store.have(p));
    }
    // Saving resume data on a full disk fails with the resume file's name, and the file
    // saved before stays intact.
    let e = store.save_resume(root.join("resume")).unwrap_err();
    assert_enospc(&e, FileOp::SaveResume, "resume");
    let saved = ResumeData::load(root.join("resume")).unwrap().unwrap();
    assert_eq!(saved.pieces.count_ones(), full_at);
    for p in 0..n {
        assert_eq!(saved.pieces.get(p), p < full_at, "resume file, piece {p}");
    }

    // A store reopened from that resume file (disk still full) claims exactly the verified
    // pieces, and their bytes are on disk.
    let reopened = open(&root, &content);
    assert_eq!(reopened.bitfield(), saved.pieces);
    for p in reopened.bitfield().ones() {
        assert!(
            reopened.check_piece(p).unwrap(),
            "claimed piece {p} verifies"
        );
        let (start, size) = layout.piece_range(p).unwrap();
        let s = start as usize;
        assert_eq!(
            reopened.read_block(p, 0, size).unwrap(),
            &content[s..s + size as usize]
        );
    }
    drop(reopened);

    // The cause goes away: the same store accepts writes again and completes.
    mount.resize("4m");
    for p in 0..n {
        if !store.have(p) {
            assert!(write_piece(&store, &content, p).unwrap(), "piece {p}");
        }
    }
    assert!(store.is_complete());
    store.save_resume(root.join("resume")).unwrap();
    drop(store);
    let done = open(&root, &content);
    assert!(
        done.is_complete(),
        "the resume file records the whole download"
    );
    drop(done);
    assert_eq!(
        std::fs::read(root.join("data/small.bin")).unwrap(),
        &content[..100 * 1024]
    );
    assert_eq!(
        std::fs::read(root.join("data/dir/big.bin")).unwrap(),
        &content[100 * 1024..]
    );
}
