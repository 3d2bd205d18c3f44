//! A store shared between threads (as a client's blocking pool uses it): blocks of the
//! same and of different pieces written concurrently, duplicates included, all verify.

use std::sync::atomic::{AtomicUsize, Ordering};

use sha1::{Digest, Sha1};
use shoal_piece_store::{
    BlockWrite, FileEntry, FileStorage, FileStorageOptions, Layout, PieceHashes, PieceStore,
    Storage,
};

fn run<S: Storage>(store: &PieceStore<S>, content: &[u8]) {
    let layout = store.layout().clone();
    // Every block twice (endgame duplicates), interleaved across pieces.
    let mut blocks = Vec::new();
    for round in 0..2 {
        for p in 0..layout.num_pieces() {
            let (start, size) = layout.piece_range(p).unwrap();
            for o in (0..size).step_by(1000) {
                blocks.push((round, p, o, start, size));
            }
        }
    }
    blocks.sort_by_key(|&(r, p, o, _, _)| {
        ((o as u64 * 2654435761 + u64::from(p) * 97 + r) % 1009, p)
    });
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                while let Some(&(_, p, o, start, size)) =
                    blocks.get(next.fetch_add(1, Ordering::Relaxed))
                {
                    let a = (start + u64::from(o)) as usize;
                    let len = 1000.min(size - o) as usize;
                    if store.write_block(p, o, &content[a..a + len]).unwrap()
                        == BlockWrite::PieceComplete
                    {
                        // Duplicates may complete a piece twice: both checks pass.
                        assert!(store.verify_piece(p).unwrap() || store.have(p), "piece {p}");
                    }
                }
            });
        }
    });
    assert!(
        store.is_complete(),
        "{} of {}",
        store.num_have(),
        layout.num_pieces()
    );
    assert_eq!(store.recheck_all(0, &|_| {}).unwrap(), layout.num_pieces());
}

fn setup() -> (Layout, Vec<u8>, PieceHashes) {
    let files = vec![
        FileEntry::new("a", 123_457),
        FileEntry::new("b/c", 50_000),
        FileEntry::pad(4_000),
        FileEntry::new("d", 77_777),
    ];
    let layout = Layout::new(files, 8192).unwrap();
    let content: Vec<u8> = (0..layout.total_length() as usize)
        .map(|i| {
            if (173_457..177_457).contains(&i) {
                0
            } else {
                (i % 253) as u8 ^ (i >> 10) as u8
            }
        })
        .collect();
    let hashes = PieceHashes::V1(
        content
            .chunks(8192)
            .map(|p| Sha1::digest(p).into())
            .collect(),
    );
    (layout, content, hashes)
}

#[test]
fn concurrent_writers_in_memory() {
    let (layout, content, hashes) = setup();
    let store = PieceStore::new(
        layout.clone(),
        shoal_piece_store::MemStorage::new(&layout),
        hashes,
    )
    .unwrap();
    run(&store, &content);
}

#[test]
fn concurrent_writers_on_disk_with_tiny_handle_cache() {
    let (layout, content, hashes) = setup();
    let dir = tempfile::tempdir().unwrap();
    let storage = FileStorage::new(
        dir.path(),
        &layout,
        FileStorageOptions::default().with_max_open_files(1),
    )
    .unwrap();
    let store = PieceStore::new(layout.clone(), storage, hashes).unwrap();
    run(&store, &content);
    assert_eq!(
        std::fs::read(dir.path().join("d")).unwrap(),
        &content[content.len() - 77_777..]
    );
}
