//! Statistics for operators: request counters per protocol, swarm totals and rates.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::swarm::SwarmStore;

/// Counters written by one worker. Each worker owns its block (its own cache lines),
/// so counting costs no contention on the fast path.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Counters {
    pub(crate) connects: AtomicU64,
    pub(crate) announces: AtomicU64,
    pub(crate) scrapes: AtomicU64,
    /// Requests answered with an error (malformed, bad connection id, refused).
    pub(crate) errors: AtomicU64,
    /// Packets dropped without a reply (garbage with no transaction id).
    pub(crate) ignored: AtomicU64,
}

impl Counters {
    #[inline]
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn read(&self) -> [u64; 5] {
        [
            &self.connects,
            &self.announces,
            &self.scrapes,
            &self.errors,
            &self.ignored,
        ]
        .map(|c| c.load(Ordering::Relaxed))
    }
}

/// Which protocol a worker serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Udp,
    Http,
}

/// Per-protocol totals since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProtocolTotals {
    /// UDP connect requests answered (always 0 for HTTP).
    pub connects: u64,
    /// Announces answered.
    pub announces: u64,
    /// Scrapes answered.
    pub scrapes: u64,
    /// Requests answered with an error reply.
    pub errors: u64,
    /// Requests dropped without a reply (UDP garbage without a transaction id).
    pub ignored: u64,
}

impl ProtocolTotals {
    fn add(&mut self, c: [u64; 5]) {
        self.connects += c[0];
        self.announces += c[1];
        self.scrapes += c[2];
        self.errors += c[3];
        self.ignored += c[4];
    }
}

/// A consistent-enough picture of the tracker at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatsSnapshot {
    /// Seconds since the tracker started.
    pub uptime_secs: u64,
    /// Swarms (info-hashes) tracked.
    pub swarms: usize,
    /// Peers over all swarms.
    pub peers: usize,
    /// Seeders over all swarms.
    pub seeders: usize,
    /// Leechers over all swarms.
    pub leechers: usize,
    /// UDP totals.
    pub udp: ProtocolTotals,
    /// HTTP totals.
    pub http: ProtocolTotals,
    /// Announces per second (both protocols) over the last few seconds.
    pub announces_per_sec: f64,
    /// Scrapes per second (both protocols) over the last few seconds.
    pub scrapes_per_sec: f64,
    /// Errors per second (both protocols) over the last few seconds.
    pub errors_per_sec: f64,
    /// Torrents in the published directory (0 when there is none).
    pub published_torrents: usize,
}

impl StatsSnapshot {
    /// Announces over both protocols since start.
    pub fn announces(&self) -> u64 {
        self.udp.announces + self.http.announces
    }

    /// Scrapes over both protocols since start.
    pub fn scrapes(&self) -> u64 {
        self.udp.scrapes + self.http.scrapes
    }

    /// Error replies and ignored packets over both protocols since start.
    pub fn errors(&self) -> u64 {
        self.udp.errors + self.http.errors + self.udp.ignored + self.http.ignored
    }

    /// Prometheus text exposition format (version 0.0.4).
    pub fn to_prometheus(&self) -> String {
        let mut s = String::new();
        let mut gauge = |name: &str, help: &str, v: f64| {
            let _ = writeln!(
                s,
                "# HELP shoal_tracker_{name} {help}\n# TYPE shoal_tracker_{name} gauge"
            );
            let _ = writeln!(s, "shoal_tracker_{name} {v}");
        };
        gauge(
            "uptime_seconds",
            "Seconds since the tracker started.",
            self.uptime_secs as f64,
        );
        gauge(
            "swarms",
            "Swarms (info-hashes) tracked.",
            self.swarms as f64,
        );
        gauge("peers", "Peers over all swarms.", self.peers as f64);
        gauge("seeders", "Seeders over all swarms.", self.seeders as f64);
        gauge(
            "leechers",
            "Leechers over all swarms.",
            self.leechers as f64,
        );
        gauge(
            "announces_per_second",
            "Announces per second, recent average.",
            self.announces_per_sec,
        );
        gauge(
            "scrapes_per_second",
            "Scrapes per second, recent average.",
            self.scrapes_per_sec,
        );
        gauge(
            "errors_per_second",
            "Error replies per second, recent average.",
            self.errors_per_sec,
        );
        gauge(
            "published_torrents",
            "Torrents in the published directory.",
            self.published_torrents as f64,
        );
        let counters: [(&str, &str, TotalField); 5] = [
            ("connects_total", "UDP connect requests answered.", |t| {
                t.connects
            }),
            ("announces_total", "Announces answered.", |t| t.announces),
            ("scrapes_total", "Scrapes answered.", |t| t.scrapes),
            ("errors_total", "Requests answered with an error.", |t| {
                t.errors
            }),
            ("ignored_total", "Requests dropped without a reply.", |t| {
                t.ignored
            }),
        ];
        for (name, help, get) in counters {
            let _ = writeln!(
                s,
                "# HELP shoal_tracker_{name} {help}\n# TYPE shoal_tracker_{name} counter"
            );
            let _ = writeln!(
                s,
                "shoal_tracker_{name}{{protocol=\"udp\"}} {}",
                get(&self.udp)
            );
            let _ = writeln!(
                s,
                "shoal_tracker_{name}{{protocol=\"http\"}} {}",
                get(&self.http)
            );
        }
        s
    }
}

/// Reads one counter of a [`ProtocolTotals`].
type TotalField = fn(&ProtocolTotals) -> u64;

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    announces: u64,
    scrapes: u64,
    errors: u64,
}

/// All statistics of one tracker: worker counter blocks and a short history for rates.
#[derive(Debug)]
pub(crate) struct Stats {
    start: Instant,
    blocks: Mutex<Vec<(Protocol, Arc<Counters>)>>,
    history: Mutex<VecDeque<Sample>>,
}

/// Rates are averaged over about this long.
const RATE_WINDOW: Duration = Duration::from_secs(5);

impl Stats {
    pub(crate) fn new(start: Instant) -> Self {
        Self {
            start,
            blocks: Mutex::new(Vec::new()),
            history: Mutex::new(VecDeque::new()),
        }
    }

    /// A new counter block for one worker.
    pub(crate) fn register(&self, protocol: Protocol) -> Arc<Counters> {
        let block = Arc::new(Counters::default());
        self.blocks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((protocol, block.clone()));
        block
    }

    fn totals(&self) -> (ProtocolTotals, ProtocolTotals) {
        let (mut udp, mut http) = (ProtocolTotals::default(), ProtocolTotals::default());
        for (p, b) in self
            .blocks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            match p {
                Protocol::Udp => udp.add(b.read()),
                Protocol::Http => http.add(b.read()),
            }
        }
        (udp, http)
    }

    /// Records a sample for the rates; called about once a second.
    pub(crate) fn sample(&self, now: Instant) {
        let (udp, http) = self.totals();
        let s = Sample {
            at: now,
            announces: udp.announces + http.announces,
            scrapes: udp.scrapes + http.scrapes,
            errors: udp.errors + http.errors + udp.ignored + http.ignored,
        };
        let mut h = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        h.push_back(s);
        while h.len() > 2
            && h.front()
                .is_some_and(|f| now.duration_since(f.at) > RATE_WINDOW)
        {
            h.pop_front();
        }
    }

    pub(crate) fn snapshot(
        &self,
        store: &SwarmStore,
        published_torrents: usize,
        now: Instant,
    ) -> StatsSnapshot {
        let (udp, http) = self.totals();
        let t = store.totals();
        let (mut a, mut sc, mut e) = (0.0, 0.0, 0.0);
        {
            let h = self.history.lock().unwrap_or_else(PoisonError::into_inner);
            if let (Some(first), Some(last)) = (h.front(), h.back()) {
                let dt = last.at.duration_since(first.at).as_secs_f64();
                if dt > 0.0 {
                    a = (last.announces - first.announces) as f64 / dt;
                    sc = (last.scrapes - first.scrapes) as f64 / dt;
                    e = (last.errors - first.errors) as f64 / dt;
                }
            }
        }
        StatsSnapshot {
            uptime_secs: now.saturating_duration_since(self.start).as_secs(),
            swarms: t.swarms,
            peers: t.peers,
            seeders: t.seeders,
            leechers: t.peers - t.seeders,
            udp,
            http,
            announces_per_sec: a,
            scrapes_per_sec: sc,
            errors_per_sec: e,
            published_torrents,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::SwarmLimits;

    #[test]
    fn totals_rates_and_prometheus() {
        let t0 = Instant::now();
        let stats = Stats::new(t0);
        let store = SwarmStore::new(SwarmLimits::default(), t0);
        let u = stats.register(Protocol::Udp);
        let h = stats.register(Protocol::Http);
        stats.sample(t0);
        for _ in 0..20 {
            Counters::add(&u.announces);
        }
        Counters::add(&h.announces);
        Counters::add(&h.errors);
        Counters::add(&u.ignored);
        stats.sample(t0 + Duration::from_secs(2));
        let s = stats.snapshot(&store, 0, t0 + Duration::from_secs(2));
        assert_eq!(s.announces(), 21);
        assert_eq!(s.errors(), 2);
        assert_eq!(s.udp.announces, 20);
        assert!(
            (s.announces_per_sec - 10.5).abs() < 1e-9,
            "{}",
            s.announces_per_sec
        );
        let text = s.to_prometheus();
        assert!(
            text.contains("shoal_tracker_announces_total{protocol=\"udp\"} 20\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE shoal_tracker_swarms gauge\nshoal_tracker_swarms 0\n"),
            "{text}"
        );
    }
}
