//! The one error type of the crate.

use std::io;
use std::net::SocketAddr;

/// What went wrong starting the tracker or handling the published-torrents directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A listening socket could not be set up.
    #[error("cannot listen for {protocol} on {addr}: {source}")]
    Bind {
        /// `"HTTP"` or `"UDP"`.
        protocol: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: io::Error,
    },
    /// A file or directory operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Bytes offered as a .torrent are not one.
    #[error("invalid torrent: {0}")]
    InvalidTorrent(String),
    /// Another torrent is already published under this file name.
    #[error("a different torrent is already published as {0}")]
    AlreadyPublished(String),
    /// The configuration cannot work (for example neither HTTP nor UDP enabled).
    #[error("invalid tracker configuration: {0}")]
    Config(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
