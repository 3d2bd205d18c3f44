//! Parsing speed: a v1 .torrent of 20,000 pieces and 5,000 files (nested folders),
//! a hybrid one of the same shape, and a magnet link.
//!
//! `cargo bench -p shoal-metainfo --bench parse -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, criterion_group, criterion_main};
use sha1::{Digest, Sha1};
use shoal_metainfo::{Magnet, Metainfo};
use std::hint::black_box;

mod common;

use common::{FILES, PIECES, v1_torrent};

fn bench(c: &mut Criterion) {
    let v1 = v1_torrent();
    let meta = Metainfo::from_bytes(&v1).unwrap();
    assert_eq!(meta.num_pieces() as usize, PIECES);
    assert_eq!(meta.files().len(), FILES);
    c.bench_function("parse v1 20k pieces 5k files", |b| {
        b.iter(|| Metainfo::from_bytes(black_box(&v1)).unwrap())
    });
    // What the bencode decoder alone takes on the same bytes, for comparison.
    c.bench_function("bencode decode only, same torrent", |b| {
        b.iter(|| {
            bencode::Decoder::new()
                .lenient(true)
                .decode(black_box(&v1))
                .unwrap()
        })
    });

    // A cost every parse of this torrent has, whatever the code: the SHA-1 of the info
    // dict (the info-hash).
    let info_dict = {
        let top = bencode::decode(&v1).unwrap();
        let info = top.as_dict().unwrap().get(b"info").unwrap();
        info.as_dict().unwrap().raw_span().unwrap().to_vec()
    };
    c.bench_function("floor: SHA-1 of the info dict", |b| {
        b.iter(|| Sha1::digest(black_box(&info_dict)))
    });

    let hybrid = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/corpus/bep52-test-torrents/bittorrent-v2-hybrid-test.torrent"
    ))
    .unwrap();
    c.bench_function(
        "parse BEP 52 hybrid reference (1715 pieces, layers checked)",
        |b| b.iter(|| Metainfo::from_bytes(black_box(&hybrid)).unwrap()),
    );

    let magnet = "magnet:?xt=urn:btih:631a31dd0a46257d5078c0dee4e66e26f73e42ac\
        &xt=urn:btmh:1220d8dd32ac93357c368556af3ac1d95c9d76bd0dff6fa9833ecdac3d53134efabb\
        &dn=bittorrent-v1-v2-hybrid-test&tr=udp%3A%2F%2F127.0.0.1%3A6969";
    c.bench_function("parse magnet", |b| {
        b.iter(|| Magnet::parse(black_box(magnet)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
