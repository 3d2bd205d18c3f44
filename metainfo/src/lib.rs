//! .torrent v1/v2/hybrid parsing and creation, info-hashes, magnet URIs.
//!
//! - [`Metainfo::from_bytes`] reads a .torrent (BEP 3 v1, BEP 52 v2 or hybrid, with
//!   BEP 12 tracker tiers, BEP 19 web seeds, BEP 27 private, BEP 47 pad files and
//!   attributes); [`Metainfo::from_info_bytes`] reads an info dictionary fetched with
//!   ut_metadata (BEP 9). Info-hashes are computed over the info dictionary exactly as
//!   received. Every file path that comes out is safe to join under a download folder.
//! - [`Magnet`] parses and prints magnet URIs (BEP 9, BEP 53).
//! - [`TorrentBuilder`] creates v1, v2 or hybrid torrents, hashing on all cores.
//! - [`InfoHash`] and [`PeerId`] are the identity types the other shoal crates share.
//!
//! This crate does no network IO and reads no clock; only the builder reads files.
//!
//! ```
//! use shoal_metainfo::{Magnet, Metainfo};
//!
//! let torrent = b"d8:announce30:http://127.0.0.1:6969/announce4:infod6:lengthi5e\
//! 4:name5:a.txt12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee";
//! let meta = Metainfo::from_bytes(torrent).unwrap();
//! assert_eq!(meta.trackers(), [vec!["http://127.0.0.1:6969/announce".to_owned()]]);
//! let magnet = Magnet::from_metainfo(&meta);
//! assert!(magnet.to_string().starts_with("magnet:?xt=urn:btih:"));
//! ```
#![deny(missing_docs, missing_debug_implementations)]

mod build;
mod error;
mod hashing;
mod id;
mod magnet;
mod merkle;
mod metainfo;
mod parse;
mod path;
mod percent;
mod recycle;
mod scan;
mod write;

pub use build::{Progress, TorrentBuilder, auto_piece_length};
pub use error::{Error, Result};
pub use id::{InfoHash, ParseIdError, PeerId, from_hex, to_hex};
pub use magnet::Magnet;
pub use merkle::{BLOCK_SIZE, hash_pair, pad_hash};
pub use metainfo::{FileEntry, Metainfo, TorrentVersion};
pub use parse::{MAX_FILE_LENGTH, MAX_FILES, MAX_PIECE_LENGTH, MAX_PIECES};
pub use path::{Components, FilePath, sanitize_component};
pub use percent::{percent_encode, percent_encode_into};

impl Metainfo {
    /// Parses a whole .torrent file.
    ///
    /// Keys may be in any order (as libtorrent accepts), except inside a v2 `file tree`;
    /// bytes after the top-level dictionary are ignored. Errors name the key and say
    /// what was wrong with it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Metainfo> {
        parse::parse_torrent(bytes)
    }

    /// Builds a torrent from a bare info dictionary, as fetched from peers with
    /// ut_metadata (BEP 9). It has no trackers ([`Metainfo::set_trackers`]) and, for
    /// v2, no piece layers yet ([`Metainfo::set_piece_layer`]).
    pub fn from_info_bytes(info: &[u8]) -> Result<Metainfo> {
        parse::parse_info_bytes(info)
    }
}
