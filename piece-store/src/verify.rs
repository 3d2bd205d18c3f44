//! Expected hashes and how pieces are checked against them: SHA-1 (v1) and BEP 52
//! SHA-256 merkle trees of 16 KiB blocks (v2).

use sha1::Sha1;
use sha2::{Digest, Sha256};

use metainfo::{hash_pair, pad_hash};

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

/// How many bytes a verification reads and hashes at a time: small enough that a chunk
/// copied out of the page cache is still in the CPU's L2 cache when it is hashed, large
/// enough that the per-read cost (a system call, a handle lookup) stays small. A multiple
/// of [`BLOCK_SIZE`], so v2 blocks never straddle two chunks.
pub(crate) const CHUNK: usize = 128 * 1024;

/// Alignment of the read buffer: a page. Where the buffer starts within a page matters to
/// the kernel's copy out of the page cache: on this project's AMD EPYC build machine a
/// buffer 16 bytes into a page (what glibc's `malloc` returns for a 128 KiB buffer, which
/// it maps on its own) made every `pread` three times as slow as a page-aligned one.
const BUF_ALIGN: usize = 4096;

/// Scratch space of one verifying thread, reused from piece to piece: the read buffer
/// (one [`CHUNK`], page-aligned) and the leaf hashes of a v2 piece.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    buf: Vec<u8>,
    leaves: Vec<[u8; 32]>,
}

/// `len` (at most [`CHUNK`]) bytes of `buf` starting on a page boundary; `buf` is
/// allocated on first use, once.
fn aligned_chunk(buf: &mut Vec<u8>, len: usize) -> &mut [u8] {
    if buf.len() < CHUNK + BUF_ALIGN {
        *buf = vec![0; CHUNK + BUF_ALIGN];
    }
    let start = (BUF_ALIGN - buf.as_ptr() as usize % BUF_ALIGN) % BUF_ALIGN;
    &mut buf[start..start + len]
}

/// What a v2 piece must hash to.
struct V2Target {
    /// Bytes of the piece inside its file (the rest is padding).
    in_file: usize,
    /// Leaves the tree is padded to: a piece's worth (`leaves_per_piece`) for a piece-layer
    /// entry, the next power of two for a file of one piece.
    leaves: Option<usize>,
    want: [u8; 32],
}

impl PieceHashes {
    /// Check `piece` by reading it chunk by chunk with `read(offset, buf)` (offsets within
    /// the piece) and hashing each chunk while it is still in cache: SHA-1 for v1, SHA-256
    /// of each 16 KiB block for v2, both for hybrid. Same answer as [`Self::check`] on the
    /// whole piece, without holding the piece in memory.
    pub(crate) fn check_streamed(
        &self,
        layout: &Layout,
        piece: u32,
        scratch: &mut Scratch,
        mut read: impl FnMut(u32, &mut [u8]) -> Result<()>,
    ) -> Result<bool> {
        let size = layout.piece_size(piece)? as usize;
        let (v1, v2) = match self {
            PieceHashes::V1(v1) => (Some(v1), None),
            PieceHashes::V2(v2) => (None, Some(v2)),
            PieceHashes::Hybrid { v1, v2 } => (Some(v1), Some(v2)),
        };
        let want_v1 = match v1 {
            Some(v1) => match v1.get(piece as usize) {
                Some(h) => Some(h),
                None => return Ok(false),
            },
            None => None,
        };
        let v2 = match v2 {
            Some(v2) => match v2_target(v2, layout, piece)? {
                Some(t) => Some(t),
                None => return Ok(false),
            },
            None => None,
        };
        // v1 hashes the whole piece (pad bytes as zeros); v2 only the file's bytes.
        let len = if want_v1.is_some() {
            size
        } else {
            v2.as_ref().map_or(size, |t| t.in_file)
        };
        let v2_end = v2.as_ref().map_or(0, |t| t.in_file);
        scratch.leaves.clear();
        let mut sha1 = want_v1.map(|_| Sha1::new());
        let mut done = 0;
        while done < len {
            let n = CHUNK.min(len - done);
            let chunk = aligned_chunk(&mut scratch.buf, n);
            // Offsets fit in u32: a piece is at most MAX_PIECE_LENGTH bytes.
            read(done as u32, chunk)?;
            if let Some(h) = &mut sha1 {
                h.update(&*chunk);
            }
            if done < v2_end {
                let blocks = &chunk[..n.min(v2_end - done)];
                scratch.leaves.extend(
                    blocks
                        .chunks(BLOCK_SIZE)
                        .map(|b| <[u8; 32]>::from(Sha256::digest(b))),
                );
            }
            done += n;
        }
        let v1_ok = match (sha1, want_v1) {
            (Some(h), Some(want)) => h.finalize().as_slice() == want,
            _ => true,
        };
        let v2_ok = match v2 {
            Some(t) => {
                let leaves = t
                    .leaves
                    .unwrap_or_else(|| scratch.leaves.len().next_power_of_two());
                scratch.leaves.resize(leaves.max(1), [0; 32]);
                root_in_place(&mut scratch.leaves) == t.want
            }
            None => true,
        };
        Ok(v1_ok && v2_ok)
    }
}

/// The v2 hash `piece` must match; `None` when the piece layer has no entry for it (a
/// mismatch).
fn v2_target(v2: &[Option<FileHashes>], layout: &Layout, piece: u32) -> Result<Option<V2Target>> {
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
    Ok(if f.length <= pl {
        Some(V2Target {
            in_file,
            leaves: None,
            want: h.pieces_root,
        })
    } else {
        h.piece_layer.get(index as usize).map(|&want| V2Target {
            in_file,
            leaves: Some((pl / BLOCK_SIZE as u64) as usize),
            want,
        })
    })
}

/// Merkle root of `level` (a power of two of hashes), computed in place.
fn root_in_place(level: &mut [[u8; 32]]) -> [u8; 32] {
    let mut n = level.len();
    while n > 1 {
        for i in 0..n / 2 {
            level[i] = hash_pair(&level[2 * i], &level[2 * i + 1]);
        }
        n /= 2;
    }
    level[0]
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
    let Some(t) = v2_target(v2, layout, piece)? else {
        return Ok(false);
    };
    let Some(bytes) = data.get(..t.in_file) else {
        return Ok(false);
    };
    Ok(match t.leaves {
        None => file_root_single_piece(bytes) == t.want,
        Some(leaves) => piece_root(bytes, leaves) == t.want,
    })
}

/// SHA-256 of each 16 KiB block of `data` (the last block may be shorter).
pub fn block_hashes(data: &[u8]) -> Vec<[u8; 32]> {
    data.chunks(BLOCK_SIZE)
        .map(|b| Sha256::digest(b).into())
        .collect()
}

/// Root of a subtree with `leaves` (rounded up to a power of two) zero leaves.
fn zero_subtree(leaves: usize) -> [u8; 32] {
    pad_hash(leaves.max(1).next_power_of_two().trailing_zeros())
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

    /// A layout whose files start on piece boundaries (pad files between them), its
    /// bytes as laid out, and its hybrid (v1 and v2) hashes.
    fn aligned(lens: &[usize], pl: usize) -> (Layout, Vec<u8>, PieceHashes) {
        let mut entries = Vec::new();
        let mut bytes = Vec::new();
        let mut v2 = Vec::new();
        for (i, &len) in lens.iter().enumerate() {
            let data: Vec<u8> = (0..len)
                .map(|j| (j * 31 + i * 7 + (j >> 10)) as u8)
                .collect();
            entries.push(crate::layout::FileEntry::new(format!("f{i}"), len as u64));
            v2.push(Some(file_hashes_v2(&data, pl as u64)));
            bytes.extend_from_slice(&data);
            let pad = (pl - len % pl) % pl;
            if pad > 0 && i + 1 < lens.len() {
                entries.push(crate::layout::FileEntry::pad(pad as u64));
                v2.push(None);
                bytes.resize(bytes.len() + pad, 0);
            }
        }
        let layout = Layout::new(entries, pl as u64).unwrap();
        let v1 = bytes.chunks(pl).map(|p| Sha1::digest(p).into()).collect();
        (layout, bytes, PieceHashes::Hybrid { v1, v2 })
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(16))]
        /// Reading a piece chunk by chunk gives the same answer as hashing it whole, for
        /// v1, v2 and hybrid hashes, pieces smaller and larger than a chunk, good and
        /// damaged data.
        #[test]
        fn streamed_check_matches_whole_piece_check(
            pl_shift in 0u32..5,
            lens in proptest::collection::vec(1usize..400_000, 1..4),
            damage_at in proptest::prelude::any::<usize>(),
        ) {
            let pl = BLOCK_SIZE << pl_shift;
            let (layout, mut bytes, hybrid) = aligned(&lens, pl);
            let PieceHashes::Hybrid { v1, v2 } = hybrid else { unreachable!() };
            let kinds = [
                PieceHashes::V1(v1.clone()),
                PieceHashes::V2(v2.clone()),
                PieceHashes::Hybrid { v1, v2 },
            ];
            let mut scratch = Scratch::default();
            for damaged in [false, true] {
                if damaged {
                    // Flip a byte of a file (not of a pad file, which no hash covers in v2).
                    let i = damage_at % bytes.len();
                    let i = layout
                        .spans_for_range(0, bytes.len() as u64)
                        .unwrap()
                        .filter(|s| !s.pad)
                        .map(|s| s.buf_offset as usize..(s.buf_offset + s.len) as usize)
                        .find(|r| r.contains(&i))
                        .map_or(0, |_| i);
                    bytes[i] ^= 0x40;
                }
                for hashes in &kinds {
                    hashes.validate(&layout).unwrap();
                    let mut all_good = true;
                    for piece in 0..layout.num_pieces() {
                        let (start, size) = layout.piece_range(piece).unwrap();
                        let whole = &bytes[start as usize..start as usize + size as usize];
                        let expect = hashes.check(&layout, piece, whole).unwrap();
                        let got = hashes
                            .check_streamed(&layout, piece, &mut scratch, |off, buf| {
                                let s = start as usize + off as usize;
                                buf.copy_from_slice(&bytes[s..s + buf.len()]);
                                Ok(())
                            })
                            .unwrap();
                        proptest::prop_assert_eq!(got, expect, "piece {} damaged {}", piece, damaged);
                        if !damaged {
                            proptest::prop_assert!(got, "good piece {} fails", piece);
                        }
                        all_good &= got;
                    }
                    proptest::prop_assert_eq!(all_good, !damaged, "damage goes unnoticed");
                }
            }
        }
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
