//! Any input: no panic; what parses has safe, unique paths, info-hashes equal to the
//! SHA-1/SHA-256 of the raw info bytes found in the input, consistent piece geometry,
//! and survives write → parse unchanged.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use metainfo::Metainfo;
use sha1::Digest;

fn check_component(c: &str) {
    assert!(
        !c.is_empty() && c != "." && c != "..",
        "unsafe component {c:?}"
    );
    assert!(!c.contains(['/', '\\', '\0']), "separator in {c:?}");
    let b = c.as_bytes();
    assert!(
        !(b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'),
        "drive {c:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(meta) = Metainfo::from_bytes(data) else {
        return;
    };
    let raw = meta.info_bytes();
    assert!(
        data.windows(raw.len()).any(|w| w == raw),
        "info bytes come from the input"
    );
    let ih = meta.info_hash();
    if let Some(v1) = ih.v1() {
        assert_eq!(sha1::Sha1::digest(raw).as_slice(), v1);
    }
    if let Some(v2) = ih.v2() {
        assert_eq!(sha2::Sha256::digest(raw).as_slice(), v2);
    }

    let mut seen = HashSet::new();
    let mut offset = 0;
    let mut total = 0;
    for f in meta.files() {
        assert!(!f.path.is_empty());
        f.path.iter().for_each(check_component);
        if let Some(target) = &f.symlink {
            target.iter().for_each(|c| check_component(c));
        }
        // Pad files are never written, and may share a path (as in libtorrent).
        assert!(
            f.pad || seen.insert(f.path.clone()),
            "duplicate path {:?}",
            f.path
        );
        assert_eq!(f.offset, offset, "files follow each other");
        offset += f.length;
        if !f.pad {
            total += f.length;
        }
    }
    assert_eq!(meta.total_length(), total);
    assert_eq!(meta.piece_space_length(), offset);
    let pieces: u64 = (0..meta.num_pieces()).map(|i| meta.piece_len(i)).sum();
    assert!(pieces <= offset && meta.piece_len(meta.num_pieces()) == 0);

    let again = Metainfo::from_bytes(&meta.to_torrent_bytes()).expect("written torrent parses");
    assert_eq!(again, meta, "write then parse gives the same torrent");
    let from_info = Metainfo::from_info_bytes(raw).expect("the info dict parses alone");
    assert_eq!(from_info.info_hash(), ih);
    assert_eq!(from_info.files(), meta.files());
});
