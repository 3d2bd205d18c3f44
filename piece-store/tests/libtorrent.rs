//! v2 and hybrid torrents made by libtorrent (an independent BEP 52 implementation): every
//! piece of the source verifies in a store built from them, and damaged pieces do not.
//! Needs Debian's `/usr/bin/python3` with `python3-libtorrent`.

use std::fs;
use std::process::Command;

use metainfo::Metainfo;
use shoal_piece_store::{Layout, MemStorage, PieceHashes, PieceStore};

const MAKE_TORRENT: &str = r#"
import sys, libtorrent as lt
parent, src, out, flag = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
fs = lt.file_storage()
lt.add_files(fs, src)
flags = lt.create_torrent.v2_only if flag == "v2" else 0
ct = lt.create_torrent(fs, 32768, flags=flags)
lt.set_piece_hashes(ct, parent)
open(out, "wb").write(lt.bencode(ct.generate()))
"#;

fn check(kind: &str) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("payload");
    fs::create_dir_all(src.join("sub")).unwrap();
    for (name, len) in [
        ("a.bin", 100_000usize),
        ("sub/b.bin", 70_000),
        ("c.bin", 20_000),
        ("d.bin", 65_536),
    ] {
        let data: Vec<u8> = (0..len)
            .map(|i| (i as u8).wrapping_mul(101) ^ (i >> 11) as u8 ^ len as u8)
            .collect();
        fs::write(src.join(name), data).unwrap();
    }
    let torrent = dir.path().join("t.torrent");
    let status = Command::new("/usr/bin/python3")
        .args(["-c", MAKE_TORRENT])
        .arg(dir.path())
        .arg(&src)
        .arg(&torrent)
        .arg(kind)
        .status()
        .expect("run /usr/bin/python3");
    assert!(status.success(), "libtorrent failed to make the torrent");
    let meta = Metainfo::from_bytes(&fs::read(&torrent).unwrap()).unwrap();
    let layout = Layout::from_metainfo(&meta).unwrap();
    let hashes = PieceHashes::from_metainfo(&meta).unwrap();
    match kind {
        "v2" => assert!(matches!(hashes, PieceHashes::V2(_))),
        _ => assert!(matches!(hashes, PieceHashes::Hybrid { .. })),
    }
    let store = PieceStore::new(layout.clone(), MemStorage::new(&layout), hashes).unwrap();
    for p in 0..layout.num_pieces() {
        let (_, size) = layout.piece_range(p).unwrap();
        let mut buf = vec![0; size as usize];
        for s in layout.piece_spans(p).unwrap().filter(|s| !s.pad) {
            let f = fs::read(dir.path().join(&layout.files()[s.file_index].path)).unwrap();
            let b = s.buf_offset as usize;
            buf[b..b + s.len as usize]
                .copy_from_slice(&f[s.file_offset as usize..(s.file_offset + s.len) as usize]);
        }
        let mut bad = buf.clone();
        bad[0] ^= 1;
        store.write_block(p, 0, &bad).unwrap();
        assert!(
            !store.verify_piece(p).unwrap(),
            "{kind} piece {p} damaged but accepted"
        );
        store.write_block(p, 0, &buf).unwrap();
        assert!(store.verify_piece(p).unwrap(), "{kind} piece {p} rejected");
    }
    assert!(store.is_complete());
}

#[test]
#[ignore = "needs python3-libtorrent: scripts/install-peers.sh"]
fn libtorrent_v2_torrent_verifies() {
    check("v2");
}

#[test]
#[ignore = "needs python3-libtorrent: scripts/install-peers.sh"]
fn libtorrent_hybrid_torrent_verifies() {
    check("hybrid");
}
