//! Parsing the bench torrent of `parse` in a plain loop: what a program that parses
//! repeatedly sees once its heap is warm (criterion's process, whose heap state makes
//! glibc hand the large result buffers out as fresh pages each time, measures the page
//! faults too; see the README). Prints the minimum, median and mean of 1,000 parses.
//!
//! `cargo bench -p shoal-metainfo --bench parse_loop`

mod common;

use shoal_metainfo::Metainfo;
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let torrent = common::v1_torrent();
    let runs = 1_000;
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            drop(black_box(
                Metainfo::from_bytes(black_box(&torrent)).unwrap(),
            ));
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let mean = times.iter().sum::<f64>() / runs as f64;
    times.sort_by(f64::total_cmp);
    println!(
        "parse v1 20k pieces 5k files, {runs} parses in a loop: min {:.3} ms, median {:.3} ms, mean {:.3} ms",
        times[0],
        times[runs / 2],
        mean
    );
}
