//! Random-order write + verify against the machine's ceilings, measured in the same run:
//! `dd` sequential write, and SHA-1 / SHA-256 of in-cache data on one core (the ceiling
//! is that rate times the number of cores) and on all cores at once.
//!
//! `cargo bench -p shoal-piece-store --bench random_write`
//! Environment: `SHOAL_BENCH_MIB` (default 256), `SHOAL_BENCH_DIR` (default `/dev/shm`),
//! `SHOAL_BENCH_ROUNDS` (default 3).
//! Data: 4 files, 1 MiB pieces, 16 KiB blocks written in a shuffled order by one thread,
//! then one fdatasync per file; then a full recheck on all cores with v1 hashes and again
//! with v2 hashes of the same files; then the same writes by one thread per core, each
//! verifying the pieces it completes.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};
use sha2::Sha256;
use shoal_piece_store::{
    BlockWrite, FileEntry, FileHashes, FileStorage, FileStorageOptions, Layout, PieceHashes,
    PieceStore, file_root_single_piece, piece_root, root_of_layer,
};

const PIECE: usize = 1 << 20;
const BLOCK: usize = 16 * 1024;
const PATTERN: usize = 64 << 20;
/// The in-cache ceilings hash this many bytes over and over (fits the L2 cache).
const IN_CACHE: usize = 256 * 1024;

/// The measurements, in the order of `best`.
const DD: usize = 0;
const SHA1_ONE: usize = 1;
const SHA1_ALL: usize = 2;
const SHA1_RAM: usize = 3;
const WRITE: usize = 4;
const RECHECK_V1: usize = 5;
const PARALLEL: usize = 6;
const SHA256_ONE: usize = 7;
const SHA256_ALL: usize = 8;
const RECHECK_V2: usize = 9;
const RECHECK_V1_AGAIN: usize = 10;
const N: usize = 11;

fn main() {
    let mib: usize = std::env::var("SHOAL_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let base =
        PathBuf::from(std::env::var("SHOAL_BENCH_DIR").unwrap_or_else(|_| "/dev/shm".into()));
    let dir = base.join(format!("shoal-piece-store-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let total = mib << 20;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    // Content: a 64 MiB pseudo-random pattern repeated (piece p = pattern at p % 64 MiB).
    let mut pattern = vec![0u8; PATTERN];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in pattern.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let byte_at = |abs: usize| -> &[u8] { &pattern[abs % PATTERN..] };
    let files: Vec<FileEntry> = (0..4)
        .map(|i| FileEntry::new(format!("f{i}.bin"), (total / 4) as u64))
        .collect();
    let layout = Layout::new(files, PIECE as u64).unwrap();
    let hashes: Vec<[u8; 20]> = (0..total / PIECE)
        .map(|p| Sha1::digest(&byte_at(p * PIECE)[..PIECE]).into())
        .collect();
    // v2 hashes of the same files (each starts on a piece boundary). The content repeats
    // every 64 pieces, so 64 piece roots serve every file.
    let leaves = PIECE / BLOCK;
    let roots: Vec<[u8; 32]> = (0..PATTERN / PIECE)
        .map(|p| piece_root(&byte_at(p * PIECE)[..PIECE], leaves))
        .collect();
    let v2: Vec<Option<FileHashes>> = (0..4)
        .map(|f| {
            let pieces = total / 4 / PIECE;
            let first = f * pieces;
            Some(if pieces == 1 {
                FileHashes {
                    pieces_root: file_root_single_piece(&byte_at(first * PIECE)[..PIECE]),
                    piece_layer: Vec::new(),
                }
            } else {
                let layer: Vec<[u8; 32]> = (first..first + pieces)
                    .map(|p| roots[p % roots.len()])
                    .collect();
                FileHashes {
                    pieces_root: root_of_layer(&layer, piece_root(&[], leaves)),
                    piece_layer: layer,
                }
            })
        })
        .collect();
    let in_cache = &pattern[..IN_CACHE];
    let sha1_piece = || {
        let mut h = Sha1::new();
        for _ in 0..PIECE / IN_CACHE {
            h.update(in_cache);
        }
        std::hint::black_box(h.finalize());
    };
    let sha256_piece = || {
        for _ in 0..PIECE / IN_CACHE {
            for b in in_cache.chunks(BLOCK) {
                std::hint::black_box(Sha256::digest(b));
            }
        }
    };

    let rounds: usize = std::env::var("SHOAL_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut best = [Duration::MAX; N];
    let mut best_cpu = [f64::MAX; N];
    let mut keep = |i: usize, (wall, cpu): (Duration, f64)| {
        best[i] = best[i].min(wall);
        best_cpu[i] = best_cpu[i].min(cpu);
    };
    let mut order: Vec<(u32, u32)> = (0..total / PIECE)
        .flat_map(|p| (0..PIECE).step_by(BLOCK).map(move |o| (p as u32, o as u32)))
        .collect();
    let mut s: u64 = 42;
    for i in (1..order.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        order.swap(i, (s % (i as u64 + 1)) as usize);
    }
    // The machine is shared: every measurement runs `rounds` times, interleaved, and the
    // best of each is kept.
    for _ in 0..rounds {
        // Ceiling 1: dd sequential write of the same amount, synced at the end.
        let dd_path = dir.join("dd.bin");
        let children = children_cpu_seconds();
        let t = Clock::start();
        let dd = Command::new("dd")
            .arg("if=/dev/zero")
            .arg(format!("of={}", dd_path.display()))
            .arg("bs=1M")
            .arg(format!("count={mib}"))
            .arg("conv=fdatasync")
            .output()
            .expect("run dd");
        assert!(dd.status.success(), "dd failed");
        keep(DD, t.stop_children(children));
        std::fs::remove_file(&dd_path).unwrap();

        // Ceiling 2: SHA-1 and SHA-256 (16 KiB blocks, as v2 hashes) of in-cache data, on
        // one core and on every core at once; and SHA-1 of the pattern in RAM.
        for (one, all, hash) in [
            (SHA1_ONE, SHA1_ALL, &sha1_piece as &(dyn Fn() + Sync)),
            (SHA256_ONE, SHA256_ALL, &sha256_piece),
        ] {
            let t = Clock::start();
            for _ in 0..total / PIECE {
                hash();
            }
            keep(one, t.stop());
            let t = Clock::start();
            std::thread::scope(|s| {
                for c in 0..cores {
                    s.spawn(move || {
                        for _ in (c..total / PIECE).step_by(cores) {
                            hash();
                        }
                    });
                }
            });
            keep(all, t.stop());
        }
        let t = Clock::start();
        for p in 0..total / PIECE {
            std::hint::black_box(Sha1::digest(&byte_at(p * PIECE)[..PIECE]));
        }
        keep(SHA1_RAM, t.stop());

        // Ours: shuffled 16 KiB blocks, one thread, then flush (fdatasync per file).
        let data_dir = dir.join("data");
        let storage = FileStorage::new(&data_dir, &layout, FileStorageOptions::default()).unwrap();
        let store =
            PieceStore::new(layout.clone(), storage, PieceHashes::V1(hashes.clone())).unwrap();
        let t = Clock::start();
        let mut complete = 0;
        for &(p, o) in &order {
            let abs = p as usize * PIECE + o as usize;
            if store.write_block(p, o, &byte_at(abs)[..BLOCK]).unwrap() == BlockWrite::PieceComplete
            {
                complete += 1;
            }
        }
        store.flush().unwrap();
        keep(WRITE, t.stop());
        assert_eq!(complete, total / PIECE);

        let t = Clock::start();
        let good = store.recheck_all(0, &|_| {}).unwrap();
        keep(RECHECK_V1, t.stop());
        assert_eq!(good as usize, total / PIECE, "every piece verifies");
        // Again: the first read after writing pays the kernel's page bookkeeping (moving
        // the pages to the active list), a recheck of files read before does not.
        let t = Clock::start();
        let good = store.recheck_all(0, &|_| {}).unwrap();
        keep(RECHECK_V1_AGAIN, t.stop());
        assert_eq!(good as usize, total / PIECE, "every piece verifies");
        drop(store);

        // The same files (read before) rechecked against their v2 (SHA-256 merkle) hashes.
        let storage = FileStorage::new(&data_dir, &layout, FileStorageOptions::default()).unwrap();
        let store = PieceStore::new(layout.clone(), storage, PieceHashes::V2(v2.clone())).unwrap();
        let t = Clock::start();
        let good = store.recheck_all(0, &|_| {}).unwrap();
        keep(RECHECK_V2, t.stop());
        assert_eq!(good as usize, total / PIECE, "every piece verifies (v2)");
        drop(store);
        std::fs::remove_dir_all(&data_dir).unwrap();

        // The same shuffled blocks written by one thread per core (as a client's blocking
        // pool would), each verifying the pieces it completes.
        let storage = FileStorage::new(&data_dir, &layout, FileStorageOptions::default()).unwrap();
        let store =
            PieceStore::new(layout.clone(), storage, PieceHashes::V1(hashes.clone())).unwrap();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let t = Clock::start();
        std::thread::scope(|s| {
            for _ in 0..cores {
                s.spawn(|| {
                    while let Some(&(p, o)) =
                        order.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                    {
                        let abs = p as usize * PIECE + o as usize;
                        if store.write_block(p, o, &byte_at(abs)[..BLOCK]).unwrap()
                            == BlockWrite::PieceComplete
                        {
                            assert!(store.verify_piece(p).unwrap());
                        }
                    }
                });
            }
        });
        store.flush().unwrap();
        keep(PARALLEL, t.stop());
        assert!(store.is_complete());
        let good = store.num_have();
        assert_eq!(good as usize, total / PIECE, "every piece verifies");
        drop(store);
        std::fs::remove_dir_all(&data_dir).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let rate = |i: usize| total as f64 / best[i].as_secs_f64() / 1e6;
    let cpu = |i: usize| best_cpu[i] / (total as f64 / 1e9);
    let pct = |ours: usize, of: f64| 100.0 * rate(ours) / of;
    println!(
        "piece-store bench: {mib} MiB in {}, 1 MiB pieces, 16 KiB blocks, {cores} cores, best of {rounds}",
        base.display()
    );
    println!(
        "  dd sequential write (bs=1M, fdatasync)      {:>6.0} MB/s",
        rate(DD)
    );
    println!(
        "  random-order write_block + flush            {:>6.0} MB/s  = {:.0}% of dd",
        rate(WRITE),
        pct(WRITE, rate(DD))
    );
    for (name, one, all, rechecks) in [
        (
            "SHA-1",
            SHA1_ONE,
            SHA1_ALL,
            &[
                (RECHECK_V1, "v1, first read after writing"),
                (RECHECK_V1_AGAIN, "v1, files read before       "),
            ][..],
        ),
        (
            "SHA-256",
            SHA256_ONE,
            SHA256_ALL,
            &[(RECHECK_V2, "v2, files read before       ")][..],
        ),
    ] {
        let ceiling = rate(one) * cores as f64;
        println!(
            "  {name:7} in cache, one core                {:>6.0} MB/s  -> ceiling x {cores} cores = {ceiling:.0} MB/s",
            rate(one)
        );
        println!(
            "  {name:7} in cache, {cores} threads at once       {:>6.0} MB/s  (= {:.0}% of the ceiling: what the machine gave)",
            rate(all),
            pct(all, ceiling)
        );
        for &(recheck, what) in rechecks {
            println!(
                "  recheck_all {what} {:>6.0} MB/s  = {:.0}% of the ceiling, {:.0}% of {cores} threads at once",
                rate(recheck),
                pct(recheck, ceiling),
                pct(recheck, rate(all))
            );
        }
    }
    println!(
        "  SHA-1 one core over the 64 MiB pattern in RAM {:>4.0} MB/s",
        rate(SHA1_RAM)
    );
    println!(
        "  {cores} threads: write_block + verify_piece        {:>6.0} MB/s  (write and hash in one pass)",
        rate(PARALLEL)
    );
    // CPU time is what the machine's other load does not distort: our cost per byte
    // against the hash's alone.
    println!(
        "  CPU seconds per GB: dd {:.2}, random write {:.2} (= {:.0}% of dd's efficiency); \
         SHA-1 {:.2}, recheck v1 {:.2} (= {:.0}% of SHA-1's efficiency), again {:.2} (= {:.0}%); \
         SHA-256 {:.2}, recheck v2 {:.2} (= {:.0}%); {cores}-thread write+verify {:.2}",
        cpu(DD),
        cpu(WRITE),
        100.0 * cpu(DD) / cpu(WRITE),
        cpu(SHA1_ONE),
        cpu(RECHECK_V1),
        100.0 * cpu(SHA1_ONE) / cpu(RECHECK_V1),
        cpu(RECHECK_V1_AGAIN),
        100.0 * cpu(SHA1_ONE) / cpu(RECHECK_V1_AGAIN),
        cpu(SHA256_ONE),
        cpu(RECHECK_V2),
        100.0 * cpu(SHA256_ONE) / cpu(RECHECK_V2),
        cpu(PARALLEL)
    );
}

/// Wall-clock and process CPU time (user + system, all threads) of a measured section.
struct Clock {
    wall: Instant,
    cpu: f64,
}

impl Clock {
    fn start() -> Self {
        Clock {
            wall: Instant::now(),
            cpu: process_cpu_seconds(),
        }
    }

    fn stop(&self) -> (Duration, f64) {
        (self.wall.elapsed(), process_cpu_seconds() - self.cpu)
    }

    /// Like `stop`, counting the CPU time of children waited for meanwhile.
    fn stop_children(&self, children_at_start: f64) -> (Duration, f64) {
        (
            self.wall.elapsed(),
            children_cpu_seconds() - children_at_start,
        )
    }
}

/// utime + stime of this process from `/proc/self/stat`, in seconds (USER_HZ = 100).
fn process_cpu_seconds() -> f64 {
    proc_stat_seconds(11, 12)
}

/// cutime + cstime: CPU time of waited-for children (here: `dd`).
fn children_cpu_seconds() -> f64 {
    proc_stat_seconds(13, 14)
}

fn proc_stat_seconds(a: usize, b: usize) -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(a) + ticks(b)) as f64 / 100.0
}
