//! Error paths with injected faults: named errors, no partial claims, recovery.

use std::io::ErrorKind;

use sha1::{Digest, Sha1};
use shoal_piece_store::{
    BlockWrite, Error, FileEntry, Layout, MemStorage, PieceHashes, PieceStore,
};

fn setup() -> (PieceStore<MemStorage>, Vec<u8>) {
    let layout = Layout::new(
        vec![FileEntry::new("x/a", 100), FileEntry::new("x/b", 60)],
        64,
    )
    .unwrap();
    let content: Vec<u8> = (0..160u32).map(|i| (i * 7) as u8).collect();
    let hashes = PieceHashes::V1(content.chunks(64).map(|p| Sha1::digest(p).into()).collect());
    (
        PieceStore::new(layout.clone(), MemStorage::new(&layout), hashes).unwrap(),
        content,
    )
}

#[test]
fn failed_write_records_nothing_and_heals() {
    let (store, content) = setup();
    store
        .storage()
        .inject_error(1, Some(ErrorKind::StorageFull));
    // Piece 1 spans a (bytes 64..100) and b (0..28): the write to b fails.
    let err = store.write_block(1, 0, &content[64..128]).unwrap_err();
    match &err {
        Error::Io { path, source, .. } => {
            assert!(path.ends_with("x/b"), "{err}");
            assert_eq!(source.kind(), ErrorKind::StorageFull);
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(
        store.bytes_written(1),
        0,
        "nothing recorded for a failed block"
    );
    assert!(!store.have(1));
    store.storage().inject_error(1, None);
    assert_eq!(
        store.write_block(1, 0, &content[64..128]).unwrap(),
        BlockWrite::PieceComplete
    );
    assert!(store.verify_piece(1).unwrap());
}

#[test]
fn read_errors_during_verify_and_recheck_are_reported_not_claimed() {
    let (store, content) = setup();
    for p in 0..3u32 {
        let s = p as usize * 64;
        store
            .write_block(p, 0, &content[s..(s + 64).min(160)])
            .unwrap();
    }
    store
        .storage()
        .inject_error(0, Some(ErrorKind::PermissionDenied));
    let err = store.verify_piece(0).unwrap_err();
    assert!(err.path().unwrap().ends_with("x/a"), "{err}");
    assert!(!store.have(0));
    // The piece stays complete: verifying again after the fault heals works.
    let err = store.recheck_all(2, &|_| {}).unwrap_err();
    assert!(err.to_string().contains("x/a"), "{err}");
    assert!(!store.have(0) && !store.have(1));
    store.storage().inject_error(0, None);
    assert!(store.verify_piece(0).unwrap());
    assert_eq!(store.recheck_all(2, &|_| {}).unwrap(), 3);
    assert!(store.is_complete());
}
