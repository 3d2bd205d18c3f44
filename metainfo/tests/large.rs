//! Torrents with large info dicts (thousands of files), read by the scan without a
//! bencode tree: the info-hashes and info bytes must be those of the exact info span,
//! whatever follows the info dict, for v1, v2 and hybrid; bad input still gets the
//! decoder's error.

use bencode::{Dict, List, Value};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use shoal_metainfo::{Error, InfoHash, Metainfo};

const PIECE: i64 = 16_384;

fn path(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

/// File `i` has `1 + i % 1000` bytes (so that no more than 100 pad files have the same
/// length, hence the same path).
fn length(i: usize) -> i64 {
    1 + (i % 1000) as i64
}

/// `files` small files; v1 (`files` list, one piece per file with pad files between
/// them), v2 (`file tree`) or both.
fn info(files: usize, v1: bool, v2: bool) -> Vec<u8> {
    let names: Vec<String> = (0..files).map(|i| format!("file-{i:05}.bin")).collect();
    let pad_paths: Vec<Vec<Vec<u8>>> = (0..files)
        .map(|i| path(&[".pad", &(PIECE - length(i)).to_string()]))
        .collect();
    let name_paths: Vec<Vec<Vec<u8>>> = names.iter().map(|n| path(&["dir", n])).collect();
    let pieces: Vec<u8> = (0..files * 20).map(|i| (i % 251) as u8).collect();
    let root = [7u8; 32];
    let mut info = Dict::new();
    if v1 {
        let mut list = List::new();
        for i in 0..files {
            let mut f = Dict::new();
            f.insert(b"length", Value::Int(length(i)));
            f.insert(
                b"path",
                Value::List(List::from(
                    name_paths[i]
                        .iter()
                        .map(|c| Value::Bytes(c))
                        .collect::<Vec<_>>(),
                )),
            );
            list.push(Value::Dict(f));
            if i + 1 < files {
                let mut pad = Dict::new();
                pad.insert(b"attr", Value::Bytes(b"p"));
                pad.insert(b"length", Value::Int(PIECE - length(i)));
                pad.insert(
                    b"path",
                    Value::List(List::from(
                        pad_paths[i]
                            .iter()
                            .map(|c| Value::Bytes(c))
                            .collect::<Vec<_>>(),
                    )),
                );
                list.push(Value::Dict(pad));
            }
        }
        info.insert(b"files", Value::List(list));
        info.insert(b"pieces", Value::Bytes(&pieces));
    }
    if v2 {
        let mut dir = Dict::new();
        for (i, n) in names.iter().enumerate() {
            let mut props = Dict::new();
            props.insert(b"length", Value::Int(length(i)));
            props.insert(b"pieces root", Value::Bytes(&root));
            let mut file = Dict::new();
            file.insert(b"", Value::Dict(props));
            dir.insert(n.as_bytes(), Value::Dict(file));
        }
        let mut tree = Dict::new();
        tree.insert(b"dir", Value::Dict(dir));
        info.insert(b"file tree", Value::Dict(tree));
        info.insert(b"meta version", Value::Int(2));
    }
    info.insert(b"name", Value::Bytes(b"large"));
    info.insert(b"piece length", Value::Int(PIECE));
    bencode::encode(&Value::Dict(info))
}

/// A .torrent around `info`, with a key before it and, if `after`, one after it.
fn torrent(info: &[u8], after: bool) -> Vec<u8> {
    let mut out = b"d8:announce22:http://127.0.0.1:1/ann4:info".to_vec();
    out.extend_from_slice(info);
    if after {
        out.extend_from_slice(b"8:url-listl19:http://127.0.0.1:2/ee");
    } else {
        out.push(b'e');
    }
    out
}

fn check(info: &[u8], expected: InfoHash, files: usize) {
    assert!(info.len() > 300 * 1024, "{} bytes is not large", info.len());
    for after in [false, true] {
        let bytes = torrent(info, after);
        let meta = Metainfo::from_bytes(&bytes).unwrap();
        assert_eq!(meta.info_hash(), expected, "url-list after info: {after}");
        assert_eq!(meta.info_bytes(), info);
        let real: Vec<_> = meta.files().iter().filter(|f| !f.pad).collect();
        assert_eq!(real.len(), files);
        assert_eq!(real[7].path, ["large", "dir", "file-00007.bin"]);
        assert_eq!(meta.web_seeds().len(), usize::from(after));
        let alone = Metainfo::from_info_bytes(info).unwrap();
        assert_eq!(alone.info_hash(), expected);
        assert_eq!(alone.files(), meta.files());
        // Cut short inside the info dict, or with a broken integer near its end: the
        // decoder's error, as for small torrents.
        let broken = {
            let key = b"12:piece lengthi16384e";
            let at = bytes.windows(key.len()).position(|w| w == key).unwrap();
            let mut b = bytes.clone();
            b[at + key.len() - 4] = b'x';
            b
        };
        for bad in [bytes[..bytes.len() - 40].to_vec(), broken] {
            let Err(err) = Metainfo::from_bytes(&bad) else {
                panic!("a broken torrent parsed");
            };
            assert!(matches!(err, Error::Bencode(_)), "{err}");
            let expected = bencode::Decoder::new()
                .lenient(true)
                .decode_prefix(&bad)
                .map(drop)
                .unwrap_err();
            assert_eq!(err.to_string(), Error::Bencode(expected).to_string());
        }
    }
}

#[test]
fn large_v1() {
    let info = info(4_000, true, false);
    check(&info, InfoHash::V1(Sha1::digest(&info).into()), 4_000);
}

#[test]
fn large_v2() {
    let info = info(5_000, false, true);
    check(&info, InfoHash::V2(Sha256::digest(&info).into()), 5_000);
}

#[test]
fn large_hybrid() {
    let info = info(2_500, true, true);
    let expected = InfoHash::Hybrid {
        v1: Sha1::digest(&info).into(),
        v2: Sha256::digest(&info).into(),
    };
    check(&info, expected, 2_500);
}
