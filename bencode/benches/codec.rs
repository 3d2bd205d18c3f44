//! Decode and encode throughput of shoal-bencode against bendy, serde_bencode, bt_bencode
//! and librqbit-bencode, on the same generated inputs in the same run.
//!
//! `cargo bench -p shoal-bencode --bench codec -- --warm-up-time 1 --measurement-time 3`
//!
//! Every library decodes into its own generic value tree (ours and librqbit's borrow byte
//! strings; bendy's `Value`, serde_bencode and bt_bencode copy them) and encodes that tree
//! back. Each input is checked to decode with every library before timing. On a busy
//! machine criterion's means move with the load; `benches/interleaved.rs` gives
//! load-robust ratios.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

mod common;
use common::*;

/// Benchmarks one library's decode and encode on a set of messages (one message for a
/// single document).
macro_rules! bench_lib {
    ($group:expr, $label:expr, $decode:expr, $encode:expr, $msgs:expr) => {{
        let msgs: &[Vec<u8>] = $msgs;
        // Each library must accept the input and encode it back to the same length
        // (every input is canonical).
        let decoded: Vec<_> = msgs.iter().map(|m| $decode(m)).collect();
        for (m, v) in msgs.iter().zip(&decoded) {
            assert_eq!($encode(v).len(), m.len(), "{} re-encodes", $label);
        }
        $group.bench_function(BenchmarkId::new("decode", $label), |b| {
            b.iter(|| {
                for m in msgs {
                    black_box($decode(black_box(m)));
                }
            })
        });
        $group.bench_function(BenchmarkId::new("encode", $label), |b| {
            b.iter(|| {
                for v in &decoded {
                    black_box($encode(black_box(v)));
                }
            })
        });
    }};
}

fn codec(c: &mut Criterion) {
    let inputs = inputs();
    for (input, msgs) in &inputs {
        let bytes: usize = msgs.iter().map(Vec::len).sum();
        let mut group = c.benchmark_group(*input);
        group.throughput(Throughput::Bytes(bytes as u64));
        bench_lib!(group, "shoal", shoal_decode, shoal_encode, msgs);
        bench_lib!(group, "librqbit-bencode", rqbit_decode, rqbit_encode, msgs);
        bench_lib!(group, "bendy", bendy_decode, bendy_encode, msgs);
        bench_lib!(
            group,
            "serde_bencode",
            serde_bencode_decode,
            serde_bencode_encode,
            msgs
        );
        bench_lib!(
            group,
            "bt_bencode",
            bt_bencode_decode,
            bt_bencode_encode,
            msgs
        );
        group.finish();
    }
}

criterion_group!(benches, codec);
criterion_main!(benches);
