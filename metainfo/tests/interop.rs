//! Interop with real BitTorrent programs (see tests/README.md). Ignored by default:
//! `cargo test -p shoal-metainfo -- --ignored`.

use std::path::{Path, PathBuf};
use std::process::Command;

use shoal_metainfo::{Metainfo, TorrentBuilder, TorrentVersion, to_hex};

const PYTHON: &str = "/usr/bin/python3";

fn helper() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/libtorrent_helper.py")
}

/// Runs the libtorrent helper and parses its one JSON line.
fn libtorrent(args: &[&Path]) -> serde_json::Value {
    let out = Command::new(PYTHON)
        .arg(helper())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON} (scripts/install-peers.sh): {e}"));
    assert!(
        out.status.success(),
        "libtorrent helper failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("helper prints JSON")
}

fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A folder with nested folders and empty files, and a single file, under `base`.
fn make_data(base: &Path) -> (PathBuf, PathBuf) {
    let folder = base.join("folder");
    let files: [(&str, usize); 7] = [
        ("a/empty", 0),
        ("a/b/c/deep.bin", 200_000),
        ("b.txt", 5),
        ("empty-top", 0),
        ("m/one-piece", 32_768),
        ("m/tail.bin", 100_001),
        ("z/y/x/last", 70_000),
    ];
    for (i, (rel, len)) in files.iter().enumerate() {
        let p = folder.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content(i as u64, *len)).unwrap();
    }
    let single = base.join("single.bin");
    std::fs::write(&single, content(99, 1_000_000)).unwrap();
    (folder, single)
}

fn hex_or_null(h: Option<Vec<u8>>) -> serde_json::Value {
    h.map_or(serde_json::Value::Null, |h| to_hex(&h).into())
}

fn non_pad_files(meta: &Metainfo) -> Vec<(String, u64)> {
    meta.files()
        .iter()
        .filter(|f| !f.pad)
        .map(|f| (f.display_path(), f.length))
        .collect()
}

fn lt_non_pad_files(v: &serde_json::Value) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["pad"].as_bool().unwrap())
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["length"].as_u64().unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
#[ignore = "needs python3-libtorrent: scripts/install-peers.sh"]
fn created_torrents_load_in_libtorrent_with_same_hashes_and_complete_data() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, single) = make_data(dir.path());
    for (what, source) in [("folder", &folder), ("single", &single)] {
        for version in [
            TorrentVersion::V1,
            TorrentVersion::V2,
            TorrentVersion::Hybrid,
        ] {
            let meta = TorrentBuilder::new(source)
                .version(version)
                .piece_length(32_768)
                .tracker("http://127.0.0.1:6969/announce")
                .build()
                .unwrap();
            let torrent = dir.path().join(format!("{what}-{version:?}.torrent"));
            std::fs::write(&torrent, meta.to_torrent_bytes()).unwrap();
            let lt = libtorrent(&[Path::new("load"), &torrent, dir.path()]);
            let ih = meta.info_hash();
            assert_eq!(
                lt["v1"],
                hex_or_null(ih.v1().map(Vec::from)),
                "{what} {version:?}"
            );
            assert_eq!(
                lt["v2"],
                hex_or_null(ih.v2().map(Vec::from)),
                "{what} {version:?}"
            );
            let mut ours = non_pad_files(&meta);
            ours.sort();
            assert_eq!(lt_non_pad_files(&lt), ours, "{what} {version:?}");
            assert_eq!(lt["num_pieces"], u64::from(meta.num_pieces()));
            assert_eq!(lt["error"], serde_json::Value::Null, "{what} {version:?}");
            assert_eq!(
                (lt["pieces_have"].clone(), lt["complete"].clone()),
                (u64::from(meta.num_pieces()).into(), true.into()),
                "{what} {version:?}: libtorrent's check must find all data"
            );
        }
    }
}

/// Reads piece `index` of `meta` from files under `base` (pad bytes are zeros).
fn read_piece(meta: &Metainfo, base: &Path, index: u32) -> Vec<u8> {
    let mut data = Vec::new();
    for (file, offset, len) in meta.piece_spans(index) {
        let f = &meta.files()[file];
        if f.pad {
            data.extend(std::iter::repeat_n(0u8, len as usize));
        } else {
            let path = f.path.iter().fold(base.to_owned(), |p, c| p.join(c));
            let bytes = std::fs::read(path).unwrap();
            data.extend_from_slice(&bytes[offset as usize..(offset + len) as usize]);
        }
    }
    data
}

#[test]
#[ignore = "needs python3-libtorrent: scripts/install-peers.sh"]
fn libtorrent_torrents_parse_with_same_hashes_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, single) = make_data(dir.path());
    for (what, source) in [("folder", &folder), ("single", &single)] {
        for mode in ["v1", "v2", "hybrid"] {
            let out = dir.path().join(format!("lt-{what}-{mode}.torrent"));
            let lt = libtorrent(&[
                Path::new("create"),
                source,
                &out,
                Path::new(mode),
                Path::new("16384"),
            ]);
            let meta = Metainfo::from_bytes(&std::fs::read(&out).unwrap()).unwrap();
            let ih = meta.info_hash();
            assert_eq!(
                lt["v1"],
                hex_or_null(ih.v1().map(Vec::from)),
                "{what} {mode}"
            );
            assert_eq!(
                lt["v2"],
                hex_or_null(ih.v2().map(Vec::from)),
                "{what} {mode}"
            );
            assert!(meta.has_all_piece_layers(), "{what} {mode}");
            for i in 0..meta.num_pieces() {
                let data = read_piece(&meta, dir.path(), i);
                assert!(meta.verify_piece(i, &data), "{what} {mode}: piece {i}");
            }
        }
    }
}

#[test]
#[ignore = "needs mktorrent: scripts/install-peers.sh"]
fn mktorrent_torrents_parse_with_same_info_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, single) = make_data(dir.path());
    for (what, source) in [("folder", &folder), ("single", &single)] {
        let out = dir.path().join(format!("mk-{what}.torrent"));
        let status = Command::new("mktorrent")
            .args(["-l", "15", "-a", "http://127.0.0.1:6969/announce", "-o"])
            .arg(&out)
            .arg(source)
            .output()
            .unwrap_or_else(|e| panic!("cannot run mktorrent (scripts/install-peers.sh): {e}"));
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        let bytes = std::fs::read(&out).unwrap();
        let meta = Metainfo::from_bytes(&bytes).unwrap();
        assert_eq!(
            meta.trackers(),
            [vec!["http://127.0.0.1:6969/announce".to_owned()]]
        );
        // The v1 info dict as mktorrent wrote it, hashed independently of the parser.
        let info = meta.info_bytes();
        assert!(bytes.windows(info.len()).any(|w| w == info));
        // shoal's own v1 torrent of the same data and piece length is the same torrent.
        let ours = TorrentBuilder::new(source)
            .piece_length(32_768)
            .build()
            .unwrap();
        assert_eq!(meta.info_hash(), ours.info_hash(), "{what}");
        let mut files = non_pad_files(&meta);
        files.sort();
        let mut our_files = non_pad_files(&ours);
        our_files.sort();
        assert_eq!(files, our_files);
    }
}

/// The `<label> <hex>` info-hash a program prints, lowercased.
fn printed_hash(output: &[u8], label: &str) -> Option<String> {
    let text = String::from_utf8_lossy(output);
    let line = text.lines().find(|l| l.trim_start().starts_with(label))?;
    Some(line.trim_start()[label.len()..].trim().to_ascii_lowercase())
}

#[test]
#[ignore = "needs transmission-cli and aria2: scripts/install-peers.sh"]
fn v1_torrents_show_the_same_info_hash_in_transmission_and_aria2() {
    // Transmission 3.00 and aria2 1.36 predate BEP 52: they reject or mis-hash v2 and
    // hybrid torrents (libtorrent's own as well), so only v1 is compared.
    let dir = tempfile::tempdir().unwrap();
    let (folder, single) = make_data(dir.path());
    for (what, source) in [("folder", &folder), ("single", &single)] {
        let meta = TorrentBuilder::new(source)
            .tracker("http://127.0.0.1:6969/announce")
            .web_seed("http://127.0.0.1:8080/")
            .build()
            .unwrap();
        let torrent = dir.path().join(format!("{what}.torrent"));
        std::fs::write(&torrent, meta.to_torrent_bytes()).unwrap();
        let ours = to_hex(&meta.info_hash().v1().unwrap());

        let tr = Command::new("transmission-show")
            .arg(&torrent)
            .output()
            .unwrap_or_else(|e| panic!("cannot run transmission-show: {e}"));
        assert!(
            tr.status.success(),
            "{}",
            String::from_utf8_lossy(&tr.stderr)
        );
        assert_eq!(
            printed_hash(&tr.stdout, "Hash:"),
            Some(ours.clone()),
            "{what}"
        );

        let aria = Command::new("aria2c")
            .args(["--no-conf", "--show-files"])
            .arg(&torrent)
            .output()
            .unwrap_or_else(|e| panic!("cannot run aria2c: {e}"));
        assert!(
            aria.status.success(),
            "{}",
            String::from_utf8_lossy(&aria.stderr)
        );
        assert_eq!(
            printed_hash(&aria.stdout, "Info Hash:"),
            Some(ours),
            "{what}"
        );
    }
}
