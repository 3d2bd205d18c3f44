//! BEP 15 connection ids without per-client state.
//!
//! A connection id is a keyed hash (SipHash, with random keys drawn at start) of the
//! client's address and the current epoch number. Epochs last [`EPOCH`]; an id from the
//! current or the previous epoch is accepted, so an id lives between 2 and 4 minutes
//! (clients reuse one for 1 minute). The "rotating secret" is thus the epoch number under
//! a fixed random key: nothing is shared between workers but the read-only key, and
//! nothing is stored per client.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// How long one epoch of connection ids lasts.
pub const EPOCH: Duration = Duration::from_secs(120);

/// Issues and checks connection ids. Cheap to clone; clones issue the same ids.
#[derive(Debug, Clone)]
pub struct ConnectionIds {
    key: RandomState,
    start: Instant,
    epoch: Duration,
}

impl ConnectionIds {
    /// A generator with fresh random keys; epochs count from `start`.
    pub fn new(start: Instant) -> Self {
        Self::with_epoch(start, EPOCH)
    }

    /// Like [`ConnectionIds::new`] with a chosen epoch length (for tests).
    pub fn with_epoch(start: Instant, epoch: Duration) -> Self {
        Self {
            key: RandomState::new(),
            start,
            epoch: epoch.max(Duration::from_millis(1)),
        }
    }

    fn epoch_at(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.start).as_millis() / self.epoch.as_millis()) as u64
    }

    fn hash(&self, epoch: u64, addr: &SocketAddr) -> u64 {
        let mut h = self.key.build_hasher();
        h.write_u64(epoch);
        match addr.ip() {
            IpAddr::V4(ip) => h.write_u32(u32::from(ip)),
            IpAddr::V6(ip) => h.write_u128(u128::from(ip)),
        }
        h.write_u16(addr.port());
        h.finish()
    }

    /// The connection id to hand to `addr` at `now`.
    pub fn issue(&self, addr: &SocketAddr, now: Instant) -> u64 {
        self.hash(self.epoch_at(now), addr)
    }

    /// Whether `id` was issued to `addr` in the current or the previous epoch.
    pub fn check(&self, id: u64, addr: &SocketAddr, now: Instant) -> bool {
        let e = self.epoch_at(now);
        id == self.hash(e, addr) || (e > 0 && id == self.hash(e - 1, addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bound_to_address_and_expire_after_two_epochs() {
        let t0 = Instant::now();
        let ids = ConnectionIds::with_epoch(t0, Duration::from_secs(60));
        let a: SocketAddr = "127.0.0.1:6881".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:6882".parse().unwrap();
        let c: SocketAddr = "[::1]:6881".parse().unwrap();
        let id = ids.issue(&a, t0);
        assert!(ids.check(id, &a, t0));
        assert!(!ids.check(id, &b, t0), "another port");
        assert!(!ids.check(id, &c, t0), "another address");
        assert!(!ids.check(id ^ 1, &a, t0));
        assert!(
            ids.check(id, &a, t0 + Duration::from_secs(119)),
            "previous epoch accepted"
        );
        assert!(
            !ids.check(id, &a, t0 + Duration::from_secs(120)),
            "two epochs later rejected"
        );
        assert!(ids.clone().check(id, &a, t0), "clones share the key");
        let other = ConnectionIds::new(t0);
        assert!(!other.check(id, &a, t0), "another key");
        assert!(ids.check(ids.issue(&c, t0), &c, t0));
    }
}
