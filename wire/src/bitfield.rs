//! The pieces a peer has, checked against the torrent's piece count.

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::message::Message;

/// One bit per piece, high bit of the first byte for piece 0, as the `bitfield` message
/// carries it. Always exactly `ceil(num_pieces / 8)` bytes with the spare bits zero.
///
/// ```
/// use shoal_wire::Bitfield;
///
/// let mut have = Bitfield::from_bytes(&[0b1010_0000], 3).unwrap();
/// assert!(have.get(0) && !have.get(1) && have.get(2));
/// assert_eq!(have.count(), 2);
/// have.set(1, true).unwrap();
/// assert!(have.is_full());
/// // Spare bits past the last piece must be zero, and the length must match.
/// assert!(Bitfield::from_bytes(&[0b1111_0000], 3).is_err());
/// assert!(Bitfield::from_bytes(&[0, 0], 3).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Bitfield {
    bits: Vec<u8>,
    num_pieces: u32,
}

impl Bitfield {
    /// No piece set.
    pub fn new(num_pieces: u32) -> Self {
        Bitfield {
            bits: vec![0; byte_len(num_pieces)],
            num_pieces,
        }
    }

    /// Every piece set (what `have all` means).
    pub fn full(num_pieces: u32) -> Self {
        let mut bits = vec![0xff; byte_len(num_pieces)];
        if let Some(last) = bits.last_mut() {
            *last &= spare_mask(num_pieces);
        }
        Bitfield { bits, num_pieces }
    }

    /// Checks a received bitfield: exactly `ceil(num_pieces / 8)` bytes, spare bits zero.
    pub fn from_bytes(bytes: &[u8], num_pieces: u32) -> Result<Self> {
        let expected = byte_len(num_pieces);
        if bytes.len() != expected {
            return Err(Error::BitfieldLength {
                length: bytes.len(),
                expected,
                num_pieces,
            });
        }
        if let Some(&last) = bytes.last()
            && last & !spare_mask(num_pieces) != 0
        {
            return Err(Error::BitfieldSpareBits { num_pieces });
        }
        Ok(Bitfield {
            bits: bytes.to_vec(),
            num_pieces,
        })
    }

    /// The number of pieces the field covers.
    pub fn len(&self) -> u32 {
        self.num_pieces
    }

    /// Whether the torrent has no pieces.
    pub fn is_empty(&self) -> bool {
        self.num_pieces == 0
    }

    /// Whether piece `index` is set; `false` for an index out of range.
    pub fn get(&self, index: u32) -> bool {
        index < self.num_pieces && self.bits[(index / 8) as usize] & (0x80 >> (index % 8)) != 0
    }

    /// Sets or clears piece `index`; an error if the index is out of range.
    pub fn set(&mut self, index: u32, value: bool) -> Result<()> {
        if index >= self.num_pieces {
            return Err(Error::PieceIndexOutOfRange {
                index,
                num_pieces: self.num_pieces,
            });
        }
        let byte = &mut self.bits[(index / 8) as usize];
        let mask = 0x80 >> (index % 8);
        if value {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
        Ok(())
    }

    /// The number of pieces set.
    pub fn count(&self) -> u32 {
        self.bits.iter().map(|b| b.count_ones()).sum()
    }

    /// Whether every piece is set.
    pub fn is_full(&self) -> bool {
        self.count() == self.num_pieces
    }

    /// The indices of the pieces set, in order.
    pub fn iter_set(&self) -> impl Iterator<Item = u32> + '_ {
        self.bits.iter().enumerate().flat_map(|(i, &byte)| {
            (0..8u32)
                .filter(move |bit| byte & (0x80 >> bit) != 0)
                .map(move |bit| i as u32 * 8 + bit)
        })
    }

    /// The bytes as the `bitfield` message carries them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bits
    }

    /// A `bitfield` message of these bits.
    pub fn to_message(&self) -> Message {
        Message::Bitfield(Bytes::copy_from_slice(&self.bits))
    }
}

impl std::fmt::Debug for Bitfield {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bitfield({}/{} pieces)", self.count(), self.num_pieces)
    }
}

fn byte_len(num_pieces: u32) -> usize {
    num_pieces.div_ceil(8) as usize
}

/// The bits of the last byte that belong to pieces.
fn spare_mask(num_pieces: u32) -> u8 {
    match num_pieces % 8 {
        0 => 0xff,
        used => !(0xffu8 >> used),
    }
}
