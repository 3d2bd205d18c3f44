//! Choking decisions, with no IO and no clock: tit-for-tat with regular slots and a
//! rotating optimistic unchoke (BEP 3 practice).
//!
//! While downloading, the [`REGULAR_SLOTS`] interested peers that give us the most are
//! unchoked; while seeding, the ones we upload to fastest (they take the data best). One more
//! interested peer is unchoked at random — the optimistic slot — and rotated every
//! [`OPTIMISTIC_EVERY`] rounds, so newcomers get a chance to prove themselves.

use crate::rng::SmallRng;

/// Peers unchoked for their rate.
pub const REGULAR_SLOTS: usize = 4;

/// Rounds (of 10 s each in the engine) between optimistic unchoke rotations.
pub const OPTIMISTIC_EVERY: u32 = 3;

/// What the choker needs to know of one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChokeCandidate<K> {
    /// Caller's key for the peer.
    pub key: K,
    /// The peer wants data from us.
    pub interested: bool,
    /// Bytes/s the peer sends us.
    pub download_rate: u64,
    /// Bytes/s we send the peer.
    pub upload_rate: u64,
}

/// The peers to unchoke after a round (all others are choked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChokeDecision<K> {
    /// Peers to unchoke, the optimistic one included.
    pub unchoke: Vec<K>,
    /// The optimistic unchoke, if any.
    pub optimistic: Option<K>,
}

/// Rotating state between rounds.
#[derive(Debug)]
pub struct Choker<K> {
    optimistic: Option<K>,
    round: u32,
    rng: SmallRng,
    /// Unchoke every interested peer (no upload limit makes choking pointless on a LAN).
    pub slots: usize,
}

impl<K: Copy + PartialEq> Choker<K> {
    /// A choker with [`REGULAR_SLOTS`] slots.
    pub fn new(rng: SmallRng) -> Self {
        Choker {
            optimistic: None,
            round: 0,
            rng,
            slots: REGULAR_SLOTS,
        }
    }

    /// Runs one round. `seeding` ranks by upload rate, else by download rate.
    pub fn round(&mut self, peers: &[ChokeCandidate<K>], seeding: bool) -> ChokeDecision<K> {
        let mut interested: Vec<&ChokeCandidate<K>> =
            peers.iter().filter(|p| p.interested).collect();
        interested.sort_by_key(|p| {
            std::cmp::Reverse(if seeding {
                p.upload_rate
            } else {
                p.download_rate
            })
        });
        let regular: Vec<K> = interested.iter().take(self.slots).map(|p| p.key).collect();

        let still_there = self
            .optimistic
            .is_some_and(|o| interested.iter().any(|p| p.key == o) && !regular.contains(&o));
        let rotate = self.round.is_multiple_of(OPTIMISTIC_EVERY) || !still_there;
        self.round = self.round.wrapping_add(1);
        if rotate {
            let others: Vec<K> = interested
                .iter()
                .map(|p| p.key)
                .filter(|k| !regular.contains(k) && Some(*k) != self.optimistic)
                .collect();
            self.optimistic = if others.is_empty() {
                // Keep the current one if it is still a valid choice.
                self.optimistic.filter(|_| still_there)
            } else {
                Some(others[self.rng.below(others.len() as u64) as usize])
            };
        }
        let mut unchoke = regular;
        if let Some(o) = self.optimistic {
            unchoke.push(o);
        }
        ChokeDecision {
            unchoke,
            optimistic: self.optimistic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(key: u32, interested: bool, down: u64, up: u64) -> ChokeCandidate<u32> {
        ChokeCandidate {
            key,
            interested,
            download_rate: down,
            upload_rate: up,
        }
    }

    #[test]
    fn top_four_by_download_rate_plus_one_optimistic() {
        let mut c = Choker::new(SmallRng::seeded(3));
        let peers: Vec<_> = (0..8)
            .map(|k| cand(k, true, u64::from(k) * 100, 0))
            .collect();
        let d = c.round(&peers, false);
        assert_eq!(&d.unchoke[..4], &[7, 6, 5, 4]);
        let o = d.optimistic.unwrap();
        assert!(o < 4);
        assert_eq!(d.unchoke.len(), 5);
    }

    #[test]
    fn seeding_ranks_by_upload_and_ignores_uninterested() {
        let mut c = Choker::new(SmallRng::seeded(3));
        let peers = vec![
            cand(1, true, 0, 10),
            cand(2, false, 0, 999),
            cand(3, true, 0, 50),
        ];
        let d = c.round(&peers, true);
        assert_eq!(d.unchoke, vec![3, 1]);
        assert_eq!(d.optimistic, None);
    }

    #[test]
    fn optimistic_rotates_every_third_round() {
        let mut c = Choker::new(SmallRng::seeded(11));
        let peers: Vec<_> = (0..20)
            .map(|k| cand(k, true, if k < 4 { 1000 } else { 0 }, 0))
            .collect();
        let mut seen = Vec::new();
        for _ in 0..(OPTIMISTIC_EVERY * 6) {
            seen.push(c.round(&peers, false).optimistic.unwrap());
        }
        for chunk in seen.chunks(OPTIMISTIC_EVERY as usize) {
            assert!(
                chunk.iter().all(|o| *o == chunk[0]),
                "changed within a period: {seen:?}"
            );
        }
        let distinct: std::collections::HashSet<_> = seen.iter().collect();
        assert!(distinct.len() > 1, "never rotated: {seen:?}");
    }
}
