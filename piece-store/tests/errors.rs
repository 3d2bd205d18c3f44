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

#[test]
fn write_piece_checks_in_memory_then_writes_and_claims() {
    let (store, content) = setup();
    let mut bad = content[64..128].to_vec();
    bad[3] ^= 1;
    assert!(!store.write_piece(1, &bad).unwrap(), "bad piece refused");
    assert!(
        store.storage().file_contents(0).is_none(),
        "nothing written for a bad piece"
    );
    assert!(!store.have(1));
    assert!(store.write_piece(1, &content[64..128]).unwrap());
    assert!(store.have(1));
    assert_eq!(store.read_block(1, 0, 64).unwrap(), &content[64..128]);
    // Already verified: reported verified, not rewritten (a fault would show otherwise).
    store
        .storage()
        .inject_error(0, Some(ErrorKind::StorageFull));
    assert!(store.write_piece(1, &content[64..128]).unwrap());
    // A write failure claims nothing.
    let err = store.write_piece(0, &content[..64]).unwrap_err();
    assert!(err.path().unwrap().ends_with("x/a"), "{err}");
    assert!(!store.have(0));
    store.storage().inject_error(0, None);
    assert!(store.write_piece(0, &content[..64]).unwrap());
    // Wrong length is an error, not a panic.
    assert!(store.write_piece(2, &content[128..150]).is_err());
    assert!(store.write_piece(2, &content[128..160]).unwrap());
    assert!(store.is_complete());
}
