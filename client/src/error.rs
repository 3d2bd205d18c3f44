//! The engine's error type.

/// What went wrong, in words a person can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The .torrent or magnet link could not be read.
    #[error("{0}")]
    BadTorrent(String),
    /// Reading or writing the payload failed (full disk, permissions...).
    #[error("{0}")]
    Disk(String),
    /// A peer connection failed or broke the protocol.
    #[error("peer: {0}")]
    Peer(String),
    /// Network setup failed (cannot listen...).
    #[error("{0}")]
    Network(String),
    /// The torrent or session is gone.
    #[error("the torrent was removed or the session closed")]
    Closed,
    /// A bug or an unexpected runtime failure.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn from_store(e: piece_store::Error) -> Error {
        match &e {
            piece_store::Error::Io { path, source, .. } => {
                let what = match source.kind() {
                    std::io::ErrorKind::StorageFull => "the disk is full".to_string(),
                    std::io::ErrorKind::FileTooLarge => {
                        "the file size limit was reached (ulimit -f)".to_string()
                    }
                    std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                    std::io::ErrorKind::ReadOnlyFilesystem => {
                        "the file system is read-only".to_string()
                    }
                    _ => source.to_string(),
                };
                Error::Disk(format!("cannot write {}: {what}", path.display()))
            }
            _ => Error::Disk(e.to_string()),
        }
    }
}

impl From<wire::Error> for Error {
    fn from(e: wire::Error) -> Self {
        Error::Peer(e.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Peer(e.to_string())
    }
}
