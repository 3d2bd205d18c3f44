//! The large buffers of a parse, kept for the next one.
//!
//! A large torrent's result is mostly three buffers: the copy of the info dict, the list
//! of files and the buffer of all paths (675 KB, 560 KB and 150 KB for 5,000 files), and
//! the parse needs a list of its own as long as the list of files. Fresh memory costs a
//! page fault per 4 KiB page the first time it is written (about 2.5 µs each on the
//! 2-core build VM: 0.45 ms to copy 675 KB into fresh pages, against 0.04 ms into pages
//! already mapped), and glibc maps large blocks afresh or gives the top of its heap back
//! to the kernel when they are freed, so a program that parses, drops and parses again
//! would get fresh pages each time. A dropped [`Metainfo`] leaves its buffers here (one
//! of each kind, at most [`MAX_KEPT`] bytes each) and the next large parse takes them;
//! the parse's own list stays here between parses. Small buffers are not kept: fresh
//! ones cost little.

use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use crate::metainfo::{FileEntry, Metainfo};

/// Buffers smaller than this (in bytes) are neither kept nor taken.
const MIN_KEPT: usize = 64 * 1024;

/// Buffers larger than this (in bytes) are not kept: the memory a process may hold for
/// nothing, per kind of buffer.
const MAX_KEPT: usize = 4 * 1024 * 1024;

/// One kept buffer of `T`s, empty.
#[derive(Debug)]
pub(crate) struct Pool<T>(Mutex<Vec<T>>);

impl<T> Pool<T> {
    pub(crate) const fn new() -> Self {
        Pool(Mutex::new(Vec::new()))
    }

    /// The kept buffer, unless another thread is at it. (A poisoned pool is as good as
    /// any: a buffer is only ever replaced whole.)
    fn lock(&self) -> Option<MutexGuard<'_, Vec<T>>> {
        match self.0.try_lock() {
            Ok(kept) => Some(kept),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// An empty buffer with room for `len` items: the kept one if it has room without
    /// wasting more than a third of it.
    pub(crate) fn take(&self, len: usize) -> Vec<T> {
        if len.saturating_mul(size_of::<T>()) >= MIN_KEPT
            && let Some(mut kept) = self.lock()
            && (len..=len + len / 2).contains(&kept.capacity())
        {
            return std::mem::take(&mut *kept);
        }
        Vec::with_capacity(len)
    }

    /// The kept buffer, whatever its size (for a list whose length is not known yet).
    pub(crate) fn take_any(&self) -> Vec<T> {
        self.lock()
            .map(|mut kept| std::mem::take(&mut *kept))
            .unwrap_or_default()
    }

    /// Keeps `buffer` (emptied) for the next parse, if it is worth keeping.
    pub(crate) fn keep(&self, mut buffer: Vec<T>) {
        let bytes = buffer.capacity().saturating_mul(size_of::<T>());
        if !(MIN_KEPT..=MAX_KEPT).contains(&bytes) {
            return;
        }
        buffer.clear();
        let old = match self.lock() {
            Some(mut kept) => std::mem::replace(&mut *kept, buffer),
            None => buffer,
        };
        // Freed outside the lock.
        drop(old);
    }
}

/// Copies of info dicts ([`Metainfo::info_bytes`]).
pub(crate) static BYTES: Pool<u8> = Pool::new();
/// Lists of files ([`Metainfo::files`]).
pub(crate) static FILES: Pool<FileEntry> = Pool::new();
/// Buffers of all paths of a torrent (see [`FilePath`](crate::FilePath)).
pub(crate) static PATHS: Pool<u8> = Pool::new();

/// Keeps the buffers of `meta`, which is being dropped.
pub(crate) fn keep_buffers(meta: &mut Metainfo) {
    BYTES.keep(std::mem::take(&mut meta.info_bytes));
    let mut files = std::mem::take(&mut meta.files);
    // The paths buffer is shared by the files' paths (and any path cloned out of them).
    let paths = files.first().map(|f| Arc::clone(f.path.buffer()));
    files.clear();
    FILES.keep(files);
    if let Some(Ok(paths)) = paths.map(Arc::try_unwrap) {
        PATHS.keep(paths.into_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_buffer_is_taken_again_when_it_fits() {
        let pool: Pool<u64> = Pool::new();
        let len = MIN_KEPT / 8;
        let mut buffer = pool.take(len);
        assert!(buffer.capacity() >= len);
        buffer.extend(0..len as u64);
        let at = buffer.as_ptr();
        pool.keep(buffer);
        // Too large a need, or too small (the kept one would waste over a third): fresh.
        let (larger, smaller) = (pool.take(2 * len), pool.take(len / 2));
        assert_ne!(larger.as_ptr(), at);
        assert_ne!(smaller.as_ptr(), at);
        let again = pool.take(len);
        assert_eq!(again.as_ptr(), at);
        assert!(again.is_empty(), "kept buffers are emptied");
        // Taken: the next one is fresh.
        let fresh = pool.take(len);
        assert_ne!(fresh.as_ptr(), at);
        pool.keep(again);
        let any = pool.take_any();
        assert_eq!(any.as_ptr(), at);
    }

    #[test]
    fn small_and_huge_buffers_are_not_kept() {
        let pool: Pool<u8> = Pool::new();
        pool.keep(Vec::with_capacity(MIN_KEPT - 1));
        assert_eq!(pool.take_any().capacity(), 0);
        pool.keep(Vec::with_capacity(MAX_KEPT + 1));
        assert_eq!(pool.take_any().capacity(), 0);
        // Nor is a small need met from the pool.
        pool.keep(Vec::with_capacity(MIN_KEPT));
        assert!(pool.take(100).capacity() < MIN_KEPT);
    }

    /// A torrent of `files` files whose names start with `prefix`.
    fn torrent(prefix: &str, files: usize) -> Vec<u8> {
        let mut list = String::new();
        for i in 0..files {
            let name = format!("{prefix}-{i:05}.bin");
            list += &format!(
                "d6:lengthi{}e4:pathl3:sub{}:{name}ee",
                1 + i % 7,
                name.len()
            );
        }
        let total: usize = (0..files).map(|i| 1 + i % 7).sum();
        let pieces = total.div_ceil(16384);
        let info = format!(
            "d5:filesl{list}e4:name3:top12:piece lengthi16384e6:pieces{}:{}e",
            pieces * 20,
            "p".repeat(pieces * 20)
        );
        format!("d4:info{info}e").into_bytes()
    }

    #[test]
    fn parses_in_kept_buffers_are_the_same() {
        let (a, b) = (torrent("a", 3000), torrent("longer-name-b", 2000));
        let first_a = Metainfo::from_bytes(&a).unwrap();
        let expected_a = first_a.clone();
        let expected_b = Metainfo::from_bytes(&b).unwrap().clone();
        assert!(first_a.info_bytes().len() >= MIN_KEPT);
        // A path cloned out of a torrent outlives it, buffer and all.
        let kept_path = first_a.files()[1].path.clone();
        drop(first_a);
        for _ in 0..3 {
            assert_eq!(Metainfo::from_bytes(&b).unwrap(), expected_b);
            assert_eq!(Metainfo::from_bytes(&a).unwrap(), expected_a);
        }
        assert_eq!(kept_path.as_str(), "top/sub/a-00001.bin");
    }
}
