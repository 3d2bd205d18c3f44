//! Cost of one pool decision with 100,000 candidates under 10,000 events per
//! (virtual) second: each iteration reports one event (connected, failed,
//! timed out or closed) and then asks `poll_dial` until it says `None`.
//!
//! The peer is a naive policy over the same workload that scans every
//! candidate for the best ready one (O(n) per dial), as a pool without
//! ordered queues would.
//!
//! cargo bench -p shoal-conn-pool --bench decisions -- --warm-up-time 1 --measurement-time 3

use std::collections::VecDeque;
use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use shoal_conn_pool::{CloseReason, ClosedInfo, FailReason, Pool, PoolConfig, Source};

const CANDIDATES: u32 = 100_000;
/// 10,000 events per second of virtual time.
const EVENT_GAP: Duration = Duration::from_micros(100);

fn addr(i: u32) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(0x0A00_0000 + i), 6881)
}

/// The workload's state around a pool: attempts in flight and open
/// connections, in the order they were made.
struct Workload {
    pool: Pool<SocketAddrV4>,
    now: Instant,
    pending: VecDeque<SocketAddrV4>,
    open: VecDeque<SocketAddrV4>,
    n: u64,
}

impl Workload {
    fn new() -> Self {
        let mut config = PoolConfig::default();
        config.max_connections = 400;
        config.max_half_open = 100;
        config.max_dials_per_sec = 10_000;
        config.backoff_base = Duration::from_millis(500);
        config.backoff_max = Duration::from_secs(5);
        let now = Instant::now();
        let mut pool = Pool::new(config, 1);
        for i in 0..CANDIDATES {
            pool.add_candidate(addr(i), Source::Tracker, now);
        }
        Self {
            pool,
            now,
            pending: VecDeque::new(),
            open: VecDeque::new(),
            n: 0,
        }
    }

    /// One event, then every dial the pool allows. Returns the dials made.
    fn step(&mut self) -> usize {
        self.now += EVENT_GAP;
        self.n += 1;
        let now = self.now;
        match self.n % 8 {
            // an attempt ends: 3 in 8 connect, 2 in 8 fail or time out
            0..=2 => {
                if let Some(a) = self.pending.pop_front()
                    && self.pool.on_connected(&a, now)
                {
                    self.open.push_back(a);
                }
            }
            3 => {
                if let Some(a) = self.pending.pop_front() {
                    self.pool.on_failed(&a, FailReason::Refused, now);
                }
            }
            4 => {
                if let Some(a) = self.pending.pop_front() {
                    self.pool.on_failed(&a, FailReason::TimedOut, now);
                }
            }
            // a connection closes: 2 in 8
            5 | 6 => {
                if let Some(a) = self.open.pop_front() {
                    let info = ClosedInfo {
                        bytes_up: 1,
                        bytes_down: self.n % 3,
                        reason: CloseReason::Remote,
                    };
                    self.pool.on_closed(&a, info, now);
                }
            }
            // a candidate is seen again (tracker / exchange refresh)
            _ => {
                let a = addr((self.n.wrapping_mul(2_654_435_761) % u64::from(CANDIDATES)) as u32);
                self.pool.add_candidate(a, Source::Exchange, now);
            }
        }
        self.pool.handle_timeout(now);
        let mut dials = 0;
        while let Some(a) = self.pool.poll_dial(now) {
            self.pending.push_back(a);
            dials += 1;
        }
        dials
    }
}

/// The naive peer: the same decisions (best tier, most recent, ready now)
/// found by scanning all candidates.
struct NaivePool {
    /// (address, ready at, tier, last seen, dialling or connected)
    entries: Vec<(SocketAddrV4, Instant, u8, Instant, bool)>,
    half_open: usize,
    open: usize,
    now: Instant,
    pending: VecDeque<usize>,
    connected: VecDeque<usize>,
    n: u64,
}

impl NaivePool {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            entries: (0..CANDIDATES)
                .map(|i| (addr(i), now, 2, now, false))
                .collect(),
            half_open: 0,
            open: 0,
            now,
            pending: VecDeque::new(),
            connected: VecDeque::new(),
            n: 0,
        }
    }

    fn best_ready(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, e) in self.entries.iter().enumerate() {
            if e.4 || e.1 > self.now {
                continue;
            }
            let better = match best {
                None => true,
                Some(b) => {
                    let o = &self.entries[b];
                    (e.2, std::cmp::Reverse(e.3)) < (o.2, std::cmp::Reverse(o.3))
                }
            };
            if better {
                best = Some(i);
            }
        }
        best
    }

    fn step(&mut self) -> usize {
        self.now += EVENT_GAP;
        self.n += 1;
        let now = self.now;
        match self.n % 8 {
            0..=2 => {
                if let Some(i) = self.pending.pop_front() {
                    self.half_open -= 1;
                    self.open += 1;
                    self.connected.push_back(i);
                }
            }
            3 | 4 => {
                if let Some(i) = self.pending.pop_front() {
                    self.half_open -= 1;
                    let e = &mut self.entries[i];
                    e.4 = false;
                    e.1 = now + Duration::from_millis(500);
                    e.2 = 3;
                }
            }
            5 | 6 => {
                if let Some(i) = self.connected.pop_front() {
                    self.open -= 1;
                    let e = &mut self.entries[i];
                    e.4 = false;
                    e.1 = now + Duration::from_millis(500);
                    e.2 = 0;
                }
            }
            _ => {
                let i = (self.n.wrapping_mul(2_654_435_761) % u64::from(CANDIDATES)) as usize;
                self.entries[i].3 = now;
            }
        }
        let mut dials = 0;
        while self.half_open < 100 && self.half_open + self.open < 400 && dials < 1 {
            let Some(i) = self.best_ready() else { break };
            self.entries[i].4 = true;
            self.half_open += 1;
            self.pending.push_back(i);
            dials += 1;
        }
        dials
    }
}

fn decisions(c: &mut Criterion) {
    let mut group = c.benchmark_group("100k candidates, one event + dials");
    let mut w = Workload::new();
    // warm into a steady state: connections open, backoffs running
    let steps = 100_000;
    let dials: usize = (0..steps).map(|_| w.step()).sum();
    let s = w.pool.stats();
    eprintln!(
        "steady state: {:.2} dials per event, {} connected, {} half-open, {} backing off, \
         limits {}/{}, {} congestion events",
        dials as f64 / f64::from(steps),
        s.connected(),
        s.half_open,
        s.backing_off,
        s.half_open_limit,
        s.connection_limit,
        s.congestion_events
    );
    group.bench_function("shoal-conn-pool", |b| b.iter(|| black_box(w.step())));
    let mut naive = NaivePool::new();
    for _ in 0..2_000 {
        naive.step();
    }
    group.bench_function("naive scan", |b| b.iter(|| black_box(naive.step())));
    group.finish();

    // One dial decision and one failure report, nothing else: the pool
    // picks the best of up to 100k ready candidates each time.
    let mut config = PoolConfig::fixed(1_000, 1_000);
    config.max_dials_per_sec = 1_000_000;
    // backoffs short enough that candidates keep coming back
    config.backoff_base = Duration::from_millis(1);
    config.backoff_max = Duration::from_millis(50);
    let mut pool = Pool::new(config, 3);
    let mut now = Instant::now();
    for i in 0..CANDIDATES {
        pool.add_candidate(addr(i), Source::Tracker, now);
    }
    c.bench_function("poll_dial + on_failed, 100k candidates", |b| {
        b.iter(|| {
            now += Duration::from_micros(10);
            let a = pool.poll_dial(now).expect("a ready candidate");
            pool.on_failed(&a, FailReason::Refused, now);
            black_box(a)
        })
    });

    let mut w = Workload::new();
    c.bench_function("add 100k candidates", |b| {
        b.iter(|| {
            w = Workload::new();
            black_box(w.pool.len())
        })
    });
    let w = Workload::new();
    c.bench_function("stats + why_not", |b| {
        b.iter(|| {
            (
                black_box(w.pool.stats()),
                black_box(w.pool.why_not(&addr(77))),
            )
        })
    });
}

criterion_group!(benches, decisions);
criterion_main!(benches);
