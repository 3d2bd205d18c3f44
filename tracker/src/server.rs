//! Starting and stopping a tracker: sockets, worker threads, the HTTP server, and the
//! housekeeping tasks (expiry, statistics sampling).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::TrackerConfig;
use crate::conn_id::ConnectionIds;
use crate::error::{Error, Result};
use crate::published::Published;
use crate::stats::{Counters, Protocol, Stats, StatsSnapshot};
use crate::swarm::{SwarmLimits, SwarmStore};
use crate::{http, udp};

/// State shared by every worker and handler.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: TrackerConfig,
    pub(crate) store: SwarmStore,
    pub(crate) stats: Stats,
    pub(crate) conn_ids: ConnectionIds,
    pub(crate) published: Option<Published>,
    pub(crate) proto_limits: tracker_proto::Limits,
    pub(crate) http_counters: Arc<Counters>,
    pub(crate) http_addr: Option<SocketAddr>,
    pub(crate) udp_addr: Option<SocketAddr>,
}

impl Shared {
    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let published = self
            .published
            .as_ref()
            .and_then(|p| p.list().ok())
            .map_or(0, |l| l.len());
        self.stats.snapshot(&self.store, published, Instant::now())
    }

    pub(crate) fn announce_url_udp(&self) -> Option<String> {
        self.udp_addr
            .map(|a| format!("udp://{}/announce", reachable(a)))
    }
}

/// An address clients can dial: an unspecified bind address (`0.0.0.0`, `[::]`) becomes
/// loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

/// Entry point: [`Tracker::start`].
#[derive(Debug)]
pub struct Tracker;

impl Tracker {
    /// Binds the configured sockets and starts serving on the current tokio runtime
    /// (UDP workers are plain threads; HTTP and housekeeping are tokio tasks).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> shoal_tracker::Result<()> {
    /// use shoal_tracker::{Tracker, TrackerConfig};
    ///
    /// let tracker = Tracker::start(TrackerConfig {
    ///     http: Some("127.0.0.1:0".parse().unwrap()),
    ///     udp: Some("127.0.0.1:0".parse().unwrap()),
    ///     ..TrackerConfig::default()
    /// })
    /// .await?;
    /// let url = tracker.announce_url_udp().unwrap();
    /// assert!(url.starts_with("udp://127.0.0.1:"));
    /// assert_eq!(tracker.stats().peers, 0);
    /// tracker.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start(config: TrackerConfig) -> Result<RunningTracker> {
        if config.http.is_none() && config.udp.is_none() {
            return Err(Error::Config("neither HTTP nor UDP is enabled".into()));
        }
        if config.upload_token.is_some() && config.torrents_dir.is_none() {
            return Err(Error::Config(
                "an upload token needs a torrents directory".into(),
            ));
        }
        if config.upload_token.as_deref().is_some_and(str::is_empty) {
            return Err(Error::Config("the upload token is empty".into()));
        }
        if config.interval.is_zero() {
            return Err(Error::Config("the announce interval is zero".into()));
        }
        let start = Instant::now();
        let published = config
            .torrents_dir
            .as_deref()
            .map(Published::open)
            .transpose()?;

        let http_listener =
            match config.http {
                Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.map_err(
                    |source| Error::Bind {
                        protocol: "HTTP",
                        addr,
                        source,
                    },
                )?),
                None => None,
            };
        let http_addr = match &http_listener {
            Some(l) => Some(l.local_addr().map_err(|source| Error::Bind {
                protocol: "HTTP",
                addr: config.http.unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0))),
                source,
            })?),
            None => None,
        };
        let workers = if config.udp_workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            config.udp_workers
        };
        let udp_sockets = config
            .udp
            .map(|addr| udp::bind(addr, workers))
            .transpose()?;
        let udp_addr = match udp_sockets.as_ref().and_then(|s| s.first()) {
            Some(s) => Some(s.local_addr().map_err(|source| Error::Bind {
                protocol: "UDP",
                addr: config.udp.unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0))),
                source,
            })?),
            None => None,
        };

        let limits = SwarmLimits {
            peer_timeout: config.peer_timeout(),
            max_swarms: config.max_swarms,
            max_peers_per_swarm: config.max_peers_per_swarm,
            default_numwant: config.default_numwant,
            max_numwant: config.max_numwant,
        };
        let stats = Stats::new(start);
        let http_counters = stats.register(Protocol::Http);
        let proto_limits = tracker_proto::Limits {
            max_scrape_hashes: config.max_scrape_hashes,
            max_peers: config.max_numwant,
            ..tracker_proto::Limits::default()
        };
        let shared = Arc::new(Shared {
            store: SwarmStore::new(limits, start),
            stats,
            conn_ids: ConnectionIds::new(start),
            published,
            proto_limits,
            http_counters,
            http_addr,
            udp_addr,
            config,
        });

        let stop = Arc::new(AtomicBool::new(false));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let threads = match udp_sockets {
            Some(sockets) => udp::spawn(&shared, sockets, &stop)?,
            None => Vec::new(),
        };
        if let Some(listener) = http_listener {
            let app =
                http::router(shared.clone()).into_make_service_with_connect_info::<SocketAddr>();
            let mut rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                let stopped = async move {
                    let _ = rx.wait_for(|s| *s).await;
                };
                if let Err(e) = axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
                {
                    tracing::error!("http server: {e}");
                }
            }));
        }
        tasks.push(tokio::spawn(housekeeping(shared.clone(), stop_rx)));
        tracing::info!(?http_addr, ?udp_addr, "tracker started");
        Ok(RunningTracker {
            shared,
            stop,
            stop_tx,
            tasks,
            threads,
        })
    }
}

/// Expires peers and samples statistics until told to stop.
async fn housekeeping(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let sweep_every = (shared.config.peer_timeout() / 4)
        .clamp(Duration::from_millis(100), Duration::from_secs(60));
    let mut sweep = tokio::time::interval(sweep_every);
    let mut sample = tokio::time::interval(Duration::from_secs(1));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    sample.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = sweep.tick() => {
                let shared = shared.clone();
                // Sweeping takes every shard lock in turn; keep it off the async threads.
                let _ = tokio::task::spawn_blocking(move || {
                    let dropped = shared.store.expire(Instant::now());
                    if dropped > 0 {
                        tracing::debug!(dropped, "expired peers");
                    }
                })
                .await;
            }
            _ = sample.tick() => shared.stats.sample(Instant::now()),
        }
    }
}

/// A tracker serving on its sockets. Dropping it stops it too (without waiting).
#[derive(Debug)]
pub struct RunningTracker {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    stop_tx: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl RunningTracker {
    /// The bound HTTP address (with the real port when 0 was asked for).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.shared.http_addr
    }

    /// The bound UDP address (with the real port when 0 was asked for).
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.shared.udp_addr
    }

    /// `http://ADDR/announce`, if HTTP is on (an unspecified bind address becomes loopback).
    pub fn announce_url_http(&self) -> Option<String> {
        self.shared
            .http_addr
            .map(|a| format!("http://{}/announce", reachable(a)))
    }

    /// `udp://ADDR/announce`, if UDP is on (an unspecified bind address becomes loopback).
    pub fn announce_url_udp(&self) -> Option<String> {
        self.shared.announce_url_udp()
    }

    /// Current statistics.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.snapshot()
    }

    fn signal_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.stop_tx.send(true);
    }

    /// Stops serving and waits until the sockets are closed.
    pub async fn shutdown(mut self) {
        self.signal_stop();
        for mut task in std::mem::take(&mut self.tasks) {
            // In-flight HTTP requests get a moment to finish; then the task is cut.
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
        let threads = std::mem::take(&mut self.threads);
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}

impl Drop for RunningTracker {
    fn drop(&mut self) {
        self.signal_stop();
    }
}
