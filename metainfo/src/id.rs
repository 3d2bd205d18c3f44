//! Identity types: info-hashes and peer ids.

use std::fmt;
use std::str::FromStr;

/// The identity of a torrent: the SHA-1 of its info dictionary (v1, BEP 3), the SHA-256
/// of it (v2, BEP 52), or both for a hybrid torrent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InfoHash {
    /// A v1 torrent: SHA-1 of the info dictionary.
    V1([u8; 20]),
    /// A v2-only torrent: SHA-256 of the info dictionary.
    V2([u8; 32]),
    /// A hybrid torrent, known to both swarms.
    Hybrid {
        /// SHA-1 of the info dictionary.
        v1: [u8; 20],
        /// SHA-256 of the info dictionary.
        v2: [u8; 32],
    },
}

impl InfoHash {
    /// The v1 (SHA-1) hash, if the torrent has one.
    pub fn v1(&self) -> Option<[u8; 20]> {
        match self {
            InfoHash::V1(h) | InfoHash::Hybrid { v1: h, .. } => Some(*h),
            InfoHash::V2(_) => None,
        }
    }

    /// The v2 (SHA-256) hash, if the torrent has one.
    pub fn v2(&self) -> Option<[u8; 32]> {
        match self {
            InfoHash::V2(h) | InfoHash::Hybrid { v2: h, .. } => Some(*h),
            InfoHash::V1(_) => None,
        }
    }

    /// The v2 hash truncated to 20 bytes, as v2 trackers and the v2 handshake use it.
    pub fn v2_truncated(&self) -> Option<[u8; 20]> {
        self.v2().map(|h| truncate(&h))
    }

    /// The 20 bytes that identify the torrent in handshakes and tracker announces:
    /// the v1 hash when there is one, else the truncated v2 hash.
    pub fn wire(&self) -> [u8; 20] {
        match self {
            InfoHash::V1(h) | InfoHash::Hybrid { v1: h, .. } => *h,
            InfoHash::V2(h) => truncate(h),
        }
    }

    /// Whether `hash20` is one of this torrent's 20-byte wire forms (v1 or truncated v2).
    pub fn matches_wire(&self, hash20: &[u8; 20]) -> bool {
        self.v1().as_ref() == Some(hash20) || self.v2_truncated().as_ref() == Some(hash20)
    }
}

fn truncate(h: &[u8; 32]) -> [u8; 20] {
    let mut out = [0u8; 20];
    out.copy_from_slice(&h[..20]);
    out
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Parses exactly `N` bytes of hex (either case).
pub fn from_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != 2 * N {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

impl fmt::Display for InfoHash {
    /// v1 and v2 print as hex; hybrid prints the v1 hash (the one most tools show).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InfoHash::V1(h) | InfoHash::Hybrid { v1: h, .. } => f.write_str(&to_hex(h)),
            InfoHash::V2(h) => f.write_str(&to_hex(h)),
        }
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InfoHash::V1(h) => write!(f, "InfoHash::V1({})", to_hex(h)),
            InfoHash::V2(h) => write!(f, "InfoHash::V2({})", to_hex(h)),
            InfoHash::Hybrid { v1, v2 } => {
                write!(f, "InfoHash::Hybrid(v1={}, v2={})", to_hex(v1), to_hex(v2))
            }
        }
    }
}

/// Error from parsing an [`InfoHash`] or [`PeerId`] from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} hex digits, found {found:?}")]
pub struct ParseIdError {
    expected: &'static str,
    found: String,
}

impl FromStr for InfoHash {
    type Err = ParseIdError;

    /// 40 hex digits give a v1 hash, 64 a v2 hash.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(h) = from_hex::<20>(s) {
            Ok(InfoHash::V1(h))
        } else if let Some(h) = from_hex::<32>(s) {
            Ok(InfoHash::V2(h))
        } else {
            Err(ParseIdError {
                expected: "40 or 64",
                found: s.chars().take(80).collect(),
            })
        }
    }
}

/// A peer's 20-byte id, as sent in handshakes and announces.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub [u8; 20]);

impl PeerId {
    /// shoal's Azureus-style client prefix (`-SH0100-`).
    pub const PREFIX: &'static [u8; 8] = b"-SH0100-";

    /// A peer id made of shoal's prefix and 12 caller-chosen random bytes
    /// (this crate reads no clock and no random source).
    pub fn with_random(random: [u8; 12]) -> Self {
        let mut id = [0u8; 20];
        id[..8].copy_from_slice(Self::PREFIX);
        for (dst, r) in id[8..].iter_mut().zip(random) {
            // Printable characters, as most clients use, so logs stay readable.
            const ALPHABET: &[u8; 62] =
                b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
            *dst = ALPHABET[usize::from(r) % ALPHABET.len()];
        }
        PeerId(id)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

impl fmt::Display for PeerId {
    /// Printable ids print as text, others as hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.iter().all(|b| b.is_ascii_graphic()) {
            f.write_str(std::str::from_utf8(&self.0).unwrap_or_default())
        } else {
            f.write_str(&to_hex(&self.0))
        }
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_wire_forms() {
        let v2 = [7u8; 32];
        let h: InfoHash = to_hex(&v2).parse().unwrap();
        assert_eq!(h, InfoHash::V2(v2));
        assert_eq!(h.wire(), [7u8; 20]);
        assert!(h.matches_wire(&[7u8; 20]));
        assert!("xyz".parse::<InfoHash>().is_err());
        let hybrid = InfoHash::Hybrid { v1: [1; 20], v2 };
        assert_eq!(hybrid.wire(), [1; 20]);
        assert!(hybrid.matches_wire(&[7; 20]));
    }

    #[test]
    fn peer_id_has_prefix_and_is_printable() {
        let id = PeerId::with_random([255; 12]);
        assert_eq!(&id.0[..8], PeerId::PREFIX);
        assert!(id.to_string().starts_with("-SH0100-"));
        assert_eq!(id.to_string().len(), 20);
    }
}
