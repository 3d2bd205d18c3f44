//! The floor under a recheck: what reading a file back through the page cache costs on
//! one core, next to SHA-1 of in-cache data, so the recheck's distance from the SHA-1
//! ceiling can be split into "hashing" and "the kernel's copy".
//!
//! `cargo bench -p shoal-piece-store --bench read_floor`
//! Environment: `SHOAL_BENCH_MIB` (default 512), `SHOAL_BENCH_DIR` (default `/dev/shm`),
//! `SHOAL_BENCH_ROUNDS` (default 5).
//!
//! One thread; CPU time of that thread (`/proc/thread-self/schedstat`, nanoseconds), so
//! other load on the machine matters less than for wall-clock rates; the best of the
//! rounds is kept. The file is written twice: sequentially, and as 16 KiB blocks in a
//! shuffled order (as a download writes it).
//!
//! The mmap rows map the file read-only in each round (so page-table set-up and faults are
//! counted, as a recheck pays them once), advise sequential access, and hash straight
//! from the mapping in the same chunk sizes; "populate" maps with `MAP_POPULATE` instead.

// memmap2's `Mmap::map` is unsafe (another process could truncate the file under the
// mapping); this bench owns its file and never truncates it while mapped.
#![allow(unsafe_code)]

use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use sha1::{Digest, Sha1};

const PIECE: usize = 1 << 20;
const BLOCK: usize = 16 * 1024;
const CHUNKS: [usize; 5] = [16 << 10, 64 << 10, 128 << 10, 256 << 10, 1 << 20];

fn main() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let mib = env("SHOAL_BENCH_MIB", 512);
    let rounds = env("SHOAL_BENCH_ROUNDS", 5);
    let base =
        PathBuf::from(std::env::var("SHOAL_BENCH_DIR").unwrap_or_else(|_| "/dev/shm".into()));
    let total = (mib << 20).max(PIECE);
    let path = base.join(format!("shoal-read-floor-{}.bin", std::process::id()));

    let mut data = vec![0u8; total];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let gb = total as f64 / 1e9;
    let per_gb = |ns: u64| ns as f64 / 1e9 / gb;
    println!(
        "read floor: {mib} MiB in {}, one thread, CPU seconds per GB, best of {rounds}",
        base.display()
    );

    // In memory: SHA-1 of in-cache data, and a plain copy from RAM into a small buffer.
    let in_cache = &data[..256 * 1024];
    let sha1 = best_of(rounds, || {
        for _ in 0..total / in_cache.len() {
            std::hint::black_box(Sha1::digest(in_cache));
        }
    });
    // The same, over the whole buffer: data coming from RAM rather than the cache,
    // already mapped in this process (no copy, no page fault): a floor for any reader.
    let sha1_ram = best_of(rounds, || {
        for piece in data.chunks(PIECE) {
            std::hint::black_box(Sha1::digest(piece));
        }
    });
    let mut buf = vec![0u8; 128 * 1024];
    let memcpy = best_of(rounds, || {
        for part in data.chunks(buf.len()) {
            buf[..part.len()].copy_from_slice(part);
            std::hint::black_box(&buf);
        }
    });
    println!(
        "  SHA-1, in-cache data                  {:.3}",
        per_gb(sha1)
    );
    println!(
        "  SHA-1, {mib} MiB already in RAM        {:.3}  (= {:.0}% of SHA-1's rate)",
        per_gb(sha1_ram),
        100.0 * sha1 as f64 / sha1_ram as f64
    );
    println!(
        "  memcpy RAM -> 128 KiB buffer           {:.3}  (= {:.0}% of SHA-1's cost)",
        per_gb(memcpy),
        100.0 * memcpy as f64 / sha1 as f64
    );

    // One read buffer for every chunk size, allocated (and touched) once, starting on a
    // page boundary as the store's is; `misaligned` starts 16 bytes into a page (where
    // glibc puts a buffer it maps on its own).
    let mut backing = vec![1u8; CHUNKS[CHUNKS.len() - 1] + 2 * 4096];
    let aligned = (4096 - backing.as_ptr() as usize % 4096) % 4096;
    let misaligned = aligned + 16;
    for shuffled in [false, true] {
        let file = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        file.set_len(total as u64).unwrap();
        let mut blocks: Vec<usize> = (0..total / BLOCK).collect();
        if shuffled {
            let mut s: u64 = 42;
            for i in (1..blocks.len()).rev() {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                blocks.swap(i, (s % (i as u64 + 1)) as usize);
            }
        }
        for b in blocks {
            let at = b * BLOCK;
            file.write_all_at(&data[at..at + BLOCK], at as u64).unwrap();
        }
        file.sync_data().unwrap();
        println!(
            "  file written {}:",
            if shuffled {
                "as shuffled 16 KiB blocks"
            } else {
                "sequentially"
            }
        );
        for (chunk, start) in CHUNKS
            .iter()
            .map(|&c| (c, aligned))
            .chain([(128 << 10, misaligned)])
        {
            let buf = &mut backing[start..start + chunk];
            let read = best_of(rounds, || {
                for at in (0..total).step_by(chunk) {
                    file.read_exact_at(buf, at as u64).unwrap();
                }
            });
            let read_hash = best_of(rounds, || {
                for piece in (0..total).step_by(PIECE) {
                    let mut h = Sha1::new();
                    for at in (piece..piece + PIECE).step_by(chunk) {
                        file.read_exact_at(buf, at as u64).unwrap();
                        h.update(&*buf);
                    }
                    std::hint::black_box(h.finalize());
                }
            });
            println!(
                "    {:>4} KiB reads{}: pread {:.3}, pread + SHA-1 {:.3} = {:.0}% of SHA-1's rate",
                chunk >> 10,
                if start == misaligned {
                    " into a buffer 16 bytes into a page"
                } else {
                    ""
                },
                per_gb(read),
                per_gb(read_hash),
                100.0 * sha1 as f64 / read_hash as f64
            );
        }
        for populate in [false, true] {
            for chunk in [16 << 10, 128 << 10, 1 << 20] {
                let mmap_hash = best_of(rounds, || {
                    let mut opts = memmap2::MmapOptions::new();
                    if populate {
                        opts.populate();
                    }
                    // SAFETY: see the module note: this file is ours and stays its length.
                    let map = unsafe { opts.map(&file) }.unwrap();
                    if !populate {
                        map.advise(memmap2::Advice::Sequential).unwrap();
                    }
                    for piece in map.chunks(PIECE) {
                        let mut h = Sha1::new();
                        for part in piece.chunks(chunk) {
                            h.update(part);
                        }
                        std::hint::black_box(h.finalize());
                    }
                });
                println!(
                    "    {:>4} KiB from mmap{}: mmap + SHA-1 {:.3} = {:.0}% of SHA-1's rate",
                    chunk >> 10,
                    if populate {
                        " (populate)"
                    } else {
                        " (sequential)"
                    },
                    per_gb(mmap_hash),
                    100.0 * sha1 as f64 / mmap_hash as f64
                );
            }
        }
    }
    std::fs::remove_file(&path).unwrap();
}

/// Least CPU time of this thread, in nanoseconds, over `rounds` runs of `f`.
fn best_of(rounds: usize, mut f: impl FnMut()) -> u64 {
    (0..rounds.max(1))
        .map(|_| {
            let start = thread_cpu_ns();
            f();
            thread_cpu_ns() - start
        })
        .min()
        .unwrap_or(0)
}

/// Time this thread has run on a CPU, from `/proc/thread-self/schedstat`.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
