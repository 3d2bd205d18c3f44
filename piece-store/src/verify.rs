//! Expected hashes and how pieces are checked against them: SHA-1 (v1) and BEP 52
//! SHA-256 merkle trees of 16 KiB blocks (v2).

use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::layout::Layout;

/// Size of a v2 merkle leaf block (BEP 52): 16 KiB.
pub const BLOCK_SIZE: usize = 16 * 1024;

/// The v2 hashes of one file: its merkle root and, for files longer than one piece, its
/// piece layer (one hash per piece, from the torrent's `piece layers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHashes {
    /// `pieces root`: the root of the file's merkle tree.
    pub pieces_root: [u8; 32],
    /// The piece layer: empty when the file fits in one piece (the root is checked then).
    pub piece_layer: Vec<[u8; 32]>,
}

/// Where verification gets the expected hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PieceHashes {
    /// v1: one SHA-1 per piece.
    V1(Vec<[u8; 20]>),
    /// v2: per layout file (same indices), `None` for pad and empty files.
    V2(Vec<Option<FileHashes>>),
    /// Hybrid: a piece is good only when both its v1 and its v2 hash match.
    Hybrid {
        /// One SHA-1 per piece.
        v1: Vec<[u8; 20]>,
        /// Per layout file, `None` for pad and empty files.
        v2: Vec<Option<FileHashes>>,
    },
}

impl PieceHashes {
    /// Check that the hashes fit `layout`: counts, piece layers, and each piece layer
    /// against its root.
    pub fn validate(&self, layout: &Layout) -> Result<()> {
        match self {
            PieceHashes::V1(v1) => validate_v1(v1, layout),
            PieceHashes::V2(v2) => validate_v2(v2, layout),
            PieceHashes::Hybrid { v1, v2 } => {
                validate_v1(v1, layout)?;
                validate_v2(v2, layout)
            }
        }
    }

    /// Does `data`, the whole of `piece`, match? `data` must be the piece's bytes as laid
    /// out (pad bytes as zeros).
    pub fn check(&self, layout: &Layout, piece: u32, data: &[u8]) -> Result<bool> {
        match self {
            PieceHashes::V1(v1) => Ok(check_v1(v1, piece, data)),
            PieceHashes::V2(v2) => check_v2(v2, layout, piece, data),
            PieceHashes::Hybrid { v1, v2 } => {
                Ok(check_v1(v1, piece, data) && check_v2(v2, layout, piece, data)?)
            }
        }
    }
}

fn validate_v1(v1: &[[u8; 20]], layout: &Layout) -> Result<()> {
    if v1.len() != layout.num_pieces() as usize {
        return Err(Error::BadHashes(format!(
            "{} v1 piece hashes for {} pieces",
            v1.len(),
            layout.num_pieces()
        )));
    }
    Ok(())
}

fn validate_v2(v2: &[Option<FileHashes>], layout: &Layout) -> Result<()> {
    if v2.len() != layout.num_files() {
        return Err(Error::BadHashes(format!(
            "v2 hashes for {} files, the layout has {}",
            v2.len(),
            layout.num_files()
        )));
    }
    let pl = layout.piece_length();
    if pl < BLOCK_SIZE as u64 || !pl.is_power_of_two() {
        return Err(Error::BadHashes(format!(
            "v2 needs a power-of-two piece length of at least 16 KiB, not {pl}"
        )));
    }
    for (i, (f, h)) in layout.files().iter().zip(v2).enumerate() {
        if f.pad || f.length == 0 {
            continue;
        }
        let Some(h) = h else {
            return Err(Error::BadHashes(format!(
                "no v2 hashes for file {:?}",
                f.path
            )));
        };
        if layout.file_start(i)? % pl != 0 {
            return Err(Error::BadHashes(format!(
                "file {:?} does not start on a piece boundary",
                f.path
            )));
        }
        let pieces = f.length.div_ceil(pl);
        if pieces == 1 {
            if !h.piece_layer.is_empty() {
                return Err(Error::BadHashes(format!(
                    "file {:?} fits in one piece but has a piece layer",
                    f.path
                )));
            }
        } else {
            if h.piece_layer.len() as u64 != pieces {
                return Err(Error::BadHashes(format!(
                    "file {:?} has {} pieces but its piece layer has {} hashes",
                    f.path,
                    pieces,
                    h.piece_layer.len()
                )));
            }
            let leaves_per_piece = (pl / BLOCK_SIZE as u64) as usize;
            let root = root_of_layer(&h.piece_layer, zero_subtree(leaves_per_piece));
            if root != h.pieces_root {
                return Err(Error::BadHashes(format!(
                    "piece layer of {:?} does not match its pieces root",
                    f.path
                )));
            }
        }
    }
    Ok(())
}

fn check_v1(v1: &[[u8; 20]], piece: u32, data: &[u8]) -> bool {
    v1.get(piece as usize)
        .is_some_and(|want| Sha1::digest(data).as_slice() == want)
}

fn check_v2(v2: &[Option<FileHashes>], layout: &Layout, piece: u32, data: &[u8]) -> Result<bool> {
    let Some((file, index)) = layout.v2_piece(piece)? else {
        return Err(Error::BadHashes(format!(
            "piece {piece} does not start a v2 file piece"
        )));
    };
    let Some(Some(h)) = v2.get(file) else {
        return Err(Error::BadHashes(format!("no v2 hashes for file {file}")));
    };
    let f = &layout.files()[file];
    let pl = layout.piece_length();
    let in_file = (f.length - u64::from(index) * pl).min(pl) as usize;
    let Some(bytes) = data.get(..in_file) else {
        return Ok(false);
    };
    if f.length <= pl {
        Ok(file_root_single_piece(bytes) == h.pieces_root)
    } else {
        let leaves = (pl / BLOCK_SIZE as u64) as usize;
        Ok(h.piece_layer.get(index as usize) == Some(&piece_root(bytes, leaves)))
    }
}

/// SHA-256 of each 16 KiB block of `data` (the last block may be shorter).
pub fn block_hashes(data: &[u8]) -> Vec<[u8; 32]> {
    data.chunks(BLOCK_SIZE)
        .map(|b| Sha256::digest(b).into())
        .collect()
}

fn hash_pair(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(a);
    h.update(b);
    h.finalize().into()
}

/// Root of a subtree with `leaves` (a power of two) zero leaves.
fn zero_subtree(leaves: usize) -> [u8; 32] {
    let mut h = [0u8; 32];
    let mut n = 1;
    while n < leaves {
        h = hash_pair(&h, &h);
        n *= 2;
    }
    h
}

/// Merkle root of `layer`, padded to a power of two with `pad` (the root of an all-zero
/// subtree of the layer's height).
pub fn root_of_layer(layer: &[[u8; 32]], pad: [u8; 32]) -> [u8; 32] {
    if layer.is_empty() {
        return pad;
    }
    let mut level: Vec<[u8; 32]> = layer.to_vec();
    let mut pad = pad;
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            level.push(pad);
        }
        level = level.chunks(2).map(|p| hash_pair(&p[0], &p[1])).collect();
        pad = hash_pair(&pad, &pad);
    }
    level[0]
}

/// Root of a piece-sized subtree over `data` (at most one piece), with `leaves_per_piece`
/// leaves: what a v2 piece layer holds.
pub fn piece_root(data: &[u8], leaves_per_piece: usize) -> [u8; 32] {
    let mut leaves = block_hashes(data);
    leaves.resize(leaves_per_piece.max(1), [0; 32]);
    root_of_layer(&leaves, [0; 32])
}

/// `pieces root` of a file that fits in one piece: its blocks' tree padded to the next
/// power of two of leaves.
pub fn file_root_single_piece(data: &[u8]) -> [u8; 32] {
    root_of_layer(&block_hashes(data), [0; 32])
}

/// The v2 hashes of a whole file held in memory (for tests and builders): the piece layer
/// (empty when the file fits in one piece) and the pieces root.
pub fn file_hashes_v2(data: &[u8], piece_length: u64) -> FileHashes {
    let pl = piece_length as usize;
    let leaves = pl / BLOCK_SIZE;
    if data.len() <= pl {
        return FileHashes {
            pieces_root: file_root_single_piece(data),
            piece_layer: Vec::new(),
        };
    }
    let layer: Vec<[u8; 32]> = data.chunks(pl).map(|p| piece_root(p, leaves)).collect();
    FileHashes {
        pieces_root: root_of_layer(&layer, zero_subtree(leaves)),
        piece_layer: layer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piece_layer_root_equals_flat_tree_root() {
        // A 3.5-piece file with 2-block pieces: the root computed from the piece layer
        // must equal the root of the whole padded block tree.
        let pl = 2 * BLOCK_SIZE as u64;
        let data: Vec<u8> = (0..(7 * BLOCK_SIZE - 100))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let h = file_hashes_v2(&data, pl);
        assert_eq!(h.piece_layer.len(), 4);
        let flat = root_of_layer(&block_hashes(&data), [0; 32]);
        assert_eq!(h.pieces_root, flat);
        // A change in one block changes exactly one piece hash.
        let mut other = data.clone();
        other[3 * BLOCK_SIZE] ^= 1;
        let h2 = file_hashes_v2(&other, pl);
        let diff: Vec<_> = (0..4)
            .filter(|&i| h.piece_layer[i] != h2.piece_layer[i])
            .collect();
        assert_eq!(diff, vec![1]);
    }

    #[test]
    fn single_block_root_is_block_hash() {
        let data = b"hello";
        assert_eq!(
            file_root_single_piece(data),
            <[u8; 32]>::from(Sha256::digest(data))
        );
    }
}
