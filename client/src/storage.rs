//! The engine's view of disk: a `piece_store::PieceStore` over the torrent's files, fed
//! with whole pieces that were already hashed in memory (so no bad byte reaches disk).

use std::path::{Path, PathBuf};

use std::io::Write;

use metainfo::{InfoHash, Metainfo, to_hex};
use piece_store::{FileStorage, FileStorageOptions, Layout, PieceHashes, PieceStore};

use crate::error::{Error, Result};

/// A torrent's files under the output folder, with resume data beside them.
#[derive(Debug)]
pub(crate) struct Store {
    inner: PieceStore<FileStorage>,
    resume_path: PathBuf,
}

/// The piece-store layout and expected hashes of a torrent (v2 files start on piece
/// boundaries; a hybrid torrent whose piece layers are not known yet uses its v1 hashes).
pub(crate) fn layout_and_hashes(meta: &Metainfo) -> Result<(Layout, PieceHashes)> {
    let unusable =
        |e: piece_store::Error| Error::BadTorrent(format!("cannot store this torrent: {e}"));
    let layout = Layout::from_metainfo(meta).map_err(unusable)?;
    let hashes = PieceHashes::from_metainfo(meta).map_err(unusable)?;
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
        let resume_path = state_file(output, &meta.info_hash(), "resume");
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

    /// Checks a whole piece held in memory against its hash.
    #[cfg(test)]
    pub fn check(&self, piece: u32, data: &[u8]) -> Result<bool> {
        self.inner
            .hashes()
            .check(self.inner.layout(), piece, data)
            .map_err(Error::from_store)
    }

    /// Hashes a whole piece held in memory (call off the network tasks); if it is good,
    /// writes it and records it as verified under the store's piece lock. `false`: the
    /// hash did not match and nothing was written.
    pub fn write_piece(&self, piece: u32, data: &[u8]) -> Result<bool> {
        self.inner
            .write_piece(piece, data)
            .map_err(Error::from_store)
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

/// Where a magnet download keeps its metadata once fetched:
/// `<output>/.shoal/<info-hash hex>.torrent`, named by the magnet's 20-byte wire hash
/// like the resume data beside it.
pub(crate) fn saved_torrent_path(output: &Path, info_hash: &InfoHash) -> PathBuf {
    state_file(output, info_hash, "torrent")
}

/// Deletes the state shoal keeps for these hashes beside a download (resume data, saved
/// metadata), then the `.shoal` folder if nothing else is left in it.
pub(crate) fn forget_state(output: &Path, hashes: &[InfoHash]) -> Result<()> {
    for ih in hashes {
        for ext in ["resume", "torrent"] {
            remove_if_present(&state_file(output, ih, ext))?;
        }
    }
    // Fails while other torrents' state is there: that is the point.
    let _ = std::fs::remove_dir(output.join(".shoal"));
    Ok(())
}

/// Deletes a torrent's files under `output` (pad files were never written), then the
/// folders inside the torrent's own folder that this leaves empty.
pub(crate) fn delete_files(meta: &Metainfo, output: &Path) -> Result<()> {
    let mut folders = std::collections::BTreeSet::new();
    for f in meta.files().iter().filter(|f| !f.pad) {
        let path = f.path.iter().fold(output.to_path_buf(), |p, c| p.join(c));
        remove_if_present(&path)?;
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| d.starts_with(output) && *d != output) {
            folders.insert(d.to_path_buf());
            dir = d.parent();
        }
    }
    // Deepest first; a folder that still holds something else stays.
    for d in folders.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
    Ok(())
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Disk(format!(
            "cannot delete {}: {e}",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// `<output>/.shoal/<20-byte wire hash in hex>.<ext>`: where shoal keeps a torrent's
/// state beside its download.
fn state_file(output: &Path, info_hash: &InfoHash, ext: &str) -> PathBuf {
    output
        .join(".shoal")
        .join(format!("{}.{ext}", to_hex(&info_hash.wire())))
}

/// Writes `meta` as a whole .torrent (its info dictionary byte for byte, its piece layers,
/// `trackers` as announce-list) to `path`, atomically: a temporary file in the same folder,
/// flushed to disk, then renamed over `path`, so a crash leaves the old file or the new
/// one, never half of one.
pub(crate) fn save_torrent(path: &Path, meta: &Metainfo, trackers: &[Vec<String>]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        Error::Disk(format!("cannot {what} {}: {e}", path.display()))
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Disk(format!("cannot create the folder {}: {e}", dir.display())))?;
    let mut full = meta.clone();
    full.set_trackers(trackers.to_vec());
    let bytes = full.to_torrent_bytes();
    let mut tmp = tempfile::Builder::new()
        .prefix(".torrent-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| fail("write", &e))?;
    tmp.write_all(&bytes).map_err(|e| fail("write", &e))?;
    tmp.as_file().sync_all().map_err(|e| fail("write", &e))?;
    tmp.persist(path).map_err(|e| fail("write", &e.error))?;
    Ok(())
}

/// Reads the metadata a previous run saved for a magnet link with `expected` (see
/// [`save_torrent`]). `Ok(None)`: there is none. `Err`: there is a file but it cannot be
/// used (unreadable, does not parse, or is another torrent's), said in one sentence.
/// Every hash the magnet gives (v1, v2 or both) must equal the one computed from the
/// saved info dictionary; piece layers were checked against their roots by the parser.
pub(crate) fn load_saved_torrent(
    path: &Path,
    expected: &InfoHash,
) -> std::result::Result<Option<Metainfo>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let meta = Metainfo::from_bytes(&bytes)
        .map_err(|e| format!("{} does not parse: {e}", path.display()))?;
    let got = meta.info_hash();
    let v1_ok = expected.v1().is_none_or(|h| got.v1() == Some(h));
    let v2_ok = expected.v2().is_none_or(|h| got.v2() == Some(h));
    if !(v1_ok && v2_ok) {
        return Err(format!(
            "{} is another torrent (info-hash {}, the magnet link's is {})",
            path.display(),
            to_hex(&got.wire()),
            to_hex(&expected.wire())
        ));
    }
    Ok(Some(meta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use metainfo::{TorrentBuilder, TorrentVersion};

    /// A v2 folder: each file starts on a piece boundary and ends with a short piece,
    /// and the store agrees with the torrent on every piece size and hash.
    #[test]
    fn v2_files_end_with_short_pieces() {
        let src = tempfile::tempdir().expect("tempdir");
        let dir = src.path().join("t");
        std::fs::create_dir(&dir).expect("mkdir");
        let a: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let b: Vec<u8> = (0..40_000u32).map(|i| (i % 241) as u8).collect();
        std::fs::write(dir.join("a"), &a).expect("write a");
        std::fs::write(dir.join("b"), &b).expect("write b");
        let meta = TorrentBuilder::new(&dir)
            .version(TorrentVersion::V2)
            .piece_length(16 * 1024)
            .build()
            .expect("build");
        let out = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&meta, out.path(), false).expect("open");
        assert_eq!(meta.num_pieces(), 5);
        for i in 0..meta.num_pieces() {
            assert_eq!(
                u64::from(store.piece_size(i)),
                meta.piece_len(i),
                "piece {i}"
            );
        }
        assert_eq!(store.piece_size(1), 20_000 - 16_384);
        assert!(store.check(1, &a[16_384..]).expect("check a's tail"));
        assert!(store.check(2, &b[..16_384]).expect("check b's head"));
        assert!(!store.check(2, &a[..16_384]).expect("check wrong data"));
    }

    /// A saved torrent is used only when every hash the magnet link names matches: a v1,
    /// a v2 or a hybrid link for a hybrid torrent, never another torrent's hashes; a file
    /// that does not parse is an error, a missing one is `None`.
    #[test]
    fn saved_torrent_round_trips_and_must_match_the_magnet() {
        let src = tempfile::tempdir().expect("tempdir");
        let dir = src.path().join("h");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(dir.join("a"), vec![3u8; 70_000]).expect("write a");
        std::fs::write(dir.join("b"), vec![4u8; 10]).expect("write b");
        let built = TorrentBuilder::new(&dir)
            .version(TorrentVersion::Hybrid)
            .piece_length(16 * 1024)
            .build()
            .expect("build");
        // What a magnet download has: the bare info dictionary plus its layers.
        let mut meta = Metainfo::from_info_bytes(built.info_bytes()).expect("info");
        meta.set_piece_layer(0, built.piece_layer(0).expect("layer").to_vec())
            .expect("layer checks out");
        let ih = meta.info_hash();
        let out = tempfile::tempdir().expect("tempdir");
        let path = saved_torrent_path(out.path(), &ih);
        assert_eq!(load_saved_torrent(&path, &ih), Ok(None));
        let trackers = vec![vec!["http://127.0.0.1:1/announce".to_string()]];
        save_torrent(&path, &meta, &trackers).expect("save");

        let (v1, v2) = (ih.v1().expect("v1"), ih.v2().expect("v2"));
        for magnet in [ih, InfoHash::V1(v1), InfoHash::V2(v2)] {
            let got = load_saved_torrent(&path, &magnet)
                .expect("usable")
                .expect("present");
            assert_eq!(got.info_bytes(), built.info_bytes());
            assert_eq!(got.trackers(), trackers.as_slice());
            assert!(got.has_all_piece_layers());
        }
        for other in [
            InfoHash::V1([9; 20]),
            InfoHash::V2([9; 32]),
            InfoHash::Hybrid { v1, v2: [9; 32] },
        ] {
            let e = load_saved_torrent(&path, &other).expect_err("another torrent");
            assert!(e.contains("is another torrent"), "{e}");
        }
        std::fs::write(&path, b"d4:infod").expect("corrupt");
        let e = load_saved_torrent(&path, &ih).expect_err("corrupt");
        assert!(e.contains("does not parse"), "{e}");
    }
}
