//! The engine's view of disk: a `piece_store::PieceStore` over the torrent's files, fed
//! with whole pieces that were already hashed in memory (so no bad byte reaches disk).

use std::path::{Path, PathBuf};

use metainfo::{Metainfo, to_hex};
use piece_store::{
    FileEntry, FileHashes, FileStorage, FileStorageOptions, Layout, PieceHashes, PieceStore,
};

use crate::error::{Error, Result};

/// A torrent's files under the output folder, with resume data beside them.
#[derive(Debug)]
pub(crate) struct Store {
    inner: PieceStore<FileStorage>,
    resume_path: PathBuf,
}

/// The piece-store layout and expected hashes of a torrent.
pub(crate) fn layout_and_hashes(meta: &Metainfo) -> Result<(Layout, PieceHashes)> {
    let files: Vec<FileEntry> = meta
        .files()
        .iter()
        .map(|f| {
            if f.pad {
                FileEntry::pad(f.length)
            } else {
                FileEntry::new(f.path.iter().collect::<PathBuf>(), f.length)
            }
        })
        .collect();
    let layout = Layout::new(files, meta.piece_length()).map_err(Error::from_store)?;
    let v1 = || -> Option<Vec<[u8; 20]>> {
        (0..meta.num_pieces())
            .map(|i| meta.piece_hash_v1(i))
            .collect()
    };
    let v2 = || -> Vec<Option<FileHashes>> {
        meta.files()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                if f.pad {
                    return None;
                }
                f.pieces_root.map(|root| FileHashes {
                    pieces_root: root,
                    piece_layer: if f.length > meta.piece_length() {
                        meta.piece_layer(i).map(<[_]>::to_vec).unwrap_or_default()
                    } else {
                        Vec::new()
                    },
                })
            })
            .collect()
    };
    let hashes = match meta.info_hash() {
        metainfo::InfoHash::V1(_) => PieceHashes::V1(v1().unwrap_or_default()),
        metainfo::InfoHash::V2(_) => PieceHashes::V2(v2()),
        metainfo::InfoHash::Hybrid { .. } => PieceHashes::Hybrid {
            v1: v1().unwrap_or_default(),
            v2: v2(),
        },
    };
    Ok((layout, hashes))
}

impl Store {
    /// Opens (creating folders as needed) the files of `meta` under `output`, and finds
    /// which pieces are already there: from resume data when it is valid, else by hashing
    /// what is on disk. `recheck` forces hashing everything.
    pub fn open(meta: &Metainfo, output: &Path, recheck: bool) -> Result<Store> {
        let (layout, hashes) = layout_and_hashes(meta)?;
        let storage = FileStorage::new(output, &layout, FileStorageOptions::default())
            .map_err(Error::from_store)?;
        let resume_path = output
            .join(".shoal")
            .join(format!("{}.resume", to_hex(&meta.info_hash().wire())));
        let inner = if recheck {
            let store = PieceStore::new(layout, storage, hashes).map_err(Error::from_store)?;
            store.recheck_all(0, &|_| {}).map_err(Error::from_store)?;
            store
        } else {
            PieceStore::open_with_resume(layout, storage, hashes, &resume_path, 0)
                .map_err(Error::from_store)?
        };
        Ok(Store { inner, resume_path })
    }

    /// Which pieces are verified.
    pub fn have(&self) -> Vec<bool> {
        let bf = self.inner.bitfield();
        (0..bf.len()).map(|i| bf.get(i)).collect()
    }

    /// Checks a whole piece held in memory against its hash (call off the network tasks).
    pub fn check(&self, piece: u32, data: &[u8]) -> Result<bool> {
        self.inner
            .hashes()
            .check(self.inner.layout(), piece, data)
            .map_err(Error::from_store)
    }

    /// Writes a whole piece that passed [`Store::check`] and records it as verified.
    pub fn write_piece(&self, piece: u32, data: &[u8]) -> Result<()> {
        self.inner
            .write_block(piece, 0, data)
            .map_err(Error::from_store)?;
        self.inner.mark_verified(piece).map_err(Error::from_store)
    }

    /// Size of `piece` in the layout, pad bytes included (v2 and hybrid torrents end files
    /// on piece boundaries; peers may ask for those zeros).
    pub fn piece_size(&self, piece: u32) -> u32 {
        self.inner.layout().piece_size(piece).unwrap_or(0)
    }

    /// Reads part of a verified piece for upload.
    /// Bytes past the piece's end (v2 block padding) read as zeros.
    pub fn read_into(&self, piece: u32, offset: u32, buf: &mut [u8]) -> Result<()> {
        let size = self.piece_size(piece);
        let inside = (size.saturating_sub(offset) as usize).min(buf.len());
        let (data, pad) = buf.split_at_mut(inside);
        pad.fill(0);
        self.inner
            .read_block_into(piece, offset, data)
            .map_err(Error::from_store)
    }

    /// Flushes and records which pieces are verified, so a restart continues from here.
    pub fn save_resume(&self) -> Result<()> {
        if let Some(dir) = self.resume_path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::Disk(format!("cannot create the folder {}: {e}", dir.display()))
            })?;
        }
        self.inner
            .save_resume(&self.resume_path)
            .map_err(Error::from_store)
    }
}
