//! FileStorage on a real folder: creation, sparse sizing, path safety, the handle cache,
//! errors with the file's name, and resume files.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha1::{Digest, Sha1};
use shoal_piece_store::{
    BlockWrite, Error, FileEntry, FileOp, FileStorage, FileStorageOptions, Layout, PieceHashes,
    PieceStore, ResumeData, Storage,
};

fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(13) ^ salt)
        .collect()
}

fn v1_hashes(content: &[u8], pl: u64) -> PieceHashes {
    PieceHashes::V1(
        content
            .chunks(pl as usize)
            .map(|p| Sha1::digest(p).into())
            .collect(),
    )
}

/// Layout and whole content of: a (100 KiB), empty, pad 4 KiB... as a v1 torrent.
fn sample() -> (Layout, Vec<u8>) {
    let files = vec![
        FileEntry::new("top/a.bin", 100 * 1024),
        FileEntry::new("top/empty", 0),
        FileEntry::pad(12 * 1024),
        FileEntry::new("top/sub/b.bin", 70 * 1024),
    ];
    let mut content = pattern(100 * 1024, 1);
    content.extend(vec![0; 12 * 1024]);
    content.extend(pattern(70 * 1024, 2));
    (Layout::new(files, 16 * 1024).unwrap(), content)
}

fn write_piece<S: Storage>(
    store: &PieceStore<S>,
    content: &[u8],
    piece: u32,
) -> shoal_piece_store::Result<bool> {
    let (start, size) = store.layout().piece_range(piece).unwrap();
    let data = &content[start as usize..(start + u64::from(size)) as usize];
    let mut last = BlockWrite::Partial;
    for (i, chunk) in data.chunks(5000).enumerate() {
        last = store.write_block(piece, (i * 5000) as u32, chunk)?;
    }
    assert_eq!(last, BlockWrite::PieceComplete);
    store.verify_piece(piece)
}

#[test]
fn first_write_creates_sparse_full_length_files_and_no_pad() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, content) = sample();
    let storage = FileStorage::new(dir.path(), &layout, FileStorageOptions::default()).unwrap();
    let store = PieceStore::new(layout.clone(), storage, v1_hashes(&content, 16 * 1024)).unwrap();
    assert!(
        !dir.path().join("top").exists(),
        "nothing created before the first write"
    );
    assert!(write_piece(&store, &content, 10).unwrap()); // inside b.bin
    let b = fs::metadata(dir.path().join("top/sub/b.bin")).unwrap();
    assert_eq!(b.len(), 70 * 1024);
    assert!(
        b.blocks() * 512 < 70 * 1024,
        "b.bin is sparse ({} blocks)",
        b.blocks()
    );
    assert_eq!(fs::metadata(dir.path().join("top/empty")).unwrap().len(), 0);
    assert!(
        !dir.path().join("top/a.bin").exists(),
        "a.bin not written yet"
    );
    assert!(!dir.path().join(".pad").exists());
    for p in 0..layout.num_pieces() {
        if p != 10 {
            assert!(write_piece(&store, &content, p).unwrap(), "piece {p}");
        }
    }
    assert_eq!(
        fs::read(dir.path().join("top/a.bin")).unwrap(),
        &content[..100 * 1024]
    );
    assert_eq!(
        fs::read(dir.path().join("top/sub/b.bin")).unwrap(),
        &content[112 * 1024..]
    );
    assert!(
        !dir.path().join(".pad").exists(),
        "pad files never reach the disk"
    );
    // Pad bytes read back as zeros from the piece containing them.
    assert_eq!(store.read_block(6, 4096, 100).unwrap(), vec![0; 100]);
}

#[test]
fn symlink_escape_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir(&root).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("top")).unwrap();
    let (layout, content) = sample();
    let storage = FileStorage::new(&root, &layout, FileStorageOptions::default()).unwrap();
    let store = PieceStore::new(layout, storage, v1_hashes(&content, 16 * 1024)).unwrap();
    let err = write_piece(&store, &content, 0).unwrap_err();
    assert!(matches!(err, Error::UnsafePath { .. }), "{err}");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(
        fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing written outside"
    );
    // A symlinked file is refused as well.
    fs::remove_file(root.join("top")).unwrap();
    fs::create_dir_all(root.join("top/sub")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("x"), root.join("top/sub/b.bin")).unwrap();
    assert!(matches!(
        write_piece(&store, &content, 10),
        Err(Error::UnsafePath { .. })
    ));
    assert!(!outside.path().join("x").exists());
}

#[test]
fn handle_cache_stays_bounded_with_thousands_of_files() {
    let dir = tempfile::tempdir().unwrap();
    let n = 3000;
    let files: Vec<_> = (0..n)
        .map(|i| FileEntry::new(format!("d{}/f{i}", i % 17), 3))
        .collect();
    let layout = Layout::new(files, 64).unwrap();
    let content = pattern(3 * n, 9);
    let storage = FileStorage::new(
        dir.path(),
        &layout,
        FileStorageOptions::default().with_max_open_files(40),
    )
    .unwrap();
    let store = PieceStore::new(layout.clone(), storage, v1_hashes(&content, 64)).unwrap();
    let fds_before = fs::read_dir("/proc/self/fd").unwrap().count();
    let mut max_open = 0;
    // Write pieces back to front so each write hits a file whose handle was evicted.
    for p in (0..layout.num_pieces()).rev() {
        let (start, size) = layout.piece_range(p).unwrap();
        store
            .write_block(
                p,
                0,
                &content[start as usize..(start + u64::from(size)) as usize],
            )
            .unwrap();
        assert!(store.verify_piece(p).unwrap());
        max_open = max_open.max(store.storage().open_handles());
    }
    assert!(max_open <= 40, "{max_open} handles open");
    let fds_after = fs::read_dir("/proc/self/fd").unwrap().count();
    assert!(
        fds_after < fds_before + 200,
        "fds grew from {fds_before} to {fds_after}"
    );
    assert_eq!(
        fs::read(dir.path().join("d5/f2997")).unwrap(),
        &content[3 * 2997..3 * 2998]
    );
}

#[test]
fn file_replaced_by_folder_gives_named_error_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, content) = sample();
    let storage = FileStorage::new(dir.path(), &layout, FileStorageOptions::default()).unwrap();
    let store = PieceStore::new(layout.clone(), storage, v1_hashes(&content, 16 * 1024)).unwrap();
    assert!(write_piece(&store, &content, 0).unwrap());
    let a = dir.path().join("top/a.bin");
    store.storage().close_all();
    fs::remove_file(&a).unwrap();
    fs::create_dir(&a).unwrap();
    let err = write_piece(&store, &content, 1).unwrap_err();
    match &err {
        Error::Io { op, path, .. } => {
            assert_eq!(*op, FileOp::Open);
            assert!(path.ends_with("top/a.bin"), "{err}");
        }
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("a.bin"), "{err}");
    assert!(!store.have(1), "no partial claim");
    assert_eq!(store.bytes_written(1), 0);
    // Reading the verified piece now fails with the file's name too.
    let err = store.read_block(0, 0, 10).unwrap_err();
    assert!(err.path().unwrap().ends_with("top/a.bin"), "{err}");
    // Once the folder is gone, the store works again.
    fs::remove_dir(&a).unwrap();
    assert!(write_piece(&store, &content, 1).unwrap());
    assert_eq!(
        store.recheck_all(2, &|_| {}).unwrap(),
        1,
        "piece 0's bytes were lost with the file"
    );
    assert!(store.have(1) && !store.have(0));
}

#[test]
fn resume_claims_unchanged_files_and_rechecks_changed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let resume = dir.path().join("resume.bin");
    let data = dir.path().join("data");
    let (layout, content) = sample();
    let hashes = v1_hashes(&content, 16 * 1024);
    {
        let storage = FileStorage::new(&data, &layout, FileStorageOptions::default()).unwrap();
        let store = PieceStore::new(layout.clone(), storage, hashes.clone()).unwrap();
        for p in 0..layout.num_pieces() {
            assert!(write_piece(&store, &content, p).unwrap());
        }
        store.save_resume(&resume).unwrap();
    }
    // Unchanged: everything is claimed without hashing.
    let storage = FileStorage::new(&data, &layout, FileStorageOptions::default()).unwrap();
    let store = PieceStore::new(layout.clone(), storage, hashes.clone()).unwrap();
    let outcome = store
        .apply_resume(&ResumeData::load(&resume).unwrap().unwrap())
        .unwrap();
    assert_eq!(outcome.claimed, layout.num_pieces());
    assert!(outcome.to_recheck.is_empty());
    drop(store);

    // Damage one byte of b.bin (its size stays, its mtime changes): b's pieces are rechecked
    // and only the damaged one is lost.
    let b = data.join("top/sub/b.bin");
    let mut bytes = fs::read(&b).unwrap();
    bytes[40 * 1024] ^= 0xff;
    fs::write(&b, &bytes).unwrap();
    let storage = FileStorage::new(&data, &layout, FileStorageOptions::default()).unwrap();
    let store = PieceStore::new(layout.clone(), storage, hashes.clone()).unwrap();
    let outcome = store
        .apply_resume(&ResumeData::load(&resume).unwrap().unwrap())
        .unwrap();
    assert_eq!(
        outcome.to_recheck,
        layout.pieces_of_file(3).unwrap().collect::<Vec<_>>()
    );
    drop(store);
    let storage = FileStorage::new(&data, &layout, FileStorageOptions::default()).unwrap();
    let store =
        PieceStore::open_with_resume(layout.clone(), storage, hashes.clone(), &resume, 2).unwrap();
    let damaged = ((112 + 40) / 16) as u32;
    let missing: Vec<u32> = (0..layout.num_pieces())
        .filter(|&p| !store.have(p))
        .collect();
    assert_eq!(missing, vec![damaged]);

    // A deleted file: its pieces are not claimed.
    fs::remove_file(data.join("top/a.bin")).unwrap();
    let storage = FileStorage::new(&data, &layout, FileStorageOptions::default()).unwrap();
    let store =
        PieceStore::open_with_resume(layout.clone(), storage, hashes.clone(), &resume, 2).unwrap();
    for p in 0..layout.num_pieces() {
        let in_a = p < 7;
        assert_eq!(store.have(p), !in_a && p != damaged, "piece {p}");
    }

    // A resume file of another layout or a corrupt one is not trusted: full recheck.
    fs::write(&resume, b"garbage").unwrap();
    let storage = FileStorage::new(&data, &layout, FileStorageOptions::default()).unwrap();
    let store = PieceStore::open_with_resume(layout.clone(), storage, hashes, &resume, 2).unwrap();
    assert_eq!(store.num_have(), layout.num_pieces() - 8);
    assert!(matches!(
        ResumeData::load(&resume),
        Err(Error::BadResume { .. })
    ));
    assert!(
        ResumeData::load(Path::new("/nonexistent/r"))
            .unwrap()
            .is_none()
    );
}

/// Makes a file unwritable: `chattr +i` as root (root ignores modes), `chmod 444`
/// otherwise; undone on drop so the temp folder can be removed.
struct ReadOnly(std::path::PathBuf, bool);
impl ReadOnly {
    fn new(path: &Path) -> Self {
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .unwrap()
            .stdout
            == b"0\n";
        if root {
            let ok = std::process::Command::new("chattr")
                .arg("+i")
                .arg(path)
                .status()
                .unwrap();
            assert!(ok.success(), "chattr +i failed");
        } else {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(path, fs::Permissions::from_mode(0o444)).unwrap();
        }
        ReadOnly(path.to_path_buf(), root)
    }
}
impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.1 {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(&self.0)
                .status();
        } else {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(0o644));
        }
    }
}

#[test]
fn permission_denied_names_the_file_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, content) = sample();
    let storage = FileStorage::new(dir.path(), &layout, FileStorageOptions::default()).unwrap();
    let store = PieceStore::new(layout.clone(), storage, v1_hashes(&content, 16 * 1024)).unwrap();
    assert!(write_piece(&store, &content, 0).unwrap());
    store.storage().close_all();
    let a = dir.path().join("top/a.bin");
    let guard = ReadOnly::new(&a);
    let err = write_piece(&store, &content, 1).unwrap_err();
    match &err {
        Error::Io { op, path, source } => {
            assert_eq!(*op, FileOp::Open);
            assert!(path.ends_with("top/a.bin"));
            assert_eq!(source.kind(), std::io::ErrorKind::PermissionDenied, "{err}");
        }
        other => panic!("unexpected {other}"),
    }
    assert!(!store.have(1) && store.have(0));
    // Verified data stays readable (a read-only handle is enough for uploads).
    assert_eq!(store.read_block(0, 0, 16).unwrap(), &content[..16]);
    drop(guard);
    store.storage().close_all();
    assert!(write_piece(&store, &content, 1).unwrap());
    assert_eq!(store.recheck_all(1, &|_| {}).unwrap(), 2);
}

/// A FileStorage that counts reads.
#[derive(Debug)]
struct CountingReads(FileStorage, std::sync::atomic::AtomicUsize);
impl Storage for CountingReads {
    fn read_at(&self, file: usize, offset: u64, buf: &mut [u8]) -> shoal_piece_store::Result<()> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.0.read_at(file, offset, buf)
    }
    fn write_at(&self, file: usize, offset: u64, data: &[u8]) -> shoal_piece_store::Result<()> {
        self.0.write_at(file, offset, data)
    }
    fn create(&self, file: usize) -> shoal_piece_store::Result<()> {
        self.0.create(file)
    }
    fn flush(&self) -> shoal_piece_store::Result<()> {
        self.0.flush()
    }
    fn stamp(
        &self,
        file: usize,
    ) -> shoal_piece_store::Result<Option<shoal_piece_store::FileStamp>> {
        self.0.stamp(file)
    }
}

#[test]
fn opening_without_resume_reads_no_piece_of_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, content) = sample();
    let hashes = v1_hashes(&content, 16 * 1024);
    let open = |data: &Path| {
        let storage = FileStorage::new(data, &layout, FileStorageOptions::default()).unwrap();
        let counting = CountingReads(storage, Default::default());
        let store = PieceStore::open_with_resume(
            layout.clone(),
            counting,
            hashes.clone(),
            dir.path().join("no-resume"),
            2,
        )
        .unwrap();
        let reads = store.storage().1.load(std::sync::atomic::Ordering::Relaxed);
        (store.num_have(), reads)
    };

    // Nothing on disk (a fresh download): no piece is read, none is had.
    let data = dir.path().join("data");
    assert_eq!(open(&data), (0, 0));

    // Only b.bin there, complete: its pieces are read and found; a.bin's are not read.
    fs::create_dir_all(data.join("top/sub")).unwrap();
    fs::write(data.join("top/sub/b.bin"), &content[112 * 1024..]).unwrap();
    let b_pieces = layout.pieces_of_file(3).unwrap().collect::<Vec<_>>();
    let (have, reads) = open(&data);
    assert_eq!(have, b_pieces.len() as u32);
    assert!(reads > 0 && reads <= 4 * b_pieces.len(), "{reads} reads");
}
