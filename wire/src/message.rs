//! The messages after the handshake (BEP 3, 5, 6, 10, 52) and their encoding.

use bytes::{BufMut, Bytes, BytesMut};

/// A block of a piece: what `request`, `cancel` and `reject request` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockRequest {
    /// The piece index.
    pub index: u32,
    /// Byte offset of the block within the piece.
    pub begin: u32,
    /// Length of the block in bytes (16 KiB in practice).
    pub length: u32,
}

/// A BEP 52 request for hashes of a file's merkle tree (`hash request`, and the same
/// fields in `hashes` and `hash reject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashRequest {
    /// The root of the file's piece-layer tree (`pieces root` in the file tree).
    pub pieces_root: [u8; 32],
    /// The layer the hashes come from; 0 is the 16 KiB block layer.
    pub base_layer: u32,
    /// Index of the first hash in that layer.
    pub index: u32,
    /// Number of hashes (a power of two, at least 2, in valid requests).
    pub length: u32,
    /// Number of uncle-hash layers wanted to prove the hashes up to the root.
    pub proof_layers: u32,
}

/// A BEP 52 `hashes` message: the request it answers, then the hashes themselves
/// (the `length` base hashes followed by the proof's uncle hashes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hashes {
    /// The request being answered.
    pub request: HashRequest,
    /// The hashes.
    pub hashes: Vec<[u8; 32]>,
}

/// One peer wire message.
///
/// Decode with [`MessageDecoder`](crate::MessageDecoder), encode with [`Message::encode`].
///
/// ```
/// use shoal_wire::{BlockRequest, Message};
///
/// let msg = Message::Request(BlockRequest { index: 1, begin: 16384, length: 16384 });
/// let mut out = Vec::new();
/// msg.encode(&mut out);
/// assert_eq!(out, [0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0]);
/// assert_eq!(msg.encoded_len(), out.len());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message {
    /// Length 0: keeps the connection open.
    KeepAlive,
    /// id 0: the sender will not answer requests.
    Choke,
    /// id 1: the sender will answer requests.
    Unchoke,
    /// id 2: the sender wants pieces the receiver has.
    Interested,
    /// id 3: the sender wants nothing the receiver has.
    NotInterested,
    /// id 4: the sender has this piece now.
    Have(u32),
    /// id 5: the pieces the sender has, one bit per piece, high bit first; check it with
    /// [`Bitfield::from_bytes`](crate::Bitfield::from_bytes).
    Bitfield(Bytes),
    /// id 6: please send this block.
    Request(BlockRequest),
    /// id 7: a block of a piece. `data` shares the decoder's buffer (no copy).
    Piece {
        /// The piece index.
        index: u32,
        /// Byte offset of the block within the piece.
        begin: u32,
        /// The block.
        data: Bytes,
    },
    /// id 8: never mind that request.
    Cancel(BlockRequest),
    /// id 9 (BEP 5): the sender's DHT port.
    Port(u16),
    /// id 13 (BEP 6): the sender suggests downloading this piece.
    Suggest(u32),
    /// id 14 (BEP 6): the sender has every piece (instead of a bitfield).
    HaveAll,
    /// id 15 (BEP 6): the sender has no piece (instead of a bitfield).
    HaveNone,
    /// id 16 (BEP 6): the sender will not answer this request.
    Reject(BlockRequest),
    /// id 17 (BEP 6): the receiver may request this piece even while choked.
    AllowedFast(u32),
    /// id 20 (BEP 10): an extension message; `id` 0 is the extension handshake
    /// ([`ExtendedHandshake`](crate::ExtendedHandshake)), other ids are the ones the
    /// receiver assigned in its own handshake's `m`.
    Extended {
        /// The extended message id.
        id: u8,
        /// The payload (shares the decoder's buffer).
        payload: Bytes,
    },
    /// id 21 (BEP 52): please send these hashes.
    HashRequest(HashRequest),
    /// id 22 (BEP 52): the hashes asked for.
    Hashes(Hashes),
    /// id 23 (BEP 52): the sender will not send these hashes.
    HashReject(HashRequest),
    /// A message id this crate does not know; peers should ignore it.
    Unknown {
        /// The message id.
        id: u8,
        /// The payload after the id.
        payload: Bytes,
    },
}

/// Message ids of the wire protocol.
pub(crate) mod id {
    pub const CHOKE: u8 = 0;
    pub const UNCHOKE: u8 = 1;
    pub const INTERESTED: u8 = 2;
    pub const NOT_INTERESTED: u8 = 3;
    pub const HAVE: u8 = 4;
    pub const BITFIELD: u8 = 5;
    pub const REQUEST: u8 = 6;
    pub const PIECE: u8 = 7;
    pub const CANCEL: u8 = 8;
    pub const PORT: u8 = 9;
    pub const SUGGEST: u8 = 13;
    pub const HAVE_ALL: u8 = 14;
    pub const HAVE_NONE: u8 = 15;
    pub const REJECT: u8 = 16;
    pub const ALLOWED_FAST: u8 = 17;
    pub const EXTENDED: u8 = 20;
    pub const HASH_REQUEST: u8 = 21;
    pub const HASHES: u8 = 22;
    pub const HASH_REJECT: u8 = 23;
}

/// The length of a hash request's fields after the id.
pub(crate) const HASH_REQUEST_LEN: usize = 32 + 4 * 4;

impl Message {
    /// The message id, `None` for a keep-alive.
    pub fn id(&self) -> Option<u8> {
        Some(match self {
            Message::KeepAlive => return None,
            Message::Choke => id::CHOKE,
            Message::Unchoke => id::UNCHOKE,
            Message::Interested => id::INTERESTED,
            Message::NotInterested => id::NOT_INTERESTED,
            Message::Have(_) => id::HAVE,
            Message::Bitfield(_) => id::BITFIELD,
            Message::Request(_) => id::REQUEST,
            Message::Piece { .. } => id::PIECE,
            Message::Cancel(_) => id::CANCEL,
            Message::Port(_) => id::PORT,
            Message::Suggest(_) => id::SUGGEST,
            Message::HaveAll => id::HAVE_ALL,
            Message::HaveNone => id::HAVE_NONE,
            Message::Reject(_) => id::REJECT,
            Message::AllowedFast(_) => id::ALLOWED_FAST,
            Message::Extended { .. } => id::EXTENDED,
            Message::HashRequest(_) => id::HASH_REQUEST,
            Message::Hashes(_) => id::HASHES,
            Message::HashReject(_) => id::HASH_REJECT,
            Message::Unknown { id, .. } => *id,
        })
    }

    /// The message's name as the BEPs spell it, for logs.
    pub fn name(&self) -> &'static str {
        match self.id() {
            None => "keep-alive",
            Some(id) => name_of(id),
        }
    }

    /// The number of bytes [`Message::encode`] writes, length prefix included.
    pub fn encoded_len(&self) -> usize {
        4 + self.body_len()
    }

    /// Length of id and payload: the value of the length prefix.
    fn body_len(&self) -> usize {
        match self {
            Message::KeepAlive => 0,
            Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => 1,
            Message::Have(_) | Message::Suggest(_) | Message::AllowedFast(_) => 5,
            Message::Port(_) => 3,
            Message::Request(_) | Message::Cancel(_) | Message::Reject(_) => 13,
            Message::Bitfield(bits) => 1 + bits.len(),
            Message::Piece { data, .. } => 9 + data.len(),
            Message::Extended { payload, .. } => 2 + payload.len(),
            Message::HashRequest(_) | Message::HashReject(_) => 1 + HASH_REQUEST_LEN,
            Message::Hashes(h) => 1 + HASH_REQUEST_LEN + 32 * h.hashes.len(),
            Message::Unknown { payload, .. } => 1 + payload.len(),
        }
    }

    /// Writes the message, length prefix included, into any [`BufMut`].
    ///
    /// # Panics
    /// If a payload is so long (about 4 GiB) that the length does not fit the 32-bit
    /// prefix: that is a bug in the caller, never something a peer can cause.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        let len = u32::try_from(self.body_len())
            .expect("message payload longer than the 32-bit length prefix allows");
        out.put_u32(len);
        let Some(id) = self.id() else { return };
        out.put_u8(id);
        match self {
            Message::KeepAlive
            | Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => {}
            Message::Have(i) | Message::Suggest(i) | Message::AllowedFast(i) => out.put_u32(*i),
            Message::Bitfield(bits) => out.put_slice(bits),
            Message::Request(r) | Message::Cancel(r) | Message::Reject(r) => {
                out.put_u32(r.index);
                out.put_u32(r.begin);
                out.put_u32(r.length);
            }
            Message::Piece { index, begin, data } => {
                out.put_u32(*index);
                out.put_u32(*begin);
                out.put_slice(data);
            }
            Message::Port(port) => out.put_u16(*port),
            Message::Extended { id, payload } => {
                out.put_u8(*id);
                out.put_slice(payload);
            }
            Message::HashRequest(r) | Message::HashReject(r) => put_hash_request(out, r),
            Message::Hashes(h) => {
                put_hash_request(out, &h.request);
                for hash in &h.hashes {
                    out.put_slice(hash);
                }
            }
            Message::Unknown { payload, .. } => out.put_slice(payload),
        }
    }

    /// The encoded message in a new buffer.
    pub fn to_bytes(&self) -> BytesMut {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }

    /// Writes only the 13-byte header of a `piece` message whose block is `data_len`
    /// bytes long, so a client can send the block from its own buffer without a copy
    /// (vectored write of header then block).
    ///
    /// # Panics
    /// If `data_len` is larger than `u32::MAX - 9` (a caller bug).
    pub fn encode_piece_header<B: BufMut + ?Sized>(
        index: u32,
        begin: u32,
        data_len: usize,
        out: &mut B,
    ) {
        let len = u32::try_from(data_len)
            .ok()
            .and_then(|n| n.checked_add(9))
            .expect("block longer than the 32-bit length prefix allows");
        out.put_u32(len);
        out.put_u8(id::PIECE);
        out.put_u32(index);
        out.put_u32(begin);
    }
}

fn put_hash_request<B: BufMut + ?Sized>(out: &mut B, r: &HashRequest) {
    out.put_slice(&r.pieces_root);
    out.put_u32(r.base_layer);
    out.put_u32(r.index);
    out.put_u32(r.length);
    out.put_u32(r.proof_layers);
}

/// The name of a message id, for logs and errors.
pub(crate) fn name_of(id: u8) -> &'static str {
    match id {
        id::CHOKE => "choke",
        id::UNCHOKE => "unchoke",
        id::INTERESTED => "interested",
        id::NOT_INTERESTED => "not interested",
        id::HAVE => "have",
        id::BITFIELD => "bitfield",
        id::REQUEST => "request",
        id::PIECE => "piece",
        id::CANCEL => "cancel",
        id::PORT => "port",
        id::SUGGEST => "suggest piece",
        id::HAVE_ALL => "have all",
        id::HAVE_NONE => "have none",
        id::REJECT => "reject request",
        id::ALLOWED_FAST => "allowed fast",
        id::EXTENDED => "extended",
        id::HASH_REQUEST => "hash request",
        id::HASHES => "hashes",
        id::HASH_REJECT => "hash reject",
        _ => "unknown",
    }
}
