//! The parsed torrent: [`Metainfo`] and [`FileEntry`], with piece geometry helpers.

use std::collections::BTreeMap;

use sha1::{Digest, Sha1};

use crate::error::{Error, Result};
use crate::id::InfoHash;
use crate::merkle;
use crate::path::FilePath;

/// Which BitTorrent protocol versions a torrent supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TorrentVersion {
    /// BEP 3: SHA-1 pieces over the concatenation of all files.
    V1,
    /// BEP 52: a SHA-256 merkle tree per file.
    V2,
    /// Both at once (BEP 52 "hybrid"), with pad files so v1 pieces align with v2 files.
    Hybrid,
}

/// One file of a torrent, as laid out in piece space.
///
/// Files are listed in torrent order. Pad files (BEP 47) are listed too, with `pad` set:
/// they are never written to disk, they only fill piece space. For v2-only torrents, the
/// alignment padding between files that the v2 format implies is listed the same way, so
/// every torrent has one model: files follow each other at [`FileEntry::offset`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path components relative to the download folder: `[name]` for a single-file
    /// torrent, `[name, dir.., file]` for a multi-file one. Every component is safe to
    /// join under a folder (see [`sanitize_component`](crate::sanitize_component)), and
    /// no two files have the same path.
    pub path: FilePath,
    /// Length in bytes (0 for symlinks).
    pub length: u64,
    /// Byte offset of the file's first byte in piece space.
    pub offset: u64,
    /// BEP 47 pad file (attribute `p`), or v2 alignment padding: not stored on disk.
    pub pad: bool,
    /// BEP 47 attribute `x`.
    pub executable: bool,
    /// BEP 47 attribute `h`.
    pub hidden: bool,
    /// BEP 47 attribute `l`: the target, as safe components relative to the torrent's
    /// root folder.
    pub symlink: Option<Vec<String>>,
    /// v2 merkle root of the file's 16 KiB blocks (`None` for v1-only torrents, empty
    /// files and pad files).
    pub pieces_root: Option<[u8; 32]>,
    /// The file's modification time (`mtime`), if the torrent gives one.
    pub mtime: Option<i64>,
}

impl FileEntry {
    /// The path joined with `/`, for display.
    pub fn display_path(&self) -> String {
        self.path.to_string()
    }

    /// Offset one past the file's last byte in piece space.
    pub fn end(&self) -> u64 {
        self.offset + self.length
    }
}

/// A parsed .torrent (BEP 3 v1, BEP 52 v2, or hybrid).
///
/// Built by [`Metainfo::from_bytes`] (a whole .torrent), [`Metainfo::from_info_bytes`]
/// (an info dictionary fetched with ut_metadata), or [`TorrentBuilder`](crate::TorrentBuilder).
///
/// A large torrent's parse hashes its info dictionary on a second thread (one for the
/// process, started by the first such parse), and a dropped `Metainfo` leaves its large
/// buffers (64 KiB to 4 MiB each) for the next parse, which then writes into pages
/// already mapped.
///
/// ```
/// # use shoal_metainfo::{Metainfo, TorrentVersion};
/// let torrent = b"d4:infod6:lengthi5e4:name5:a.txt12:piece lengthi16384e\
/// 6:pieces20:aaaaaaaaaaaaaaaaaaaaee";
/// let meta = Metainfo::from_bytes(torrent).unwrap();
/// assert_eq!(meta.name(), "a.txt");
/// assert_eq!(meta.version(), TorrentVersion::V1);
/// assert_eq!(meta.files()[0].path, ["a.txt"]);
/// assert_eq!(meta.num_pieces(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metainfo {
    pub(crate) info_hash: InfoHash,
    pub(crate) info_bytes: Vec<u8>,
    pub(crate) name: String,
    pub(crate) piece_length: u64,
    pub(crate) files: Vec<FileEntry>,
    pub(crate) multi_file: bool,
    pub(crate) piece_space: u64,
    pub(crate) total_length: u64,
    pub(crate) num_pieces: u32,
    /// Where the concatenated SHA-1 piece hashes (v1 and hybrid) lie in `info_bytes`.
    pub(crate) pieces_v1: std::ops::Range<usize>,
    /// Piece layers by file index (v2 files longer than one piece), validated.
    pub(crate) piece_layers: BTreeMap<usize, Vec<[u8; 32]>>,
    pub(crate) trackers: Vec<Vec<String>>,
    pub(crate) web_seeds: Vec<String>,
    pub(crate) private: bool,
    pub(crate) comment: Option<String>,
    pub(crate) created_by: Option<String>,
    pub(crate) creation_date: Option<i64>,
    /// Unknown top-level keys, as raw bencoded values.
    pub(crate) extra: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Unknown info keys, as raw bencoded values (they are also inside `info_bytes`).
    pub(crate) info_extra: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// A large torrent's buffers are kept for the next parse (see `recycle`).
impl Drop for Metainfo {
    fn drop(&mut self) {
        crate::recycle::keep_buffers(self);
    }
}

impl Metainfo {
    /// The torrent's identity (v1, v2 or both), hashed over the info dictionary exactly
    /// as received.
    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// Which protocol versions the torrent supports.
    pub fn version(&self) -> TorrentVersion {
        match self.info_hash {
            InfoHash::V1(_) => TorrentVersion::V1,
            InfoHash::V2(_) => TorrentVersion::V2,
            InfoHash::Hybrid { .. } => TorrentVersion::Hybrid,
        }
    }

    /// The raw bencoded info dictionary, as served to peers by ut_metadata (BEP 9).
    pub fn info_bytes(&self) -> &[u8] {
        &self.info_bytes
    }

    /// The suggested name (sanitised): the file name of a single-file torrent, the folder
    /// name of a multi-file one.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes per piece (the last piece of the torrent, or of a v2 file, may be shorter).
    pub fn piece_length(&self) -> u64 {
        self.piece_length
    }

    /// All files in torrent order, pad files included (see [`FileEntry::pad`]).
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// Whether the files live in a folder named [`Metainfo::name`] (multi-file torrent).
    pub fn is_multi_file(&self) -> bool {
        self.multi_file
    }

    /// Sum of the lengths of the files that are not pad files: what lands on disk.
    pub fn total_length(&self) -> u64 {
        self.total_length
    }

    /// Length of piece space: all files including pad files, i.e. the offset one past
    /// the last byte of the last file.
    pub fn piece_space_length(&self) -> u64 {
        self.piece_space
    }

    /// Number of pieces.
    pub fn num_pieces(&self) -> u32 {
        self.num_pieces
    }

    /// Length of piece `index`: the bytes of piece space it covers (pad bytes included;
    /// in v2-only torrents the last piece of each file is short). 0 if out of range.
    pub fn piece_len(&self, index: u32) -> u64 {
        if index >= self.num_pieces {
            return 0;
        }
        let start = u64::from(index) * self.piece_length;
        let end = (start + self.piece_length).min(self.piece_space);
        if self.version() != TorrentVersion::V2 {
            return end - start;
        }
        // v2 alignment padding is not part of any piece: stop at the end of the last
        // real file that starts in this piece.
        let mut content_end = start;
        for file in self.files_in(start, end) {
            if !file.pad {
                content_end = content_end.max(file.end().min(end));
            }
        }
        content_end - start
    }

    /// The files (pad files included) that overlap piece space `[start, end)`.
    fn files_in(&self, start: u64, end: u64) -> impl Iterator<Item = &FileEntry> {
        let first = self.files.partition_point(|f| f.end() <= start);
        self.files[first..]
            .iter()
            .take_while(move |f| f.offset < end)
            .filter(move |f| f.length > 0 && f.end() > start)
    }

    /// The spans of piece `index` in files: `(file index, offset in file, length)`,
    /// pad files included (their bytes are zeros). Empty if out of range.
    pub fn piece_spans(&self, index: u32) -> Vec<(usize, u64, u64)> {
        let len = self.piece_len(index);
        if len == 0 {
            return Vec::new();
        }
        let start = u64::from(index) * self.piece_length;
        let end = start + len;
        let first = self.files.partition_point(|f| f.end() <= start);
        let mut spans = Vec::new();
        for (i, f) in self.files.iter().enumerate().skip(first) {
            if f.offset >= end {
                break;
            }
            if f.length == 0 {
                continue;
            }
            let from = start.max(f.offset);
            let to = end.min(f.end());
            if to > from {
                spans.push((i, from - f.offset, to - from));
            }
        }
        spans
    }

    /// The non-pad file holding byte `offset` of piece space (binary search).
    fn data_file_at(&self, offset: u64) -> Option<(usize, &FileEntry)> {
        let first = self.files.partition_point(|f| f.end() <= offset);
        self.files[first..]
            .iter()
            .enumerate()
            .take_while(|(_, f)| f.offset <= offset)
            .find(|(_, f)| !f.pad && f.length > 0 && offset < f.end())
            .map(|(i, f)| (first + i, f))
    }

    /// The SHA-1 hash of piece `index` (v1 and hybrid torrents).
    pub fn piece_hash_v1(&self, index: u32) -> Option<[u8; 20]> {
        let i = usize::try_from(index).ok()?;
        let pieces = self.info_bytes.get(self.pieces_v1.clone())?;
        let bytes = pieces.get(i.checked_mul(20)?..i * 20 + 20)?;
        let mut out = [0u8; 20];
        out.copy_from_slice(bytes);
        Some(out)
    }

    /// The v2 piece layer of file `file_index` (v2 and hybrid torrents): one SHA-256
    /// per piece of the file. `None` for files of at most one piece (their
    /// [`FileEntry::pieces_root`] is the piece hash) and for layers not known yet
    /// (a torrent from a magnet link, or a .torrent without `piece layers`).
    pub fn piece_layer(&self, file_index: usize) -> Option<&[[u8; 32]]> {
        self.piece_layers.get(&file_index).map(Vec::as_slice)
    }

    /// Whether every v2 file longer than a piece has its piece layer.
    pub fn has_all_piece_layers(&self) -> bool {
        self.version() == TorrentVersion::V1
            || self.files.iter().enumerate().all(|(i, f)| {
                f.pad || f.length <= self.piece_length || self.piece_layers.contains_key(&i)
            })
    }

    /// Sets the piece layer of a v2 file, after checking it against the file's
    /// `pieces root` (for layers received with BEP 52 hash requests).
    pub fn set_piece_layer(&mut self, file_index: usize, layer: Vec<[u8; 32]>) -> Result<()> {
        let file = self
            .files
            .get(file_index)
            .ok_or_else(|| Error::PieceLayer {
                file: format!("#{file_index}"),
                reason: "no such file".into(),
            })?;
        let root = file.pieces_root.ok_or_else(|| Error::PieceLayer {
            file: file.display_path(),
            reason: "file has no pieces root".into(),
        })?;
        if file.length <= self.piece_length {
            return Err(Error::PieceLayer {
                file: file.display_path(),
                reason: "file fits in one piece and has no piece layer".into(),
            });
        }
        merkle::check_layer(&layer, root, file.length, self.piece_length).map_err(|reason| {
            Error::PieceLayer {
                file: file.display_path(),
                reason,
            }
        })?;
        self.piece_layers.insert(file_index, layer);
        Ok(())
    }

    /// The v2 hash of piece `index`: its piece-layer entry, or the file's pieces root
    /// for a file of one piece. `None` for v1 torrents, pad space, or unknown layers.
    pub fn piece_hash_v2(&self, index: u32) -> Option<[u8; 32]> {
        if self.version() == TorrentVersion::V1 || index >= self.num_pieces {
            return None;
        }
        let start = u64::from(index) * self.piece_length;
        let (file_index, file) = self.data_file_at(start)?;
        if file.length <= self.piece_length {
            return file.pieces_root;
        }
        let layer = self.piece_layers.get(&file_index)?;
        let i = usize::try_from((start - file.offset) / self.piece_length).ok()?;
        layer.get(i).copied()
    }

    /// Checks the data of piece `index` (exactly [`Metainfo::piece_len`] bytes, pad
    /// bytes included) against every hash the torrent has for it: SHA-1 for v1, the
    /// SHA-256 merkle hash for v2 (when its layer is known). `false` if no hash is known.
    pub fn verify_piece(&self, index: u32, data: &[u8]) -> bool {
        if data.len() as u64 != self.piece_len(index) || data.is_empty() {
            return false;
        }
        let mut checked = false;
        if let Some(expected) = self.piece_hash_v1(index) {
            if Sha1::digest(data).as_slice() != expected {
                return false;
            }
            checked = true;
        }
        if let Some(expected) = self.piece_hash_v2(index) {
            let start = u64::from(index) * self.piece_length;
            let Some((_, file)) = self.data_file_at(start) else {
                return false;
            };
            let content = ((file.end() - start).min(data.len() as u64)) as usize;
            let got = merkle::piece_hash(&data[..content], self.piece_length, file.length);
            if got != expected {
                return false;
            }
            checked = true;
        }
        checked
    }

    /// Trackers in tiers (BEP 12); a lone `announce` is one tier of one.
    pub fn trackers(&self) -> &[Vec<String>] {
        &self.trackers
    }

    /// Replaces the trackers (for a torrent built from a magnet link's info dictionary).
    pub fn set_trackers(&mut self, tiers: Vec<Vec<String>>) {
        self.trackers = tiers
            .into_iter()
            .map(|t| t.into_iter().filter(|u| !u.is_empty()).collect::<Vec<_>>())
            .filter(|t| !t.is_empty())
            .collect();
    }

    /// Web seeds (BEP 19 `url-list`).
    pub fn web_seeds(&self) -> &[String] {
        &self.web_seeds
    }

    /// Replaces the web seeds.
    pub fn set_web_seeds(&mut self, urls: Vec<String>) {
        self.web_seeds = urls;
    }

    /// BEP 27 private flag: peers come from the trackers only (no DHT, PEX, LSD).
    pub fn is_private(&self) -> bool {
        self.private
    }

    /// The `comment`, if any.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// The `created by`, if any.
    pub fn created_by(&self) -> Option<&str> {
        self.created_by.as_deref()
    }

    /// The `creation date` (seconds since the Unix epoch), if any.
    pub fn creation_date(&self) -> Option<i64> {
        self.creation_date
    }

    /// Unknown top-level keys with their raw bencoded values, kept as received.
    pub fn extra_fields(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.extra
    }

    /// Unknown keys of the info dictionary with their raw bencoded values.
    pub fn extra_info_fields(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.info_extra
    }

    /// The whole .torrent file: the info dictionary exactly as received (so the
    /// info-hash is unchanged), trackers, web seeds, comment, dates, piece layers and
    /// unknown top-level keys. Keys are written in sorted order.
    pub fn to_torrent_bytes(&self) -> Vec<u8> {
        crate::write::torrent_bytes(self)
    }
}
