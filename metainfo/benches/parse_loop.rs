//! Parsing the bench torrent of `parse` in a plain loop: what a program that parses
//! repeatedly sees once its heap is warm (criterion's process, whose heap state makes
//! glibc hand the large result buffers out as fresh pages each time, measures the page
//! faults too; see the README). Prints the minimum, median and mean of 1,000 parses, and
//! the CPU time per parse of the parsing thread and of the hashing thread (from
//! `/proc`, in 10 ms ticks: steadier than wall time when other jobs share the cores).
//!
//! `cargo bench -p shoal-metainfo --bench parse_loop`

mod common;

use shoal_metainfo::Metainfo;
use std::hint::black_box;
use std::time::Instant;

/// User + system CPU seconds of the thread whose `stat` file is at `path`.
fn cpu_seconds(path: &std::path::Path) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the `(comm)`, which may hold spaces: state is field 3, utime 14.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// CPU seconds of this thread and of the thread named `metainfo-hash`, if any.
fn cpu() -> (f64, f64) {
    let own = cpu_seconds("/proc/thread-self/stat".as_ref()).unwrap_or(0.0);
    let mut hashing = 0.0;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if name.trim() == "metainfo-hash" {
                hashing += cpu_seconds(&task.path().join("stat")).unwrap_or(0.0);
            }
        }
    }
    (own, hashing)
}

fn main() {
    let torrent = common::v1_torrent();
    // The first parse of the process: fresh pages for everything, the hashing thread
    // started.
    let start = Instant::now();
    drop(black_box(
        Metainfo::from_bytes(black_box(&torrent)).unwrap(),
    ));
    println!(
        "first parse of the process: {:.3} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    let runs = 1_000;
    let before = cpu();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            drop(black_box(
                Metainfo::from_bytes(black_box(&torrent)).unwrap(),
            ));
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let after = cpu();
    let mean = times.iter().sum::<f64>() / runs as f64;
    times.sort_by(f64::total_cmp);
    println!(
        "parse v1 20k pieces 5k files, {runs} parses in a loop: min {:.3} ms, median {:.3} ms, mean {:.3} ms",
        times[0],
        times[runs / 2],
        mean
    );
    println!(
        "CPU per parse: parsing thread {:.3} ms, hashing thread {:.3} ms",
        (after.0 - before.0) * 1e3 / runs as f64,
        (after.1 - before.1) * 1e3 / runs as f64
    );
}
