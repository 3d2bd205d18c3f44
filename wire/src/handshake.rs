//! The handshake (BEP 3) and its reserved bits (BEP 5, 6, 10, 52).

use std::fmt;

use bytes::{Buf, BufMut, BytesMut};
use metainfo::PeerId;

use crate::error::{Error, Result};

/// The 20 bytes every handshake starts with: length 19, then `BitTorrent protocol`.
pub const PROTOCOL: &[u8; 20] = b"\x13BitTorrent protocol";

/// The length of a handshake: protocol string, reserved, info-hash, peer id.
pub const HANDSHAKE_LEN: usize = 68;

/// The 8 reserved bytes of the handshake, where peers announce extensions.
///
/// ```
/// use shoal_wire::Reserved;
///
/// let r = Reserved::default().with_extension_protocol(true).with_fast(true);
/// assert_eq!(r.0, [0, 0, 0, 0, 0, 0x10, 0, 0x04]);
/// assert!(r.extension_protocol() && r.fast() && !r.dht() && !r.v2_upgrade());
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Reserved(pub [u8; 8]);

impl Reserved {
    const EXTENSION_PROTOCOL: (usize, u8) = (5, 0x10);
    const FAST: (usize, u8) = (7, 0x04);
    const DHT: (usize, u8) = (7, 0x01);
    const V2_UPGRADE: (usize, u8) = (7, 0x10);

    fn bit(&self, (byte, mask): (usize, u8)) -> bool {
        self.0[byte] & mask != 0
    }

    fn with_bit(mut self, (byte, mask): (usize, u8), on: bool) -> Self {
        if on {
            self.0[byte] |= mask;
        } else {
            self.0[byte] &= !mask;
        }
        self
    }

    /// BEP 10 extension protocol (`reserved[5] & 0x10`).
    pub fn extension_protocol(&self) -> bool {
        self.bit(Self::EXTENSION_PROTOCOL)
    }

    /// BEP 6 fast extension (`reserved[7] & 0x04`).
    pub fn fast(&self) -> bool {
        self.bit(Self::FAST)
    }

    /// BEP 5 DHT, the peer accepts `port` messages (`reserved[7] & 0x01`).
    pub fn dht(&self) -> bool {
        self.bit(Self::DHT)
    }

    /// BEP 52 upgrade to the v2 protocol (`reserved[7] & 0x10`).
    pub fn v2_upgrade(&self) -> bool {
        self.bit(Self::V2_UPGRADE)
    }

    /// With the extension protocol bit set or cleared.
    pub fn with_extension_protocol(self, on: bool) -> Self {
        self.with_bit(Self::EXTENSION_PROTOCOL, on)
    }

    /// With the fast extension bit set or cleared.
    pub fn with_fast(self, on: bool) -> Self {
        self.with_bit(Self::FAST, on)
    }

    /// With the DHT bit set or cleared.
    pub fn with_dht(self, on: bool) -> Self {
        self.with_bit(Self::DHT, on)
    }

    /// With the v2 upgrade bit set or cleared.
    pub fn with_v2_upgrade(self, on: bool) -> Self {
        self.with_bit(Self::V2_UPGRADE, on)
    }
}

impl fmt::Debug for Reserved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reserved({}", metainfo::to_hex(&self.0))?;
        for (on, name) in [
            (self.extension_protocol(), "ext"),
            (self.fast(), "fast"),
            (self.dht(), "dht"),
            (self.v2_upgrade(), "v2"),
        ] {
            if on {
                write!(f, " {name}")?;
            }
        }
        f.write_str(")")
    }
}

/// A handshake: reserved bits, the 20-byte info-hash and the sender's peer id.
///
/// ```
/// use shoal_wire::{Handshake, HANDSHAKE_LEN};
/// use shoal_wire::PeerId;
///
/// let hs = Handshake::new([0xaa; 20], PeerId([b'x'; 20]));
/// let mut out = Vec::new();
/// hs.encode(&mut out);
/// assert_eq!(out.len(), HANDSHAKE_LEN);
/// assert_eq!(Handshake::decode(&out).unwrap(), Some(hs));
/// // A wrong protocol string is an error as soon as its first byte arrives.
/// assert!(Handshake::decode(b"GET / HTTP/1.1").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Handshake {
    /// The reserved bits.
    pub reserved: Reserved,
    /// The 20-byte info-hash (v1, or truncated v2: see `InfoHash::wire`).
    pub info_hash: [u8; 20],
    /// The sender's peer id.
    pub peer_id: PeerId,
}

impl Handshake {
    /// A handshake announcing what this crate speaks: the extension protocol (BEP 10)
    /// and the fast extension (BEP 6). Change `reserved` to announce otherwise.
    pub fn new(info_hash: [u8; 20], peer_id: PeerId) -> Self {
        Handshake {
            reserved: Reserved::default()
                .with_extension_protocol(true)
                .with_fast(true),
            info_hash,
            peer_id,
        }
    }

    /// Writes the 68 bytes of the handshake.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        out.put_slice(PROTOCOL);
        out.put_slice(&self.reserved.0);
        out.put_slice(&self.info_hash);
        out.put_slice(&self.peer_id.0);
    }

    /// The 68 bytes of the handshake.
    pub fn to_bytes(&self) -> [u8; HANDSHAKE_LEN] {
        let mut out = [0u8; HANDSHAKE_LEN];
        self.encode(&mut &mut out[..]);
        out
    }

    /// Reads a handshake from the start of `input`.
    ///
    /// `Ok(None)` if fewer than 68 bytes are there; the protocol string is checked on the
    /// bytes that are there, so a wrong one is an error as early as possible. Bytes after
    /// the first 68 are ignored.
    pub fn decode(input: &[u8]) -> Result<Option<Handshake>> {
        check_protocol(input)?;
        if input.len() < HANDSHAKE_LEN {
            return Ok(None);
        }
        let mut reserved = [0u8; 8];
        reserved.copy_from_slice(&input[20..28]);
        let mut info_hash = [0u8; 20];
        info_hash.copy_from_slice(&input[28..48]);
        let mut peer_id = [0u8; 20];
        peer_id.copy_from_slice(&input[48..68]);
        Ok(Some(Handshake {
            reserved: Reserved(reserved),
            info_hash,
            peer_id: PeerId(peer_id),
        }))
    }

    /// The reserved bits and the info-hash, once the first 48 bytes have arrived.
    ///
    /// A peer that accepts connections learns which torrent is wanted here, before the
    /// peer id; some peers wait for the answer before they send their peer id.
    pub fn peek_info_hash(input: &[u8]) -> Result<Option<(Reserved, [u8; 20])>> {
        check_protocol(input)?;
        if input.len() < 48 {
            return Ok(None);
        }
        let mut reserved = [0u8; 8];
        reserved.copy_from_slice(&input[20..28]);
        let mut info_hash = [0u8; 20];
        info_hash.copy_from_slice(&input[28..48]);
        Ok(Some((Reserved(reserved), info_hash)))
    }
}

fn check_protocol(input: &[u8]) -> Result<()> {
    for (offset, (&found, &expected)) in input.iter().zip(PROTOCOL.iter()).enumerate() {
        if found != expected {
            return Err(Error::BadProtocol {
                offset,
                found,
                expected,
            });
        }
    }
    Ok(())
}

/// Incremental handshake decoding over a `BytesMut`: consumes the 68 bytes once they are
/// all there, leaving whatever follows (the first messages) in the buffer.
///
/// ```
/// use bytes::BytesMut;
/// use shoal_wire::{Handshake, HandshakeDecoder, PeerId};
///
/// let hs = Handshake::new([1; 20], PeerId([2; 20]));
/// let mut buf = BytesMut::from(&hs.to_bytes()[..40]);
/// let mut decoder = HandshakeDecoder::new();
/// assert_eq!(decoder.decode(&mut buf).unwrap(), None);
/// assert_eq!(buf.len(), 40); // nothing consumed
/// buf.extend_from_slice(&hs.to_bytes()[40..]);
/// buf.extend_from_slice(&[0, 0, 0, 0]); // a keep-alive right behind it
/// assert_eq!(decoder.decode(&mut buf).unwrap(), Some(hs));
/// assert_eq!(&buf[..], &[0, 0, 0, 0]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandshakeDecoder {
    _private: (),
}

impl HandshakeDecoder {
    /// A decoder.
    pub fn new() -> Self {
        HandshakeDecoder::default()
    }

    /// The handshake, once all 68 bytes are in `buf`; `Ok(None)` (nothing consumed) before.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Handshake>> {
        let hs = Handshake::decode(buf)?;
        if hs.is_some() {
            buf.advance(HANDSHAKE_LEN);
        }
        Ok(hs)
    }
}
