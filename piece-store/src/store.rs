//! `PieceStore`: blocks in, pieces verified, resume data out.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::bitfield::Bitfield;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::resume::ResumeData;
use crate::storage::Storage;
use crate::verify::{PieceHashes, Scratch};

/// What [`PieceStore::write_block`] did with a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BlockWrite {
    /// Written; the piece still lacks bytes.
    Partial,
    /// Written; every byte of the piece has now been written: time to verify it.
    PieceComplete,
    /// Dropped: the piece is already verified, its bytes are never overwritten.
    AlreadyHave,
}

/// Progress of a recheck, passed to the caller's callback after each piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecheckProgress {
    /// Pieces checked so far.
    pub checked: u32,
    /// Pieces to check in all.
    pub total: u32,
    /// Pieces found good so far.
    pub good: u32,
}

/// What [`PieceStore::apply_resume`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResumeOutcome {
    /// Pieces claimed from the resume data without hashing (their files are unchanged).
    pub claimed: u32,
    /// Pieces the resume data claims but whose files changed size or time: recheck them.
    pub to_recheck: Vec<u32>,
}

/// Writes blocks of pieces in any order into a [`Storage`], reads them back, verifies
/// pieces against [`PieceHashes`] and records which are verified.
///
/// Every method takes `&self`: the store can be shared (`Arc`) between threads, e.g. a
/// tokio `spawn_blocking` pool. Writes and verifications of *different* pieces run in
/// parallel; the bookkeeping is behind one short-held mutex. A verification excludes
/// writes to its piece (striped piece locks), so no block lands in a piece between its
/// check and its claim; blocks arriving for a verified piece are dropped.
///
/// ```
/// use shoal_piece_store::{FileEntry, Layout, MemStorage, PieceHashes, PieceStore, BlockWrite};
/// use sha1::{Digest, Sha1};
/// let layout = Layout::new(vec![FileEntry::new("a", 6), FileEntry::new("b", 4)], 8).unwrap();
/// let data = b"0123456789";
/// let hashes = data.chunks(8).map(|p| Sha1::digest(p).into()).collect();
/// let store = PieceStore::new(layout.clone(), MemStorage::new(&layout), PieceHashes::V1(hashes)).unwrap();
/// assert_eq!(store.write_block(1, 0, b"89").unwrap(), BlockWrite::PieceComplete);
/// assert!(store.verify_piece(1).unwrap());
/// assert_eq!(store.write_block(0, 4, b"4567").unwrap(), BlockWrite::Partial);
/// assert_eq!(store.write_block(0, 0, b"0123").unwrap(), BlockWrite::PieceComplete);
/// assert!(store.verify_piece(0).unwrap());
/// assert!(store.is_complete());
/// assert_eq!(store.read_block(0, 5, 3).unwrap(), b"567");
/// ```
#[derive(Debug)]
pub struct PieceStore<S: Storage> {
    layout: Layout,
    storage: S,
    hashes: PieceHashes,
    state: Mutex<State>,
    empty_files_created: AtomicBool,
    save_lock: Mutex<()>,
    /// Piece locks, striped: writers of a piece share, a verification excludes them, so a
    /// block can never land in a piece between its check and its claim.
    stripes: Vec<RwLock<()>>,
}

const STRIPES: usize = 256;

#[derive(Debug)]
struct State {
    have: Bitfield,
    /// Byte ranges written so far of pieces not yet verified, sorted and merged.
    partial: HashMap<u32, Vec<(u32, u32)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<S: Storage> PieceStore<S> {
    /// A store with no piece verified. Fails when `hashes` do not fit `layout`.
    pub fn new(layout: Layout, storage: S, hashes: PieceHashes) -> Result<Self> {
        hashes.validate(&layout)?;
        let n = layout.num_pieces();
        Ok(PieceStore {
            layout,
            storage,
            hashes,
            state: Mutex::new(State {
                have: Bitfield::new(n),
                partial: HashMap::new(),
            }),
            empty_files_created: AtomicBool::new(false),
            save_lock: Mutex::new(()),
            stripes: (0..STRIPES).map(|_| RwLock::new(())).collect(),
        })
    }

    /// Open a store and restore what `resume_path` records: pieces whose files are
    /// unchanged are claimed, pieces of changed files are rechecked on `threads` threads.
    /// With no (or an unusable) resume file, every piece is rechecked, except those that
    /// need a file that does not exist.
    pub fn open_with_resume(
        layout: Layout,
        storage: S,
        hashes: PieceHashes,
        resume_path: impl AsRef<Path>,
        threads: usize,
    ) -> Result<Self> {
        let store = Self::new(layout, storage, hashes)?;
        let resume = match ResumeData::load(resume_path) {
            Ok(r) => r,
            Err(Error::BadResume { .. }) => None,
            Err(e) => return Err(e),
        };
        let to_check: Vec<u32> = match resume.map(|r| store.apply_resume(&r)) {
            Some(Ok(outcome)) => outcome.to_recheck,
            Some(Err(Error::BadResume { .. })) | None => (0..store.layout.num_pieces()).collect(),
            Some(Err(e)) => return Err(e),
        };
        let to_check = store.skip_missing_files(to_check)?;
        store.recheck_pieces(&to_check, threads, &|_| {})?;
        Ok(store)
    }

    /// `pieces` without those that need bytes of a file that does not exist: they cannot
    /// be complete. A fresh download has no files yet, and finding that out by opening a
    /// missing file once per piece cost more than the rest of opening the store (1,024
    /// failed `open`s for a 1 GiB torrent of 1 MiB pieces).
    fn skip_missing_files(&self, pieces: Vec<u32>) -> Result<Vec<u32>> {
        let files = self.layout.files();
        let missing = (0..files.len())
            .map(|i| {
                let f = &files[i];
                Ok(!f.pad && f.length > 0 && self.storage.stamp(i)?.is_none())
            })
            .collect::<Result<Vec<bool>>>()?;
        if !missing.contains(&true) {
            return Ok(pieces);
        }
        let mut keep = Vec::with_capacity(pieces.len());
        for piece in pieces {
            let mut spans = self.layout.piece_spans(piece)?;
            if !spans.any(|s| !s.pad && s.len > 0 && missing[s.file_index]) {
                keep.push(piece);
            }
        }
        Ok(keep)
    }

    fn writing(&self, piece: u32) -> RwLockReadGuard<'_, ()> {
        let l = &self.stripes[piece as usize % STRIPES];
        l.read().unwrap_or_else(|e| e.into_inner())
    }

    fn verifying(&self, piece: u32) -> RwLockWriteGuard<'_, ()> {
        let l = &self.stripes[piece as usize % STRIPES];
        l.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The storage.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// The expected hashes.
    pub fn hashes(&self) -> &PieceHashes {
        &self.hashes
    }

    /// Write `data` at `offset` in `piece`. Blocks may come in any order and any size;
    /// a block of a piece already verified is dropped. On error nothing is recorded for
    /// the block (write it again later).
    pub fn write_block(&self, piece: u32, offset: u32, data: &[u8]) -> Result<BlockWrite> {
        let len = u32::try_from(data.len()).map_err(|_| Error::RangeOutOfBounds {
            what: format!("piece {piece}"),
            offset: offset.into(),
            len: data.len() as u64,
            size: self.layout.piece_length(),
        })?;
        let spans = self.layout.spans(piece, offset, len)?;
        let _writing = self.writing(piece);
        if lock(&self.state).have.get(piece) {
            return Ok(BlockWrite::AlreadyHave);
        }
        if !self.empty_files_created.load(Ordering::Relaxed) {
            self.create_empty_files()?;
        }
        for s in spans.filter(|s| !s.pad) {
            let b = s.buf_offset as usize;
            self.storage
                .write_at(s.file_index, s.file_offset, &data[b..b + s.len as usize])?;
        }
        let size = self.layout.piece_size(piece)?;
        let mut st = lock(&self.state);
        if st.have.get(piece) {
            return Ok(BlockWrite::AlreadyHave);
        }
        let ranges = st.partial.entry(piece).or_default();
        add_range(ranges, offset, offset + len);
        Ok(if ranges.as_slice() == [(0, size)] {
            BlockWrite::PieceComplete
        } else {
            BlockWrite::Partial
        })
    }

    /// For callers that assemble whole pieces in memory: check `data` (the whole piece,
    /// pad bytes as zeros) against its hash and, only when it matches, write it and mark
    /// the piece verified, under the piece's lock. Returns `Ok(false)`, with nothing
    /// written, when the hash does not match; `Ok(true)` when the piece is verified (also
    /// when it already was: nothing is rewritten then).
    pub fn write_piece(&self, piece: u32, data: &[u8]) -> Result<bool> {
        let size = self.layout.piece_size(piece)?;
        if data.len() != size as usize {
            return Err(Error::RangeOutOfBounds {
                what: format!("piece {piece}"),
                offset: 0,
                len: data.len() as u64,
                size: size.into(),
            });
        }
        // Hash before taking the lock: writers of this piece's stripe do not wait on it.
        if !self.hashes.check(&self.layout, piece, data)? {
            return Ok(false);
        }
        let _verifying = self.verifying(piece);
        if lock(&self.state).have.get(piece) {
            return Ok(true);
        }
        if !self.empty_files_created.load(Ordering::Relaxed) {
            self.create_empty_files()?;
        }
        for s in self.layout.piece_spans(piece)?.filter(|s| !s.pad) {
            let b = s.buf_offset as usize;
            self.storage
                .write_at(s.file_index, s.file_offset, &data[b..b + s.len as usize])?;
        }
        let mut st = lock(&self.state);
        st.partial.remove(&piece);
        st.have.set(piece, true);
        Ok(true)
    }

    fn create_empty_files(&self) -> Result<()> {
        for (i, f) in self.layout.files().iter().enumerate() {
            if f.length == 0 && !f.pad {
                self.storage.create(i)?;
            }
        }
        self.empty_files_created.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Read `len` bytes at `offset` in `piece` (pad bytes read as zeros).
    pub fn read_block(&self, piece: u32, offset: u32, len: u32) -> Result<Vec<u8>> {
        self.layout.spans(piece, offset, len)?;
        let mut buf = vec![0; len as usize];
        self.read_block_into(piece, offset, &mut buf)?;
        Ok(buf)
    }

    /// Read `buf.len()` bytes at `offset` in `piece` into `buf`.
    pub fn read_block_into(&self, piece: u32, offset: u32, buf: &mut [u8]) -> Result<()> {
        let len = u32::try_from(buf.len()).map_err(|_| Error::RangeOutOfBounds {
            what: format!("piece {piece}"),
            offset: offset.into(),
            len: buf.len() as u64,
            size: self.layout.piece_length(),
        })?;
        for s in self.layout.spans(piece, offset, len)? {
            let part = &mut buf[s.buf_offset as usize..(s.buf_offset + s.len) as usize];
            if s.pad {
                part.fill(0);
            } else {
                self.storage.read_at(s.file_index, s.file_offset, part)?;
            }
        }
        Ok(())
    }

    /// Hash `piece` as it is in storage and compare with the expected hash, without
    /// changing any state. Missing or truncated files give `Ok(false)`.
    pub fn check_piece(&self, piece: u32) -> Result<bool> {
        thread_local! {
            /// Each verifying thread reuses its read buffer and leaf hashes: no allocation
            /// per piece.
            static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
        }
        let checked = SCRATCH.with_borrow_mut(|scratch| {
            self.hashes
                .check_streamed(&self.layout, piece, scratch, |offset, buf| {
                    self.read_block_into(piece, offset, buf)
                })
        });
        match checked {
            Err(e) if e.is_missing_data() => Ok(false),
            other => other,
        }
    }

    /// Verify `piece`: when its bytes match, it is marked verified (and from then on its
    /// bytes are never written); when not, its written ranges are forgotten so that the
    /// whole piece is downloaded again. Call it off the network thread.
    pub fn verify_piece(&self, piece: u32) -> Result<bool> {
        let _verifying = self.verifying(piece);
        let good = self.check_piece(piece)?;
        let mut st = lock(&self.state);
        st.partial.remove(&piece);
        if good {
            st.have.set(piece, true);
        }
        Ok(good)
    }

    /// Whether `piece` is verified (false when out of range).
    pub fn have(&self, piece: u32) -> bool {
        lock(&self.state).have.get(piece)
    }

    /// A copy of the verified pieces.
    pub fn bitfield(&self) -> Bitfield {
        lock(&self.state).have.clone()
    }

    /// Number of verified pieces.
    pub fn num_have(&self) -> u32 {
        lock(&self.state).have.count_ones()
    }

    /// True when every piece is verified.
    pub fn is_complete(&self) -> bool {
        lock(&self.state).have.all()
    }

    /// Bytes of `piece` written so far and not yet verified (0 for verified pieces).
    pub fn bytes_written(&self, piece: u32) -> u32 {
        lock(&self.state)
            .partial
            .get(&piece)
            .map_or(0, |r| r.iter().map(|(a, b)| b - a).sum())
    }

    /// Mark `piece` verified without hashing (the caller knows, e.g. seed mode).
    pub fn mark_verified(&self, piece: u32) -> Result<()> {
        self.layout.piece_size(piece)?;
        let mut st = lock(&self.state);
        st.partial.remove(&piece);
        st.have.set(piece, true);
        Ok(())
    }

    /// Forget that `piece` is verified (e.g. its file was found damaged): it will be
    /// written again.
    pub fn mark_missing(&self, piece: u32) -> Result<()> {
        self.layout.piece_size(piece)?;
        let mut st = lock(&self.state);
        st.partial.remove(&piece);
        st.have.set(piece, false);
        Ok(())
    }

    /// Hash every piece on `threads` threads (0: all cores) and set the verified set to
    /// exactly the pieces that match. Returns the number of good pieces.
    pub fn recheck_all(
        &self,
        threads: usize,
        progress: &(dyn Fn(RecheckProgress) + Sync),
    ) -> Result<u32> {
        let all: Vec<u32> = (0..self.layout.num_pieces()).collect();
        self.recheck_pieces(&all, threads, progress)
    }

    /// Hash the given pieces on `threads` threads (0: all cores); each is marked verified
    /// or not according to the result. Returns the number of good pieces among them.
    pub fn recheck_pieces(
        &self,
        pieces: &[u32],
        threads: usize,
        progress: &(dyn Fn(RecheckProgress) + Sync),
    ) -> Result<u32> {
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
        .min(pieces.len().max(1));
        let next = std::sync::atomic::AtomicUsize::new(0);
        let checked = AtomicU32::new(0);
        let good = AtomicU32::new(0);
        let stop = AtomicBool::new(false);
        let total = pieces.len() as u32;
        let worker = || -> Result<()> {
            loop {
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&piece) = pieces.get(i) else {
                    return Ok(());
                };
                let ok = {
                    let _verifying = self.verifying(piece);
                    let ok = self.check_piece(piece);
                    let ok = match ok {
                        Ok(ok) => ok,
                        Err(e) => {
                            // Stop the other workers too: the recheck has failed.
                            stop.store(true, Ordering::Relaxed);
                            return Err(e);
                        }
                    };
                    let mut st = lock(&self.state);
                    st.partial.remove(&piece);
                    st.have.set(piece, ok);
                    ok
                };
                let g = good.fetch_add(u32::from(ok), Ordering::Relaxed) + u32::from(ok);
                let c = checked.fetch_add(1, Ordering::Relaxed) + 1;
                progress(RecheckProgress {
                    checked: c,
                    total,
                    good: g,
                });
            }
        };
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
            let mut result = Ok(());
            for h in handles {
                let r = h.join().unwrap_or(Err(Error::WorkerPanicked));
                if result.is_ok() {
                    result = r;
                }
            }
            result
        })?;
        Ok(good.load(Ordering::Relaxed))
    }

    /// Make every write so far durable.
    pub fn flush(&self) -> Result<()> {
        self.storage.flush()
    }

    /// Take resume data: snapshot the verified pieces, flush storage (so each of them is
    /// on stable storage), then record file sizes and times. Write → flush → record.
    pub fn resume_data(&self) -> Result<ResumeData> {
        let pieces = self.bitfield();
        self.storage.flush()?;
        let files = (0..self.layout.num_files())
            .map(|i| self.storage.stamp(i))
            .collect::<Result<Vec<_>>>()?;
        Ok(ResumeData {
            layout_fingerprint: self.layout.fingerprint(),
            pieces,
            files,
        })
    }

    /// [`Self::resume_data`] then [`ResumeData::save`] atomically to `path`.
    pub fn save_resume(&self, path: impl AsRef<Path>) -> Result<()> {
        let _one_at_a_time = lock(&self.save_lock);
        self.resume_data()?.save(path)
    }

    /// Claim the pieces `resume` records whose files still have the recorded size and
    /// modification time; the others it records are returned to be rechecked. Pieces
    /// already verified in this store stay verified.
    pub fn apply_resume(&self, resume: &ResumeData) -> Result<ResumeOutcome> {
        let bad = |reason: &str| Error::BadResume {
            path: "<resume data>".into(),
            reason: reason.into(),
        };
        if resume.layout_fingerprint != self.layout.fingerprint() {
            return Err(bad("recorded for another layout"));
        }
        if resume.pieces.len() != self.layout.num_pieces()
            || resume.files.len() != self.layout.num_files()
        {
            return Err(bad("piece or file count differs from the layout"));
        }
        let mut unchanged = Vec::with_capacity(self.layout.num_files());
        for (i, f) in self.layout.files().iter().enumerate() {
            unchanged.push(
                f.pad
                    || f.length == 0
                    || (resume.files[i].is_some() && self.storage.stamp(i)? == resume.files[i]),
            );
        }
        let mut outcome = ResumeOutcome::default();
        let mut st = lock(&self.state);
        for piece in resume.pieces.ones() {
            if self.layout.files_of_piece(piece)?.all(|f| unchanged[f]) {
                st.have.set(piece, true);
                st.partial.remove(&piece);
                outcome.claimed += 1;
            } else {
                outcome.to_recheck.push(piece);
            }
        }
        Ok(outcome)
    }
}

/// Insert [start, end) into sorted, merged, disjoint ranges, in place.
fn add_range(ranges: &mut Vec<(u32, u32)>, start: u32, end: u32) {
    if start >= end {
        return;
    }
    // First range that ends at or after `start` (it may touch or overlap the new one).
    let first = ranges.partition_point(|&(_, b)| b < start);
    // One past the last range that starts at or before `end`.
    let last = ranges.partition_point(|&(a, _)| a <= end);
    if first == last {
        ranges.insert(first, (start, end));
        return;
    }
    let merged = (start.min(ranges[first].0), end.max(ranges[last - 1].1));
    ranges[first] = merged;
    ranges.drain(first + 1..last);
}

#[cfg(test)]
mod tests {
    use super::add_range;
    use proptest::prelude::*;

    proptest! {
        /// The merged ranges always equal the union of what was added.
        #[test]
        fn ranges_match_a_bitmap(adds in prop::collection::vec((0u32..64, 0u32..16), 0..40)) {
            let mut r = Vec::new();
            let mut bits = [false; 80];
            for (s, n) in adds {
                add_range(&mut r, s, s + n);
                bits[s as usize..(s + n) as usize].fill(true);
            }
            let mut from_bits = Vec::new();
            let mut i = 0;
            while i < 80 {
                if bits[i] {
                    let j = (i..80).find(|&j| !bits[j]).unwrap_or(80);
                    from_bits.push((i as u32, j as u32));
                    i = j;
                } else {
                    i += 1;
                }
            }
            prop_assert_eq!(r, from_bits);
        }
    }

    #[test]
    fn ranges_merge() {
        let mut r = Vec::new();
        add_range(&mut r, 10, 20);
        add_range(&mut r, 30, 40);
        add_range(&mut r, 0, 5);
        assert_eq!(r, vec![(0, 5), (10, 20), (30, 40)]);
        add_range(&mut r, 20, 30);
        assert_eq!(r, vec![(0, 5), (10, 40)]);
        add_range(&mut r, 5, 10);
        assert_eq!(r, vec![(0, 40)]);
        add_range(&mut r, 3, 3);
        assert_eq!(r, vec![(0, 40)]);
    }
}
