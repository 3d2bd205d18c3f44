//! The one error type of the crate.

/// What went wrong, and where.
///
/// Framing errors carry `offset`: the position of the message's first byte (its length
/// prefix, or the handshake's first byte), counted from the first byte the decoder saw.
/// After any decoding error the stream is corrupt: drop the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The handshake does not start with `\x13BitTorrent protocol`.
    #[error(
        "not a BitTorrent handshake: byte {offset} is {found:#04x}, expected {expected:#04x} \
         (the handshake starts with \"\\x13BitTorrent protocol\")"
    )]
    BadProtocol {
        /// Position of the first byte that differs.
        offset: usize,
        /// The byte found there.
        found: u8,
        /// The byte the protocol string has there.
        expected: u8,
    },
    /// A message whose length prefix exceeds the decoder's maximum.
    #[error("message id {id} at byte {offset} claims {length} bytes, more than the maximum {max}")]
    MessageTooLong {
        /// The message id (the byte after the length prefix).
        id: u8,
        /// The length prefix (id and payload).
        length: u32,
        /// The maximum in force.
        max: u32,
        /// Position of the length prefix.
        offset: u64,
    },
    /// A message whose length does not fit its id (a `have` that is not 5 bytes, ...).
    #[error("{name} message (id {id}) at byte {offset} has length {length}, expected {expected}")]
    BadLength {
        /// The message id.
        id: u8,
        /// The message's name.
        name: &'static str,
        /// The length prefix (id and payload).
        length: u32,
        /// What the length should be.
        expected: &'static str,
        /// Position of the length prefix.
        offset: u64,
    },
    /// A bitfield whose byte length does not match the torrent's piece count.
    #[error("bitfield has {length} bytes, expected {expected} for {num_pieces} pieces")]
    BitfieldLength {
        /// The bitfield's length in bytes.
        length: usize,
        /// `ceil(num_pieces / 8)`.
        expected: usize,
        /// The torrent's piece count.
        num_pieces: u32,
    },
    /// A bitfield with bits set past the last piece.
    #[error("bitfield has spare bits set past piece {num_pieces}")]
    BitfieldSpareBits {
        /// The torrent's piece count.
        num_pieces: u32,
    },
    /// A piece index not below the torrent's piece count.
    #[error("piece index {index} out of range: the torrent has {num_pieces} pieces")]
    PieceIndexOutOfRange {
        /// The index.
        index: u32,
        /// The torrent's piece count.
        num_pieces: u32,
    },
    /// An extension payload that is not valid bencode.
    #[error("{what} payload is not valid bencode: {source}")]
    Bencode {
        /// Which payload (`extension handshake`, `ut_metadata`, `ut_pex`).
        what: &'static str,
        /// The bencode error, with its offset in the payload.
        source: bencode::Error,
    },
    /// An extension payload that is bencode but not the expected shape.
    #[error("{what} payload: {reason}")]
    Extension {
        /// Which payload (`extension handshake`, `ut_metadata`, `ut_pex`).
        what: &'static str,
        /// What is wrong, naming the key.
        reason: String,
    },
    /// An IO error from the transport (only produced by the tokio adapters).
    #[error("io error ({kind:?}): {message}")]
    Io {
        /// The error's kind.
        kind: std::io::ErrorKind,
        /// The error's text.
        message: String,
    },
}

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl Error {
    pub(crate) fn extension(what: &'static str, reason: impl Into<String>) -> Self {
        Error::Extension {
            what,
            reason: reason.into(),
        }
    }
}
