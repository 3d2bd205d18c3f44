//! BEP 52 merkle trees: SHA-256 over 16 KiB blocks, padded to a power of two.

use sha2::{Digest, Sha256};

/// The size of a v2 leaf block: 16 KiB.
pub const BLOCK_SIZE: u64 = 16 * 1024;

/// SHA-256 of the concatenation of two nodes: a parent in a BEP 52 merkle tree.
#[inline]
pub fn hash_pair(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The hash of a subtree of `2^level` zero leaves (a leaf of padding is 32 zero bytes).
pub fn pad_hash(level: u32) -> [u8; 32] {
    let mut h = [0u8; 32];
    for _ in 0..level {
        h = hash_pair(&h, &h);
    }
    h
}

/// The root of a tree whose bottom layer is `nodes` padded with `pad` to `width` (a power
/// of two ≥ `nodes.len()`); `pad` is the hash of an all-padding node of that layer.
pub(crate) fn root_of(nodes: &[[u8; 32]], width: usize, pad: [u8; 32]) -> [u8; 32] {
    debug_assert!(width.is_power_of_two() && width >= nodes.len());
    if nodes.is_empty() {
        // Only reached for width 1: a tree of pure padding.
        let mut p = pad;
        let mut w = width;
        while w > 1 {
            p = hash_pair(&p, &p);
            w /= 2;
        }
        return p;
    }
    let mut layer: Vec<[u8; 32]> = nodes.to_vec();
    let mut pad = pad;
    let mut w = width;
    while w > 1 {
        let mut next = Vec::with_capacity(layer.len().div_ceil(2));
        for pair in layer.chunks(2) {
            let right = pair.get(1).unwrap_or(&pad);
            next.push(hash_pair(&pair[0], right));
        }
        pad = hash_pair(&pad, &pad);
        layer = next;
        w /= 2;
    }
    layer[0]
}

/// SHA-256 of each 16 KiB block of `data` (the last block may be short).
pub(crate) fn block_hashes(data: &[u8], out: &mut Vec<[u8; 32]>) {
    for block in data.chunks(BLOCK_SIZE as usize) {
        out.push(Sha256::digest(block).into());
    }
}

/// Blocks per piece for a v2 piece length (a power of two ≥ 16 KiB).
pub(crate) fn blocks_per_piece(piece_length: u64) -> usize {
    (piece_length / BLOCK_SIZE).max(1) as usize
}

/// The v2 hash of one piece of a file given its block hashes: the root of the piece's
/// subtree. For a file of at most one piece that is the file's `pieces root`, over
/// the blocks padded only to the next power of two.
pub(crate) fn piece_hash_from_blocks(
    blocks: &[[u8; 32]],
    piece_length: u64,
    file_length: u64,
) -> [u8; 32] {
    let width = if file_length <= piece_length {
        blocks.len().max(1).next_power_of_two()
    } else {
        blocks_per_piece(piece_length)
    };
    root_of(blocks, width, [0; 32])
}

/// The v2 hash of one piece of a file, from the piece's data (file bytes only).
pub(crate) fn piece_hash(data: &[u8], piece_length: u64, file_length: u64) -> [u8; 32] {
    let mut blocks = Vec::with_capacity(data.len().div_ceil(BLOCK_SIZE as usize));
    block_hashes(data, &mut blocks);
    piece_hash_from_blocks(&blocks, piece_length, file_length)
}

/// The `pieces root` of a file of more than one piece, from its piece layer.
pub(crate) fn root_from_layer(layer: &[[u8; 32]], piece_length: u64) -> [u8; 32] {
    let level = blocks_per_piece(piece_length).trailing_zeros();
    let width = layer.len().max(1).next_power_of_two();
    root_of(layer, width, pad_hash(level))
}

/// Checks that `layer` is the piece layer of a file of `file_length` bytes with `root`.
pub(crate) fn check_layer(
    layer: &[[u8; 32]],
    root: [u8; 32],
    file_length: u64,
    piece_length: u64,
) -> Result<(), String> {
    let expected = file_length.div_ceil(piece_length);
    if layer.len() as u64 != expected {
        return Err(format!(
            "{} hashes, expected {expected} for {file_length} bytes",
            layer.len()
        ));
    }
    if root_from_layer(layer, piece_length) != root {
        return Err("does not hash to the file's pieces root".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_block_file_root_is_block_hash() {
        let data = b"hello";
        let root = piece_hash(data, 65536, 5);
        assert_eq!(root, <[u8; 32]>::from(Sha256::digest(data)));
    }

    #[test]
    fn layer_root_matches_block_tree() {
        // A file of 3 pieces of 2 blocks: the root over the 6 blocks padded to 8 must
        // equal the root over the 3 piece hashes padded with the 2-block pad hash.
        let pl = 2 * BLOCK_SIZE;
        let data: Vec<u8> = (0..(5 * BLOCK_SIZE + 100))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut blocks = Vec::new();
        block_hashes(&data, &mut blocks);
        let full = root_of(&blocks, blocks.len().next_power_of_two(), [0; 32]);
        let layer: Vec<[u8; 32]> = data
            .chunks(pl as usize)
            .map(|p| piece_hash(p, pl, data.len() as u64))
            .collect();
        assert_eq!(layer.len(), 3);
        assert_eq!(root_from_layer(&layer, pl), full);
        assert!(check_layer(&layer, full, data.len() as u64, pl).is_ok());
        assert!(check_layer(&layer[..2], full, data.len() as u64, pl).is_err());
    }
}
