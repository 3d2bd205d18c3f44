//! shoal: a BitTorrent client engine driven by commands and events.
//!
//! A [`Session`] holds torrents and accepts peers; [`Session::add`] gives a
//! [`TorrentHandle`] to start, pause, stop, limit, prioritise and watch one torrent through
//! [`TorrentHandle::events`]. Peers speak the wire protocol of the `wire` crate over TCP;
//! pieces are assembled in memory, hashed off the network tasks, and written through
//! `piece_store`; dialling follows `conn_pool`; trackers are reached over HTTP and UDP
//! (`tracker_proto`). The pure parts — the piece [`Picker`], the [`Choker`] and the
//! [`TokenBucket`] — are usable on their own.
#![deny(missing_docs, missing_debug_implementations)]

mod announce;
mod bufpool;
mod choker;
mod driver;
mod error;
mod hashpool;
mod peer;
mod picker;
mod piece_layers;
mod ratelimit;
mod rng;
mod session;
mod storage;
mod stream;
mod torrent;
mod types;
mod upload;

pub use choker::{ChokeCandidate, ChokeDecision, Choker, OPTIMISTIC_EVERY, REGULAR_SLOTS};
pub use error::{Error, Result};
pub use picker::{BLOCK_LEN, BlockRef, DEFAULT_PRIORITY, Picker, RANDOM_FIRST};
pub use ratelimit::{SharedLimiter, TokenBucket};
pub use rng::SmallRng;
pub use session::{EventStream, Session, TorrentHandle};
pub use stream::FileStream;
pub use types::{AddTorrent, Event, Limits, SessionConfig, Source, Stats, TorrentState};
