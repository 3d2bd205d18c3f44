//! One torrent's shared state, and the operations peers and the driver perform on it.
//!
//! The state sits behind one `std::sync::Mutex`; every critical section is short (no IO,
//! no hashing, no await). Peer tasks lock it to pick blocks and hand in data; the driver
//! task locks it once a second for rates, choking, and dialling.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use metainfo::{InfoHash, Metainfo, PeerId};
use tokio::sync::mpsc;

use crate::picker::{BlockRef, Picker};
use crate::ratelimit::SharedLimiter;
use crate::session::SessionShared;
use crate::storage::Store;
use crate::types::{Event, Stats, TorrentState};

/// Strikes after which a peer's address is banned (a piece it alone sent failing counts 2,
/// a failing piece it shared counts 1, a passing piece it helped with takes 1 off).
pub(crate) const BAN_STRIKES: u32 = 4;

/// Who a ban applies to: the IP address, except on loopback where every peer shares one
/// address and only the address with its port tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum BanKey {
    Ip(IpAddr),
    Addr(SocketAddr),
}

impl BanKey {
    pub fn of(addr: SocketAddr) -> BanKey {
        if addr.ip().is_loopback() {
            BanKey::Addr(addr)
        } else {
            BanKey::Ip(addr.ip())
        }
    }
}

/// Commands to one peer task.
#[derive(Debug, Clone)]
pub(crate) enum PeerCmd {
    /// We verified a piece: tell the peer.
    Have(u32),
    /// Choke the peer.
    Choke,
    /// Unchoke the peer.
    Unchoke,
    /// Another peer delivered this block first (endgame): cancel our request.
    Cancel(BlockRef),
    /// Metadata arrived or blocks were freed: re-evaluate interest and requests.
    Refill,
    /// Send this ut_pex payload (already encoded, without the extension id).
    Pex(Bytes),
    /// Close the connection.
    Close(&'static str),
    /// A deadline on this piece is due (a stream waits for it, or a player's deadline
    /// came): cancel requests queued ahead of it (once per piece).
    MakeRoom(u32),
}

/// Counters a peer's reader and writer share with the driver.
#[derive(Debug, Default)]
pub(crate) struct PeerCounters {
    pub downloaded: AtomicU64,
    pub uploaded: AtomicU64,
    pub peer_interested: AtomicBool,
    pub am_choking: AtomicBool,
    /// We asked the connection to close (choked out, both seeds, banned, paused): its end
    /// is ours, not the peer's, whatever the reader saw last.
    pub closed_by_us: AtomicBool,
    /// The peer's requests we have not served yet, and which of them it cancelled.
    pub requests: Mutex<crate::upload::Requests>,
}

/// A connected peer as the torrent sees it.
#[derive(Debug)]
pub(crate) struct PeerEntry {
    pub addr: SocketAddr,
    pub peer_id: PeerId,
    /// Where the peer accepts connections (for PEX): its address with its `p` port.
    pub listen_addr: Option<SocketAddr>,
    pub tx: mpsc::UnboundedSender<PeerCmd>,
    pub counters: Arc<PeerCounters>,
    pub pex_id: Option<u8>,
    pub down_rate: u64,
    pub up_rate: u64,
    last_down: u64,
    last_up: u64,
    /// When the counters were last sampled into the rates (the connection's start before
    /// the first sample).
    sampled_at: Instant,
    pub seed: bool,
}

impl PeerEntry {
    /// Asks the peer's task to close the connection, recording that we closed it.
    pub fn close(&self, reason: &'static str) {
        self.counters.closed_by_us.store(true, Ordering::Relaxed);
        let _ = self.tx.send(PeerCmd::Close(reason));
    }
}

/// The next smoothed rate from the last one and a new sample.
fn smooth(last: u64, sample: u64) -> u64 {
    if last == 0 {
        sample
    } else {
        (last + sample) / 2
    }
}

/// How a connection ended, for the pool, from whether we asked it to close and from the
/// reason the peer task ended with: the peer closed it (end of stream), an IO error or
/// timeout broke it, or it broke the protocol (any other reason the reader gives is a
/// message it refused).
pub(crate) fn close_reason(reason: &str, closed_by_us: bool) -> conn_pool::CloseReason {
    use conn_pool::CloseReason;
    if closed_by_us || reason == "torrent closed" {
        CloseReason::Local
    } else if reason == "closed by peer" {
        CloseReason::Remote
    } else if reason.starts_with("read failed") || reason == "idle too long" {
        CloseReason::Error
    } else {
        CloseReason::Protocol
    }
}

/// A piece being assembled in memory until it is hashed.
#[derive(Debug)]
pub(crate) struct PieceBuf {
    pub data: Vec<u8>,
    pub from: HashSet<SocketAddr>,
}

/// Metadata being fetched with ut_metadata (BEP 9).
#[derive(Debug)]
pub(crate) struct MetadataFetch {
    pub size: usize,
    pub pieces: Vec<Option<Bytes>>,
    pub requested: Vec<Option<Instant>>,
}

/// What a torrent knows once metadata is there.
#[derive(Debug)]
pub(crate) struct Active {
    pub meta: Arc<Metainfo>,
    pub store: Arc<Store>,
}

/// Mutable torrent state.
#[derive(Debug)]
pub(crate) struct State {
    pub active: Option<Active>,
    pub picker: Option<Picker>,
    pub bufs: HashMap<u32, PieceBuf>,
    pub peers: HashMap<u64, PeerEntry>,
    pub next_peer: u64,
    pub strikes: HashMap<BanKey, u32>,
    pub banned: HashSet<BanKey>,
    pub status: TorrentState,
    pub metadata: Option<MetadataFetch>,
    /// The info dictionary is known (from a .torrent, or fetched and verified): never
    /// fetch it (again) from peers.
    pub meta_known: bool,
    pub downloaded: u64,
    pub uploaded: u64,
    pub down_rate: u64,
    pub up_rate: u64,
    pub completed_reported: bool,
    pub sequential: bool,
    pub hashing: usize,
    pub trackers: Vec<Vec<String>>,
    pub name: Option<String>,
    pub file_priorities: Vec<u8>,
    /// Piece deadlines set before the metadata came (piece → ms on the session clock).
    pub deadlines: HashMap<u32, u64>,
    /// BEP 52 piece layers being fetched (a v2 magnet link), before storage opens.
    pub layers: Option<crate::piece_layers::LayerFetch>,
    /// Merkle trees over our piece layers, built on the first hash request for a file.
    pub layer_trees: HashMap<[u8; 32], Arc<crate::piece_layers::LayerTree>>,
    /// Hash-request answers per peer lately (a budget against floods).
    pub hashes_served: crate::piece_layers::ServedBudget,
}

impl State {
    /// The state of a torrent just added: its metadata known (a .torrent, or a magnet's
    /// saved metadata) or to be fetched, nothing connected or transferred yet.
    pub fn new(
        meta_known: bool,
        sequential: bool,
        trackers: Vec<Vec<String>>,
        name: Option<String>,
    ) -> State {
        State {
            active: None,
            picker: None,
            bufs: HashMap::new(),
            peers: HashMap::new(),
            next_peer: 0,
            strikes: HashMap::new(),
            banned: HashSet::new(),
            status: if meta_known {
                TorrentState::Checking
            } else {
                TorrentState::FetchingMetadata
            },
            metadata: None,
            meta_known,
            downloaded: 0,
            uploaded: 0,
            down_rate: 0,
            up_rate: 0,
            completed_reported: false,
            sequential,
            hashing: 0,
            trackers,
            name,
            file_priorities: Vec::new(),
            deadlines: HashMap::new(),
            layers: None,
            layer_trees: HashMap::new(),
            hashes_served: HashMap::new(),
        }
    }

    /// Whether we are seeding (every wanted piece here).
    pub fn is_complete(&self) -> bool {
        self.picker.as_ref().is_some_and(Picker::wanted_complete)
    }

    /// Number of unchoked peers.
    pub fn unchoked(&self) -> usize {
        self.peers
            .values()
            .filter(|p| !p.counters.am_choking.load(Ordering::Relaxed))
            .count()
    }

    /// Sends `cmd` to every peer.
    pub fn broadcast(&self, cmd: &PeerCmd) {
        for p in self.peers.values() {
            if let PeerCmd::Close(reason) = cmd {
                p.close(reason);
            } else {
                let _ = p.tx.send(cmd.clone());
            }
        }
    }

    /// Recomputes per-peer and torrent rates from counters, at `now` (about once a
    /// second).
    pub fn update_rates(&mut self, now: Instant) {
        let mut down = 0;
        let mut up = 0;
        for p in self.peers.values_mut() {
            // Each peer over its own interval: one that connected just before this tick
            // is not judged by a few milliseconds counted as a second (its queue depth
            // follows this rate), and waits for the next tick if that is too short.
            let secs = now.saturating_duration_since(p.sampled_at).as_secs_f64();
            if secs >= 0.25 {
                let d = p.counters.downloaded.load(Ordering::Relaxed);
                let u = p.counters.uploaded.load(Ordering::Relaxed);
                let inst_down = ((d - p.last_down) as f64 / secs) as u64;
                let inst_up = ((u - p.last_up) as f64 / secs) as u64;
                // Smoothed over a few seconds so the choker and queue depth do not jitter;
                // a first rate (after none) is taken as it is, not halved.
                p.down_rate = smooth(p.down_rate, inst_down);
                p.up_rate = smooth(p.up_rate, inst_up);
                p.last_down = d;
                p.last_up = u;
                p.sampled_at = now;
            }
            down += p.down_rate;
            up += p.up_rate;
        }
        self.down_rate = down;
        self.up_rate = up;
    }
}

/// One torrent, shared by its driver and its peer tasks.
#[derive(Debug)]
pub(crate) struct Torrent {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub output: PathBuf,
    pub session: Arc<SessionShared>,
    pub state: Mutex<State>,
    pub subscribers: Mutex<Vec<mpsc::UnboundedSender<Event>>>,
    /// The subscription opened at add time, for the first `events()` caller.
    pub early_events: Mutex<Option<mpsc::UnboundedReceiver<Event>>>,
    pub down_limit: SharedLimiter,
    pub up_limit: SharedLimiter,
    /// Wakes the driver (new peers to dial, state changes).
    pub driver_tx: mpsc::UnboundedSender<crate::driver::DriverCmd>,
    pub running: AtomicBool,
    /// Woken when a piece is verified, storage opens, or the torrent halts: what
    /// [`FileStream`](crate::stream::FileStream) reads wait on.
    pub piece_ready: tokio::sync::Notify,
    /// Removed from its session: streams stop reading.
    pub removed: AtomicBool,
}

impl Torrent {
    /// Locks the state (a poisoned lock means a peer task panicked; keep going).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends an event to every subscriber, dropping those that went away.
    pub fn emit(&self, event: Event) {
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subs.retain(|s| s.send(event.clone()).is_ok());
    }

    /// The 20 bytes of our handshake.
    pub fn wire_hash(&self) -> [u8; 20] {
        self.info_hash.wire()
    }

    /// Registers a connected peer; `None` if the torrent is full, paused, or the peer banned.
    pub fn add_peer(
        &self,
        addr: SocketAddr,
        peer_id: PeerId,
        tx: mpsc::UnboundedSender<PeerCmd>,
    ) -> Option<(u64, Arc<PeerCounters>)> {
        let mut st = self.lock();
        if !self.running.load(Ordering::Relaxed)
            || st.banned.contains(&BanKey::of(addr))
            || st.peers.len() >= self.session.config.max_peers_per_torrent
            // One connection per peer (both sides may dial each other after PEX).
            || st.peers.values().any(|p| p.addr == addr || p.peer_id == peer_id)
        {
            // The pool counts this address as connected: tell it we closed it (unless the
            // address is the one of a registered peer, whose close will be reported).
            if !st.peers.values().any(|p| p.addr == addr) {
                let info = conn_pool::ClosedInfo {
                    bytes_up: 0,
                    bytes_down: 0,
                    reason: conn_pool::CloseReason::Local,
                };
                let _ = self
                    .driver_tx
                    .send(crate::driver::DriverCmd::PeerClosed(addr, info));
            }
            return None;
        }
        let key = st.next_peer;
        st.next_peer += 1;
        let counters = Arc::new(PeerCounters::default());
        counters.am_choking.store(true, Ordering::Relaxed);
        st.peers.insert(
            key,
            PeerEntry {
                addr,
                peer_id,
                listen_addr: None,
                tx,
                counters: counters.clone(),
                pex_id: None,
                down_rate: 0,
                up_rate: 0,
                last_down: 0,
                last_up: 0,
                sampled_at: Instant::now(),
                seed: false,
            },
        );
        drop(st);
        self.emit(Event::PeerConnected { addr });
        Some((key, counters))
    }

    /// Forgets a peer whose task ended; `has` is what it had (for availability).
    pub fn remove_peer(&self, key: u64, has: &[bool], outstanding: &[BlockRef], reason: String) {
        let mut st = self.lock();
        let Some(entry) = st.peers.remove(&key) else {
            return;
        };
        crate::piece_layers::peer_gone(&mut st, key);
        if let Some(picker) = st.picker.as_mut() {
            picker.peer_gone(has);
            for b in outstanding {
                picker.cancel(b);
            }
        }
        let addr = entry.addr;
        let info = conn_pool::ClosedInfo {
            bytes_up: entry.counters.uploaded.load(Ordering::Relaxed),
            bytes_down: entry.counters.downloaded.load(Ordering::Relaxed),
            reason: close_reason(&reason, entry.counters.closed_by_us.load(Ordering::Relaxed)),
        };
        if !entry.counters.am_choking.load(Ordering::Relaxed) {
            // A slot freed up: let someone else in at the next round.
            let _ = self.driver_tx.send(crate::driver::DriverCmd::Rechoke);
        }
        drop(st);
        if !outstanding.is_empty() {
            self.lock().broadcast(&PeerCmd::Refill);
        }
        let _ = self
            .driver_tx
            .send(crate::driver::DriverCmd::PeerClosed(addr, info));
        self.emit(Event::PeerDisconnected { addr, reason });
    }

    /// A piece is assembled: hash it off the network tasks and store it if it is good.
    pub fn spawn_verify(self: &Arc<Self>, piece: u32, buf: PieceBuf) {
        let torrent = self.clone();
        let store = {
            let mut st = self.lock();
            match st.active.as_ref() {
                Some(a) => {
                    let store = a.store.clone();
                    st.hashing += 1;
                    store
                }
                None => return,
            }
        };
        crate::hashpool::run(move || {
            let PieceBuf { data, from } = buf;
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                store.write_piece(piece, &data)
            }))
            .unwrap_or_else(|_| Err(crate::Error::Internal("hashing a piece panicked".into())));
            crate::bufpool::give(data);
            torrent.piece_checked(piece, result, from);
        });
    }

    fn piece_checked(&self, piece: u32, result: crate::Result<bool>, from: HashSet<SocketAddr>) {
        let mut events = Vec::new();
        let mut st = self.lock();
        st.hashing -= 1;
        match result {
            Ok(true) => {
                for addr in &from {
                    if let Some(s) = st.strikes.get_mut(&BanKey::of(*addr)) {
                        *s = s.saturating_sub(1);
                    }
                }
                if let Some(p) = st.picker.as_mut() {
                    p.mark_have(piece);
                }
                st.broadcast(&PeerCmd::Have(piece));
                self.piece_ready.notify_waiters();
                events.push(Event::PieceVerified { piece });
                if st.is_complete() && !st.completed_reported && st.hashing == 0 {
                    st.completed_reported = true;
                    st.status = TorrentState::Seeding;
                    let _ = self.driver_tx.send(crate::driver::DriverCmd::Completed);
                    events.push(Event::Completed);
                }
            }
            Ok(false) => {
                if let Some(p) = st.picker.as_mut() {
                    p.piece_failed(piece);
                }
                events.push(Event::PieceFailed { piece });
                let weight = if from.len() == 1 { 2 } else { 1 };
                for addr in from {
                    let key = BanKey::of(addr);
                    let s = st.strikes.entry(key).or_insert(0);
                    *s += weight;
                    if *s >= BAN_STRIKES && st.banned.insert(key) {
                        for p in st.peers.values().filter(|p| BanKey::of(p.addr) == key) {
                            p.close("sent data that failed hash checks");
                            events.push(Event::PeerBanned { addr: p.addr });
                        }
                    }
                }
                st.broadcast(&PeerCmd::Refill);
            }
            Err(e) => {
                if let Some(p) = st.picker.as_mut() {
                    p.piece_failed(piece);
                }
                st.status = TorrentState::Error;
                events.push(Event::Error {
                    message: e.to_string(),
                });
                let _ = self.driver_tx.send(crate::driver::DriverCmd::Fatal);
            }
        }
        // A completion that waited for outstanding hash jobs.
        if st.hashing == 0 && st.is_complete() && !st.completed_reported {
            st.completed_reported = true;
            st.status = TorrentState::Seeding;
            let _ = self.driver_tx.send(crate::driver::DriverCmd::Completed);
            events.push(Event::Completed);
        }
        drop(st);
        for e in events {
            self.emit(e);
        }
    }

    /// [`TorrentHandle::set_piece_deadline`](crate::TorrentHandle::set_piece_deadline):
    /// a deadline of the handle's on `piece`, `deadline` from now; one already due makes
    /// peers make room for the piece at once (later ones do when they see it late).
    pub fn set_piece_deadline(&self, piece: u32, deadline: Duration) {
        let at = self.session.at_ms(Instant::now() + deadline);
        let mut st = self.lock();
        match st.picker.as_mut() {
            Some(p) => {
                p.set_deadline(piece, at);
                if at <= self.session.now_ms() && p.has_deadline(piece) {
                    st.broadcast(&PeerCmd::MakeRoom(piece));
                }
            }
            None => {
                st.deadlines.insert(piece, at);
            }
        }
    }

    /// A snapshot of progress.
    pub fn stats(&self) -> Stats {
        let st = self.lock();
        let (total_len, pieces_total) = st
            .active
            .as_ref()
            .map_or((0, 0), |a| (a.meta.total_length(), a.meta.num_pieces()));
        let (have_len, pieces_have) = st
            .picker
            .as_ref()
            .map_or((0, 0), |p| (p.have_bytes().min(total_len), p.have_count()));
        Stats {
            info_hash: self.info_hash,
            name: st.name.clone(),
            state: st.status,
            total_len,
            have_len,
            pieces_have,
            pieces_total,
            peers: st.peers.len(),
            down_rate: st.down_rate,
            up_rate: st.up_rate,
            downloaded: st.downloaded,
            uploaded: st.uploaded,
            complete: st.is_complete() && st.completed_reported,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::DriverCmd;
    use crate::session::SessionShared;
    use conn_pool::CloseReason;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    /// A running torrent with no driver: what it sends the driver lands in the receiver.
    fn torrent() -> (Arc<Torrent>, mpsc::UnboundedReceiver<DriverCmd>) {
        let session = Arc::new(SessionShared {
            config: crate::SessionConfig::default(),
            peer_id: PeerId([b'S'; 20]),
            listen_addr: None,
            torrents: Mutex::new(HashMap::new()),
            down_limit: SharedLimiter::new(None),
            up_limit: SharedLimiter::new(None),
            http: reqwest::Client::new(),
            epoch: Instant::now(),
        });
        let (driver_tx, driver_rx) = mpsc::unbounded_channel();
        let torrent = Torrent {
            info_hash: InfoHash::V1([7; 20]),
            peer_id: PeerId([b'S'; 20]),
            output: PathBuf::from("unused"),
            session,
            state: Mutex::new(State::new(false, false, Vec::new(), None)),
            subscribers: Mutex::new(Vec::new()),
            early_events: Mutex::new(None),
            down_limit: SharedLimiter::new(None),
            up_limit: SharedLimiter::new(None),
            driver_tx,
            running: AtomicBool::new(true),
            piece_ready: tokio::sync::Notify::new(),
            removed: AtomicBool::new(false),
        };
        (Arc::new(torrent), driver_rx)
    }

    /// Runs a peer task for a fresh loopback connection (peer id `id`); returns the remote
    /// end, which the test drives, and the peer's address as the torrent sees it.
    async fn connect(torrent: &Arc<Torrent>, id: u8) -> (TcpStream, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let remote = TcpStream::connect(listener.local_addr().expect("addr"))
            .await
            .expect("connect");
        let (ours, addr) = listener.accept().await.expect("accept");
        let hs = wire::Handshake::new(torrent.wire_hash(), PeerId([id; 20]));
        tokio::spawn(crate::peer::run(
            torrent.clone(),
            ours,
            addr,
            hs,
            bytes::BytesMut::new(),
        ));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !torrent.lock().peers.values().any(|p| p.addr == addr) {
            assert!(Instant::now() < deadline, "peer never registered");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (remote, addr)
    }

    /// The next `PeerClosed` the driver would get.
    async fn closed(rx: &mut mpsc::UnboundedReceiver<DriverCmd>) -> (SocketAddr, CloseReason) {
        let wait = async {
            loop {
                match rx.recv().await {
                    Some(DriverCmd::PeerClosed(addr, info)) => return (addr, info.reason),
                    Some(_) => {}
                    None => panic!("driver channel closed"),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .expect("no PeerClosed within 10 s")
    }

    #[tokio::test]
    async fn the_pool_hears_who_closed_a_connection_and_why() {
        let (t, mut rx) = torrent();

        // The peer hangs up cleanly (FIN).
        let (mut remote, addr) = connect(&t, 1).await;
        remote.shutdown().await.expect("shutdown");
        assert_eq!(closed(&mut rx).await, (addr, CloseReason::Remote));
        drop(remote);

        // The peer sends a message longer than any allowed: a protocol error.
        let (mut remote, addr) = connect(&t, 2).await;
        remote
            .write_all(&[0xff, 0xff, 0xff, 0xff, 7])
            .await
            .expect("write");
        assert_eq!(closed(&mut rx).await, (addr, CloseReason::Protocol));

        // The connection is reset under us: an error, not a clean close. (Closing a socket
        // with unread data in it, our extension handshake here, sends a reset.)
        let (remote, addr) = connect(&t, 3).await;
        let mut peek = [0u8; 4];
        remote
            .peek(&mut peek)
            .await
            .expect("our first message arrives");
        drop(remote);
        assert_eq!(closed(&mut rx).await, (addr, CloseReason::Error));

        // We close it (both seeds, banned, paused...).
        let (_remote, addr) = connect(&t, 4).await;
        t.lock().broadcast(&PeerCmd::Close("paused or stopped"));
        assert_eq!(closed(&mut rx).await, (addr, CloseReason::Local));

        // A second connection from a peer id we already have is refused at once: ours.
        let (_first, _) = connect(&t, 5).await;
        let (tx, _cmds) = mpsc::unbounded_channel();
        let dup: SocketAddr = "127.0.0.1:9".parse().expect("addr");
        assert!(t.add_peer(dup, PeerId([5; 20]), tx).is_none());
        assert_eq!(closed(&mut rx).await, (dup, CloseReason::Local));
    }

    fn cancels(msgs: &[wire::Message]) -> Vec<u32> {
        msgs.iter()
            .filter_map(|m| match m {
                wire::Message::Cancel(r) => Some(r.index),
                _ => None,
            })
            .collect()
    }

    /// A remote peer that is talking to us: its socket, with what we sent it so far
    /// buffered and decoded.
    struct Remote {
        sock: TcpStream,
        buf: bytes::BytesMut,
        dec: wire::MessageDecoder,
    }

    impl Remote {
        /// Reads messages until `stop` says so or 5 s pass; returns them.
        async fn read_until(
            &mut self,
            mut stop: impl FnMut(&wire::Message) -> bool,
        ) -> Vec<wire::Message> {
            use tokio::io::AsyncReadExt;
            let mut got = Vec::new();
            let work = async {
                loop {
                    while let Some(m) = self.dec.decode(&mut self.buf).expect("our messages decode")
                    {
                        let done = stop(&m);
                        got.push(m);
                        if done {
                            return;
                        }
                    }
                    let n = self.sock.read_buf(&mut self.buf).await.expect("read");
                    assert!(n > 0, "we closed");
                }
            };
            tokio::time::timeout(Duration::from_secs(5), work)
                .await
                .expect("the awaited message did not come within 5 s");
            got
        }
    }

    const BUSY_PIECES: u32 = 64;

    /// A torrent of 64 pieces of 4 blocks and a peer (`id`) that has all of them but
    /// `lacking`, unchokes us and sits on our requests until 32 pieces are asked for (the
    /// first window, 128 blocks). Returns the torrent, the peer, and a piece it has that
    /// we have not asked for.
    async fn busy_peer(
        id: u8,
        seed: u64,
        lacking: Option<u32>,
    ) -> (
        Arc<Torrent>,
        mpsc::UnboundedReceiver<DriverCmd>,
        Remote,
        u32,
    ) {
        use wire::Message;
        let (t, rx) = torrent();
        t.lock().picker = Some(Picker::new(
            u64::from(BUSY_PIECES) * 4 * u64::from(crate::picker::BLOCK_LEN),
            4 * crate::picker::BLOCK_LEN,
            crate::rng::SmallRng::seeded(seed),
        ));
        let (sock, _) = connect(&t, id).await;
        let mut remote = Remote {
            sock,
            buf: bytes::BytesMut::new(),
            dec: wire::MessageDecoder::default(),
        };
        let mut bf = wire::Bitfield::new(BUSY_PIECES);
        for i in (0..BUSY_PIECES).filter(|i| Some(*i) != lacking) {
            bf.set(i, true).expect("in range");
        }
        remote
            .sock
            .write_all(&bf.to_message().to_bytes())
            .await
            .expect("write");
        remote
            .sock
            .write_all(&Message::Unchoke.to_bytes())
            .await
            .expect("write");
        let mut requested = std::collections::HashSet::new();
        remote
            .read_until(|m| {
                if let Message::Request(r) = m {
                    requested.insert(r.index);
                }
                requested.len() >= 32
            })
            .await;
        let unrequested = (0..BUSY_PIECES)
            .find(|p| !requested.contains(p) && Some(*p) != lacking)
            .expect("one left");
        (t, rx, remote, unrequested)
    }

    /// A deadline set through the handle makes room as a stream's read does: at once
    /// when it is due, at the peer's next tick when it comes due later, and not at a peer
    /// that lacks the piece until that peer has it.
    #[tokio::test]
    async fn due_deadlines_make_room_at_peers_that_have_the_piece() {
        use wire::Message;
        // The remote has every piece but the last one.
        let lacking = BUSY_PIECES - 1;
        let (t, _rx, mut remote, unrequested) = busy_peer(9, 3, Some(lacking)).await;

        // Due now on a piece this peer lacks: the full queue stays (the marker `Have`
        // comes after the room-making command on the same channel).
        t.set_piece_deadline(lacking, Duration::ZERO);
        t.lock().broadcast(&PeerCmd::Have(1));
        let msgs = remote.read_until(|m| *m == Message::Have(1)).await;
        assert_eq!(cancels(&msgs), Vec::<u32>::new());
        // Due in 200 ms: nothing happens at once; the peer's tick sees it late and
        // cancels all but the 4 oldest requests ahead of it, then asks for it.
        t.set_piece_deadline(unrequested, Duration::from_millis(200));
        let msgs = remote
            .read_until(|m| matches!(m, Message::Request(r) if r.index == unrequested))
            .await;
        assert!(
            cancels(&msgs).len() >= 100,
            "only {} requests cancelled",
            cancels(&msgs).len()
        );
        // Once the peer has the piece it lacked, it is asked for it.
        remote
            .sock
            .write_all(&Message::Have(lacking).to_bytes())
            .await
            .expect("write");
        remote
            .read_until(|m| matches!(m, Message::Request(r) if r.index == lacking))
            .await;
    }

    /// A fast peer answers every request, a cancelled one with a reject: a reject that
    /// comes after we asked for the same block again answers the cancelled request, and
    /// the new one stays ours (taking it for a refusal of the new one would ask a third
    /// time, while the peer still holds the second and serves it).
    #[tokio::test]
    async fn a_reject_answers_the_cancel_not_the_request_made_again() {
        use wire::{BlockRequest, Message};
        let (t, _rx, mut remote, due) = busy_peer(10, 4, None).await;

        // Room made for a piece due now: most requests cancelled.
        t.set_piece_deadline(due, Duration::ZERO);
        let msgs = remote
            .read_until(|m| matches!(m, Message::Request(r) if r.index == due))
            .await;
        let cancelled: Vec<BlockRequest> = msgs
            .iter()
            .filter_map(|m| match m {
                Message::Cancel(r) => Some(*r),
                _ => None,
            })
            .collect();
        assert!(cancelled.len() >= 100, "{} cancelled", cancelled.len());

        // The deadline goes: the cancelled blocks are asked for again.
        {
            let mut st = t.lock();
            st.picker
                .as_mut()
                .expect("picker")
                .clear_deadlines(crate::picker::USER_DEADLINES);
            st.broadcast(&PeerCmd::Refill);
        }
        let mut again = 0;
        remote
            .read_until(|m| {
                if let Message::Request(r) = m
                    && cancelled.contains(r)
                {
                    again += 1;
                }
                again >= 100
            })
            .await;

        // The peer answers the cancelled requests (BEP 6), then asks us for a block we do
        // not have twice (each answered with a reject): what we send in between is what
        // the rejects made us do.
        let mut out = bytes::BytesMut::new();
        for r in &cancelled {
            Message::Reject(*r).encode(&mut out);
        }
        let marker = |index| BlockRequest {
            index,
            begin: 0,
            length: crate::picker::BLOCK_LEN,
        };
        Message::Request(marker(0)).encode(&mut out);
        remote.sock.write_all(&out).await.expect("write");
        remote
            .read_until(|m| *m == Message::Reject(marker(0)))
            .await;
        remote
            .sock
            .write_all(&Message::Request(marker(1)).to_bytes())
            .await
            .expect("write");
        let msgs = remote
            .read_until(|m| *m == Message::Reject(marker(1)))
            .await;
        let asked: Vec<&Message> = msgs
            .iter()
            .filter(|m| matches!(m, Message::Request(_)))
            .collect();
        assert!(asked.is_empty(), "asked again for {} blocks", asked.len());
    }

    /// Room is made once per deadline, not once per piece for ever: a player that leaves
    /// a piece (its deadline removed) and comes back to it (set again) gets room again.
    #[tokio::test]
    async fn a_deadline_set_again_makes_room_again() {
        use wire::Message;
        let (t, _rx, mut remote, due) = busy_peer(11, 5, None).await;

        // The peer answers every cancel with a reject (BEP 6), then asks us for a block we
        // do not have: our reject of that comes after we took in its rejects.
        let mut marker = 0;
        let mut answer = async |remote: &mut Remote, cancelled: &[wire::BlockRequest]| {
            let mut out = bytes::BytesMut::new();
            for r in cancelled {
                Message::Reject(*r).encode(&mut out);
            }
            let ask = wire::BlockRequest {
                index: marker,
                begin: 0,
                length: crate::picker::BLOCK_LEN,
            };
            marker += 1;
            Message::Request(ask).encode(&mut out);
            remote.sock.write_all(&out).await.expect("write");
            remote.read_until(|m| *m == Message::Reject(ask)).await
        };
        let cancels = |msgs: &[Message]| -> Vec<wire::BlockRequest> {
            msgs.iter()
                .filter_map(|m| match m {
                    Message::Cancel(r) => Some(*r),
                    _ => None,
                })
                .collect()
        };
        for round in 0..2 {
            // Due now: most of the queue is cancelled (the read times out otherwise).
            t.set_piece_deadline(due, Duration::ZERO);
            let started = Instant::now();
            let mut n = 0;
            let mut msgs = remote
                .read_until(|m| {
                    n += usize::from(matches!(m, Message::Cancel(_)));
                    n >= 90
                })
                .await;
            // At once, not only after the peer's next tick forgot the first deadline.
            assert!(
                started.elapsed() < Duration::from_millis(500),
                "round {round}: room made after {:?}",
                started.elapsed()
            );
            // Cancels read while waiting for the marker are answered in turn.
            while !cancels(&msgs).is_empty() {
                msgs = answer(&mut remote, &cancels(&msgs)).await;
            }
            if round == 1 {
                break;
            }
            // The player moves away from the piece: the queue fills with other blocks.
            {
                let mut st = t.lock();
                st.picker
                    .as_mut()
                    .expect("picker")
                    .remove_deadline(crate::picker::USER_DEADLINES, due);
                st.broadcast(&PeerCmd::Refill);
            }
            let mut again = 0;
            let mut msgs = remote
                .read_until(|m| {
                    again += usize::from(matches!(m, Message::Request(r) if r.index != due));
                    again >= 90
                })
                .await;
            while !cancels(&msgs).is_empty() {
                msgs = answer(&mut remote, &cancels(&msgs)).await;
            }
        }
    }

    #[test]
    fn a_peer_rate_counts_its_own_interval_and_starts_unhalved() {
        let (t, _rx) = torrent();
        let (tx, _cmds) = mpsc::unbounded_channel();
        let addr: SocketAddr = "127.0.0.1:9".parse().expect("addr");
        let (key, counters) = t.add_peer(addr, PeerId([1; 20]), tx).expect("added");
        let connected = t.lock().peers[&key].sampled_at;
        // 3 MB in the 0.3 s between the connection and the tick: 10 MB/s, not 1.5.
        counters.downloaded.store(3_000_000, Ordering::Relaxed);
        t.lock()
            .update_rates(connected + Duration::from_millis(300));
        assert_eq!(t.lock().peers[&key].down_rate, 10_000_000);
        // Too soon after that for a sample: nothing changes.
        counters.downloaded.store(4_000_000, Ordering::Relaxed);
        t.lock()
            .update_rates(connected + Duration::from_millis(400));
        assert_eq!(t.lock().peers[&key].down_rate, 10_000_000);
        // A second later, 6 MB/s over the whole second: the mean of the two.
        counters.downloaded.store(9_000_000, Ordering::Relaxed);
        t.lock()
            .update_rates(connected + Duration::from_millis(1300));
        assert_eq!(t.lock().peers[&key].down_rate, 8_000_000);
        assert_eq!(t.lock().down_rate, 8_000_000);
    }

    #[test]
    fn idle_timeouts_are_errors_and_our_closes_are_local() {
        assert_eq!(close_reason("idle too long", false), CloseReason::Error);
        assert_eq!(
            close_reason("read failed: connection reset by peer", false),
            CloseReason::Error
        );
        assert_eq!(
            close_reason("have for piece 9, past the last piece", false),
            CloseReason::Protocol
        );
        assert_eq!(close_reason("closed by peer", true), CloseReason::Local);
        assert_eq!(close_reason("torrent closed", false), CloseReason::Local);
    }
}
