//! Files and pieces: map any (piece, offset, length) or absolute byte range to file spans.

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use sha1::{Digest, Sha1};

use crate::error::{Error, Result};

/// Largest piece length accepted (2 GiB), so piece sizes and block offsets fit in `u32`.
pub const MAX_PIECE_LENGTH: u64 = 1 << 31;

/// One file of a layout.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileEntry {
    /// Path relative to the storage root, one component per folder level.
    /// Must be relative with only normal components (no `..`, no root, no `.`).
    pub path: PathBuf,
    /// Length in bytes (zero-length files are allowed and are created on disk).
    pub length: u64,
    /// A BEP 47 pad file: its bytes are zeros, never written to or read from disk.
    pub pad: bool,
}

impl FileEntry {
    /// A regular file.
    pub fn new(path: impl Into<PathBuf>, length: u64) -> Self {
        FileEntry {
            path: path.into(),
            length,
            pad: false,
        }
    }

    /// A pad file of `length` zero bytes (its path is only a label, `.pad/<length>`).
    pub fn pad(length: u64) -> Self {
        FileEntry {
            path: PathBuf::from(".pad").join(length.to_string()),
            length,
            pad: true,
        }
    }
}

/// A piece of a layout that falls in one file: the file and the bytes of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    /// Index of the file in [`Layout::files`].
    pub file_index: usize,
    /// Offset inside that file.
    pub file_offset: u64,
    /// Number of bytes.
    pub len: u64,
    /// Offset of this span inside the requested range (the caller's buffer).
    pub buf_offset: u64,
    /// True when the file is a pad file: read as zeros, never written.
    pub pad: bool,
}

/// Files laid end to end (v1) or each on a piece boundary (v2), cut into pieces.
///
/// ```
/// use shoal_piece_store::{FileEntry, Layout};
/// let layout = Layout::new(
///     vec![FileEntry::new("a.bin", 5), FileEntry::pad(3), FileEntry::new("dir/b.bin", 10)],
///     8,
/// )
/// .unwrap();
/// assert_eq!(layout.num_pieces(), 3);
/// assert_eq!(layout.piece_size(2).unwrap(), 2);
/// let spans: Vec<_> = layout.spans_for_range(4, 6).unwrap().collect();
/// assert_eq!(spans.len(), 3); // a.bin, the pad, b.bin
/// assert_eq!((spans[2].file_index, spans[2].file_offset, spans[2].len), (2, 0, 2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    files: Vec<FileEntry>,
    /// Absolute start of each file in the piece space.
    starts: Vec<u64>,
    piece_length: u64,
    /// End of the piece space (end of the last file's bytes).
    end: u64,
    num_pieces: u32,
    v2_aligned: bool,
}

impl Layout {
    /// A v1 layout: files back to back, pieces of `piece_length` bytes, the last one shorter.
    pub fn new(files: Vec<FileEntry>, piece_length: u64) -> Result<Self> {
        Self::build(files, piece_length, false)
    }

    /// A v2 (BEP 52) layout: every non-empty file starts on a piece boundary, a piece never
    /// spans two files, and the last piece of each file is shorter. Pad entries, if
    /// listed, are placed as they come (the gap they fill then needs no alignment).
    /// `piece_length` must be a power of two, at least 16 KiB.
    pub fn new_v2(files: Vec<FileEntry>, piece_length: u64) -> Result<Self> {
        if piece_length < crate::verify::BLOCK_SIZE as u64 || !piece_length.is_power_of_two() {
            return Err(Error::InvalidLayout(format!(
                "v2 piece length {piece_length} is not a power of two of at least 16 KiB"
            )));
        }
        Self::build(files, piece_length, true)
    }

    /// A layout from explicit parts: `v2_aligned` chooses [`Layout::new_v2`] or [`Layout::new`].
    pub fn with_alignment(
        files: Vec<FileEntry>,
        piece_length: u64,
        v2_aligned: bool,
    ) -> Result<Self> {
        if v2_aligned {
            Self::new_v2(files, piece_length)
        } else {
            Self::new(files, piece_length)
        }
    }

    fn build(files: Vec<FileEntry>, piece_length: u64, v2_aligned: bool) -> Result<Self> {
        if piece_length == 0 || piece_length > MAX_PIECE_LENGTH {
            return Err(Error::InvalidLayout(format!(
                "piece length {piece_length} is not in 1..={MAX_PIECE_LENGTH}"
            )));
        }
        let mut seen: HashSet<&Path> = HashSet::new();
        for f in files.iter().filter(|f| !f.pad) {
            check_relative(&f.path)?;
            if !seen.insert(&f.path) {
                return Err(Error::InvalidLayout(format!(
                    "file {:?} listed twice",
                    f.path
                )));
            }
        }
        for f in files.iter().filter(|f| !f.pad) {
            for ancestor in f.path.ancestors().skip(1) {
                if seen.contains(ancestor) {
                    return Err(Error::InvalidLayout(format!(
                        "{:?} is both a file and the folder of {:?}",
                        ancestor, f.path
                    )));
                }
            }
        }
        let mut starts = Vec::with_capacity(files.len());
        let mut pos: u64 = 0;
        for f in &files {
            // Pad entries (e.g. the alignment padding a v2 metainfo lists) are laid as
            // they come; real files are aligned.
            if v2_aligned && f.length > 0 && !f.pad {
                pos = pos
                    .div_ceil(piece_length)
                    .checked_mul(piece_length)
                    .ok_or_else(too_big)?;
            }
            starts.push(pos);
            pos = pos.checked_add(f.length).ok_or_else(too_big)?;
        }
        let num_pieces = u32::try_from(pos.div_ceil(piece_length))
            .map_err(|_| Error::InvalidLayout(format!("more than {} pieces", u32::MAX)))?;
        Ok(Layout {
            files,
            starts,
            piece_length,
            end: pos,
            num_pieces,
            v2_aligned,
        })
    }

    /// Number of pieces.
    pub fn num_pieces(&self) -> u32 {
        self.num_pieces
    }

    /// The nominal piece length.
    pub fn piece_length(&self) -> u64 {
        self.piece_length
    }

    /// True for a v2 layout (each file on a piece boundary).
    pub fn is_v2_aligned(&self) -> bool {
        self.v2_aligned
    }

    /// The files, in order.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// Number of files (pad and empty files included).
    pub fn num_files(&self) -> usize {
        self.files.len()
    }

    /// End of the piece space: the absolute offset just past the last file's bytes.
    /// For v1 layouts this is the total length (pad files included).
    pub fn total_length(&self) -> u64 {
        self.end
    }

    /// Absolute offset of file `index` in the piece space.
    pub fn file_start(&self, index: usize) -> Result<u64> {
        self.starts
            .get(index)
            .copied()
            .ok_or(Error::FileOutOfRange {
                index,
                num_files: self.files.len(),
            })
    }

    /// Absolute start and size of a piece.
    pub fn piece_range(&self, piece: u32) -> Result<(u64, u32)> {
        self.check_piece(piece)?;
        let start = u64::from(piece) * self.piece_length;
        let mut end = (start + self.piece_length).min(self.end);
        if self.v2_aligned {
            let f = self.file_at(start);
            end = end.min(self.starts[f] + self.files[f].length);
        }
        // piece_length <= 2^31, so the size fits.
        Ok((start, (end - start) as u32))
    }

    /// Size of a piece in bytes (the last piece, and in v2 the last piece of each file,
    /// may be shorter than the piece length).
    pub fn piece_size(&self, piece: u32) -> Result<u32> {
        Ok(self.piece_range(piece)?.1)
    }

    /// Spans of `len` bytes starting `offset` bytes into `piece`.
    /// Errors when the range leaves the piece.
    pub fn spans(&self, piece: u32, offset: u32, len: u32) -> Result<Spans<'_>> {
        let (start, size) = self.piece_range(piece)?;
        if u64::from(offset) + u64::from(len) > u64::from(size) {
            return Err(Error::RangeOutOfBounds {
                what: format!("piece {piece}"),
                offset: offset.into(),
                len: len.into(),
                size: size.into(),
            });
        }
        Ok(self.spans_unchecked(start + u64::from(offset), len.into()))
    }

    /// Spans of any absolute byte range of the piece space. In a v2 layout the gaps between
    /// files belong to no span (`buf_offset` skips them).
    pub fn spans_for_range(&self, abs_start: u64, len: u64) -> Result<Spans<'_>> {
        match abs_start.checked_add(len) {
            Some(end) if end <= self.end => Ok(self.spans_unchecked(abs_start, len)),
            _ => Err(Error::RangeOutOfBounds {
                what: "the layout".into(),
                offset: abs_start,
                len,
                size: self.end,
            }),
        }
    }

    /// Spans covering a whole piece.
    pub fn piece_spans(&self, piece: u32) -> Result<Spans<'_>> {
        let (start, size) = self.piece_range(piece)?;
        Ok(self.spans_unchecked(start, size.into()))
    }

    fn spans_unchecked(&self, start: u64, len: u64) -> Spans<'_> {
        let first = self.first_file_ending_after(start);
        Spans {
            layout: self,
            next_file: first,
            start,
            end: start + len,
        }
    }

    /// First file whose end is past `pos` (ends are non-decreasing).
    fn first_file_ending_after(&self, pos: u64) -> usize {
        let mut lo = 0;
        let mut hi = self.files.len();
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.starts[mid] + self.files[mid].length > pos {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    }

    /// The non-empty file holding absolute byte `pos` (pos < end).
    fn file_at(&self, pos: u64) -> usize {
        self.first_file_ending_after(pos)
            .min(self.files.len().saturating_sub(1))
    }

    /// Files that hold bytes of `piece`: pad files included, and zero-length files that
    /// lie strictly inside the piece as well (they hold no bytes).
    pub fn files_of_piece(&self, piece: u32) -> Result<Range<usize>> {
        let (start, size) = self.piece_range(piece)?;
        let first = self.first_file_ending_after(start);
        let end = start + u64::from(size);
        let mut last = first;
        while last < self.files.len() && self.starts[last] < end {
            last += 1;
        }
        Ok(first..last)
    }

    /// Pieces holding bytes of file `index` (empty for empty files).
    pub fn pieces_of_file(&self, index: usize) -> Result<Range<u32>> {
        let start = self.file_start(index)?;
        let len = self.files[index].length;
        if len == 0 {
            return Ok(0..0);
        }
        let first = start / self.piece_length;
        let last = (start + len).div_ceil(self.piece_length);
        Ok(first as u32..last as u32)
    }

    /// For a piece of a layout whose files start on piece boundaries (v2, or v1 with pad
    /// files): the file holding it and the piece's index inside that file.
    /// `None` when the piece starts inside a pad file or in an unaligned file.
    pub fn v2_piece(&self, piece: u32) -> Result<Option<(usize, u32)>> {
        let (start, _) = self.piece_range(piece)?;
        let f = self.file_at(start);
        let fs = self.starts[f];
        if self.files[f].pad || !fs.is_multiple_of(self.piece_length) {
            return Ok(None);
        }
        Ok(Some((f, ((start - fs) / self.piece_length) as u32)))
    }

    /// A digest of the layout (paths, lengths, pad flags, piece length, alignment), used to
    /// tie a resume file to its layout.
    pub fn fingerprint(&self) -> [u8; 20] {
        let mut h = Sha1::new();
        h.update(b"shoal-layout-1");
        h.update(self.piece_length.to_le_bytes());
        h.update([u8::from(self.v2_aligned)]);
        h.update((self.files.len() as u64).to_le_bytes());
        for f in &self.files {
            let p = f.path.to_string_lossy();
            h.update((p.len() as u64).to_le_bytes());
            h.update(p.as_bytes());
            h.update(f.length.to_le_bytes());
            h.update([u8::from(f.pad)]);
        }
        h.finalize().into()
    }

    fn check_piece(&self, piece: u32) -> Result<()> {
        if piece >= self.num_pieces {
            return Err(Error::PieceOutOfRange {
                piece,
                num_pieces: self.num_pieces,
            });
        }
        Ok(())
    }
}

fn too_big() -> Error {
    Error::InvalidLayout("total length overflows u64".into())
}

/// Refuse anything but a non-empty relative path of normal components.
pub(crate) fn check_relative(path: &Path) -> Result<()> {
    let bad = |reason| {
        Err(Error::UnsafePath {
            path: path.to_path_buf(),
            reason,
        })
    };
    if path.as_os_str().is_empty() {
        return bad("empty path");
    }
    for c in path.components() {
        match c {
            Component::Normal(_) => {}
            Component::ParentDir => return bad("contains `..`"),
            Component::RootDir | Component::Prefix(_) => return bad("is absolute"),
            Component::CurDir => return bad("contains `.`"),
        }
    }
    Ok(())
}

/// Iterator over the [`Span`]s of a range; see [`Layout::spans`].
#[derive(Debug, Clone)]
pub struct Spans<'a> {
    layout: &'a Layout,
    next_file: usize,
    start: u64,
    end: u64,
}

impl Iterator for Spans<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        let l = self.layout;
        while self.next_file < l.files.len() {
            let i = self.next_file;
            let fs = l.starts[i];
            let fe = fs + l.files[i].length;
            if fs >= self.end {
                return None;
            }
            self.next_file += 1;
            let (lo, hi) = (fs.max(self.start), fe.min(self.end));
            if lo < hi {
                return Some(Span {
                    file_index: i,
                    file_offset: lo - fs,
                    len: hi - lo,
                    buf_offset: lo - self.start,
                    pad: l.files[i].pad,
                });
            }
        }
        None
    }
}
