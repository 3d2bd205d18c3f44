//! The in-memory swarm store: peers per info-hash, sharded behind mutexes so that UDP
//! workers and HTTP handlers announce concurrently without a global lock.

use std::collections::HashMap;
use std::collections::hash_map::{Entry, RandomState};
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tracker_proto::{CompactV4, CompactV6};

/// Number of shards; a power of two. Enough that workers rarely wait on each other.
const SHARDS: usize = 128;

/// Limits and timings of a [`SwarmStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwarmLimits {
    /// A peer that has not announced for this long is dropped.
    pub peer_timeout: Duration,
    /// At most this many swarms (info-hashes) are tracked; announces for new info-hashes
    /// beyond it are answered but not stored.
    pub max_swarms: usize,
    /// At most this many peers per swarm and address family; further new peers are
    /// answered but not stored.
    pub max_peers_per_swarm: usize,
    /// Peers handed out when the client does not say how many it wants.
    pub default_numwant: usize,
    /// Never more peers than this in one reply, whatever the client asks.
    pub max_numwant: usize,
}

impl Default for SwarmLimits {
    fn default() -> Self {
        Self {
            peer_timeout: Duration::from_secs(3 * 1800),
            max_swarms: 1_000_000,
            max_peers_per_swarm: 100_000,
            default_numwant: 50,
            max_numwant: 200,
        }
    }
}

/// What happened to the peer, as the announce says (BEP 3 `event`, BEP 15 `event`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeerEvent {
    /// A regular announce.
    #[default]
    None,
    /// The peer has just started.
    Started,
    /// The peer has just completed the download.
    Completed,
    /// The peer is leaving the swarm.
    Stopped,
}

/// One announce, as the store needs it (already parsed and validated by the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announce {
    /// The 20-byte info-hash (v1, or truncated v2).
    pub info_hash: [u8; 20],
    /// The announcing peer's id.
    pub peer_id: [u8; 20],
    /// The address other peers should dial: the source IP of the request and the port
    /// the peer announced.
    pub addr: SocketAddr,
    /// Bytes the peer still needs; 0 means it is a seeder.
    pub left: u64,
    /// The announce event.
    pub event: PeerEvent,
    /// How many peers the client wants; `None` means the default.
    pub numwant: Option<usize>,
}

/// Swarm counts returned by an announce or a scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SwarmCounts {
    /// Peers that have the whole torrent.
    pub seeders: u32,
    /// Peers still downloading.
    pub leechers: u32,
    /// Times a peer announced `completed` in this swarm.
    pub downloaded: u32,
}

/// Peers to hand to an announcing client, in compact wire form (the store keeps them so):
/// a UDP reply copies these bytes as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerSelection {
    /// IPv4 peers, 6 bytes each (address, port; big-endian).
    pub v4: Vec<[u8; 6]>,
    /// IPv6 peers, 18 bytes each (address, port; big-endian).
    pub v6: Vec<[u8; 18]>,
}

impl PeerSelection {
    /// Empties both lists, keeping their memory.
    pub fn clear(&mut self) {
        self.v4.clear();
        self.v6.clear();
    }

    /// The IPv4 peers as a compact view (iterate it for addresses).
    pub fn compact_v4(&self) -> CompactV4<'_> {
        CompactV4::from_entries(&self.v4)
    }

    /// The IPv6 peers as a compact view (iterate it for addresses).
    pub fn compact_v6(&self) -> CompactV6<'_> {
        CompactV6::from_entries(&self.v6)
    }

    /// All peers as addresses, IPv4 first.
    pub fn addrs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        let v4 = self.compact_v4().into_iter().map(SocketAddr::V4);
        v4.chain(self.compact_v6().into_iter().map(SocketAddr::V6))
    }
}

/// Which address families an announce reply can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyFamilies {
    /// Only peers of the requester's own family (UDP replies, BEP 15).
    Own,
    /// IPv4 and IPv6 peers (HTTP replies with `peers` and `peers6`, BEP 7).
    Both,
}

/// A tiny xorshift generator for picking where in a swarm the handed-out peers start.
/// Not cryptographic; it only spreads load across a swarm's peers.
#[derive(Debug, Clone)]
pub struct PeerRng(u64);

impl PeerRng {
    /// A generator seeded from the standard library's per-process random keys.
    pub fn new() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut h = RandomState::new().build_hasher();
        h.write_u64(0x5eed);
        Self(h.finish() | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

impl Default for PeerRng {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Clone, Copy)]
struct Peer<A> {
    id: [u8; 20],
    /// The compact entry ([`CompactV4::entry`], [`CompactV6::entry`]): what replies carry.
    addr: A,
    /// Seconds since the store's epoch after which the peer is dropped.
    expires: u32,
}

/// Swarms with at most this many peers (of one family) find a peer by scanning; larger
/// ones keep a hash index. Most swarms are tiny, and a scan of a few ids is faster and
/// smaller than a hash map.
const INDEX_AT: usize = 16;

/// Where a peer is: in the seeders or the leechers vector, at an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    seeder: bool,
    at: u32,
}

/// Peers of one address family in one swarm: seeders and leechers in two dense vectors
/// (a seeder is handed only leechers in O(numwant), however many seeders there are),
/// plus, once the swarm is large, an index by peer id (O(1) update and removal).
#[derive(Debug)]
struct PeerList<A> {
    seeders: Vec<Peer<A>>,
    leechers: Vec<Peer<A>>,
    #[allow(
        clippy::box_collection,
        reason = "8 bytes instead of 48 in every swarm; most never index"
    )]
    index: Option<Box<HashMap<[u8; 20], Slot, RandomState>>>,
}

impl<A: Copy + PartialEq> PeerList<A> {
    fn new() -> Self {
        Self {
            seeders: Vec::new(),
            leechers: Vec::new(),
            index: None,
        }
    }

    fn len(&self) -> usize {
        self.seeders.len() + self.leechers.len()
    }

    fn seeder_count(&self) -> u32 {
        self.seeders.len() as u32
    }

    fn vec(&mut self, seeder: bool) -> &mut Vec<Peer<A>> {
        if seeder {
            &mut self.seeders
        } else {
            &mut self.leechers
        }
    }

    fn find(&self, id: &[u8; 20]) -> Option<Slot> {
        match &self.index {
            Some(index) => index.get(id).copied(),
            None => {
                let find = |v: &[Peer<A>], seeder| {
                    v.iter().position(|p| &p.id == id).map(|at| Slot {
                        seeder,
                        at: at as u32,
                    })
                };
                find(&self.seeders, true).or_else(|| find(&self.leechers, false))
            }
        }
    }

    fn remove(&mut self, slot: Slot) -> Peer<A> {
        let v = self.vec(slot.seeder);
        let at = slot.at as usize;
        let gone = v.swap_remove(at);
        let moved = v.get(at).map(|p| p.id);
        if v.is_empty() {
            *v = Vec::new();
        }
        if let Some(index) = &mut self.index {
            index.remove(&gone.id);
            if let Some(moved) = moved {
                index.insert(moved, slot);
            }
        }
        if self.index.is_some() && self.len() < INDEX_AT / 2 {
            self.index = None;
        }
        gone
    }

    fn insert(&mut self, peer: Peer<A>, seeder: bool, hasher: &RandomState) {
        let v = self.vec(seeder);
        if v.capacity() == 0 {
            // Most swarms hold one peer: room for one, not the default four.
            v.reserve_exact(1);
        }
        let slot = Slot {
            seeder,
            at: v.len() as u32,
        };
        v.push(peer);
        let len = self.len();
        if let Some(index) = &mut self.index {
            index.insert(peer.id, slot);
        } else if len > INDEX_AT {
            let mut index = HashMap::with_capacity_and_hasher(len * 2, hasher.clone());
            for (seeder, v) in [(true, &self.seeders), (false, &self.leechers)] {
                index.extend(v.iter().enumerate().map(|(at, p)| {
                    (
                        p.id,
                        Slot {
                            seeder,
                            at: at as u32,
                        },
                    )
                }));
            }
            self.index = Some(Box::new(index));
        }
    }

    /// Inserts, updates or removes the peer; returns whether it counts as a completed
    /// download: a known leecher reporting left=0, or a new peer announcing `completed`.
    fn upsert(
        &mut self,
        a: &Announce,
        addr: A,
        expires: u32,
        max_peers: usize,
        hasher: &RandomState,
    ) -> bool {
        let seeder = a.left == 0;
        let peer = Peer {
            id: a.peer_id,
            addr,
            expires,
        };
        match self.find(&a.peer_id) {
            Some(slot) => {
                // A known leecher that now has everything completed the download, whether
                // it says `completed` or not (aria2 with --seed-time=0 goes straight from
                // `started` to `stopped` with left=0).
                let completed = !slot.seeder && seeder;
                if a.event == PeerEvent::Stopped {
                    self.remove(slot);
                } else if slot.seeder != seeder {
                    self.remove(slot);
                    self.insert(peer, seeder, hasher);
                } else {
                    self.vec(seeder)[slot.at as usize] = peer;
                }
                completed
            }
            None => {
                if a.event == PeerEvent::Stopped || self.len() >= max_peers {
                    return false;
                }
                self.insert(peer, seeder, hasher);
                a.event == PeerEvent::Completed
            }
        }
    }

    /// Appends up to `want` peers other than `me`, starting at a random position. A
    /// seeder gets only leechers, since it has nothing to gain from other seeders.
    fn select(
        &self,
        me: &[u8; 20],
        me_seeder: bool,
        want: usize,
        rng: &mut PeerRng,
        out: &mut Vec<A>,
    ) {
        let (first, second): (&[Peer<A>], &[Peer<A>]) = if me_seeder {
            (&self.leechers, &[])
        } else {
            (&self.seeders, &self.leechers)
        };
        let n = first.len() + second.len();
        if want == 0 || n == 0 {
            return;
        }
        let start = rng.below(n);
        let all = || first.iter().chain(second);
        let picked = all()
            .skip(start)
            .chain(all().take(start))
            .filter(|p| &p.id != me)
            .take(want);
        out.extend(picked.map(|p| p.addr));
    }

    fn expire(&mut self, now: u32) -> usize {
        let before = self.len();
        for seeder in [true, false] {
            let mut at = 0;
            while at < self.vec(seeder).len() {
                if self.vec(seeder)[at].expires <= now {
                    self.remove(Slot {
                        seeder,
                        at: at as u32,
                    });
                } else {
                    at += 1;
                }
            }
        }
        before - self.len()
    }
}

#[derive(Debug)]
struct Swarm {
    v4: PeerList<[u8; 6]>,
    v6: PeerList<[u8; 18]>,
    downloaded: u32,
}

impl Swarm {
    fn new() -> Self {
        Self {
            v4: PeerList::new(),
            v6: PeerList::new(),
            downloaded: 0,
        }
    }

    fn counts(&self) -> SwarmCounts {
        let seeders = self.v4.seeder_count() + self.v6.seeder_count();
        let total = (self.v4.len() + self.v6.len()) as u32;
        SwarmCounts {
            seeders,
            leechers: total - seeders,
            downloaded: self.downloaded,
        }
    }

    fn is_empty(&self) -> bool {
        self.v4.len() == 0 && self.v6.len() == 0
    }
}

#[derive(Debug)]
struct Shard {
    swarms: HashMap<[u8; 20], Swarm, RandomState>,
    peers: usize,
}

/// Totals over the whole store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreTotals {
    /// Swarms (info-hashes with at least one peer, or a completed count).
    pub swarms: usize,
    /// Peers over all swarms.
    pub peers: usize,
    /// Seeders over all swarms.
    pub seeders: usize,
}

/// Swarms in memory, keyed by 20-byte info-hash, sharded for concurrent access.
///
/// Time is passed in as an [`Instant`] so tests can drive expiry without sleeping.
#[derive(Debug)]
pub struct SwarmStore {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    epoch: Instant,
    limits: SwarmLimits,
    swarm_count: std::sync::atomic::AtomicUsize,
}

impl SwarmStore {
    /// An empty store; `epoch` is the instant that expiry times are counted from.
    pub fn new(limits: SwarmLimits, epoch: Instant) -> Self {
        let hasher = RandomState::new();
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    swarms: HashMap::with_hasher(hasher.clone()),
                    peers: 0,
                })
            })
            .collect();
        Self {
            shards,
            hasher,
            epoch,
            limits,
            swarm_count: Default::default(),
        }
    }

    /// The limits this store enforces.
    pub fn limits(&self) -> &SwarmLimits {
        &self.limits
    }

    fn secs(&self, now: Instant) -> u32 {
        now.saturating_duration_since(self.epoch)
            .as_secs()
            .min(u64::from(u32::MAX / 2)) as u32
    }

    fn shard(&self, info_hash: &[u8; 20]) -> MutexGuard<'_, Shard> {
        // Info-hashes are hashes already; the last byte picks the shard (the first bytes
        // feed the map's own keyed hash).
        let i = info_hash[19] as usize % SHARDS;
        self.shards[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records an announce and fills `out` with peers for the reply.
    /// Returns the swarm's counts after the announce.
    pub fn announce(
        &self,
        a: &Announce,
        now: Instant,
        families: ReplyFamilies,
        rng: &mut PeerRng,
        out: &mut PeerSelection,
    ) -> SwarmCounts {
        out.clear();
        let expires = self
            .secs(now)
            .saturating_add(self.limits.peer_timeout.as_secs().max(1) as u32);
        let want = a
            .numwant
            .unwrap_or(self.limits.default_numwant)
            .min(self.limits.max_numwant);
        let addr = canonical(a.addr);
        let seeder = a.left == 0;
        let mut shard = self.shard(&a.info_hash);
        let shard = &mut *shard;
        let swarm = match shard.swarms.entry(a.info_hash) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let full = self.swarm_count.load(std::sync::atomic::Ordering::Relaxed)
                    >= self.limits.max_swarms;
                if full || a.event == PeerEvent::Stopped {
                    return SwarmCounts::default();
                }
                self.swarm_count
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                e.insert(Swarm::new())
            }
        };
        let before = swarm.v4.len() + swarm.v6.len();
        let completed = match addr {
            SocketAddr::V4(v4) => swarm.v4.upsert(
                a,
                CompactV4::entry(v4),
                expires,
                self.limits.max_peers_per_swarm,
                &self.hasher,
            ),
            SocketAddr::V6(v6) => swarm.v6.upsert(
                a,
                CompactV6::entry(v6),
                expires,
                self.limits.max_peers_per_swarm,
                &self.hasher,
            ),
        };
        if completed {
            swarm.downloaded = swarm.downloaded.saturating_add(1);
        }
        let after = swarm.v4.len() + swarm.v6.len();
        let counts = swarm.counts();
        if a.event != PeerEvent::Stopped {
            match (addr, families) {
                (SocketAddr::V4(_), ReplyFamilies::Own) => {
                    swarm.v4.select(&a.peer_id, seeder, want, rng, &mut out.v4)
                }
                (SocketAddr::V6(_), ReplyFamilies::Own) => {
                    swarm.v6.select(&a.peer_id, seeder, want, rng, &mut out.v6)
                }
                (_, ReplyFamilies::Both) => {
                    swarm.v4.select(&a.peer_id, seeder, want, rng, &mut out.v4);
                    let rest = want - out.v4.len();
                    swarm.v6.select(&a.peer_id, seeder, rest, rng, &mut out.v6);
                }
            }
        }
        shard.peers = shard.peers + after - before;
        counts
    }

    /// Counts for one info-hash; zeros for an unknown one.
    pub fn scrape(&self, info_hash: &[u8; 20]) -> SwarmCounts {
        self.shard(info_hash)
            .swarms
            .get(info_hash)
            .map(Swarm::counts)
            .unwrap_or_default()
    }

    /// Drops peers whose last announce is older than the peer timeout, and swarms left
    /// empty. Returns how many peers were dropped.
    pub fn expire(&self, now: Instant) -> usize {
        let now = self.secs(now);
        let mut dropped = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            let mut gone = 0;
            let mut emptied = 0;
            shard.swarms.retain(|_, s| {
                gone += s.v4.expire(now) + s.v6.expire(now);
                let keep = !s.is_empty();
                if !keep {
                    emptied += 1;
                }
                keep
            });
            shard.peers -= gone;
            dropped += gone;
            self.swarm_count
                .fetch_sub(emptied, std::sync::atomic::Ordering::Relaxed);
        }
        dropped
    }

    /// Totals over all swarms (takes each shard's lock briefly).
    pub fn totals(&self) -> StoreTotals {
        let mut t = StoreTotals::default();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            t.swarms += shard.swarms.len();
            t.peers += shard.peers;
            t.seeders += shard
                .swarms
                .values()
                .map(|s| (s.v4.seeder_count() + s.v6.seeder_count()) as usize)
                .sum::<usize>();
        }
        t
    }
}

/// An IPv4-mapped IPv6 address (from a dual-stack socket) is stored as the IPv4 address
/// it is, so IPv4 peers find each other whichever socket they came in on.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => SocketAddr::V6(SocketAddrV6::new(*v6.ip(), v6.port(), 0, 0)),
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(hash: u8, peer: u8, port: u16, left: u64, event: PeerEvent) -> Announce {
        Announce {
            info_hash: [hash; 20],
            peer_id: [peer; 20],
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            left,
            event,
            numwant: None,
        }
    }

    fn store() -> (SwarmStore, Instant) {
        let t0 = Instant::now();
        let limits = SwarmLimits {
            peer_timeout: Duration::from_secs(90),
            ..Default::default()
        };
        (SwarmStore::new(limits, t0), t0)
    }

    #[test]
    fn counts_seeders_and_leechers_and_hands_out_others() {
        let (s, t0) = store();
        let mut rng = PeerRng::new();
        let mut out = PeerSelection::default();
        let c = s.announce(
            &ann(1, 1, 1001, 0, PeerEvent::Started),
            t0,
            ReplyFamilies::Own,
            &mut rng,
            &mut out,
        );
        assert_eq!((c.seeders, c.leechers), (1, 0));
        assert!(out.v4.is_empty(), "a lone seeder gets no peers");
        let c = s.announce(
            &ann(1, 2, 1002, 10, PeerEvent::Started),
            t0,
            ReplyFamilies::Own,
            &mut rng,
            &mut out,
        );
        assert_eq!((c.seeders, c.leechers), (1, 1));
        assert_eq!(
            out.compact_v4().to_vec(),
            vec!["127.0.0.1:1001".parse().unwrap()]
        );
        // The leecher completes: two seeders, one completion.
        let c = s.announce(
            &ann(1, 2, 1002, 0, PeerEvent::Completed),
            t0,
            ReplyFamilies::Own,
            &mut rng,
            &mut out,
        );
        assert_eq!(
            c,
            SwarmCounts {
                seeders: 2,
                leechers: 0,
                downloaded: 1
            }
        );
        assert!(out.v4.is_empty(), "a seeder is not given other seeders");
        let c = s.announce(
            &ann(1, 1, 1001, 0, PeerEvent::Stopped),
            t0,
            ReplyFamilies::Own,
            &mut rng,
            &mut out,
        );
        assert_eq!((c.seeders, c.leechers), (1, 0));
        assert_eq!(
            s.scrape(&[1; 20]),
            SwarmCounts {
                seeders: 1,
                leechers: 0,
                downloaded: 1
            }
        );
        assert_eq!(s.scrape(&[9; 20]), SwarmCounts::default());
        assert_eq!(
            s.totals(),
            StoreTotals {
                swarms: 1,
                peers: 1,
                seeders: 1
            }
        );
        // A leecher that leaves with left=0 and no `completed` event still completed.
        s.announce(
            &ann(1, 3, 1003, 10, PeerEvent::Started),
            t0,
            ReplyFamilies::Own,
            &mut rng,
            &mut out,
        );
        let c = s.announce(
            &ann(1, 3, 1003, 0, PeerEvent::Stopped),
            t0,
            ReplyFamilies::Own,
            &mut rng,
            &mut out,
        );
        assert_eq!(
            c,
            SwarmCounts {
                seeders: 1,
                leechers: 0,
                downloaded: 2
            }
        );
        // A seeder re-announcing or stopping does not count again.
        s.announce(
            &ann(1, 2, 1002, 0, PeerEvent::Completed),
            t0,
            ReplyFamilies::Own,
            &mut rng,
            &mut out,
        );
        let c = s.announce(
            &ann(1, 2, 1002, 0, PeerEvent::Stopped),
            t0,
            ReplyFamilies::Own,
            &mut rng,
            &mut out,
        );
        assert_eq!(c.downloaded, 2);
    }

    #[test]
    fn numwant_is_respected_and_capped() {
        let (s, t0) = store();
        let mut rng = PeerRng::new();
        let mut out = PeerSelection::default();
        for p in 0..100u8 {
            s.announce(
                &ann(3, p, 2000 + u16::from(p), 5, PeerEvent::None),
                t0,
                ReplyFamilies::Own,
                &mut rng,
                &mut out,
            );
        }
        let mut a = ann(3, 200, 3000, 5, PeerEvent::None);
        a.numwant = Some(7);
        s.announce(&a, t0, ReplyFamilies::Own, &mut rng, &mut out);
        assert_eq!(out.v4.len(), 7);
        a.numwant = Some(100_000);
        s.announce(&a, t0, ReplyFamilies::Own, &mut rng, &mut out);
        assert_eq!(out.v4.len(), 100, "all others, never itself");
        assert!(
            !out.compact_v4()
                .iter()
                .any(|p| p == "127.0.0.1:3000".parse().unwrap())
        );
        a.numwant = Some(0);
        s.announce(&a, t0, ReplyFamilies::Own, &mut rng, &mut out);
        assert!(out.v4.is_empty());
    }

    #[test]
    fn large_swarms_index_peers_and_shrink_back() {
        let (s, t0) = store();
        let mut rng = PeerRng::new();
        let mut out = PeerSelection::default();
        for round in 0..2 {
            for p in 0..40u8 {
                let left = if p % 4 == 0 { 0 } else { 9 };
                s.announce(
                    &ann(6, p, 1000 + u16::from(p), left, PeerEvent::None),
                    t0,
                    ReplyFamilies::Own,
                    &mut rng,
                    &mut out,
                );
            }
            assert_eq!(
                s.scrape(&[6; 20]),
                SwarmCounts {
                    seeders: 10,
                    leechers: 30,
                    downloaded: 0
                },
                "round {round}"
            );
        }
        // Stop peers in an order that moves others around in the vector.
        for p in (0..40u8).rev().step_by(2) {
            s.announce(
                &ann(6, p, 1000 + u16::from(p), 9, PeerEvent::Stopped),
                t0,
                ReplyFamilies::Own,
                &mut rng,
                &mut out,
            );
        }
        // The odd ids (39, 37, ..., 1) left.
        let c = s.scrape(&[6; 20]);
        assert_eq!(c.seeders + c.leechers, 20);
        for p in 0..40u8 {
            s.announce(
                &ann(6, p, 1000 + u16::from(p), 9, PeerEvent::Stopped),
                t0,
                ReplyFamilies::Own,
                &mut rng,
                &mut out,
            );
        }
        assert_eq!(s.scrape(&[6; 20]), SwarmCounts::default());
        // Back below the index threshold, lookups still find peers.
        for p in 0..3u8 {
            s.announce(
                &ann(6, p, 1, 9, PeerEvent::None),
                t0,
                ReplyFamilies::Own,
                &mut rng,
                &mut out,
            );
            s.announce(
                &ann(6, p, 1, 0, PeerEvent::Completed),
                t0,
                ReplyFamilies::Own,
                &mut rng,
                &mut out,
            );
        }
        assert_eq!(
            s.scrape(&[6; 20]),
            SwarmCounts {
                seeders: 3,
                leechers: 0,
                downloaded: 3
            }
        );
    }

    #[test]
    fn seeders_get_leechers_only_whatever_the_mix() {
        let (s, t0) = store();
        let mut rng = PeerRng::new();
        let mut out = PeerSelection::default();
        for p in 0..200u8 {
            let left = if p < 3 { 7 } else { 0 };
            s.announce(
                &ann(8, p, 1000 + u16::from(p), left, PeerEvent::None),
                t0,
                ReplyFamilies::Own,
                &mut rng,
                &mut out,
            );
        }
        let mut a = ann(8, 250, 2000, 0, PeerEvent::None);
        a.numwant = Some(50);
        s.announce(&a, t0, ReplyFamilies::Own, &mut rng, &mut out);
        let mut got: Vec<u16> = out.compact_v4().iter().map(|p| p.port()).collect();
        got.sort_unstable();
        assert_eq!(got, [1000, 1001, 1002]);
    }

    /// Random announces checked against a plain map after every step.
    #[test]
    fn matches_a_simple_model() {
        use std::collections::BTreeMap;
        let (s, t0) = store();
        let mut rng = PeerRng::new();
        let mut out = PeerSelection::default();
        let mut model: BTreeMap<u8, bool> = BTreeMap::new(); // peer -> seeder
        let mut x = 0x1234_5678_9abc_def1_u64;
        for step in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let peer = (x % 40) as u8;
            let seeder = x >> 8 & 1 == 1;
            let event = match x >> 9 & 7 {
                0 => PeerEvent::Stopped,
                1 => PeerEvent::Completed,
                _ => PeerEvent::None,
            };
            let mut a = ann(
                7,
                peer,
                1000 + u16::from(peer),
                if seeder { 0 } else { 5 },
                event,
            );
            a.numwant = Some(1000);
            let c = s.announce(&a, t0, ReplyFamilies::Own, &mut rng, &mut out);
            if event == PeerEvent::Stopped {
                model.remove(&peer);
            } else {
                model.insert(peer, seeder);
                let mut got: Vec<u16> = out.compact_v4().iter().map(|p| p.port() - 1000).collect();
                got.sort_unstable();
                let want: Vec<u16> = model
                    .iter()
                    .filter(|&(&p, &sd)| p != peer && !(seeder && sd))
                    .map(|(&p, _)| u16::from(p))
                    .collect();
                assert_eq!(got, want, "step {step}");
            }
            let seeders = model.values().filter(|&&sd| sd).count() as u32;
            assert_eq!(
                (c.seeders, c.leechers),
                (seeders, model.len() as u32 - seeders),
                "step {step}"
            );
        }
    }

    #[test]
    fn peers_expire_after_the_timeout() {
        let (s, t0) = store();
        let mut rng = PeerRng::new();
        let mut out = PeerSelection::default();
        s.announce(
            &ann(4, 1, 1, 5, PeerEvent::None),
            t0,
            ReplyFamilies::Own,
            &mut rng,
            &mut out,
        );
        s.announce(
            &ann(4, 2, 2, 5, PeerEvent::None),
            t0 + Duration::from_secs(60),
            ReplyFamilies::Own,
            &mut rng,
            &mut out,
        );
        assert_eq!(s.expire(t0 + Duration::from_secs(89)), 0);
        assert_eq!(s.expire(t0 + Duration::from_secs(91)), 1);
        assert_eq!(s.scrape(&[4; 20]).leechers, 1);
        assert_eq!(s.expire(t0 + Duration::from_secs(200)), 1);
        assert_eq!(s.totals(), StoreTotals::default());
    }

    #[test]
    fn limits_on_swarms_and_peers() {
        let t0 = Instant::now();
        let limits = SwarmLimits {
            max_swarms: 2,
            max_peers_per_swarm: 3,
            ..Default::default()
        };
        let s = SwarmStore::new(limits, t0);
        let mut rng = PeerRng::new();
        let mut out = PeerSelection::default();
        for h in 0..5u8 {
            s.announce(
                &ann(h, 1, 1, 5, PeerEvent::None),
                t0,
                ReplyFamilies::Own,
                &mut rng,
                &mut out,
            );
        }
        assert_eq!(s.totals().swarms, 2);
        for p in 0..10u8 {
            s.announce(
                &ann(0, p, 1, 5, PeerEvent::None),
                t0,
                ReplyFamilies::Own,
                &mut rng,
                &mut out,
            );
        }
        assert_eq!(s.scrape(&[0; 20]).leechers, 3);
    }

    #[test]
    fn ipv6_and_mapped_addresses() {
        let (s, t0) = store();
        let mut rng = PeerRng::new();
        let mut out = PeerSelection::default();
        let mut a = ann(5, 1, 0, 5, PeerEvent::None);
        a.addr = "[::1]:6881".parse().unwrap();
        s.announce(&a, t0, ReplyFamilies::Own, &mut rng, &mut out);
        let mut b = ann(5, 2, 0, 5, PeerEvent::None);
        b.addr = "[::ffff:127.0.0.2]:6882".parse().unwrap();
        s.announce(&b, t0, ReplyFamilies::Own, &mut rng, &mut out);
        assert!(out.v4.is_empty() && out.v6.is_empty(), "own family only");
        s.announce(&b, t0, ReplyFamilies::Both, &mut rng, &mut out);
        assert_eq!(
            out.compact_v6().to_vec(),
            vec!["[::1]:6881".parse().unwrap()]
        );
        let mut c = ann(5, 3, 6883, 5, PeerEvent::None);
        c.numwant = Some(10);
        s.announce(&c, t0, ReplyFamilies::Own, &mut rng, &mut out);
        assert_eq!(
            out.compact_v4().to_vec(),
            vec!["127.0.0.2:6882".parse().unwrap()]
        );
        assert_eq!(s.scrape(&[5; 20]).leechers, 3);
    }
}
