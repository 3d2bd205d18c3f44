//! A fixed-length bit set in BitTorrent wire order (bit 0 is the high bit of byte 0).

/// Which pieces are present, in the BEP 3 `bitfield` message's bit order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Bitfield {
    bytes: Vec<u8>,
    len: u32,
}

impl Bitfield {
    /// `len` bits, all clear.
    pub fn new(len: u32) -> Self {
        Bitfield {
            bytes: vec![0; len.div_ceil(8) as usize],
            len,
        }
    }

    /// From wire bytes; `None` when the byte count is wrong or spare trailing bits are set.
    pub fn from_bytes(bytes: &[u8], len: u32) -> Option<Self> {
        if bytes.len() != len.div_ceil(8) as usize {
            return None;
        }
        if !len.is_multiple_of(8) {
            let spare = 0xffu8 >> (len % 8);
            if bytes.last().is_some_and(|b| b & spare != 0) {
                return None;
            }
        }
        Some(Bitfield {
            bytes: bytes.to_vec(),
            len,
        })
    }

    /// The wire bytes (spare trailing bits are zero).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of bits.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True when the bit set has no bits at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bit `i` (false when out of range).
    pub fn get(&self, i: u32) -> bool {
        i < self.len && self.bytes[(i / 8) as usize] & (0x80 >> (i % 8)) != 0
    }

    /// Set or clear bit `i` (ignored when out of range).
    pub fn set(&mut self, i: u32, value: bool) {
        if i < self.len {
            let b = &mut self.bytes[(i / 8) as usize];
            if value {
                *b |= 0x80 >> (i % 8);
            } else {
                *b &= !(0x80 >> (i % 8));
            }
        }
    }

    /// Number of set bits.
    pub fn count_ones(&self) -> u32 {
        self.bytes.iter().map(|b| b.count_ones()).sum()
    }

    /// True when every bit is set.
    pub fn all(&self) -> bool {
        self.count_ones() == self.len
    }

    /// Indices of the set bits, ascending.
    pub fn ones(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len).filter(|&i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_order_and_spare_bits() {
        let mut b = Bitfield::new(10);
        b.set(0, true);
        b.set(9, true);
        assert_eq!(b.as_bytes(), &[0x80, 0x40]);
        assert_eq!(b.count_ones(), 2);
        assert!(b.get(9) && !b.get(8) && !b.get(10));
        assert_eq!(Bitfield::from_bytes(&[0x80, 0x40], 10), Some(b.clone()));
        assert_eq!(Bitfield::from_bytes(&[0x80, 0x20], 10), None);
        assert_eq!(Bitfield::from_bytes(&[0x80], 10), None);
        b.set(0, false);
        assert_eq!(b.ones().collect::<Vec<_>>(), vec![9]);
    }
}
