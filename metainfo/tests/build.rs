//! The builder: what it builds parses back to the same files, every piece verifies
//! against the data, and output is deterministic.

use std::path::Path;

use proptest::prelude::*;
use shoal_metainfo::{Metainfo, Progress, TorrentBuilder, TorrentVersion};

const VERSIONS: [TorrentVersion; 3] = [
    TorrentVersion::V1,
    TorrentVersion::V2,
    TorrentVersion::Hybrid,
];

/// Deterministic, non-repeating-ish content.
fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn write_tree(root: &Path, files: &[(&str, usize)]) {
    for (i, (rel, len)) in files.iter().enumerate() {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content(i as u64, *len)).unwrap();
    }
}

/// Reads piece `index` of `meta` from the files under `base` (pad bytes are zeros).
fn read_piece(meta: &Metainfo, base: &Path, index: u32) -> Vec<u8> {
    let mut data = Vec::new();
    for (file, offset, len) in meta.piece_spans(index) {
        let f = &meta.files()[file];
        if f.pad {
            data.extend(std::iter::repeat_n(0u8, len as usize));
        } else {
            let bytes =
                std::fs::read(f.path.iter().fold(base.to_owned(), |p, c| p.join(c))).unwrap();
            data.extend_from_slice(&bytes[offset as usize..(offset + len) as usize]);
        }
    }
    data
}

/// Builds, writes, parses back, and checks files, lengths and every piece.
fn check(root: &Path, base: &Path, expected: &[(String, u64)], version: TorrentVersion, pl: u64) {
    let meta = TorrentBuilder::new(root)
        .version(version)
        .piece_length(pl)
        .threads(3)
        .build()
        .unwrap();
    let bytes = meta.to_torrent_bytes();
    let parsed = Metainfo::from_bytes(&bytes).unwrap();
    assert_eq!(parsed, meta, "{version:?}: parse(write(m)) == m");
    assert_eq!(parsed.version(), version);
    let got: Vec<(String, u64)> = parsed
        .files()
        .iter()
        .filter(|f| !f.pad)
        .map(|f| (f.display_path(), f.length))
        .collect();
    assert_eq!(got, expected, "{version:?}");
    assert!(parsed.has_all_piece_layers());
    for i in 0..parsed.num_pieces() {
        let data = read_piece(&parsed, base, i);
        assert!(parsed.verify_piece(i, &data), "{version:?} piece {i}");
        if !data.is_empty() {
            let mut bad = data.clone();
            bad[0] ^= 1;
            assert!(
                !parsed.verify_piece(i, &bad),
                "{version:?} corrupt piece {i}"
            );
        }
    }
}

#[test]
fn folder_with_empty_files_and_nested_folders() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("album");
    let files = [
        ("a/empty", 0),
        ("a/b/c/deep.bin", 70_000),
        ("b.txt", 5),
        ("z/one-piece", 32_768),
        ("z/tail", 100_001),
        ("zz-empty", 0),
    ];
    write_tree(&root, &files);
    let mut expected: Vec<(String, u64)> = files
        .iter()
        .map(|(p, l)| (format!("album/{p}"), *l as u64))
        .collect();
    expected.sort();
    for version in VERSIONS {
        check(&root, dir.path(), &expected, version, 32_768);
    }
}

#[test]
fn single_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("movie.mkv");
    std::fs::write(&file, content(7, 300_000)).unwrap();
    for version in VERSIONS {
        check(
            &file,
            dir.path(),
            &[("movie.mkv".into(), 300_000)],
            version,
            65_536,
        );
    }
}

#[test]
fn deterministic_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), &[("x/1", 40_000), ("x/2", 1)]);
    let builder = TorrentBuilder::new(dir.path().join("x"))
        .version(TorrentVersion::Hybrid)
        .tracker("http://127.0.0.1:1/announce")
        .tracker_tier(vec!["udp://127.0.0.1:2".into(), "udp://127.0.0.1:3".into()])
        .web_seed("http://127.0.0.1:4/")
        .private(true)
        .comment("hi");
    let mut calls = Vec::new();
    let a = builder
        .build_with_progress(|p: Progress| calls.push(p))
        .unwrap()
        .to_torrent_bytes();
    let b = builder
        .clone()
        .threads(1)
        .build()
        .unwrap()
        .to_torrent_bytes();
    assert_eq!(a, b, "same bytes whatever the thread count");
    let last = calls.last().unwrap();
    assert_eq!((last.hashed_bytes, last.total_bytes), (40_001, 40_001));
    assert!(
        calls
            .windows(2)
            .all(|w| w[0].hashed_bytes <= w[1].hashed_bytes)
    );
    let meta = Metainfo::from_bytes(&a).unwrap();
    assert!(meta.is_private());
    assert_eq!(meta.comment(), Some("hi"));
    assert_eq!(meta.creation_date(), None);
    assert_eq!(meta.trackers().len(), 2);
    assert_eq!(meta.trackers()[1].len(), 2);
    assert_eq!(meta.web_seeds(), ["http://127.0.0.1:4/"]);
    let dated = builder.creation_date(Some(1_700_000_000)).build().unwrap();
    assert_eq!(
        Metainfo::from_bytes(&dated.to_torrent_bytes())
            .unwrap()
            .creation_date(),
        Some(1_700_000_000)
    );
}

#[test]
fn refuses_what_it_cannot_build() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty-folder")).unwrap();
    assert!(
        TorrentBuilder::new(dir.path().join("empty-folder"))
            .build()
            .is_err()
    );
    std::fs::write(dir.path().join("zero"), b"").unwrap();
    assert!(
        TorrentBuilder::new(dir.path().join("zero"))
            .build()
            .is_err()
    );
    std::fs::write(dir.path().join("f"), b"data").unwrap();
    assert!(
        TorrentBuilder::new(dir.path().join("f"))
            .piece_length(20_000)
            .build()
            .is_err()
    );
    assert!(
        TorrentBuilder::new(dir.path().join("missing"))
            .build()
            .is_err()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn build_then_parse_gives_back_files(
        lens in proptest::collection::vec(0usize..80_000, 1..6),
        version in prop_oneof![
            Just(TorrentVersion::V1),
            Just(TorrentVersion::V2),
            Just(TorrentVersion::Hybrid)
        ],
        pl_shift in 0u32..3,
    ) {
        prop_assume!(lens.iter().sum::<usize>() > 0);
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("t");
        let names: Vec<String> = (0..lens.len()).map(|i| format!("d{}/f{i}", i % 2)).collect();
        let files: Vec<(&str, usize)> = names.iter().map(String::as_str).zip(lens.iter().copied()).collect();
        write_tree(&root, &files);
        let mut expected: Vec<(String, u64)> =
            files.iter().map(|(p, l)| (format!("t/{p}"), *l as u64)).collect();
        expected.sort();
        check(&root, dir.path(), &expected, version, 16_384 << pl_shift);
    }
}
