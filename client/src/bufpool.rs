//! Spare piece buffers, reused instead of allocated per piece.
//!
//! A piece is assembled in a buffer of its full length, hashed, written and dropped. A
//! fresh 1 MiB allocation is served by the kernel as new zeroed pages: `vec![0; len]`
//! then costs a page fault per 4 KiB and a memset, about a tenth of the engine's CPU
//! on a loopback download. Buffers come back here after their piece is stored.
//!
//! A reused buffer keeps the bytes of its previous piece: that is fine, because a piece
//! is only hashed once every one of its blocks has been copied in.

use std::sync::Mutex;

/// At most this many spare bytes are kept, process-wide.
const MAX_SPARE_BYTES: usize = 16 * 1024 * 1024;

static SPARE: Pool = Pool::new(MAX_SPARE_BYTES);

/// A buffer of exactly `len` bytes, with unspecified contents.
pub(crate) fn take(len: usize) -> Vec<u8> {
    SPARE.take(len)
}

/// Give a buffer back for reuse; dropped if the pool is full.
pub(crate) fn give(buf: Vec<u8>) {
    SPARE.give(buf)
}

struct Pool {
    max_bytes: usize,
    spare: Mutex<Vec<Vec<u8>>>,
}

impl Pool {
    const fn new(max_bytes: usize) -> Pool {
        Pool {
            max_bytes,
            spare: Mutex::new(Vec::new()),
        }
    }

    fn take(&self, len: usize) -> Vec<u8> {
        let reused = {
            let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
            spare
                .iter()
                .position(|b| b.capacity() >= len)
                .map(|i| spare.swap_remove(i))
        };
        match reused {
            Some(mut buf) => {
                // Only shrinks the length, or grows it zero-filling the new tail.
                buf.resize(len, 0);
                buf
            }
            None => vec![0; len],
        }
    }

    fn give(&self, buf: Vec<u8>) {
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        let held: usize = spare.iter().map(Vec::capacity).sum();
        if held + buf.capacity() <= self.max_bytes {
            spare.push(buf);
        }
    }

    #[cfg(test)]
    fn held(&self) -> usize {
        let spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        spare.iter().map(Vec::capacity).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_a_returned_buffer_and_sizes_it() {
        let pool = Pool::new(1 << 20);
        let mut a = pool.take(300_000);
        assert_eq!(a.len(), 300_000);
        a[0] = 7;
        let ptr = a.as_ptr();
        pool.give(a);
        let b = pool.take(200_000);
        assert_eq!(b.len(), 200_000);
        assert_eq!(b.as_ptr(), ptr, "the returned buffer was not reused");
        assert_eq!(b[0], 7, "contents are not cleared");
        // Too small for a bigger piece: a new buffer, zeroed.
        pool.give(b);
        let c = pool.take(400_000);
        assert_eq!(c.len(), 400_000);
        assert_ne!(c.as_ptr(), ptr);
        assert!(c.iter().all(|&x| x == 0));
    }

    #[test]
    fn keeps_no_more_than_the_cap() {
        let pool = Pool::new(4 << 20);
        for _ in 0..8 {
            pool.give(vec![0; 1 << 20]);
        }
        assert_eq!(pool.held(), 4 << 20);
    }
}
