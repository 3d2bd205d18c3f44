//! The crate's one error type.

use std::fmt;
use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The file operation that failed, named in [`Error::Io`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileOp {
    /// Creating a folder on the way to a file.
    CreateDir,
    /// Opening (or creating) a file.
    Open,
    /// Setting a file's length (sparse pre-allocation).
    SetLen,
    /// Reading from a file.
    Read,
    /// Writing to a file.
    Write,
    /// Flushing a file to stable storage (`fdatasync`).
    Sync,
    /// Reading a file's metadata (size, modification time).
    Stat,
    /// Writing the resume file (temp file, sync, rename).
    SaveResume,
    /// Reading the resume file.
    LoadResume,
}

impl fmt::Display for FileOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileOp::CreateDir => "create folder",
            FileOp::Open => "open",
            FileOp::SetLen => "set length of",
            FileOp::Read => "read",
            FileOp::Write => "write",
            FileOp::Sync => "sync",
            FileOp::Stat => "stat",
            FileOp::SaveResume => "save resume file",
            FileOp::LoadResume => "load resume file",
        })
    }
}

/// Everything that can go wrong in the piece store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed (disk full, permission denied, a folder where a file should be...).
    #[error("cannot {op} {path:?}: {source}")]
    Io {
        /// What was being done.
        op: FileOp,
        /// The file (or folder) it was done to.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file's bytes are not (all) on disk: the file is missing or shorter than the read.
    #[error("file {path:?} has no data at offset {offset} (missing or truncated)")]
    MissingData {
        /// The file.
        path: PathBuf,
        /// Where the read wanted data.
        offset: u64,
    },
    /// A file path is not a safe relative path, or resolves outside the storage root.
    #[error("unsafe path {path:?}: {reason}")]
    UnsafePath {
        /// The offending path.
        path: PathBuf,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The layout description is inconsistent (zero piece length, too many pieces...).
    #[error("invalid layout: {0}")]
    InvalidLayout(String),
    /// A piece index beyond the last piece.
    #[error("piece {piece} out of range (the layout has {num_pieces} pieces)")]
    PieceOutOfRange {
        /// The requested piece.
        piece: u32,
        /// How many pieces exist.
        num_pieces: u32,
    },
    /// A byte range beyond the end of a piece or of the whole layout.
    #[error("range at offset {offset} length {len} is outside {what} of size {size}")]
    RangeOutOfBounds {
        /// "piece N" or "the layout".
        what: String,
        /// Start of the range.
        offset: u64,
        /// Length of the range.
        len: u64,
        /// Size of the piece or the layout.
        size: u64,
    },
    /// A file index beyond the last file.
    #[error("file {index} out of range (the layout has {num_files} files)")]
    FileOutOfRange {
        /// The requested file.
        index: usize,
        /// How many files exist.
        num_files: usize,
    },
    /// The expected hashes do not fit the layout (wrong count, missing piece layer...).
    #[error("hashes do not fit the layout: {0}")]
    BadHashes(String),
    /// The resume file is corrupt, truncated, or belongs to another layout.
    #[error("resume file {path:?} rejected: {reason}")]
    BadResume {
        /// The resume file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A worker thread of a recheck panicked.
    #[error("a hashing thread panicked")]
    WorkerPanicked,
}

impl Error {
    /// The path of the file this error is about, when there is one.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Error::Io { path, .. }
            | Error::MissingData { path, .. }
            | Error::UnsafePath { path, .. }
            | Error::BadResume { path, .. } => Some(path),
            _ => None,
        }
    }

    /// True when the error means "these bytes are not on disk" (missing or truncated
    /// file) rather than a failure: a recheck counts such pieces as absent.
    pub fn is_missing_data(&self) -> bool {
        match self {
            Error::MissingData { .. } => true,
            Error::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        }
    }

    pub(crate) fn io(op: FileOp, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
