//! Load-robust comparison: the five libraries take turns on each input, many short rounds,
//! and each keeps its fastest round. On a shared machine other processes only ever slow a
//! round down, so the minimum is the fairest figure and the ratios are taken in one run.
//!
//! `cargo bench -p shoal-bencode --bench interleaved` (prints a markdown table)

use std::time::Instant;

mod common;
use common::*;

/// Runs `f` `inner` times and returns the seconds taken.
fn timed(inner: usize, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..inner {
        f();
    }
    t.elapsed().as_secs_f64()
}

const LIBS: [&str; 5] = [
    "shoal",
    "librqbit-bencode",
    "bendy",
    "serde_bencode",
    "bt_bencode",
];

/// Best MB/s of each library for decode and encode of `msgs`.
fn measure(msgs: &[Vec<u8>], rounds: usize) -> [[f64; 5]; 2] {
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    // About 2 MB of input per timed batch.
    let inner = (2_000_000 / bytes).max(1);
    let shoal: Vec<_> = msgs.iter().map(|m| shoal_decode(m)).collect();
    let rqbit: Vec<_> = msgs.iter().map(|m| rqbit_decode(m)).collect();
    let bendy: Vec<_> = msgs.iter().map(|m| bendy_decode(m)).collect();
    let sb: Vec<_> = msgs.iter().map(|m| serde_bencode_decode(m)).collect();
    let bt: Vec<_> = msgs.iter().map(|m| bt_bencode_decode(m)).collect();
    let mut best = [[f64::MAX; 5]; 2];
    for _ in 0..rounds {
        let decode = [
            timed(inner, || msgs.iter().for_each(|m| sink(shoal_decode(m)))),
            timed(inner, || msgs.iter().for_each(|m| sink(rqbit_decode(m)))),
            timed(inner, || msgs.iter().for_each(|m| sink(bendy_decode(m)))),
            timed(inner, || {
                msgs.iter().for_each(|m| sink(serde_bencode_decode(m)))
            }),
            timed(inner, || {
                msgs.iter().for_each(|m| sink(bt_bencode_decode(m)))
            }),
        ];
        let encode = [
            timed(inner, || shoal.iter().for_each(|v| sink(shoal_encode(v)))),
            timed(inner, || rqbit.iter().for_each(|v| sink(rqbit_encode(v)))),
            timed(inner, || bendy.iter().for_each(|v| sink(bendy_encode(v)))),
            timed(inner, || {
                sb.iter().for_each(|v| sink(serde_bencode_encode(v)))
            }),
            timed(inner, || bt.iter().for_each(|v| sink(bt_bencode_encode(v)))),
        ];
        for i in 0..5 {
            best[0][i] = best[0][i].min(decode[i]);
            best[1][i] = best[1][i].min(encode[i]);
        }
    }
    best.map(|op| op.map(|secs| (bytes * inner) as f64 / secs / 1e6))
}

fn main() {
    // `cargo bench` passes `--bench`; a number sets the rounds (default 30).
    let rounds = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(30);
    let results: Vec<_> = inputs()
        .into_iter()
        .map(|(name, msgs)| {
            let bytes: usize = msgs.iter().map(Vec::len).sum();
            (name, bytes, measure(&msgs, rounds))
        })
        .collect();
    for (op, title) in ["decode", "encode"].iter().enumerate() {
        println!("\n{title}: best of {rounds} interleaved rounds, MB/s (shoal ÷ peer)\n");
        println!("| input | bytes | {} |", LIBS.join(" | "));
        println!("|---|---:|{}", "---:|".repeat(LIBS.len()));
        for (name, bytes, m) in &results {
            let row = m[op];
            let cells: Vec<String> = (0..5)
                .map(|i| {
                    if i == 0 {
                        format!("{:.0}", row[0])
                    } else {
                        format!("{:.0} ({:.2}×)", row[i], row[0] / row[i])
                    }
                })
                .collect();
            println!("| {name} | {bytes} | {} |", cells.join(" | "));
        }
    }
}
