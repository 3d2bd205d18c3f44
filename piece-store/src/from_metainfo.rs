//! Building a [`Layout`] and [`PieceHashes`] from a parsed torrent.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::layout::{FileEntry, Layout};
use crate::verify::{FileHashes, PieceHashes};
use metainfo::{Metainfo, TorrentVersion};

impl Layout {
    /// The layout of a torrent: its files in order (pad files and, for v2, alignment
    /// padding included, so file indices match [`Metainfo::files`]), with paths as
    /// metainfo made them safe (`name/dir/file` for a multi-file torrent).
    /// v2-only torrents get a v2 layout (short last piece per file); v1 and hybrid ones
    /// a v1 layout. BEP 47 symlink entries are laid out like pad files (never created).
    pub fn from_metainfo(meta: &Metainfo) -> Result<Self> {
        let files = meta
            .files()
            .iter()
            .map(|f| FileEntry {
                path: f.path.iter().collect::<PathBuf>(),
                length: f.length,
                // BEP 47 symlink entries hold no bytes; creating the link is the caller's
                // choice, so the store never creates a file for them.
                pad: f.pad || f.symlink.is_some(),
            })
            .collect();
        let layout = Layout::with_alignment(
            files,
            meta.piece_length(),
            meta.version() == TorrentVersion::V2,
        )?;
        // Both sides compute the geometry: a disagreement is a bug worth a clear error.
        if layout.num_pieces() != meta.num_pieces() {
            return Err(Error::InvalidLayout(format!(
                "layout has {} pieces, the torrent {}",
                layout.num_pieces(),
                meta.num_pieces()
            )));
        }
        for (i, f) in meta.files().iter().enumerate() {
            if layout.file_start(i)? != f.offset {
                return Err(Error::InvalidLayout(format!(
                    "file {} starts at {} in the layout, {} in the torrent",
                    f.display_path(),
                    layout.file_start(i)?,
                    f.offset
                )));
            }
        }
        Ok(layout)
    }
}

impl PieceHashes {
    /// The hashes a torrent gives: SHA-1 pieces for v1, pieces roots and piece layers for
    /// v2, both for hybrid. A v2 torrent whose piece layers are not known yet (from a
    /// magnet link) is an error; a hybrid one then falls back to its v1 hashes.
    pub fn from_metainfo(meta: &Metainfo) -> Result<Self> {
        let v1 = || -> Vec<[u8; 20]> {
            (0..meta.num_pieces())
                .map(|i| meta.piece_hash_v1(i).unwrap_or([0; 20]))
                .collect()
        };
        let v2 = || -> Result<Vec<Option<FileHashes>>> {
            meta.files()
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    if f.pad || f.length == 0 {
                        return Ok(None);
                    }
                    let root = f.pieces_root.ok_or_else(|| {
                        Error::BadHashes(format!("file {} has no pieces root", f.display_path()))
                    })?;
                    let layer = if f.length > meta.piece_length() {
                        meta.piece_layer(i)
                            .ok_or_else(|| {
                                Error::BadHashes(format!(
                                    "piece layer of {} not known yet",
                                    f.display_path()
                                ))
                            })?
                            .to_vec()
                    } else {
                        Vec::new()
                    };
                    Ok(Some(FileHashes {
                        pieces_root: root,
                        piece_layer: layer,
                    }))
                })
                .collect()
        };
        match meta.version() {
            TorrentVersion::V1 => Ok(PieceHashes::V1(v1())),
            TorrentVersion::V2 => Ok(PieceHashes::V2(v2()?)),
            TorrentVersion::Hybrid => match v2() {
                Ok(v2) => Ok(PieceHashes::Hybrid { v1: v1(), v2 }),
                Err(_) => Ok(PieceHashes::V1(v1())),
            },
        }
    }
}
