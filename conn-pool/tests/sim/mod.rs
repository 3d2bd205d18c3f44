//! A virtual-time network for driving a [`Pool`] without sockets or sleeping.
//!
//! The model is a home router whose connection table has `capacity` entries.
//! Every dial needs an entry; when the table is full the attempt is silently
//! dropped (the dialler sees a timeout). An entry is released when the attempt
//! is answered (in [`TableMode::HalfOpen`]) or when the connection closes (in
//! [`TableMode::Open`], where established connections keep their entries).
//! Attempts to dead addresses hold their entry until the dialler gives up.
//!
//! Addresses are `u32`s; whether one is alive is a fixed function of the
//! address and the seed. Live connections close after a random lifetime and
//! report some bytes, so the pool sees churn.
//!
//! Shared by the tests, the bench and the example (`#[path]` includes it).
#![allow(dead_code)] // each user takes what it needs

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use shoal_conn_pool::{CloseReason, ClosedInfo, FailReason, Pool, PoolStats, Source};

/// What takes a router table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableMode {
    /// Only attempts that have not been answered yet.
    HalfOpen,
    /// Attempts and established connections.
    Open,
}

/// The network's parameters.
#[derive(Debug, Clone)]
pub struct NetModel {
    /// Router table entries (N).
    pub capacity: usize,
    /// What counts against the table.
    pub mode: TableMode,
    /// Round trip of a live address, uniform in this range.
    pub latency: (Duration, Duration),
    /// Fraction of addresses that never answer.
    pub dead_fraction: f64,
    /// Fraction of live addresses that refuse (answer with a reset).
    pub refuse_fraction: f64,
    /// How long an open connection lives, uniform in this range.
    pub lifetime: (Duration, Duration),
}

impl NetModel {
    /// A router with `capacity` half-open entries, 100 ms +- 50 ms round
    /// trips, no dead addresses and connections that live 30 to 120 s.
    pub fn half_open(capacity: usize) -> Self {
        Self {
            capacity,
            mode: TableMode::HalfOpen,
            latency: (Duration::from_millis(50), Duration::from_millis(150)),
            dead_fraction: 0.0,
            refuse_fraction: 0.0,
            lifetime: (Duration::from_secs(30), Duration::from_secs(120)),
        }
    }

    /// A router whose `capacity` entries hold attempts and open connections.
    pub fn open(capacity: usize) -> Self {
        Self {
            mode: TableMode::Open,
            ..Self::half_open(capacity)
        }
    }

    /// A network that never drops anything.
    pub fn perfect() -> Self {
        Self::half_open(usize::MAX)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    /// The attempt `id` to the address is answered.
    Answer(u32, u64),
    /// The connection `id` to the address closes.
    Close(u32, u64),
}

/// Counters the simulation keeps about itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimCounters {
    /// Dials the pool asked for.
    pub dials: u64,
    /// Dials the router dropped because its table was full.
    pub dropped: u64,
    /// Connections established (the pool kept them).
    pub completed: u64,
    /// Times `next_timeout` asked to be woken in the past right after
    /// `poll_dial` returned `None` (a busy loop in a real driver).
    pub stalls: u64,
}

/// The pool, the network and a virtual clock.
pub struct Sim {
    pub pool: Pool<u32>,
    pub net: NetModel,
    pub start: Instant,
    pub now: Instant,
    pub counters: SimCounters,
    rng: u64,
    seed: u64,
    events: BinaryHeap<Reverse<(Instant, Ev)>>,
    /// Pending attempts the router admitted: address -> attempt id.
    admitted: HashMap<u32, u64>,
    /// Open connections: address -> (connection id, holds a table entry).
    open: HashMap<u32, (u64, bool)>,
    /// Table entries in use.
    table: usize,
    next_id: u64,
    /// Address ranges added later, with their own share of dead addresses.
    batches: Vec<(std::ops::Range<u32>, f64)>,
}

impl Sim {
    /// A simulation of `pool` over `net`, with `candidates` addresses added
    /// at the start. `seed` decides which addresses are dead and all timings.
    pub fn new(pool: Pool<u32>, net: NetModel, candidates: u32, seed: u64) -> Self {
        let start = Instant::now();
        let mut sim = Self {
            pool,
            net,
            start,
            now: start,
            counters: SimCounters::default(),
            rng: seed ^ 0x5DEE_CE66_D1CE_5EED,
            seed,
            events: BinaryHeap::new(),
            admitted: HashMap::new(),
            open: HashMap::new(),
            table: 0,
            next_id: 0,
            batches: Vec::new(),
        };
        for a in 0..candidates {
            sim.pool.add_candidate(a, Source::Tracker, start);
        }
        sim
    }

    fn rand(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn between(&mut self, (lo, hi): (Duration, Duration)) -> Duration {
        lo + (hi.saturating_sub(lo)).mul_f64(self.rand())
    }

    /// A fixed per-address draw in `[0, 1)`.
    fn trait_of(&self, addr: u32, salt: u64) -> f64 {
        let mut z = u64::from(addr) ^ self.seed.rotate_left(17) ^ salt;
        z = (z ^ (z >> 33)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        z = (z ^ (z >> 33)).wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        z ^= z >> 33;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Adds the addresses `range` now (as if a tracker just returned them),
    /// `dead_fraction` of them dead.
    pub fn add_candidates(&mut self, range: std::ops::Range<u32>, dead_fraction: f64) {
        for a in range.clone() {
            self.pool.add_candidate(a, Source::Tracker, self.now);
        }
        self.batches.push((range, dead_fraction));
    }

    /// True if `addr` answers at all.
    pub fn is_alive(&self, addr: u32) -> bool {
        let dead = self
            .batches
            .iter()
            .rev()
            .find(|(r, _)| r.contains(&addr))
            .map_or(self.net.dead_fraction, |&(_, d)| d);
        self.trait_of(addr, 1) >= dead
    }

    /// Elapsed virtual time.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Table entries in use.
    pub fn table_used(&self) -> usize {
        self.table
    }

    /// Open connections the network holds.
    pub fn open_connections(&self) -> usize {
        self.open.len()
    }

    fn dial(&mut self, addr: u32) {
        self.counters.dials += 1;
        if self.table >= self.net.capacity {
            self.counters.dropped += 1;
            return; // silently dropped: the pool times it out
        }
        self.table += 1;
        let id = self.next_id;
        self.next_id += 1;
        self.admitted.insert(addr, id);
        if self.is_alive(addr) {
            let rtt = self.between(self.net.latency);
            self.events
                .push(Reverse((self.now + rtt, Ev::Answer(addr, id))));
        }
        // dead: the entry stays until the pool gives up (see `sync_timeouts`)
    }

    /// Releases table entries of attempts the pool gave up on.
    fn sync_timeouts(&mut self) {
        let pool = &self.pool;
        let mut freed = 0;
        self.admitted.retain(|addr, _| {
            let dialling = pool.why_not(addr) == Some(shoal_conn_pool::Reason::Dialing);
            if !dialling {
                freed += 1;
            }
            dialling
        });
        self.table -= freed;
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Answer(addr, id) => {
                if self.admitted.get(&addr) != Some(&id) {
                    return; // the pool gave up on this attempt already
                }
                self.admitted.remove(&addr);
                let keep_entry = self.net.mode == TableMode::Open;
                if !keep_entry {
                    self.table -= 1;
                }
                let refused = self.trait_of(addr, 2) < self.net.refuse_fraction;
                if refused {
                    if keep_entry {
                        self.table -= 1;
                    }
                    self.pool.on_failed(&addr, FailReason::Refused, self.now);
                    return;
                }
                if self.pool.on_connected(&addr, self.now) {
                    self.counters.completed += 1;
                    let life = self.between(self.net.lifetime);
                    let cid = self.next_id;
                    self.next_id += 1;
                    self.open.insert(addr, (cid, keep_entry));
                    self.events
                        .push(Reverse((self.now + life, Ev::Close(addr, cid))));
                } else if keep_entry {
                    self.table -= 1;
                }
            }
            Ev::Close(addr, cid) => {
                if let Some(&(c, entry)) = self.open.get(&addr)
                    && c == cid
                {
                    self.open.remove(&addr);
                    if entry {
                        self.table -= 1;
                    }
                    let info = ClosedInfo {
                        bytes_up: 1000,
                        bytes_down: 100_000,
                        reason: CloseReason::Remote,
                    };
                    self.pool.on_closed(&addr, info, self.now);
                }
            }
        }
    }

    /// Runs until `elapsed() >= until`, calling `sample` after every step.
    pub fn run_until(&mut self, until: Duration, mut sample: impl FnMut(&Sim)) {
        let end = self.start + until;
        while self.now < end {
            while let Some(addr) = self.pool.poll_dial(self.now) {
                self.dial(addr);
            }
            let timeout = self.pool.next_timeout();
            if timeout.is_some_and(|t| t <= self.now) {
                self.counters.stalls += 1;
            }
            let mut next = end;
            if let Some(t) = timeout {
                next = next.min(t.max(self.now + Duration::from_micros(1)));
            }
            if let Some(Reverse((t, _))) = self.events.peek() {
                next = next.min(*t);
            }
            self.now = next.max(self.now);
            while let Some(Reverse((t, _))) = self.events.peek() {
                if *t > self.now {
                    break;
                }
                let Some(Reverse((_, ev))) = self.events.pop() else {
                    break;
                };
                self.handle(ev);
            }
            self.pool.handle_timeout(self.now);
            self.sync_timeouts();
            sample(self);
        }
    }

    /// Runs until `elapsed() >= until`, recording the pool's stats every second.
    pub fn run_sampled(&mut self, until: Duration) -> Vec<(Duration, PoolStats)> {
        let mut out = Vec::new();
        let mut next = self.elapsed();
        self.run_until(until, |sim| {
            while sim.elapsed() >= next {
                out.push((next, sim.pool.stats()));
                next += Duration::from_secs(1);
            }
        });
        out
    }
}
