//! Any order of block writes over a multi-file layout (pad and empty files included) gives
//! byte-identical files, in memory and on disk, and every piece verifies.

use proptest::prelude::*;
use sha1::{Digest, Sha1};
use shoal_piece_store::{
    BlockWrite, FileEntry, FileStorage, FileStorageOptions, Layout, MemStorage, PieceHashes,
    PieceStore, Storage,
};

/// A layout description: (length, is_pad) per file, and the piece length.
fn layout_strategy() -> impl Strategy<Value = (Vec<(u64, bool)>, u64)> {
    (
        prop::collection::vec((0u64..300, prop::bool::weighted(0.2)), 1..8),
        prop::sample::select(vec![16u64, 32, 50, 64, 128]),
    )
}

fn build(files: &[(u64, bool)], piece_length: u64) -> (Layout, Vec<u8>) {
    let entries: Vec<FileEntry> = files
        .iter()
        .enumerate()
        .map(|(i, &(len, pad))| {
            if pad {
                FileEntry::pad(len)
            } else {
                FileEntry::new(format!("d{}/f{i}.bin", i % 3), len)
            }
        })
        .collect();
    let layout = Layout::new(entries, piece_length).unwrap();
    // Content: pad files are zeros, other bytes a pattern that differs per position.
    let mut content = Vec::new();
    for (i, &(len, pad)) in files.iter().enumerate() {
        for j in 0..len {
            content.push(if pad {
                0
            } else {
                (j as u8).wrapping_mul(31) ^ (i as u8 + 1)
            });
        }
    }
    (layout, content)
}

fn hashes(layout: &Layout, content: &[u8]) -> PieceHashes {
    PieceHashes::V1(
        content
            .chunks(layout.piece_length() as usize)
            .map(|p| Sha1::digest(p).into())
            .collect(),
    )
}

/// Blocks (piece, offset, bytes) of every piece, cut at `block` bytes.
fn blocks(layout: &Layout, content: &[u8], block: u32) -> Vec<(u32, u32, Vec<u8>)> {
    let mut out = Vec::new();
    for p in 0..layout.num_pieces() {
        let (start, size) = layout.piece_range(p).unwrap();
        let mut off = 0;
        while off < size {
            let len = block.min(size - off);
            let s = (start + u64::from(off)) as usize;
            out.push((p, off, content[s..s + len as usize].to_vec()));
            off += len;
        }
    }
    out
}

fn write_all<S: Storage>(store: &PieceStore<S>, order: &[(u32, u32, Vec<u8>)]) {
    for (piece, offset, data) in order {
        if store.write_block(*piece, *offset, data).unwrap() == BlockWrite::PieceComplete {
            assert!(store.verify_piece(*piece).unwrap(), "piece {piece} failed");
        }
    }
    assert!(store.is_complete());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_order_gives_identical_files_in_memory(
        (files, pl) in layout_strategy(),
        block in 1u32..40,
        seed in any::<u64>(),
    ) {
        let (layout, content) = build(&files, pl);
        prop_assume!(layout.num_pieces() > 0);
        let mut order = blocks(&layout, &content, block);
        shuffle(&mut order, seed);
        let store = PieceStore::new(layout.clone(), MemStorage::new(&layout), hashes(&layout, &content)).unwrap();
        write_all(&store, &order);
        let mut pos = 0usize;
        for (i, f) in layout.files().iter().enumerate() {
            let expect = &content[pos..pos + f.length as usize];
            pos += f.length as usize;
            if f.pad {
                prop_assert!(store.storage().file_contents(i).is_none(), "pad file {} stored", i);
            } else {
                let stored = store.storage().file_contents(i);
                prop_assert_eq!(stored.as_deref(), Some(expect));
            }
        }
    }

    #[test]
    fn any_order_gives_identical_files_on_disk(
        (files, pl) in layout_strategy(),
        block in 1u32..40,
        seed in any::<u64>(),
    ) {
        let (layout, content) = build(&files, pl);
        prop_assume!(layout.num_pieces() > 0);
        let mut order = blocks(&layout, &content, block);
        shuffle(&mut order, seed);
        let dir = tempfile::tempdir().unwrap();
        let opts = FileStorageOptions::default().with_max_open_files(2);
        let storage = FileStorage::new(dir.path(), &layout, opts).unwrap();
        let store = PieceStore::new(layout.clone(), storage, hashes(&layout, &content)).unwrap();
        write_all(&store, &order);
        let mut pos = 0usize;
        for f in layout.files() {
            let expect = &content[pos..pos + f.length as usize];
            pos += f.length as usize;
            let on_disk = std::fs::read(dir.path().join(&f.path));
            if f.pad {
                prop_assert!(on_disk.is_err(), "pad file {:?} created", f.path);
            } else {
                prop_assert_eq!(on_disk.unwrap(), expect);
            }
        }
        // Every piece reads back as written.
        for p in 0..layout.num_pieces() {
            let (start, size) = layout.piece_range(p).unwrap();
            let got = store.read_block(p, 0, size).unwrap();
            prop_assert_eq!(&got[..], &content[start as usize..start as usize + size as usize]);
        }
    }
}

/// Fisher-Yates with a splitmix64 stream: proptest shrinks the seed, not the order.
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        v.swap(i, (z % (i as u64 + 1)) as usize);
    }
}

#[test]
fn duplicate_and_overlapping_blocks_complete_once() {
    let (layout, content) = build(&[(40, false), (0, false), (8, true), (30, false)], 32);
    let store = PieceStore::new(
        layout.clone(),
        MemStorage::new(&layout),
        hashes(&layout, &content),
    )
    .unwrap();
    assert_eq!(
        store.write_block(0, 0, &content[0..20]).unwrap(),
        BlockWrite::Partial
    );
    assert_eq!(
        store.write_block(0, 10, &content[10..20]).unwrap(),
        BlockWrite::Partial
    );
    assert_eq!(store.bytes_written(0), 20);
    assert_eq!(
        store.write_block(0, 16, &content[16..32]).unwrap(),
        BlockWrite::PieceComplete
    );
    assert!(store.verify_piece(0).unwrap());
    // A verified piece is never written again, even with other bytes.
    assert_eq!(
        store.write_block(0, 0, &[0xff; 8]).unwrap(),
        BlockWrite::AlreadyHave
    );
    assert_eq!(store.read_block(0, 0, 8).unwrap(), &content[0..8]);
    // The zero-length file exists in storage after the first write.
    assert_eq!(store.storage().file_contents(1), Some(vec![]));
}

#[test]
fn bad_data_is_not_claimed_and_piece_is_reset() {
    let (layout, content) = build(&[(64, false)], 32);
    let store = PieceStore::new(
        layout.clone(),
        MemStorage::new(&layout),
        hashes(&layout, &content),
    )
    .unwrap();
    let mut bad = content[32..64].to_vec();
    bad[5] ^= 0x40;
    assert_eq!(
        store.write_block(1, 0, &bad).unwrap(),
        BlockWrite::PieceComplete
    );
    assert!(!store.verify_piece(1).unwrap());
    assert!(!store.have(1));
    assert_eq!(store.bytes_written(1), 0, "a failed piece starts over");
    assert_eq!(
        store.write_block(1, 0, &content[32..64]).unwrap(),
        BlockWrite::PieceComplete
    );
    assert!(store.verify_piece(1).unwrap());
    assert_eq!(store.bitfield().ones().collect::<Vec<_>>(), vec![1]);
}

#[test]
fn out_of_range_blocks_are_errors_not_panics() {
    let (layout, content) = build(&[(50, false)], 32);
    let store = PieceStore::new(
        layout.clone(),
        MemStorage::new(&layout),
        hashes(&layout, &content),
    )
    .unwrap();
    assert!(store.write_block(2, 0, b"x").is_err());
    assert!(
        store.write_block(1, 10, &[0; 10]).is_err(),
        "piece 1 has 18 bytes"
    );
    assert!(store.write_block(0, u32::MAX, b"x").is_err());
    assert!(store.read_block(1, 0, 19).is_err());
    assert!(store.verify_piece(7).is_err());
    let err = PieceStore::new(
        layout.clone(),
        MemStorage::new(&layout),
        PieceHashes::V1(vec![[0; 20]]),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("1 v1 piece hashes for 2 pieces"),
        "{err}"
    );
}
