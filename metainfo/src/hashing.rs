//! The info-hash of a large info dictionary, computed on a second thread while the parser
//! scans it.
//!
//! The SHA-1 of a big info dict (0.4 ms for 675 KB) costs as much as the rest of a
//! parse. When the scan reaches the info dict, the parser copies the rest of the input
//! (it keeps that copy as [`Metainfo::info_bytes`](crate::Metainfo::info_bytes)) and
//! hands it to a helper thread that starts hashing at once, before the scan has found
//! where the dict ends: it hashes ahead a chunk at a time and keeps the hash state at
//! each chunk boundary, so once the end is known the hash of exactly the info dict is the
//! state kept at or before the end plus the bytes up to the end.
//!
//! The parser never waits for the helper. When it needs the hash, it takes the helper's
//! latest state and finishes the hash itself, and the helper stops at its next chunk. On a
//! machine whose cores are busy, a helper that has not run yet costs a copy, not a wait
//! for the scheduler. That is why the helper owns its bytes rather than borrowing the
//! input from a scoped thread: a scope would wait for the helper to run and end
//! (measured: 3 to 7 ms tails while other jobs kept both cores busy). The helper is one
//! thread for the whole process, started by the first parse that needs it and asleep
//! between parses, so a parse does not pay for a thread start (a `clone`, a signal stack
//! mapped and unmapped, the new stack's pages). A helper that had not hashed a chunk by
//! the time the parser needed the hash makes the next parses (4, then 8, ... up to 64)
//! hash on one thread; a parse that finds the helper busy with another parse's hash
//! hashes on its own thread.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::id::InfoHash;
use crate::metainfo::TorrentVersion;

/// Info dicts that may be this long (the rest of the input from the dict on) are hashed on
/// a second thread; below it a thread start costs more than it saves.
pub(crate) const PARALLEL_MIN: usize = 256 * 1024;

/// Bytes hashed between two looks at what the parser knows.
const CHUNK: usize = 16 * 1024;

/// `end` before the scan has found it.
const UNKNOWN: usize = usize::MAX;

/// How many parses start no helper: set after a helper that had not hashed a chunk by
/// the time the parser needed the hash (no core was free to run it), so a machine
/// without a free core does not pay for thread starts that do not pay off.
static SKIP: AtomicU32 = AtomicU32::new(0);

/// What [`SKIP`] is set to the next time: doubles (4 to 64) while helpers keep not
/// running, back to 0 after one that ran. (A stricter test, less than half the hash
/// done, kept a quiet machine on one thread: with no helper for a while, the idle core
/// of this VM wakes too slowly for the next probe to pass.)
static BACKOFF: AtomicU32 = AtomicU32::new(0);

/// Whether to hash on a second thread: the machine has a second core (asked once: the
/// answer may read files under `/sys` and `/proc`), and helpers have been getting their
/// work done (see [`SKIP`]).
fn parallel() -> bool {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from)) >= 2
        && SKIP
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_err()
}

/// The skip after `backoff`: 4, 8, ... 64.
fn next_backoff(backoff: u32) -> u32 {
    backoff.saturating_mul(2).clamp(4, 64)
}

/// Records whether a helper had hashed anything by the time the parser needed the hash.
fn helper_did(something: bool) {
    if something {
        BACKOFF.store(0, Ordering::Relaxed);
    } else {
        let next = next_backoff(BACKOFF.load(Ordering::Relaxed));
        BACKOFF.store(next, Ordering::Relaxed);
        SKIP.store(next, Ordering::Relaxed);
    }
}

/// The helper's published state: offsets are into [`Shared::bytes`].
#[derive(Debug, Default)]
struct Progress {
    /// `sha1` holds the bytes before this offset.
    at: usize,
    sha1: Sha1,
    /// `(offset, state)` at each chunk boundary passed before the end was known, to go
    /// back to if the helper hashed past the end of the info dict.
    saved: Vec<(usize, Sha1)>,
    /// The SHA-1 of the info dict, once the helper has finished it.
    done: Option<[u8; 20]>,
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

/// What the parser and the helper share.
#[derive(Debug)]
struct Shared {
    /// The input from the first byte of the info dict to the end of the input.
    bytes: Vec<u8>,
    /// Length of the info dict, once the scan has found it.
    end: AtomicUsize,
    /// The parser took the hash over (or no longer needs it): the helper stops.
    taken: AtomicBool,
    progress: Mutex<Progress>,
}

impl Shared {
    fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The SHA-1 of `raw` (the first bytes of [`Shared::bytes`]): the helper's, or
    /// finished here from the helper's latest state (it stops); and whether it was the
    /// helper's.
    fn take_over(&self, raw: &[u8]) -> ([u8; 20], bool) {
        self.end.store(raw.len(), Ordering::Release);
        let mut progress = {
            let mut guard = self.progress();
            self.taken.store(true, Ordering::Release);
            std::mem::take(&mut *guard)
        };
        helper_did(progress.done.is_some() || progress.at > 0);
        if let Some(done) = progress.done {
            return (done, true);
        }
        progress.rewind(raw.len());
        progress.sha1.update(&raw[progress.at..]);
        (progress.sha1.finalize().into(), false)
    }

    /// The helper: hashes a chunk at a time and publishes its state after each, until
    /// the hash is done, the parser took over, or it reached the end of the bytes before
    /// the scan found the end of the info dict (the parser then finishes).
    fn run(&self) {
        let mut sha1 = Sha1::new();
        let mut at = 0;
        loop {
            if self.taken.load(Ordering::Acquire) {
                return;
            }
            let end = self.end.load(Ordering::Acquire);
            if end == UNKNOWN {
                if at == self.bytes.len() {
                    return;
                }
                let before = sha1.clone();
                let to = self.bytes.len().min(at + CHUNK);
                sha1.update(&self.bytes[at..to]);
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
                let digest = sha1.finalize().into();
                self.progress().done = Some(digest);
                return;
            }
            let to = end.min(at + CHUNK);
            sha1.update(&self.bytes[at..to]);
            at = to;
            let mut progress = self.progress();
            progress.at = at;
            progress.sha1 = sha1.clone();
        }
    }
}

/// The hashing thread: started by the first parse that wants it, then kept (asleep
/// between parses), so a parse pays no thread start. One job at a time: a parse that finds
/// it busy hashes on its own thread.
#[derive(Debug)]
struct Worker {
    /// The job posted and not picked up yet.
    job: Mutex<Option<Arc<Shared>>>,
    posted: Condvar,
    /// A job is posted or running.
    busy: AtomicBool,
}

static WORKER: Worker = Worker {
    job: Mutex::new(None),
    posted: Condvar::new(),
    busy: AtomicBool::new(false),
};

impl Worker {
    /// The worker, started on first use; `None` if no thread can be started.
    fn get() -> Option<&'static Worker> {
        static STARTED: OnceLock<bool> = OnceLock::new();
        let started = STARTED.get_or_init(|| {
            std::thread::Builder::new()
                .name("metainfo-hash".into())
                .spawn(|| WORKER.serve())
                .is_ok()
        });
        started.then_some(&WORKER)
    }

    fn slot(&self) -> MutexGuard<'_, Option<Arc<Shared>>> {
        self.job.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The worker thread: runs one job after the other, asleep when there is none.
    fn serve(&self) {
        loop {
            let job = {
                let mut slot = self.slot();
                loop {
                    if let Some(job) = slot.take() {
                        break job;
                    }
                    slot = self
                        .posted
                        .wait(slot)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            job.run();
            // The parser may be waiting to take the bytes back.
            drop(job);
            self.busy.store(false, Ordering::Release);
        }
    }

    /// Posts `job`, if the worker is free.
    fn post(&self, job: &Arc<Shared>) -> bool {
        if self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        *self.slot() = Some(Arc::clone(job));
        self.posted.notify_one();
        true
    }

    /// Takes `job` back if the worker has not picked it up yet (it then never will).
    fn withdraw(&self, job: &Arc<Shared>) {
        let mut slot = self.slot();
        if slot.as_ref().is_some_and(|posted| Arc::ptr_eq(posted, job)) {
            *slot = None;
            self.busy.store(false, Ordering::Release);
        }
    }
}

/// The info-hash of the info dict of one input, hashed by the worker thread when it is
/// large (see the module documentation).
#[derive(Debug)]
pub(crate) struct InfoHasher {
    /// The address of the first byte of the info dict in the input (to check that the
    /// bytes hashed are those the parser means), and what the worker shares.
    helper: Mutex<Option<(usize, Arc<Shared>)>>,
}

impl InfoHasher {
    /// Nothing started yet: [`InfoHasher::finish`] hashes on the calling thread.
    pub(crate) fn new() -> Self {
        InfoHasher {
            helper: Mutex::new(None),
        }
    }

    fn helper(&self) -> MutexGuard<'_, Option<(usize, Arc<Shared>)>> {
        self.helper.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The info dict starts at `start` of `input`: copies the rest of the input and
    /// hashes it on the worker thread if it may be large and there is a core for it.
    pub(crate) fn start(&self, input: &[u8], start: usize) {
        let rest = &input[start.min(input.len())..];
        let mut slot = self.helper();
        if rest.len() < PARALLEL_MIN || slot.is_some() || !parallel() {
            return;
        }
        let Some(worker) = Worker::get() else {
            return;
        };
        if worker.busy.load(Ordering::Relaxed) {
            return;
        }
        let shared = Arc::new(Shared {
            bytes: copy_of(rest),
            end: AtomicUsize::new(UNKNOWN),
            taken: AtomicBool::new(false),
            progress: Mutex::new(Progress {
                saved: Vec::with_capacity(rest.len() / CHUNK + 1),
                ..Progress::default()
            }),
        });
        if worker.post(&shared) {
            *slot = Some((rest.as_ptr() as usize, shared));
        }
    }

    /// The scan found the info dict: `raw`, its bytes in the input.
    pub(crate) fn found(&self, raw: &[u8]) {
        if let Some((start, shared)) = &*self.helper()
            && *start == raw.as_ptr() as usize
        {
            shared.end.store(raw.len(), Ordering::Release);
        }
    }

    /// The parse needs no hash (it failed, or the torrent is v2 only): the worker stops.
    pub(crate) fn stop(&self) {
        if let Some((_, shared)) = &*self.helper() {
            WORKER.withdraw(shared);
            shared.taken.store(true, Ordering::Release);
        }
    }

    /// The info-hash(es) of `raw`, the info dict in the input given to
    /// [`InfoHasher::start`], and a copy of it.
    pub(crate) fn finish(&self, raw: &[u8], version: TorrentVersion) -> (InfoHash, Vec<u8>) {
        let taken = self.helper().take();
        let shared = match taken {
            Some((start, shared))
                if start == raw.as_ptr() as usize && raw.len() <= shared.bytes.len() =>
            {
                shared
            }
            other => {
                if let Some((_, other)) = other {
                    WORKER.withdraw(&other);
                    other.taken.store(true, Ordering::Release);
                }
                return hash_and_copy(raw, version);
            }
        };
        // SHA-256 (v2, hybrid) is computed here while the worker goes on with SHA-1.
        let v2 = (version != TorrentVersion::V1).then(|| <[u8; 32]>::from(Sha256::digest(raw)));
        // A job the worker has not picked up yet is taken back: it has done nothing.
        WORKER.withdraw(&shared);
        let (v1, helper_done) = match version {
            TorrentVersion::V2 => (None, false),
            _ => {
                let (v1, done) = shared.take_over(raw);
                (Some(v1), done)
            }
        };
        shared.taken.store(true, Ordering::Release);
        let hash = match (v1, v2) {
            (Some(v1), Some(v2)) => InfoHash::Hybrid { v1, v2 },
            (Some(v1), None) => InfoHash::V1(v1),
            (None, Some(v2)) => InfoHash::V2(v2),
            (None, None) => unreachable!("every version has a hash"),
        };
        let mut shared = Arc::try_unwrap(shared);
        // The worker lets its share go at its next chunk at the latest (done: at once).
        for _ in 0..if helper_done { 4096 } else { 1024 } {
            match shared {
                Err(still_held) => shared = Arc::try_unwrap(still_held),
                Ok(_) => break,
            }
            std::hint::spin_loop();
        }
        let copy = match shared {
            // The worker has let go: the copy of the input is the info dict and the rest.
            Ok(shared) => {
                let mut bytes = shared.bytes;
                bytes.truncate(raw.len());
                if bytes.capacity() - bytes.len() > 4096 {
                    bytes.shrink_to_fit();
                }
                bytes
            }
            Err(_) => copy_of(raw),
        };
        (hash, copy)
    }
}

/// A copy of `bytes`, in a kept buffer if there is one.
fn copy_of(bytes: &[u8]) -> Vec<u8> {
    let mut copy = crate::recycle::BYTES.take(bytes.len());
    copy.extend_from_slice(bytes);
    copy
}

/// The info-hash(es) of `raw` and a copy of it, on this thread: a chunk at a time, so
/// each byte is read from memory once.
fn hash_and_copy(raw: &[u8], version: TorrentVersion) -> (InfoHash, Vec<u8>) {
    let mut copy = crate::recycle::BYTES.take(raw.len());
    let mut v1 = (version != TorrentVersion::V2).then(Sha1::new);
    let mut v2 = (version != TorrentVersion::V1).then(Sha256::new);
    for chunk in raw.chunks(2 * CHUNK) {
        copy.extend_from_slice(chunk);
        if let Some(h) = &mut v1 {
            h.update(chunk);
        }
        if let Some(h) = &mut v2 {
            h.update(chunk);
        }
    }
    // A kept buffer may be larger.
    if copy.capacity() - copy.len() > 4096 {
        copy.shrink_to_fit();
    }
    let v1 = v1.map(|h| <[u8; 20]>::from(h.finalize()));
    let v2 = v2.map(|h| <[u8; 32]>::from(h.finalize()));
    let hash = match (v1, v2) {
        (Some(v1), Some(v2)) => InfoHash::Hybrid { v1, v2 },
        (Some(v1), None) => InfoHash::V1(v1),
        (None, Some(v2)) => InfoHash::V2(v2),
        (None, None) => unreachable!("every version has a hash"),
    };
    (hash, copy)
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

    /// Polls the helper's progress until `ready` holds, or a deadline passes (the helper
    /// may not get a core: the result must be right either way).
    fn wait_until(hasher: &InfoHasher, ready: impl Fn(&Progress) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let slot = hasher.helper();
            match &*slot {
                Some((_, shared)) if !ready(&shared.progress()) => {}
                _ => return,
            }
            drop(slot);
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
        /// The helper has finished the hash before the parser asks.
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
        let rest = input.len() - start;
        let ends = [1, CHUNK - 1, CHUNK, CHUNK + 1, 100_000, rest];
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
                    // Earlier cases may have made the next parses skip the helper.
                    SKIP.store(0, Ordering::Relaxed);
                    let hasher = InfoHasher::new();
                    hasher.start(&input, start);
                    match timing {
                        Timing::Early => hasher.found(raw),
                        Timing::HelperDone => {
                            hasher.found(raw);
                            // (Or until it hashed all it has: it may get there before
                            // the end is known, and stops.)
                            wait_until(&hasher, |p| p.done.is_some() || p.at == rest);
                        }
                        Timing::Overran => {
                            wait_until(&hasher, |p| p.at == rest);
                            hasher.found(raw);
                        }
                        Timing::NoEnd => {}
                    }
                    let (hash, copy) = hasher.finish(raw, version);
                    let case = format!("end {end}, {timing:?}, {version:?}");
                    assert_eq!(hash, expected(raw, version), "{case}");
                    assert_eq!(copy, raw, "{case}");
                }
            }
        }
    }

    /// One thread serves every parse: many large parses, one after the other and from
    /// several threads at once, start at most one.
    #[cfg(target_os = "linux")]
    #[test]
    fn one_hashing_thread_serves_every_parse() {
        let input = input();
        let raw = &input[3..input.len() - 2];
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| {
                    for _ in 0..20 {
                        SKIP.store(0, Ordering::Relaxed);
                        let hasher = InfoHasher::new();
                        hasher.start(&input, 3);
                        hasher.found(raw);
                        let (hash, copy) = hasher.finish(raw, TorrentVersion::V1);
                        assert_eq!(hash, expected(raw, TorrentVersion::V1));
                        assert_eq!(copy, raw);
                    }
                });
            }
        });
        let hashing_threads = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .flatten()
            .filter(|task| {
                std::fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|name| name.trim() == "metainfo-hash")
            })
            .count();
        assert!(hashing_threads <= 1, "{hashing_threads} hashing threads");
    }

    #[test]
    fn a_busy_machine_backs_off_up_to_64_parses() {
        let mut backoff = 0;
        let steps: Vec<u32> = (0..6)
            .map(|_| {
                backoff = next_backoff(backoff);
                backoff
            })
            .collect();
        assert_eq!(steps, [4, 8, 16, 32, 64, 64]);
    }

    #[test]
    fn other_bytes_or_small_inputs_are_hashed_here() {
        let input = input();
        let hasher = InfoHasher::new();
        hasher.start(&input, 0);
        let elsewhere = input[1..100].to_vec();
        hasher.found(&elsewhere);
        let (hash, copy) = hasher.finish(&elsewhere, TorrentVersion::V1);
        assert_eq!(hash, expected(&elsewhere, TorrentVersion::V1));
        assert_eq!(copy, elsewhere);

        let small = &input[..PARALLEL_MIN - 1];
        let hasher = InfoHasher::new();
        hasher.start(small, 0);
        assert!(hasher.helper().is_none(), "no helper for a small input");
        assert_eq!(
            hasher.finish(small, TorrentVersion::Hybrid).0,
            expected(small, TorrentVersion::Hybrid)
        );
    }
}
