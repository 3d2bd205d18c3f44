//! Incremental message decoding over a `BytesMut`.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{Error, Result};
use crate::message::{BlockRequest, HASH_REQUEST_LEN, HashRequest, Hashes, Message, id, name_of};

/// The usual block size: requests and piece messages carry 16 KiB blocks.
pub const BLOCK_LEN: u32 = 16 * 1024;

/// The maximum message length of [`MessageDecoder::default`]: 1 MiB plus room for
/// headers. Enough for the bitfield of an 8-million-piece torrent, 1 MiB blocks, and any
/// extension or hashes message a sane peer sends.
pub const DEFAULT_MAX_MESSAGE_LEN: u32 = (1 << 20) + 1024;

/// The least maximum [`MessageDecoder::for_torrent`] sets, whatever the torrent: room for
/// extension messages (a 16 KiB ut_metadata block with its header, PEX, the extension
/// handshake) and a BEP 52 `hashes` message of up to 8192 hashes.
pub const EXTENSION_MAX_MESSAGE_LEN: u32 = 256 * 1024 + 64;

/// Decodes messages from a byte stream, one complete message at a time.
///
/// - `Ok(None)` means more bytes are needed; nothing was consumed.
/// - The length prefix is checked against the maximum (and against what the message id
///   allows) as soon as the prefix and id have arrived, before the payload is buffered.
/// - `piece`, `bitfield` and `extended` payloads are `Bytes` sharing the input buffer:
///   no copy.
/// - The same stream split at any byte boundaries gives the same messages and errors.
/// - After an `Err`, the stream is corrupt: drop the connection.
///
/// ```
/// use bytes::BytesMut;
/// use shoal_wire::{Message, MessageDecoder};
///
/// let mut decoder = MessageDecoder::for_torrent(1000, 16384);
/// let mut buf = BytesMut::new();
/// buf.extend_from_slice(&[0, 0, 0, 5, 4, 0, 0]); // a `have` cut short
/// assert_eq!(decoder.decode(&mut buf).unwrap(), None);
/// buf.extend_from_slice(&[0, 7, 0, 0, 0, 1, 1]); // its end, then `unchoke`
/// assert_eq!(decoder.decode(&mut buf).unwrap(), Some(Message::Have(7)));
/// assert_eq!(decoder.decode(&mut buf).unwrap(), Some(Message::Unchoke));
/// assert_eq!(decoder.decode(&mut buf).unwrap(), None);
///
/// // A length over the maximum is refused before any payload is buffered.
/// let mut bad = BytesMut::from(&[0x10, 0, 0, 0, 7][..]);
/// assert!(decoder.decode(&mut bad).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageDecoder {
    max_len: u32,
    /// Bytes consumed so far, for the `offset` of errors.
    offset: u64,
}

impl Default for MessageDecoder {
    fn default() -> Self {
        MessageDecoder::new(DEFAULT_MAX_MESSAGE_LEN)
    }
}

impl MessageDecoder {
    /// A decoder refusing messages whose length prefix (id plus payload) exceeds `max_len`.
    pub fn new(max_len: u32) -> Self {
        MessageDecoder { max_len, offset: 0 }
    }

    /// A decoder whose maximum fits a torrent of `num_pieces` pieces whose peers send
    /// blocks of up to `max_block_len` bytes: the largest of its bitfield
    /// (`ceil(num_pieces / 8) + 1`), a piece message (`max_block_len + 9`), and
    /// [`EXTENSION_MAX_MESSAGE_LEN`].
    pub fn for_torrent(num_pieces: u32, max_block_len: u32) -> Self {
        let bitfield = num_pieces.div_ceil(8) + 1;
        let piece = max_block_len.saturating_add(9);
        MessageDecoder::new(bitfield.max(piece).max(EXTENSION_MAX_MESSAGE_LEN))
    }

    /// The maximum length prefix accepted.
    pub fn max_len(&self) -> u32 {
        self.max_len
    }

    /// Changes the maximum (for example once the metadata of a magnet link has arrived).
    pub fn set_max_len(&mut self, max_len: u32) {
        self.max_len = max_len;
    }

    /// Bytes consumed so far (the position errors are reported against).
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// The next message in `buf`, consuming its bytes; `Ok(None)` if it has not fully
    /// arrived yet (nothing consumed).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>> {
        let Some(len) = buf.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        if len == 0 {
            buf.advance(4);
            self.offset += 4;
            return Ok(Some(Message::KeepAlive));
        }
        let Some(&msg_id) = buf.get(4) else {
            return Ok(None);
        };
        self.check_header(msg_id, len)?;
        // Saturating: on a 32-bit target a 4 GiB maximum must not overflow.
        let total = (len as usize).saturating_add(4);
        if buf.len() < total {
            return Ok(None);
        }
        let msg = decode_body(msg_id, buf, total);
        self.offset += total as u64;
        Ok(Some(msg))
    }

    /// Everything that can be checked from the length and the id alone, so that the
    /// answer does not depend on how much of the payload has arrived.
    fn check_header(&self, msg_id: u8, len: u32) -> Result<()> {
        if len > self.max_len {
            return Err(Error::MessageTooLong {
                id: msg_id,
                length: len,
                max: self.max_len,
                offset: self.offset,
            });
        }
        let hash_req = 1 + HASH_REQUEST_LEN as u32;
        let ok_expected: (bool, &'static str) = match msg_id {
            id::CHOKE
            | id::UNCHOKE
            | id::INTERESTED
            | id::NOT_INTERESTED
            | id::HAVE_ALL
            | id::HAVE_NONE => (len == 1, "1"),
            id::HAVE | id::SUGGEST | id::ALLOWED_FAST => (len == 5, "5"),
            id::REQUEST | id::CANCEL | id::REJECT => (len == 13, "13"),
            id::PORT => (len == 3, "3"),
            id::PIECE => (len >= 9, "at least 9"),
            id::EXTENDED => (len >= 2, "at least 2"),
            id::HASH_REQUEST | id::HASH_REJECT => (len == hash_req, "49"),
            id::HASHES => (
                len >= hash_req && (len - hash_req).is_multiple_of(32),
                "49 plus a multiple of 32",
            ),
            _ => (true, ""),
        };
        if ok_expected.0 {
            Ok(())
        } else {
            Err(Error::BadLength {
                id: msg_id,
                name: name_of(msg_id),
                length: len,
                expected: ok_expected.1,
                offset: self.offset,
            })
        }
    }
}

/// Decodes the message filling `buf[..total]` (checked by `check_header`) and consumes it.
fn decode_body(msg_id: u8, buf: &mut BytesMut, total: usize) -> Message {
    // Payloads that leave as `Bytes` are split off the buffer; the rest is read in place.
    let payload_bytes = |buf: &mut BytesMut, skip: usize| -> Bytes {
        let mut frame = buf.split_to(total);
        frame.advance(skip);
        frame.freeze()
    };
    let msg = match msg_id {
        id::BITFIELD => return Message::Bitfield(payload_bytes(buf, 5)),
        id::PIECE => {
            let index = be32(&buf[5..]);
            let begin = be32(&buf[9..]);
            return Message::Piece {
                index,
                begin,
                data: payload_bytes(buf, 13),
            };
        }
        id::EXTENDED => {
            let ext_id = buf[5];
            return Message::Extended {
                id: ext_id,
                payload: payload_bytes(buf, 6),
            };
        }
        id::CHOKE => Message::Choke,
        id::UNCHOKE => Message::Unchoke,
        id::INTERESTED => Message::Interested,
        id::NOT_INTERESTED => Message::NotInterested,
        id::HAVE_ALL => Message::HaveAll,
        id::HAVE_NONE => Message::HaveNone,
        id::HAVE => Message::Have(be32(&buf[5..])),
        id::SUGGEST => Message::Suggest(be32(&buf[5..])),
        id::ALLOWED_FAST => Message::AllowedFast(be32(&buf[5..])),
        id::REQUEST => Message::Request(block_request(&buf[5..])),
        id::CANCEL => Message::Cancel(block_request(&buf[5..])),
        id::REJECT => Message::Reject(block_request(&buf[5..])),
        id::PORT => Message::Port(u16::from_be_bytes([buf[5], buf[6]])),
        id::HASH_REQUEST => Message::HashRequest(hash_request(&buf[5..])),
        id::HASH_REJECT => Message::HashReject(hash_request(&buf[5..])),
        id::HASHES => {
            let start = 5 + HASH_REQUEST_LEN;
            let hashes = buf[start..total]
                .chunks_exact(32)
                .map(|c| {
                    let mut h = [0u8; 32];
                    h.copy_from_slice(c);
                    h
                })
                .collect();
            Message::Hashes(Hashes {
                request: hash_request(&buf[5..]),
                hashes,
            })
        }
        other => {
            return Message::Unknown {
                id: other,
                payload: payload_bytes(buf, 5),
            };
        }
    };
    buf.advance(total);
    msg
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn block_request(b: &[u8]) -> BlockRequest {
    BlockRequest {
        index: be32(b),
        begin: be32(&b[4..]),
        length: be32(&b[8..]),
    }
}

fn hash_request(b: &[u8]) -> HashRequest {
    let mut pieces_root = [0u8; 32];
    pieces_root.copy_from_slice(&b[..32]);
    HashRequest {
        pieces_root,
        base_layer: be32(&b[32..]),
        index: be32(&b[36..]),
        length: be32(&b[40..]),
        proof_layers: be32(&b[44..]),
    }
}
