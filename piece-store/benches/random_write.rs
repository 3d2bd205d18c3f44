//! Random-order write + verify against the machine's ceilings, measured in the same run:
//! `dd` sequential write, and SHA-1 on one core and on all cores.
//!
//! `cargo bench -p shoal-piece-store --bench random_write`
//! Environment: `SHOAL_BENCH_MIB` (default 256), `SHOAL_BENCH_DIR` (default `/dev/shm`).
//! Data: 4 files, 1 MiB pieces, 16 KiB blocks written in a shuffled order by one thread,
//! then one fdatasync per file; then a full recheck on all cores; then the same writes by
//! one thread per core, each verifying the pieces it completes.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};
use shoal_piece_store::{
    BlockWrite, FileEntry, FileStorage, FileStorageOptions, Layout, PieceHashes, PieceStore,
};

const PIECE: usize = 1 << 20;
const BLOCK: usize = 16 * 1024;
const PATTERN: usize = 64 << 20;

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

    let rounds: usize = std::env::var("SHOAL_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut best = [Duration::MAX; 6];
    let mut best_cpu = [f64::MAX; 6];
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
        keep(0, t.stop_children(children));
        std::fs::remove_file(&dd_path).unwrap();

        // Ceiling 2: SHA-1 over the same bytes in memory, one core and all cores.
        let t = Clock::start();
        for p in 0..total / PIECE {
            std::hint::black_box(Sha1::digest(&byte_at(p * PIECE)[..PIECE]));
        }
        keep(1, t.stop());
        let t = Clock::start();
        std::thread::scope(|s| {
            for c in 0..cores {
                let byte_at = &byte_at;
                s.spawn(move || {
                    for p in (c..total / PIECE).step_by(cores) {
                        std::hint::black_box(Sha1::digest(&byte_at(p * PIECE)[..PIECE]));
                    }
                });
            }
        });
        keep(2, t.stop());

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
        keep(3, t.stop());
        assert_eq!(complete, total / PIECE);

        let t = Clock::start();
        let good = store.recheck_all(0, &|_| {}).unwrap();
        keep(4, t.stop());
        assert_eq!(good as usize, total / PIECE, "every piece verifies");
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
        keep(5, t.stop());
        assert!(store.is_complete());
        let good = store.num_have();
        assert_eq!(good as usize, total / PIECE, "every piece verifies");
        drop(store);
        std::fs::remove_dir_all(&data_dir).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let [
        dd_time,
        sha_one,
        sha_all,
        write_time,
        recheck_time,
        parallel_time,
    ] = best;

    let [
        cpu_dd,
        cpu_sha_one,
        cpu_sha_all,
        cpu_write,
        cpu_recheck,
        cpu_parallel,
    ] = best_cpu;
    let rate = |d: Duration| total as f64 / d.as_secs_f64() / 1e6;
    println!(
        "piece-store bench: {mib} MiB in {}, 1 MiB pieces, 16 KiB blocks, {cores} cores, best of {rounds}",
        base.display()
    );
    println!(
        "  dd sequential write (bs=1M, fdatasync) {:>8.0} MB/s",
        rate(dd_time)
    );
    println!(
        "  random-order write_block + flush        {:>8.0} MB/s  = {:.0}% of dd",
        rate(write_time),
        100.0 * dd_time.as_secs_f64() / write_time.as_secs_f64()
    );
    println!(
        "  SHA-1 one core (in memory)              {:>8.0} MB/s",
        rate(sha_one)
    );
    println!(
        "  SHA-1 all {cores} cores (in memory)           {:>8.0} MB/s",
        rate(sha_all)
    );
    let pct =
        |ceiling: Duration, ours: Duration| 100.0 * ceiling.as_secs_f64() / ours.as_secs_f64();
    println!(
        "  recheck_all (read + SHA-1, all cores)   {:>8.0} MB/s  = {:.0}% of SHA-1 on all cores, \
         {:.0}% of one core x {cores}",
        rate(recheck_time),
        pct(sha_all, recheck_time),
        pct(sha_one / cores as u32, recheck_time)
    );
    println!(
        "  {cores} threads: write_block + verify_piece {:>7.0} MB/s  (write and hash in one pass)",
        rate(parallel_time)
    );
    // CPU time is what the machine's other load does not distort: our cost per byte
    // against SHA-1's alone.
    let gb = total as f64 / 1e9;
    println!(
        "  CPU seconds per GB: dd {:.2}, random write {:.2} (= {:.0}% of dd's efficiency); \
         SHA-1 {:.2} (all cores: {:.2}), recheck {:.2} (= {:.0}% of SHA-1's efficiency); \
         {cores}-thread write+verify {:.2}",
        cpu_dd / gb,
        cpu_write / gb,
        100.0 * cpu_dd / cpu_write,
        cpu_sha_one / gb,
        cpu_sha_all / gb,
        cpu_recheck / gb,
        100.0 * cpu_sha_one / cpu_recheck,
        cpu_parallel / gb
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
