//! A BitTorrent tracker server, HTTP (BEP 3, 7, 23, 48) and UDP (BEP 15), on tokio.
//!
//! - Swarms live in memory ([`SwarmStore`], sharded): peers expire after a few announce
//!   intervals, seeders and leechers are counted, `numwant` is respected, and the number of
//!   swarms and of peers per swarm is bounded.
//! - UDP connection ids are checked without per-client state: a keyed hash of the
//!   client's address and the current two-minute epoch ([`ConnectionIds`]).
//! - UDP is served by worker threads, one `SO_REUSEPORT` socket each; HTTP by axum on the
//!   caller's tokio runtime. Message parsing and encoding is `tracker-proto`'s.
//! - Operators get `/stats` (HTML), `/stats.json` and `/metrics` (Prometheus text).
//! - With a torrents directory: `/` lists the published torrents, `/torrents/<name>`
//!   serves each, `/feed.xml` is an RSS 2.0 feed (newest first), and `POST /upload`
//!   publishes a new one when an upload token is configured.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> shoal_tracker::Result<()> {
//! use shoal_tracker::{Tracker, TrackerConfig};
//!
//! let tracker = Tracker::start(TrackerConfig {
//!     http: Some("127.0.0.1:0".parse().unwrap()),
//!     ..TrackerConfig::default()
//! })
//! .await?;
//! println!("announce to {}", tracker.announce_url_http().unwrap());
//! tracker.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs, missing_debug_implementations)]

mod config;
mod conn_id;
mod error;
mod http;
mod pages;
mod published;
mod server;
mod stats;
mod swarm;
mod udp;

pub use config::TrackerConfig;
pub use conn_id::{ConnectionIds, EPOCH};
pub use error::{Error, Result};
pub use published::{MAX_TORRENT_BYTES, PublishedTorrent};
pub use server::{RunningTracker, Tracker};
pub use stats::{ProtocolTotals, StatsSnapshot};
pub use swarm::{
    Announce, PeerEvent, PeerRng, PeerSelection, ReplyFamilies, StoreTotals, SwarmCounts,
    SwarmLimits, SwarmStore,
};
