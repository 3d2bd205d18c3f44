//! Zero-copy bencode (BEP 3) decoding with byte offsets in every error, and canonical encoding.
//!
//! - [`decode`] reads exactly one value in strict BEP 3 form; [`Decoder`] adds a lenient
//!   mode for real-world .torrent files, a nesting limit, and [`Decoder::decode_prefix`].
//! - [`Value`] borrows byte strings from the input and keeps the raw bytes of every list
//!   and dictionary ([`Value::raw`]): an info-hash is the hash of `info` exactly as received.
//! - [`encode`] / [`encode_into`] write canonical bencode (keys sorted).
//! - With the `serde` feature: `from_bytes` (borrowing `&str` and `ByteSlice` from the
//!   input) and `to_bytes` (canonical: keys sorted, `None` fields left out).
//!
//! The decoder is iterative, so no input can overflow the stack; it never allocates by a
//! length prefix, only by what it has actually read; it makes one pass over the input
//! (plus an n·log n duplicate check for a dictionary whose keys come out of order).
//! Decoded lists (and dictionaries) of one nesting level share one array, so a document
//! costs one allocation per level, not one per container; cloning a [`Value`] is O(1),
//! changing a shared [`List`] or [`Dict`] copies its own items first, and a sub-value kept
//! after the rest is dropped keeps its level's array (and those below) alive.
//! This crate does no IO.
//!
//! ```
//! use shoal_bencode::{decode, encode};
//!
//! let input = b"d4:infod6:lengthi3e4:name1:xee";
//! let value = decode(input).unwrap();
//! let info = value.as_dict().unwrap().get(b"info").unwrap();
//! assert_eq!(&*info.raw(), b"d6:lengthi3e4:name1:xe");
//! assert_eq!(encode(&value), input);
//! ```
#![deny(missing_docs, missing_debug_implementations)]

#[cfg(feature = "serde")]
mod byte_buf;
#[cfg(feature = "serde")]
mod de;
mod decode;
mod encode;
mod error;
#[cfg(feature = "serde")]
mod ser;
mod value;
#[cfg(feature = "serde")]
mod value_serde;

pub use decode::{DEFAULT_MAX_DEPTH, Decoder, HARD_MAX_DEPTH, decode};
pub use encode::{encode, encode_into, encoded_len};
pub use error::{Error, Result};
pub use value::{Dict, List, Value};

#[cfg(feature = "serde")]
pub use byte_buf::{ByteBuf, ByteSlice};
#[cfg(feature = "serde")]
pub use de::from_bytes;
#[cfg(feature = "serde")]
pub use ser::to_bytes;
