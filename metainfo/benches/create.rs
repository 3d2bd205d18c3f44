//! Torrent creation speed, in process: `TorrentBuilder` v1 / v2 / hybrid over one file
//! (64 MiB, 1 MiB pieces, all cores) on tmpfs when there is one.
//! The comparison with mktorrent and libtorrent is `scripts/bench-create.sh`.
//!
//! `cargo bench -p shoal-metainfo --bench create -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shoal_metainfo::{TorrentBuilder, TorrentVersion};

const SIZE: usize = 64 << 20;

fn bench(c: &mut Criterion) {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let file = dir.path().join("data.bin");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let data: Vec<u8> = (0..SIZE)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect();
    std::fs::write(&file, &data).unwrap();
    drop(data);

    let mut group = c.benchmark_group("create 64 MiB");
    group.throughput(Throughput::Bytes(SIZE as u64));
    group.sample_size(10);
    for (name, version) in [
        ("v1", TorrentVersion::V1),
        ("v2", TorrentVersion::V2),
        ("hybrid", TorrentVersion::Hybrid),
    ] {
        let builder = TorrentBuilder::new(&file)
            .version(version)
            .piece_length(1 << 20);
        group.bench_function(name, |b| b.iter(|| builder.build().unwrap()));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
