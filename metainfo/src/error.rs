//! The one error type of the crate.

use std::path::PathBuf;

/// What was wrong with a .torrent, an info dictionary, a magnet link, or a torrent to build.
///
/// Messages name the key (`info.files[3].length`) and what was wrong with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not valid bencode.
    #[error("invalid bencoding: {0}")]
    Bencode(bencode::Error),
    /// The top level (or the `info` value) is not a dictionary.
    #[error("{what} is not a dictionary (found {found})")]
    NotADictionary {
        /// Which value: `"torrent file"` or `"info"`.
        what: &'static str,
        /// The kind of value found instead.
        found: &'static str,
    },
    /// A required key is absent.
    #[error("missing '{key}'")]
    Missing {
        /// The key, with its path (`info.piece length`).
        key: String,
    },
    /// A key holds a value of the wrong kind.
    #[error("'{key}' is {}, expected {expected}", with_article(found))]
    WrongType {
        /// The key, with its path.
        key: String,
        /// What was expected.
        expected: &'static str,
        /// The kind of value found.
        found: &'static str,
    },
    /// A key holds a value of the right kind that is out of range or inconsistent.
    #[error("invalid '{key}': {reason}")]
    Invalid {
        /// The key, with its path.
        key: String,
        /// What was wrong.
        reason: String,
    },
    /// A v2 piece layer does not hash to its file's `pieces root`, or has the wrong size.
    #[error("invalid piece layer for file {file:?}: {reason}")]
    PieceLayer {
        /// The file the layer belongs to (sanitised path, `/`-joined), or the root in hex.
        file: String,
        /// What was wrong.
        reason: String,
    },
    /// The v1 and v2 parts of a hybrid torrent describe different files.
    #[error("the v1 and v2 file lists do not match: {reason}")]
    Inconsistent {
        /// Where they differ.
        reason: String,
    },
    /// A magnet URI that cannot be used.
    #[error("invalid magnet link: {reason}")]
    Magnet {
        /// What was wrong.
        reason: String,
    },
    /// Reading the files of a torrent to create failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The builder was given something it cannot make a torrent of.
    #[error("cannot create torrent: {reason}")]
    Build {
        /// Why.
        reason: String,
    },
}

// The bencode error is part of the message (not a `source`), so that printing the error
// chain does not say it twice.
impl From<bencode::Error> for Error {
    fn from(e: bencode::Error) -> Self {
        Error::Bencode(e)
    }
}

/// "an integer", "a list": a value kind with its article, for messages.
pub(crate) fn with_article(kind: &str) -> String {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {kind}")
}

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn missing(key: impl Into<String>) -> Self {
        Error::Missing { key: key.into() }
    }

    pub(crate) fn wrong_type(
        key: impl Into<String>,
        expected: &'static str,
        found: &bencode::Value<'_>,
    ) -> Self {
        Error::WrongType {
            key: key.into(),
            expected,
            found: found.kind(),
        }
    }

    pub(crate) fn magnet(reason: impl Into<String>) -> Self {
        Error::Magnet {
            reason: reason.into(),
        }
    }
}
