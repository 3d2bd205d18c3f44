//! v2 layouts (files on piece boundaries, no pad entries) verified with BEP 52 hashes.

use shoal_piece_store::{
    BlockWrite, Error, FileEntry, FileHashes, Layout, MemStorage, PieceHashes, PieceStore,
    file_hashes_v2,
};

const PL: u64 = 32 * 1024;

fn setup() -> (Layout, Vec<Vec<u8>>, PieceHashes) {
    let lens = [40_000usize, 0, 16_384, 100_000, 5];
    let files: Vec<FileEntry> = lens
        .iter()
        .enumerate()
        .map(|(i, &n)| FileEntry::new(format!("f{i}"), n as u64))
        .collect();
    let layout = Layout::new_v2(files, PL).unwrap();
    let data: Vec<Vec<u8>> = lens
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            (0..n)
                .map(|j| (j as u8).wrapping_mul(17) ^ (i as u8) ^ (j >> 9) as u8)
                .collect()
        })
        .collect();
    let hashes = data
        .iter()
        .map(|d| (!d.is_empty()).then(|| file_hashes_v2(d, PL)))
        .collect();
    (layout, data, PieceHashes::V2(hashes))
}

fn piece_data(layout: &Layout, data: &[Vec<u8>], p: u32) -> Vec<u8> {
    let (file, idx) = layout.v2_piece(p).unwrap().unwrap();
    let size = layout.piece_size(p).unwrap() as usize;
    let start = idx as usize * PL as usize;
    data[file][start..start + size].to_vec()
}

#[test]
fn every_piece_verifies_and_damage_is_caught() {
    let (layout, data, hashes) = setup();
    // f0: 2 pieces, f2: 1, f3: 4, f4: 1.
    assert_eq!(layout.num_pieces(), 8);
    let store = PieceStore::new(layout.clone(), MemStorage::new(&layout), hashes).unwrap();
    for p in [7, 3, 0, 5, 1, 6, 2, 4] {
        let good = piece_data(&layout, &data, p);
        let mut bad = good.clone();
        bad[good.len() / 2] ^= 4;
        assert_eq!(
            store.write_block(p, 0, &bad).unwrap(),
            BlockWrite::PieceComplete
        );
        assert!(
            !store.verify_piece(p).unwrap(),
            "damaged piece {p} accepted"
        );
        for (i, chunk) in good.chunks(16 * 1024).enumerate() {
            store.write_block(p, (i * 16 * 1024) as u32, chunk).unwrap();
        }
        assert!(store.verify_piece(p).unwrap(), "piece {p} rejected");
    }
    for (i, d) in data.iter().enumerate() {
        assert_eq!(store.storage().file_contents(i).as_deref(), Some(&d[..]));
    }
}

#[test]
fn inconsistent_hashes_are_refused() {
    let (layout, _, hashes) = setup();
    let PieceHashes::V2(mut files) = hashes else {
        unreachable!()
    };
    // A piece layer that does not hash to its root.
    let mut broken = files.clone();
    if let Some(Some(h)) = broken.get_mut(3) {
        h.piece_layer[1][0] ^= 1;
    }
    let err = PieceStore::new(
        layout.clone(),
        MemStorage::new(&layout),
        PieceHashes::V2(broken),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::BadHashes(ref m) if m.contains("does not match its pieces root")),
        "{err}"
    );
    // A missing piece layer.
    files[0] = Some(FileHashes {
        pieces_root: [0; 32],
        piece_layer: vec![],
    });
    let err = PieceStore::new(
        layout.clone(),
        MemStorage::new(&layout),
        PieceHashes::V2(files.clone()),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("piece layer has 0 hashes"),
        "{err}"
    );
    // Hashes for the wrong number of files.
    files.pop();
    assert!(
        PieceStore::new(
            layout.clone(),
            MemStorage::new(&layout),
            PieceHashes::V2(files)
        )
        .is_err()
    );
}
