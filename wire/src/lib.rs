//! BitTorrent peer wire protocol codec: the handshake and every message two peers
//! exchange (BEP 3, 5, 6, 9, 10, 11, 52), as a sans-IO codec.
//!
//! This crate does no networking and reads no clock: bytes in, messages out
//! ([`HandshakeDecoder`], [`MessageDecoder`]); messages in, bytes out
//! ([`Handshake::encode`], [`Message::encode`] into any `BufMut`). The `tokio` feature
//! adds tokio-util `Decoder`/`Encoder` adapters (`MessageCodec`).
//!
//! ```text
//!   socket bytes ──► BytesMut ──► MessageDecoder::decode ──► Message
//!   Message ──► Message::encode(&mut BytesMut) ──► socket bytes
//! ```
//!
//! - Decoding is incremental: `Ok(None)` means "need more bytes" and consumes nothing;
//!   a message is decoded only once complete, so any split of the stream gives the same
//!   messages. The length prefix is checked against a maximum before anything is
//!   buffered, and piece payloads leave as [`bytes::Bytes`] sharing the input buffer.
//! - Extension payloads have typed parsers and encoders: [`ExtendedHandshake`] (BEP 10),
//!   [`UtMetadata`] (BEP 9), [`Pex`] (BEP 11).
//! - Helpers that need the torrent take plain numbers: [`Bitfield`] (length and spare
//!   bits checked), [`allowed_fast_set`] (BEP 6).
//!
//! ```
//! use bytes::BytesMut;
//! use shoal_wire::{BlockRequest, Handshake, HandshakeDecoder, Message, MessageDecoder, PeerId};
//!
//! // What one side writes...
//! let mut wire = BytesMut::new();
//! Handshake::new([0xaa; 20], PeerId([b'-'; 20])).encode(&mut wire);
//! Message::Interested.encode(&mut wire);
//! Message::Request(BlockRequest { index: 0, begin: 0, length: 16384 }).encode(&mut wire);
//!
//! // ...the other side reads, whatever chunks it arrives in.
//! let hs = HandshakeDecoder::new().decode(&mut wire).unwrap().unwrap();
//! assert!(hs.reserved.extension_protocol());
//! let mut decoder = MessageDecoder::for_torrent(100, 16384);
//! assert_eq!(decoder.decode(&mut wire).unwrap(), Some(Message::Interested));
//! assert!(matches!(decoder.decode(&mut wire).unwrap(), Some(Message::Request(_))));
//! assert_eq!(decoder.decode(&mut wire).unwrap(), None);
//! ```
#![deny(missing_docs, missing_debug_implementations)]

mod bitfield;
#[cfg(feature = "tokio")]
mod codec;
mod decoder;
mod error;
mod extended;
mod fast;
mod handshake;
mod message;

pub use bitfield::Bitfield;
#[cfg(feature = "tokio")]
pub use codec::MessageCodec;
pub use decoder::{BLOCK_LEN, DEFAULT_MAX_MESSAGE_LEN, EXTENSION_MAX_MESSAGE_LEN, MessageDecoder};
pub use error::{Error, Result};
pub use extended::{
    EXTENDED_HANDSHAKE_ID, ExtendedHandshake, METADATA_PIECE_LEN, Pex, PexFlags, UT_METADATA,
    UT_PEX, UtMetadata,
};
pub use fast::{allowed_fast_set, allowed_fast_set_unmasked};
pub use handshake::{HANDSHAKE_LEN, Handshake, HandshakeDecoder, PROTOCOL, Reserved};
pub use message::{BlockRequest, HashRequest, Hashes, Message};
pub use metainfo::{InfoHash, PeerId};
