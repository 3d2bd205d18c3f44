//! .torrent v1/v2/hybrid parsing and creation, info-hashes, magnet URIs.
#![deny(missing_docs, missing_debug_implementations)]

mod id;

pub use id::{InfoHash, ParseIdError, PeerId, from_hex, to_hex};
