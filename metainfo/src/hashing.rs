//! The info-hash of a large info dictionary, computed on a second thread while the parser
//! scans it.
//!
//! The SHA-1 of a big info dict (0.4 ms for 675 KB) and the copy of it that
//! [`Metainfo::info_bytes`](crate::Metainfo::info_bytes) keeps cost as much as the rest
//! of a parse. When the scan reaches the info dict, a helper thread starts hashing it at
//! once, before the scan has found where the dict ends: it hashes ahead a chunk at a time
//! and keeps the hash state at each chunk boundary, so once the end is known the hash of
//! exactly the info dict is the state kept at or before the end plus the bytes up to the
//! end. Then it copies the dict.
//!
//! The parser does not wait for the helper's work: when it needs the hash, it takes the
//! helper's latest state and finishes the hash (and the copy, if the helper has not made
//! it) itself; the helper stops at its next chunk. So on a machine whose cores are busy,
//! a helper that could not run costs a thread start and the wait for it to end, not the
//! hash.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::Scope;

use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::id::InfoHash;
use crate::metainfo::TorrentVersion;

/// Info dicts that may be this long (the rest of the input from the dict on) are hashed on
/// a second thread; below it a thread start costs more than it saves.
pub(crate) const PARALLEL_MIN: usize = 256 * 1024;

/// Bytes hashed or copied between two looks at what the parser wants.
const CHUNK: usize = 16 * 1024;

/// `end` before the scan has found it.
const UNKNOWN: usize = usize::MAX;

/// Whether the machine has a second core to hash on (asked once: the answer may read
/// files under `/sys` and `/proc`).
fn parallel() -> bool {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from)) >= 2
}

/// The helper's published state; offsets are from the start of the info dict.
#[derive(Debug, Default)]
struct Progress {
    /// `sha1` holds the bytes before this offset.
    at: usize,
    sha1: Sha1,
    /// `(offset, state)` at each chunk boundary passed before the end was known, to go
    /// back to if the helper hashed past the end of the info dict.
    saved: Vec<(usize, Sha1)>,
    /// The SHA-1 of the info dict and a copy of it, once the helper has made both.
    done: Option<([u8; 20], Vec<u8>)>,
}

impl Progress {
    /// Goes back to the last kept state at or before `end` if the hash went past it.
    fn rewind(&mut self, end: usize) {
        if self.at <= end {
            return;
        }
        let keep = self.saved.partition_point(|(at, _)| *at <= end);
        // The first kept state is at offset 0, never past the end.
        if let Some((at, sha1)) = self.saved.drain(..keep).next_back() {
            self.at = at;
            self.sha1 = sha1;
        }
        self.saved.clear();
    }
}

/// The info-hash of the info dict in one input, hashed by a helper thread when it is
/// large (see the module documentation).
#[derive(Debug)]
pub(crate) struct InfoHasher<'a> {
    /// The input from the first byte of the info dict on, once a helper is started.
    bytes: OnceLock<&'a [u8]>,
    /// Length of the info dict, once the scan has found it.
    end: AtomicUsize,
    /// The parser took the hash over (or no longer needs it): the helper stops.
    taken: AtomicBool,
    progress: Mutex<Progress>,
}

impl<'a> InfoHasher<'a> {
    /// Nothing started: [`InfoHasher::finish`] hashes on the calling thread.
    pub(crate) fn new() -> Self {
        InfoHasher {
            bytes: OnceLock::new(),
            end: AtomicUsize::new(UNKNOWN),
            taken: AtomicBool::new(false),
            progress: Mutex::new(Progress::default()),
        }
    }

    fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The info dict starts at `start` of `input`: hash it on a helper thread of `scope`
    /// if it may be large and there is a core for it.
    pub(crate) fn start<'scope>(
        &'scope self,
        scope: &'scope Scope<'scope, '_>,
        input: &'a [u8],
        start: usize,
    ) {
        let rest = &input[start.min(input.len())..];
        if rest.len() < PARALLEL_MIN || !parallel() || self.bytes.set(rest).is_err() {
            return;
        }
        // If the thread cannot start, `finish` hashes it all.
        let _ = std::thread::Builder::new()
            .name("metainfo-hash".into())
            .spawn_scoped(scope, move || self.run(rest));
    }

    /// The scan found the info dict: `raw`, its bytes in the input.
    pub(crate) fn found(&self, raw: &[u8]) {
        if self.is_ours(raw) {
            self.end.store(raw.len(), Ordering::Release);
        }
    }

    /// Whether `raw` starts where the helper hashes.
    fn is_ours(&self, raw: &[u8]) -> bool {
        self.bytes
            .get()
            .is_some_and(|b| b.as_ptr() == raw.as_ptr() && raw.len() <= b.len())
    }

    /// The parse needs no hash (it failed, or the torrent is v2 only): the helper stops.
    pub(crate) fn stop(&self) {
        self.taken.store(true, Ordering::Release);
    }

    /// The helper: hashes a chunk at a time and publishes its state after each until the
    /// hash is done, then copies the info dict. It stops when the parser took over, or
    /// when it reaches the end of the input before the scan found the end of the info
    /// dict (the parser then finishes).
    fn run(&self, bytes: &[u8]) {
        let mut sha1 = Sha1::new();
        let mut at = 0;
        let end = loop {
            if self.taken.load(Ordering::Acquire) {
                return;
            }
            let end = self.end.load(Ordering::Acquire);
            if end == UNKNOWN {
                if at == bytes.len() {
                    return;
                }
                let before = sha1.clone();
                let to = bytes.len().min(at + CHUNK);
                sha1.update(&bytes[at..to]);
                let mut progress = self.progress();
                progress.saved.push((at, before));
                at = to;
                progress.at = at;
                progress.sha1 = sha1.clone();
                continue;
            }
            if at > end {
                let mut progress = self.progress();
                progress.rewind(end);
                at = progress.at;
                sha1 = progress.sha1.clone();
            }
            if at == end {
                break end;
            }
            let to = end.min(at + CHUNK);
            sha1.update(&bytes[at..to]);
            at = to;
            let mut progress = self.progress();
            progress.at = at;
            progress.sha1 = sha1.clone();
        };
        let digest = sha1.finalize().into();
        let mut copy = Vec::with_capacity(end);
        for chunk in bytes[..end].chunks(CHUNK * 4) {
            if self.taken.load(Ordering::Acquire) {
                return;
            }
            copy.extend_from_slice(chunk);
        }
        self.progress().done = Some((digest, copy));
    }

    /// The info-hash(es) of `raw`, the info dict in the input given to
    /// [`InfoHasher::start`], and a copy of it.
    pub(crate) fn finish(&self, raw: &[u8], version: TorrentVersion) -> (InfoHash, Vec<u8>) {
        let ours = self.is_ours(raw);
        // SHA-256 (v2, hybrid) is computed here while the helper goes on with SHA-1.
        let v2 = (version != TorrentVersion::V1).then(|| <[u8; 32]>::from(Sha256::digest(raw)));
        let (v1, copy) = if ours && version != TorrentVersion::V2 {
            self.end.store(raw.len(), Ordering::Release);
            let mut progress = {
                let mut guard = self.progress();
                self.taken.store(true, Ordering::Release);
                std::mem::take(&mut *guard)
            };
            match progress.done {
                Some((v1, copy)) => (Some(v1), copy),
                None => {
                    progress.rewind(raw.len());
                    progress.sha1.update(&raw[progress.at..]);
                    (Some(progress.sha1.finalize().into()), raw.to_vec())
                }
            }
        } else {
            self.stop();
            let v1 = (version != TorrentVersion::V2).then(|| Sha1::digest(raw).into());
            (v1, raw.to_vec())
        };
        let hash = match (v1, v2) {
            (Some(v1), Some(v2)) => InfoHash::Hybrid { v1, v2 },
            (Some(v1), None) => InfoHash::V1(v1),
            (None, Some(v2)) => InfoHash::V2(v2),
            (None, None) => unreachable!("every version has a hash"),
        };
        (hash, copy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn input() -> Vec<u8> {
        (0..PARALLEL_MIN + 3 * CHUNK + 7)
            .map(|i| (i * 31 % 251) as u8)
            .collect()
    }

    /// Polls `ready` until it holds (or a deadline passes: the helper may not get a core;
    /// the result must be right either way).
    fn wait_until(ready: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ready() && Instant::now() < deadline {
            std::thread::yield_now();
        }
    }

    fn expected(raw: &[u8], version: TorrentVersion) -> InfoHash {
        let v1 = || Sha1::digest(raw).into();
        let v2 = || Sha256::digest(raw).into();
        match version {
            TorrentVersion::V1 => InfoHash::V1(v1()),
            TorrentVersion::V2 => InfoHash::V2(v2()),
            TorrentVersion::Hybrid => InfoHash::Hybrid { v1: v1(), v2: v2() },
        }
    }

    /// How the parser and the helper meet.
    #[derive(Debug, Clone, Copy)]
    enum Timing {
        /// The end is known at once; the parser takes over at once.
        Early,
        /// The helper has hashed and copied the info dict before the parser asks.
        HelperDone,
        /// The helper hashed to the end of the input before the end was known.
        Overran,
        /// The parser asks without telling the end first.
        NoEnd,
    }

    #[test]
    fn every_meeting_gives_the_hash_of_exactly_the_info_dict() {
        let input = input();
        let start = 5;
        let ends = [1, CHUNK - 1, CHUNK, CHUNK + 1, 100_000, input.len() - start];
        let timings = [
            Timing::Early,
            Timing::HelperDone,
            Timing::Overran,
            Timing::NoEnd,
        ];
        let versions = [
            TorrentVersion::V1,
            TorrentVersion::V2,
            TorrentVersion::Hybrid,
        ];
        for end in ends {
            for timing in timings {
                for version in versions {
                    let raw = &input[start..start + end];
                    let hasher = InfoHasher::new();
                    let (hash, copy) = std::thread::scope(|scope| {
                        hasher.start(scope, &input, start);
                        let rest = input.len() - start;
                        match timing {
                            Timing::Early => hasher.found(raw),
                            Timing::HelperDone => {
                                hasher.found(raw);
                                wait_until(|| hasher.progress().done.is_some());
                            }
                            Timing::Overran => {
                                wait_until(|| hasher.progress().at == rest);
                                hasher.found(raw);
                            }
                            Timing::NoEnd => {}
                        }
                        let out = hasher.finish(raw, version);
                        hasher.stop();
                        out
                    });
                    let case = format!("end {end}, {timing:?}, {version:?}");
                    assert_eq!(hash, expected(raw, version), "{case}");
                    assert_eq!(copy, raw, "{case}");
                }
            }
        }
    }

    #[test]
    fn other_bytes_or_small_inputs_are_hashed_here() {
        let input = input();
        let hasher = InfoHasher::new();
        let elsewhere = input[1..100].to_vec();
        let (hash, copy) = std::thread::scope(|scope| {
            hasher.start(scope, &input, 0);
            hasher.found(&elsewhere);
            hasher.finish(&elsewhere, TorrentVersion::V1)
        });
        assert_eq!(hash, expected(&elsewhere, TorrentVersion::V1));
        assert_eq!(copy, elsewhere);

        let small = &input[..PARALLEL_MIN - 1];
        let hasher = InfoHasher::new();
        std::thread::scope(|scope| hasher.start(scope, small, 0));
        assert!(hasher.bytes.get().is_none(), "no helper for a small input");
        assert_eq!(
            hasher.finish(small, TorrentVersion::Hybrid).0,
            expected(small, TorrentVersion::Hybrid)
        );
    }
}
