//! The one error type of the crate.

/// What went wrong while decoding, and where (`offset` is a byte index into the input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before a value was complete.
    #[error("unexpected end of input at byte {offset}: expected {expected}")]
    UnexpectedEof {
        /// Where more input was needed.
        offset: usize,
        /// What the decoder was looking for.
        expected: &'static str,
    },
    /// A byte that cannot start or continue the value being read.
    #[error("invalid byte {found:#04x} at byte {offset}: expected {expected}")]
    InvalidByte {
        /// Position of the offending byte.
        offset: usize,
        /// The byte that was found.
        found: u8,
        /// What the decoder was looking for.
        expected: &'static str,
    },
    /// An integer or a string length with a leading zero (`i03e`, `03:abc`).
    #[error("leading zero in number at byte {offset}")]
    LeadingZero {
        /// Position of the first digit.
        offset: usize,
    },
    /// The integer `-0`, which BEP 3 forbids.
    #[error("negative zero at byte {offset}")]
    NegativeZero {
        /// Position of the `-`.
        offset: usize,
    },
    /// An integer without digits (`ie`, `i-e`).
    #[error("integer without digits at byte {offset}")]
    EmptyInteger {
        /// Position just after the `i` (or the `-`).
        offset: usize,
    },
    /// An integer that does not fit in an `i64`, or a string length that does not fit in a `usize`.
    #[error("number out of range at byte {offset}")]
    NumberOverflow {
        /// Position of the first digit.
        offset: usize,
    },
    /// A byte string whose length prefix is longer than the rest of the input.
    #[error("byte string at byte {offset} claims {length} bytes but only {remaining} remain")]
    StringTooLong {
        /// Position of the length prefix.
        offset: usize,
        /// The length the prefix claims.
        length: u64,
        /// How many bytes of input were left after the `:`.
        remaining: usize,
    },
    /// A dictionary key that is not a byte string.
    #[error("dictionary key at byte {offset} is not a byte string (found {found:#04x})")]
    NonStringKey {
        /// Position of the key.
        offset: usize,
        /// The first byte of the value found in its place.
        found: u8,
    },
    /// In strict mode, a dictionary key that is not greater than the key before it.
    #[error("dictionary key at byte {offset} is out of order (keys must be sorted as raw bytes)")]
    UnsortedKey {
        /// Position of the key.
        offset: usize,
    },
    /// A dictionary key that appears twice in one dictionary.
    #[error("duplicate dictionary key at byte {offset}")]
    DuplicateKey {
        /// Position of the second occurrence.
        offset: usize,
    },
    /// Lists and dictionaries nested deeper than the configured limit.
    #[error("nesting deeper than {max_depth} at byte {offset}")]
    DepthLimit {
        /// Position of the list or dictionary that went too deep.
        offset: usize,
        /// The limit in force.
        max_depth: usize,
    },
    /// More than `u32::MAX` values at one nesting level (an input of many GiB).
    #[error("too many values at one nesting level at byte {offset}")]
    TooManyValues {
        /// Position of the end of the list or dictionary that went over.
        offset: usize,
    },
    /// Input left after a complete value, when exactly one value was expected.
    #[error("trailing bytes after the value at byte {offset}")]
    TrailingBytes {
        /// Position of the first byte after the value.
        offset: usize,
    },
    /// A serde (de)serialization error with no position: serializing a value bencode
    /// cannot represent, or a custom error.
    #[error("{message}")]
    Serde {
        /// What the serde layer reported.
        message: String,
    },
    /// Deserializing with serde: the value at `offset` does not fit the Rust type
    /// (wrong kind, missing field, unknown variant, integer out of range...).
    #[error("{message} at byte {offset}")]
    Deserialize {
        /// Position of the value (or of the dictionary missing a field).
        offset: usize,
        /// What serde expected and found.
        message: String,
    },
}

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The byte offset the error refers to, when it refers to one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            Error::UnexpectedEof { offset, .. }
            | Error::InvalidByte { offset, .. }
            | Error::LeadingZero { offset }
            | Error::NegativeZero { offset }
            | Error::EmptyInteger { offset }
            | Error::NumberOverflow { offset }
            | Error::StringTooLong { offset, .. }
            | Error::NonStringKey { offset, .. }
            | Error::UnsortedKey { offset }
            | Error::DuplicateKey { offset }
            | Error::DepthLimit { offset, .. }
            | Error::TooManyValues { offset }
            | Error::TrailingBytes { offset }
            | Error::Deserialize { offset, .. } => Some(*offset),
            Error::Serde { .. } => None,
        }
    }
}
