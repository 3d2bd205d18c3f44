//! Tracker configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How to run a tracker. Start from [`TrackerConfig::default`] and set what you need.
///
/// ```
/// use shoal_tracker::TrackerConfig;
///
/// let config = TrackerConfig {
///     http: Some("127.0.0.1:0".parse().unwrap()),
///     udp: Some("127.0.0.1:0".parse().unwrap()),
///     ..TrackerConfig::default()
/// };
/// assert_eq!(config.peer_timeout(), 3 * config.interval);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerConfig {
    /// Where to serve HTTP (announce, scrape, stats, published torrents); `None`: no HTTP.
    pub http: Option<SocketAddr>,
    /// Where to serve UDP (BEP 15); `None`: no UDP.
    pub udp: Option<SocketAddr>,
    /// UDP worker threads, each with its own `SO_REUSEPORT` socket on the same port;
    /// 0 means one per CPU.
    pub udp_workers: usize,
    /// Folder of published .torrent files served at `/`, `/torrents/` and `/feed.xml`.
    pub torrents_dir: Option<PathBuf>,
    /// Enables `POST /upload` into `torrents_dir` for requests carrying this token
    /// (`Authorization: Bearer <token>`); `None`: uploads are refused.
    pub upload_token: Option<String>,
    /// Announce interval told to clients.
    pub interval: Duration,
    /// Minimum announce interval told to HTTP clients (`min interval`).
    pub min_interval: Duration,
    /// A peer is dropped after this long without an announce; `None`: 3 × `interval`.
    pub peer_timeout: Option<Duration>,
    /// Most swarms (info-hashes) tracked at once.
    pub max_swarms: usize,
    /// Most peers stored per swarm and address family.
    pub max_peers_per_swarm: usize,
    /// Peers handed out when the client does not say.
    pub default_numwant: usize,
    /// Most peers in one reply.
    pub max_numwant: usize,
    /// Most info-hashes in one scrape.
    pub max_scrape_hashes: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            http: None,
            udp: None,
            udp_workers: 0,
            torrents_dir: None,
            upload_token: None,
            interval: Duration::from_secs(1800),
            min_interval: Duration::from_secs(60),
            peer_timeout: None,
            max_swarms: 1_000_000,
            max_peers_per_swarm: 100_000,
            default_numwant: 50,
            max_numwant: 200,
            max_scrape_hashes: 74,
        }
    }
}

impl TrackerConfig {
    /// How long a silent peer stays in its swarm.
    pub fn peer_timeout(&self) -> Duration {
        self.peer_timeout.unwrap_or(self.interval * 3)
    }
}
