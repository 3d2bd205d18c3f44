//! The component API's plain types: configuration, sources, limits, events, statistics.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use metainfo::InfoHash;

/// Session-wide settings.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Address to accept peers on (`None`: do not listen). Port 0 picks a free port.
    pub listen: Option<SocketAddr>,
    /// Global download limit in bytes/s.
    pub max_down: Option<u64>,
    /// Global upload limit in bytes/s.
    pub max_up: Option<u64>,
    /// Connections per torrent at most.
    pub max_peers_per_torrent: usize,
    /// Announce to trackers (off: only peers given by hand, PEX and incoming ones).
    pub use_trackers: bool,
    /// How often trackers are asked at least (their `interval` otherwise).
    pub min_announce_interval: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            listen: Some(SocketAddr::from(([0, 0, 0, 0], 6881))),
            max_down: None,
            max_up: None,
            max_peers_per_torrent: 80,
            use_trackers: true,
            min_announce_interval: Duration::from_secs(30),
        }
    }
}

/// What to download or seed.
#[derive(Debug, Clone)]
pub enum Source {
    /// The bytes of a .torrent file.
    TorrentBytes(Vec<u8>),
    /// A .torrent file on disk.
    TorrentFile(PathBuf),
    /// A `magnet:` URI.
    Magnet(String),
}

impl Source {
    /// A magnet URI when `s` starts with `magnet:`, else a path to a .torrent file.
    pub fn parse(s: &str) -> Source {
        if s.starts_with("magnet:") {
            Source::Magnet(s.to_string())
        } else {
            Source::TorrentFile(PathBuf::from(s))
        }
    }
}

/// Adding a torrent to a session.
#[derive(Debug, Clone)]
pub struct AddTorrent {
    /// The torrent.
    pub source: Source,
    /// The folder the payload goes in (the payload is `output/<torrent name>`).
    pub output: PathBuf,
    /// Peers to dial besides those trackers and PEX give.
    pub peers: Vec<SocketAddr>,
    /// Start paused (call [`TorrentHandle::start`](crate::TorrentHandle::start)).
    pub paused: bool,
    /// Download pieces in order.
    pub sequential: bool,
    /// Check every piece already on disk before starting (seeding from existing data).
    /// Without it, resume data decides, and a missing resume file with files present also
    /// leads to a full check.
    pub verify: bool,
    /// Per-torrent limits.
    pub limits: Limits,
}

impl AddTorrent {
    /// Defaults: not paused, rarest first, no extra peers, no limits.
    pub fn new(source: Source, output: impl Into<PathBuf>) -> Self {
        AddTorrent {
            source,
            output: output.into(),
            peers: Vec::new(),
            paused: false,
            sequential: false,
            verify: false,
            limits: Limits::default(),
        }
    }
}

/// Rate limits in bytes/s (`None` = unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Download limit.
    pub down: Option<u64>,
    /// Upload limit.
    pub up: Option<u64>,
}

/// Something that happened to a torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The torrent's metadata is known and its storage is open (existing data checked or
    /// taken from resume data): after a .torrent was read, after a magnet link's info
    /// dictionary (and, for v2, its piece layers) arrived from peers and checked out, or —
    /// for a magnet link added again over the same output folder — as soon as the metadata
    /// a previous run saved in `<output>/.shoal/<info-hash hex>.torrent` has been read and
    /// matched, without asking any peer.
    MetadataReceived {
        /// The torrent's name.
        name: String,
        /// Number of pieces.
        pieces: u32,
        /// Payload size.
        total_len: u64,
    },
    /// A piece passed its hash check and is on disk.
    PieceVerified {
        /// Piece index.
        piece: u32,
    },
    /// A piece failed its hash check and will be fetched again.
    PieceFailed {
        /// Piece index.
        piece: u32,
    },
    /// A peer connection finished its handshake.
    PeerConnected {
        /// The peer's address.
        addr: SocketAddr,
    },
    /// A peer connection ended.
    PeerDisconnected {
        /// The peer's address.
        addr: SocketAddr,
        /// Why, in a few words.
        reason: String,
    },
    /// A peer was banned for sending data that failed hash checks.
    PeerBanned {
        /// The peer's address.
        addr: SocketAddr,
    },
    /// A tracker answered (or failed to).
    TrackerReply {
        /// The tracker's URL.
        url: String,
        /// Peers it gave.
        peers: usize,
        /// Its `failure reason`, or why it could not be reached.
        error: Option<String>,
    },
    /// Every wanted piece is verified.
    Completed,
    /// Something went wrong that the torrent works around and keeps going (a saved
    /// metadata file that cannot be used, metadata that could not be saved).
    Warning {
        /// What happened, in one sentence.
        message: String,
    },
    /// The torrent stopped working; the text says why in one sentence.
    Error {
        /// What went wrong.
        message: String,
    },
}

/// Whether a torrent is moving data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TorrentState {
    /// Looking for metadata (magnet link).
    FetchingMetadata,
    /// Checking data already on disk.
    Checking,
    /// Downloading.
    Downloading,
    /// Every wanted piece is here; uploading to others.
    Seeding,
    /// Paused: connections closed, state kept.
    Paused,
    /// Stopped: trackers told, resume data saved.
    Stopped,
    /// Failed; see the last [`Event::Error`].
    Error,
}

/// A snapshot of a torrent's progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// The torrent's identity.
    pub info_hash: InfoHash,
    /// Its name, once known.
    pub name: Option<String>,
    /// What it is doing.
    pub state: TorrentState,
    /// Payload size (0 until metadata is known).
    pub total_len: u64,
    /// Verified bytes.
    pub have_len: u64,
    /// Verified pieces.
    pub pieces_have: u32,
    /// Number of pieces.
    pub pieces_total: u32,
    /// Connected peers.
    pub peers: usize,
    /// Download rate, bytes/s (last few seconds).
    pub down_rate: u64,
    /// Upload rate, bytes/s.
    pub up_rate: u64,
    /// Payload bytes received since added.
    pub downloaded: u64,
    /// Payload bytes sent since added.
    pub uploaded: u64,
    /// Every wanted piece is verified.
    pub complete: bool,
}

impl Stats {
    /// Estimated time to completion at the current rate.
    pub fn eta(&self) -> Option<Duration> {
        let left = self.total_len.saturating_sub(self.have_len);
        if left == 0 {
            return Some(Duration::ZERO);
        }
        (self.down_rate > 0).then(|| Duration::from_secs(left / self.down_rate))
    }
}
