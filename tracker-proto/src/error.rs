//! The one error type of the crate.

/// What was wrong with a tracker message, and where.
///
/// Query-string errors give the byte offset into the query; UDP errors the byte offset into
/// the datagram; bencoded-body errors the key (or the bencode decoder's offset).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A UDP packet shorter than its fixed part.
    #[error("{what} is {len} bytes, expected at least {expected}")]
    Truncated {
        /// Which packet.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The smallest valid length.
        expected: usize,
    },
    /// A UDP packet whose variable part is not a whole number of entries.
    #[error("{what}: {len} bytes after the {header}-byte header is not a multiple of {entry}")]
    RaggedLength {
        /// Which packet.
        what: &'static str,
        /// Bytes after the header.
        len: usize,
        /// Header length.
        header: usize,
        /// Size of one entry.
        entry: usize,
    },
    /// A UDP action code this crate does not know (at byte 8, or 0 in responses).
    #[error("unknown action {action} at byte {offset}")]
    UnknownAction {
        /// The action code found.
        action: u32,
        /// Where it is.
        offset: usize,
    },
    /// A UDP field holding a value it cannot hold.
    #[error("invalid {field} at byte {offset}: {reason}")]
    InvalidField {
        /// Field name as BEP 15 spells it.
        field: &'static str,
        /// Where the field starts.
        offset: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// More items than the configured [`Limits`](crate::Limits) allow.
    #[error("too many {what}: {count} (limit {max})")]
    TooMany {
        /// What was counted (peers, info hashes).
        what: &'static str,
        /// How many were found (or at least how many).
        count: usize,
        /// The limit in force.
        max: usize,
    },
    /// An HTTP query string longer than the configured limit.
    #[error("query string of {len} bytes is longer than the limit of {max}")]
    QueryTooLong {
        /// Its length.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// A `%` not followed by two hex digits.
    #[error("invalid percent-encoding at byte {offset} of the query")]
    BadPercentEncoding {
        /// Position of the `%`.
        offset: usize,
    },
    /// A required query parameter is absent.
    #[error("missing query parameter {name}")]
    MissingParam {
        /// Its name.
        name: &'static str,
    },
    /// A query parameter given twice where only one makes sense.
    #[error("query parameter {name} repeated at byte {offset}")]
    DuplicateParam {
        /// Its name.
        name: &'static str,
        /// Position of the second occurrence.
        offset: usize,
    },
    /// A query parameter whose value is not valid.
    #[error("invalid query parameter {name} at byte {offset}: {reason}")]
    InvalidParam {
        /// Its name.
        name: &'static str,
        /// Position of the value in the query.
        offset: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The bencoded body does not decode.
    #[error("response body is not valid bencode: {0}")]
    Bencode(#[from] bencode::Error),
    /// A bencoded body or value of the wrong kind.
    #[error("{key}: expected {expected}, found {found}")]
    WrongType {
        /// Where: the key path (`peers[3].port`), or `body` for the top level.
        key: String,
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: &'static str,
    },
    /// A required key is absent from a bencoded body.
    #[error("missing key {key:?}")]
    MissingKey {
        /// The key path.
        key: String,
    },
    /// A number outside the range its field allows.
    #[error("{key}: {value} is out of range")]
    OutOfRange {
        /// The key path.
        key: String,
        /// The value found.
        value: i64,
    },
    /// A compact byte string whose length is not a multiple of its entry size.
    #[error("{key}: {len} bytes is not a multiple of {entry}")]
    BadCompactLength {
        /// The key (`peers`, `peers6`, `external ip`, a `files` key).
        key: String,
        /// Its length.
        len: usize,
        /// Size of one entry.
        entry: usize,
    },
}

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
