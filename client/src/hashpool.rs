//! A small, process-wide set of threads that hash and store finished pieces.
//!
//! Hashing never runs on the network tasks. It used to go to tokio's blocking pool, one
//! task per piece: when pieces arrive faster than one core hashes them, that pool grows to
//! a thread per waiting piece, all of them competing for the cores with the network
//! tasks (and, on loopback, with the peer), and the hand-back went through two more task
//! wake-ups. Here a fixed number of threads (one per core) take jobs in arrival order
//! and report the result themselves.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send + 'static>;

struct Pool {
    queue: Mutex<VecDeque<Job>>,
    ready: Condvar,
}

static POOL: OnceLock<Pool> = OnceLock::new();

/// How many hashing threads: one per core.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(64))
}

fn pool() -> &'static Pool {
    POOL.get_or_init(|| {
        let mut spawned = 0;
        for i in 0..threads() {
            let ok = std::thread::Builder::new()
                .name(format!("shoal-hash-{i}"))
                .spawn(worker)
                .is_ok();
            spawned += usize::from(ok);
        }
        if spawned == 0 {
            // Without a thread nothing would ever run: this is not recoverable.
            panic!("cannot start any hashing thread");
        }
        Pool {
            queue: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
        }
    })
}

fn worker() {
    let pool = pool();
    loop {
        let job = {
            let mut q = pool.queue.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(job) = q.pop_front() {
                    break job;
                }
                q = pool.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        // A job that panics must not take its thread with it: the pool would shrink, and
        // with no thread left every piece after it would wait forever.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}

/// Runs `job` on a hashing thread, after the jobs queued before it.
pub(crate) fn run(job: impl FnOnce() + Send + 'static) {
    let pool = pool();
    pool.queue
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push_back(Box::new(job));
    pool.ready.notify_one();
}
