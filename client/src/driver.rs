//! The per-torrent driver task: activation (open storage, check data), dialling through
//! `conn_pool::Pool`, tracker announces, choking rounds, rates, PEX, and commands from the
//! handle.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use conn_pool::{ClosedInfo, FailReason, Pool, PoolConfig, Source as PoolSource};
use metainfo::Metainfo;
use sha1::Digest;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use wire::Handshake;

use crate::announce::{AnnounceError, AnnounceParams, Announced, announce};
use crate::choker::{ChokeCandidate, Choker};
use crate::picker::Picker;
use crate::rng::SmallRng;
use crate::storage::Store;
use crate::torrent::{Active, BanKey, PeerCmd, Torrent};
use crate::types::{Event, TorrentState};

/// Commands to a torrent's driver.
#[derive(Debug)]
pub(crate) enum DriverCmd {
    Start,
    Pause,
    Stop(oneshot::Sender<()>),
    Remove(oneshot::Sender<()>),
    AddPeers(Vec<SocketAddr>),
    /// Peers the user gave after the add.
    UserPeers(Vec<SocketAddr>),
    Incoming(TcpStream, SocketAddr, Handshake, BytesMut),
    PeerClosed(SocketAddr, ClosedInfo),
    Interested(u64),
    Rechoke,
    Completed,
    Fatal,
    MetadataBytes(Vec<u8>),
    /// Every piece layer of a v2 torrent arrived and checked out (BEP 52 hash requests).
    PieceLayers(Box<Metainfo>),
}

/// What the driver starts with.
#[derive(Debug)]
pub(crate) struct Initial {
    pub meta: Option<Metainfo>,
    pub peers: Vec<SocketAddr>,
    pub paused: bool,
    pub verify: bool,
    /// A magnet link: where to save its metadata once complete, with its trackers.
    pub save_torrent: Option<(PathBuf, Vec<Vec<String>>)>,
}

struct Tier {
    urls: Vec<String>,
    next_at: Instant,
    in_flight: bool,
    failures: u32,
    started_sent: bool,
}

/// How long an outgoing connect may take before it counts as timed out.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Awaits a connect for at most `timeout`. The failure is classified from the
/// real `io::Error`; running out of time is `TimedOut`, the pool's congestion signal.
async fn connect_within<S>(
    timeout: Duration,
    connect: impl std::future::Future<Output = std::io::Result<S>>,
) -> Result<S, FailReason> {
    match tokio::time::timeout(timeout, connect).await {
        Err(_elapsed) => Err(FailReason::TimedOut),
        Ok(r) => r.map_err(|e| FailReason::from_io_error(&e)),
    }
}

enum Internal {
    /// A dial ended: the connection and handshake, or why it failed.
    Dialed(
        SocketAddr,
        Result<(TcpStream, Handshake, BytesMut), FailReason>,
    ),
    Announced(usize, Vec<(String, Result<Announced, AnnounceError>)>),
    Activated(Box<crate::Result<(Metainfo, Store)>>),
}

struct Driver {
    torrent: Arc<Torrent>,
    pool: Pool<SocketAddr>,
    tiers: Vec<Tier>,
    choker: Choker<u64>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    ticks: u64,
    activating: bool,
    verify: bool,
    key: u32,
    stopped_announced: bool,
    save_torrent: Option<(PathBuf, Vec<Vec<String>>)>,
}

/// Runs a torrent until it is removed.
pub(crate) async fn drive(
    torrent: Arc<Torrent>,
    mut rx: mpsc::UnboundedReceiver<DriverCmd>,
    initial: Initial,
) {
    let (internal_tx, mut internal_rx) = mpsc::unbounded_channel();
    let mut rng = SmallRng::from_entropy();
    let mut config = PoolConfig::default();
    config.max_connections = torrent.session.config.max_peers_per_torrent;
    config.backoff_base = Duration::from_secs(2);
    let mut d = Driver {
        pool: Pool::new(config, rng.next_u64()),
        tiers: Vec::new(),
        choker: Choker::new(SmallRng::seeded(rng.next_u64())),
        internal_tx,
        ticks: 0,
        activating: false,
        verify: initial.verify,
        key: rng.next_u64() as u32,
        stopped_announced: false,
        save_torrent: initial.save_torrent,
        torrent,
    };
    let now = Instant::now();
    for p in initial.peers {
        d.pool.add_candidate(p, PoolSource::User, now);
    }
    d.torrent.running.store(!initial.paused, Ordering::Relaxed);
    if let Some(meta) = initial.meta {
        d.activate(meta);
    }
    d.set_tiers();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let pool_wake = d.pool.next_timeout();
        tokio::select! {
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { break };
                if d.on_cmd(cmd).await { break }
            }
            Some(msg) = internal_rx.recv() => d.on_internal(msg),
            _ = tick.tick() => d.on_tick(),
            _ = sleep_until_opt(pool_wake) => {
                d.pool.handle_timeout(Instant::now());
                d.dial();
            }
        }
    }
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => {
            tokio::time::sleep_until(t.max(Instant::now() + Duration::from_millis(5)).into()).await
        }
        None => std::future::pending().await,
    }
}

impl Driver {
    fn running(&self) -> bool {
        self.torrent.running.load(Ordering::Relaxed)
    }

    fn set_tiers(&mut self) {
        let tiers = self.torrent.lock().trackers.clone();
        let now = Instant::now();
        self.tiers = tiers
            .into_iter()
            .filter(|t| !t.is_empty())
            .map(|urls| Tier {
                urls,
                next_at: now,
                in_flight: false,
                failures: 0,
                started_sent: false,
            })
            .collect();
    }

    /// Opens storage and checks existing data off the async threads.
    fn activate(&mut self, meta: Metainfo) {
        if self.activating {
            return;
        }
        if crate::piece_layers::needed(&meta) {
            // A v2 info dictionary without piece layers (magnet link): ask peers for them
            // first; storage opens once they are here (DriverCmd::PieceLayers).
            let mut st = self.torrent.lock();
            if st.layers.is_none() {
                st.name = Some(meta.name().to_string());
                st.status = TorrentState::FetchingMetadata;
                st.layers = Some(crate::piece_layers::LayerFetch::new(meta));
                st.broadcast(&PeerCmd::Refill);
            }
            return;
        }
        self.activating = true;
        {
            let mut st = self.torrent.lock();
            st.status = TorrentState::Checking;
            st.name = Some(meta.name().to_string());
            if st.trackers.is_empty() {
                st.trackers = meta.trackers().to_vec();
            }
        }
        let output = self.torrent.output.clone();
        let verify = self.verify;
        let tx = self.internal_tx.clone();
        let save = self.save_torrent.take();
        let torrent = self.torrent.clone();
        tokio::spawn(async move {
            let r = tokio::task::spawn_blocking(move || {
                // Saved before storage opens, so a run that stops (or fails to open the
                // files) need not fetch the metadata again.
                if let Some((path, trackers)) = save
                    && let Err(e) = crate::storage::save_torrent(&path, &meta, &trackers)
                {
                    torrent.emit(Event::Warning {
                        message: format!("could not save the metadata: {e}"),
                    });
                }
                let store = Store::open(&meta, &output, verify)?;
                Ok((meta, store))
            })
            .await
            .unwrap_or_else(|e| Err(crate::Error::Internal(format!("checking task failed: {e}"))));
            let _ = tx.send(Internal::Activated(Box::new(r)));
        });
    }

    fn on_activated(&mut self, r: crate::Result<(Metainfo, Store)>) {
        self.activating = false;
        let (meta, store) = match r {
            Ok(x) => x,
            Err(e) => {
                self.torrent.lock().status = TorrentState::Error;
                self.torrent.piece_ready.notify_waiters();
                self.torrent.emit(Event::Error {
                    message: e.to_string(),
                });
                return;
            }
        };
        let have = store.have();
        let sizes: Vec<u32> = (0..meta.num_pieces())
            .map(|i| meta.piece_len(i) as u32)
            .collect();
        let mut picker = Picker::from_sizes(sizes, SmallRng::from_entropy());
        for (i, h) in have.iter().enumerate() {
            if *h {
                picker.mark_have(i as u32);
            }
        }
        let mut events = vec![Event::MetadataReceived {
            name: meta.name().to_string(),
            pieces: meta.num_pieces(),
            total_len: meta.total_length(),
        }];
        let new_trackers = {
            let mut st = self.torrent.lock();
            picker.set_sequential(st.sequential);
            let meta = Arc::new(meta);
            // File priorities and deadlines set before the metadata came.
            apply_file_priorities(&meta, &mut picker, &st.file_priorities);
            picker.set_deadlines(std::mem::take(&mut st.deadlines));
            let complete = picker.wanted_complete();
            st.picker = Some(picker);
            st.active = Some(Active {
                meta: meta.clone(),
                store: Arc::new(store),
            });
            let had_trackers = !st.trackers.is_empty();
            if !had_trackers {
                st.trackers = meta.trackers().to_vec();
            }
            if complete {
                st.status = TorrentState::Seeding;
                st.completed_reported = true;
                events.push(Event::Completed);
            } else {
                st.status = TorrentState::Downloading;
            }
            if !self.running() {
                st.status = TorrentState::Paused;
            }
            st.broadcast(&PeerCmd::Refill);
            !had_trackers
        };
        self.torrent.piece_ready.notify_waiters();
        if new_trackers || self.tiers.is_empty() {
            self.set_tiers();
        }
        for e in events {
            self.torrent.emit(e);
        }
        self.dial();
    }

    async fn on_cmd(&mut self, cmd: DriverCmd) -> bool {
        match cmd {
            DriverCmd::Start => {
                if !self.running() {
                    self.torrent.running.store(true, Ordering::Relaxed);
                    self.stopped_announced = false;
                    let mut st = self.torrent.lock();
                    st.status = match (&st.active, st.is_complete()) {
                        (None, _) => TorrentState::FetchingMetadata,
                        (Some(_), true) => TorrentState::Seeding,
                        (Some(_), false) => TorrentState::Downloading,
                    };
                    drop(st);
                    let now = Instant::now();
                    for t in &mut self.tiers {
                        t.next_at = now;
                        t.started_sent = false;
                    }
                    self.dial();
                }
            }
            DriverCmd::Pause => self.halt(TorrentState::Paused, false).await,
            DriverCmd::Stop(done) => {
                self.halt(TorrentState::Stopped, true).await;
                let _ = done.send(());
            }
            DriverCmd::Remove(done) => {
                self.halt(TorrentState::Stopped, true).await;
                let _ = done.send(());
                return true;
            }
            DriverCmd::UserPeers(addrs) => {
                let now = Instant::now();
                for a in addrs {
                    self.pool.add_candidate(a, PoolSource::User, now);
                }
                self.dial();
            }
            DriverCmd::AddPeers(addrs) => {
                let now = Instant::now();
                let banned = self.torrent.lock().banned.clone();
                for a in addrs {
                    if !banned.contains(&BanKey::of(a)) && Some(a) != self.own_addr() {
                        self.pool.add_candidate(a, PoolSource::Exchange, now);
                    }
                }
                self.dial();
            }
            DriverCmd::Incoming(stream, addr, hs, buf) => {
                if self.running() && self.pool.on_inbound(&addr, Instant::now()) {
                    self.spawn_peer(stream, addr, hs, buf);
                }
            }
            DriverCmd::PeerClosed(addr, info) => {
                self.pool.on_closed(&addr, info, Instant::now());
                if self.torrent.lock().banned.contains(&BanKey::of(addr)) {
                    self.pool.ban(&addr, Instant::now());
                }
                self.dial();
            }
            DriverCmd::Interested(key) => {
                let st = self.torrent.lock();
                let free = st.unchoked() < self.choker.slots + 1;
                if free
                    && let Some(p) = st.peers.get(&key)
                    && p.counters.am_choking.load(Ordering::Relaxed)
                {
                    p.counters.am_choking.store(false, Ordering::Relaxed);
                    let _ = p.tx.send(PeerCmd::Unchoke);
                }
            }
            DriverCmd::Rechoke => self.choke_round(),
            DriverCmd::Completed => {
                let now = Instant::now();
                for t in &mut self.tiers {
                    t.next_at = now;
                }
                self.save_resume();
                // Seeds do not keep connections to other seeds.
                let st = self.torrent.lock();
                for p in st.peers.values() {
                    if p.seed {
                        p.close("both sides are seeds");
                    }
                }
            }
            DriverCmd::Fatal => self.halt(TorrentState::Error, true).await,
            DriverCmd::MetadataBytes(info) => self.on_metadata(info),
            DriverCmd::PieceLayers(meta) => self.activate(*meta),
        }
        false
    }

    fn own_addr(&self) -> Option<SocketAddr> {
        self.torrent.session.listen_addr
    }

    fn on_metadata(&mut self, info: Vec<u8>) {
        let ih = self.torrent.info_hash;
        let ok = match (ih.v1(), ih.v2()) {
            (Some(v1), _) => <[u8; 20]>::from(sha1::Sha1::digest(&info)) == v1,
            (None, Some(v2)) => <[u8; 32]>::from(sha2::Sha256::digest(&info)) == v2,
            _ => false,
        };
        if !ok {
            // A peer sent a bad info dictionary: start over (peers ask again on their tick).
            return;
        }
        {
            let mut st = self.torrent.lock();
            if st.meta_known {
                return;
            }
            st.meta_known = true;
            st.metadata = None;
        }
        match Metainfo::from_info_bytes(&info) {
            Ok(meta) => self.activate(meta),
            Err(e) => self.torrent.emit(Event::Error {
                message: format!("the torrent's metadata does not parse: {e}"),
            }),
        }
    }

    async fn halt(&mut self, status: TorrentState, announce_stop: bool) {
        let was_running = self.torrent.running.swap(false, Ordering::Relaxed);
        {
            let mut st = self.torrent.lock();
            if !was_running && st.status == status {
                // Already halted this way (a stop after a stop): nothing to save again.
                return;
            }
            st.status = status;
            st.broadcast(&PeerCmd::Close("paused or stopped"));
        }
        // Pieces being hashed land in the resume data too (bounded wait).
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.torrent.lock().hashing > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.save_resume();
        self.torrent.piece_ready.notify_waiters();
        if announce_stop && !self.stopped_announced {
            self.stopped_announced = true;
            self.announce_stopped().await;
        }
    }

    fn save_resume(&self) {
        let store = self.torrent.lock().active.as_ref().map(|a| a.store.clone());
        if let Some(store) = store
            && let Err(e) = store.save_resume()
        {
            self.torrent.emit(Event::Error {
                message: format!("could not save resume data: {e}"),
            });
        }
    }

    async fn announce_stopped(&mut self) {
        if !self.torrent.session.config.use_trackers {
            return;
        }
        let params = params_of(&self.torrent, Some(tracker_proto::Event::Stopped), self.key);
        let http = self.torrent.session.http.clone();
        let mut jobs = Vec::new();
        for t in &self.tiers {
            if !t.started_sent {
                continue;
            }
            if let Some(url) = t.urls.first().cloned() {
                let params = params.clone();
                let http = http.clone();
                jobs.push(tokio::spawn(async move {
                    let _ = announce(&http, &url, &params, Duration::from_secs(3)).await;
                }));
            }
        }
        for j in jobs {
            let _ = j.await;
        }
    }

    fn announce_due(&mut self) {
        if !self.running() || !self.torrent.session.config.use_trackers {
            return;
        }
        let now = Instant::now();
        let completed = self.torrent.lock().completed_reported;
        for (i, tier) in self.tiers.iter_mut().enumerate() {
            if tier.in_flight || tier.next_at > now {
                continue;
            }
            tier.in_flight = true;
            let event = (!tier.started_sent).then_some(tracker_proto::Event::Started);
            let mut params = params_of(&self.torrent, event, self.key);
            if tier.started_sent && completed && params.left == 0 && !tier_completed_sent(tier) {
                params.event = Some(tracker_proto::Event::Completed);
            }
            let urls = tier.urls.clone();
            let http = self.torrent.session.http.clone();
            let tx = self.internal_tx.clone();
            tokio::spawn(async move {
                let mut results = Vec::new();
                for url in urls {
                    let r = announce(&http, &url, &params, Duration::from_secs(15)).await;
                    let ok = r.is_ok();
                    results.push((url, r));
                    if ok {
                        break;
                    }
                }
                let _ = tx.send(Internal::Announced(i, results));
            });
        }
    }

    fn on_internal(&mut self, msg: Internal) {
        match msg {
            Internal::Activated(r) => self.on_activated(*r),
            Internal::Dialed(addr, r) => {
                let now = Instant::now();
                match r {
                    Ok((stream, hs, buf)) => {
                        if self.running() && self.pool.on_connected(&addr, now) {
                            self.spawn_peer(stream, addr, hs, buf);
                        }
                    }
                    Err(reason) => self.pool.on_failed(&addr, reason, now),
                }
                self.dial();
            }
            Internal::Announced(i, results) => {
                let now = Instant::now();
                let min = self.torrent.session.config.min_announce_interval;
                let completed = self.torrent.lock().completed_reported;
                let mut peers = Vec::new();
                let mut success = None;
                for (url, r) in results {
                    match r {
                        Ok(a) => {
                            self.torrent.emit(Event::TrackerReply {
                                url: url.clone(),
                                peers: a.peers.len(),
                                error: None,
                            });
                            peers.extend(a.peers);
                            success = Some((url, a.interval));
                        }
                        Err(e) => self.torrent.emit(Event::TrackerReply {
                            url,
                            peers: 0,
                            error: Some(e.to_string()),
                        }),
                    }
                }
                if let Some(tier) = self.tiers.get_mut(i) {
                    tier.in_flight = false;
                    match success {
                        Some((url, interval)) => {
                            // BEP 12: the tracker that answered moves to the front.
                            if let Some(pos) = tier.urls.iter().position(|u| *u == url) {
                                let u = tier.urls.remove(pos);
                                tier.urls.insert(0, u);
                            }
                            tier.started_sent = true;
                            tier.failures = 0;
                            if completed {
                                tier.failures = u32::MAX; // marks "completed sent"
                            }
                            tier.next_at = now
                                + interval
                                    .min(min.max(Duration::from_secs(1)))
                                    .max(Duration::from_secs(1));
                        }
                        None => {
                            tier.failures = tier.failures.saturating_add(1).min(8);
                            let backoff = Duration::from_secs(5u64 << tier.failures.min(6));
                            tier.next_at = now + backoff.min(Duration::from_secs(300));
                        }
                    }
                }
                let banned = self.torrent.lock().banned.clone();
                let own = self.own_addr();
                for p in peers {
                    if !banned.contains(&BanKey::of(p)) && Some(p) != own && !is_self(p, own) {
                        self.pool.add_candidate(p, PoolSource::Tracker, now);
                    }
                }
                self.dial();
            }
        }
    }

    fn dial(&mut self) {
        if !self.running() {
            return;
        }
        let now = Instant::now();
        while let Some(addr) = self.pool.poll_dial(now) {
            let torrent = self.torrent.clone();
            let tx = self.internal_tx.clone();
            tokio::spawn(async move {
                let r = async {
                    let mut stream =
                        connect_within(CONNECT_TIMEOUT, TcpStream::connect(addr)).await?;
                    // A failed handshake counts as a connection reset during setup.
                    let (hs, buf) = crate::peer::handshake_outgoing(&mut stream, &torrent)
                        .await
                        .map_err(|_| FailReason::Reset)?;
                    Ok((stream, hs, buf))
                }
                .await;
                let _ = tx.send(Internal::Dialed(addr, r));
            });
        }
    }

    fn spawn_peer(&self, stream: TcpStream, addr: SocketAddr, hs: Handshake, buf: BytesMut) {
        let torrent = self.torrent.clone();
        tokio::spawn(async move {
            crate::peer::run(torrent, stream, addr, hs, buf).await;
        });
    }

    fn choke_round(&mut self) {
        let st = self.torrent.lock();
        let seeding = st.is_complete();
        let cands: Vec<ChokeCandidate<u64>> = st
            .peers
            .iter()
            .map(|(k, p)| ChokeCandidate {
                key: *k,
                interested: p.counters.peer_interested.load(Ordering::Relaxed),
                download_rate: p.down_rate,
                upload_rate: p.up_rate,
            })
            .collect();
        let decision = self.choker.round(&cands, seeding);
        let unchoke: HashSet<u64> = decision.unchoke.into_iter().collect();
        for (k, p) in &st.peers {
            let choking = p.counters.am_choking.load(Ordering::Relaxed);
            if unchoke.contains(k) && choking {
                p.counters.am_choking.store(false, Ordering::Relaxed);
                let _ = p.tx.send(PeerCmd::Unchoke);
            } else if !unchoke.contains(k) && !choking {
                p.counters.am_choking.store(true, Ordering::Relaxed);
                let _ = p.tx.send(PeerCmd::Choke);
            }
        }
    }

    fn send_pex(&self) {
        let st = self.torrent.lock();
        let addrs: Vec<SocketAddr> = st.peers.values().filter_map(|p| p.listen_addr).collect();
        for (_, p) in st.peers.iter() {
            if p.pex_id.is_none() {
                continue;
            }
            let mut pex = wire::Pex::default();
            for a in addrs.iter().filter(|a| Some(**a) != p.listen_addr).take(50) {
                match a {
                    SocketAddr::V4(v4) => pex.added.push((*v4, wire::PexFlags(0))),
                    SocketAddr::V6(v6) => pex.added6.push((*v6, wire::PexFlags(0))),
                }
            }
            if !pex.added.is_empty() || !pex.added6.is_empty() {
                let _ = p.tx.send(PeerCmd::Pex(pex.to_bytes()));
            }
        }
    }

    fn on_tick(&mut self) {
        self.ticks += 1;
        {
            let mut st = self.torrent.lock();
            st.update_rates(Instant::now());
        }
        if self.ticks.is_multiple_of(10) {
            self.choke_round();
        }
        if self.ticks % 60 == 2 {
            self.send_pex();
        }
        if self.ticks.is_multiple_of(30) {
            self.save_resume();
        }
        self.announce_due();
        self.pool.handle_timeout(Instant::now());
        self.dial();
    }
}

/// What an announce says now; `left` is unknown (large) until metadata arrives.
fn params_of(torrent: &Torrent, event: Option<tracker_proto::Event>, key: u32) -> AnnounceParams {
    let st = torrent.lock();
    AnnounceParams {
        info_hash: torrent.wire_hash(),
        peer_id: torrent.peer_id,
        port: torrent.session.listen_port().unwrap_or(0),
        uploaded: st.uploaded,
        downloaded: st.downloaded,
        left: st.picker.as_ref().map_or(1 << 30, Picker::wanted_left),
        event,
        key,
    }
}

fn tier_completed_sent(t: &Tier) -> bool {
    t.failures == u32::MAX
}

fn is_self(p: SocketAddr, own: Option<SocketAddr>) -> bool {
    own.is_some_and(|o| o.port() == p.port() && (o.ip().is_unspecified() && p.ip().is_loopback()))
}

/// Piece priority = highest priority of the files it touches (0 when all are skipped).
pub(crate) fn apply_file_priorities(meta: &Metainfo, picker: &mut Picker, prios: &[u8]) {
    if prios.is_empty() {
        return;
    }
    let plen = meta.piece_length();
    let mut piece_prio = vec![0u8; meta.num_pieces() as usize];
    for (i, f) in meta.files().iter().enumerate() {
        if f.pad || f.length == 0 {
            continue;
        }
        let prio = prios
            .get(i)
            .copied()
            .unwrap_or(crate::picker::DEFAULT_PRIORITY);
        let first = (f.offset / plen) as usize;
        let last = ((f.end() - 1) / plen) as usize;
        for p in piece_prio.iter_mut().take(last + 1).skip(first) {
            *p = (*p).max(prio);
        }
    }
    for (i, p) in piece_prio.into_iter().enumerate() {
        picker.set_priority(i as u32, p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connect_timeout_is_timed_out() {
        let never = std::future::pending::<std::io::Result<TcpStream>>();
        let r = connect_within(Duration::from_millis(20), never).await;
        assert_eq!(r.err(), Some(FailReason::TimedOut));
    }

    #[tokio::test]
    async fn connect_errors_are_classified_by_kind() {
        use std::io::{Error, ErrorKind};
        let kinds = [
            (ErrorKind::ConnectionRefused, FailReason::Refused),
            (ErrorKind::TimedOut, FailReason::TimedOut),
            (ErrorKind::ConnectionReset, FailReason::Reset),
            (ErrorKind::AddrNotAvailable, FailReason::Other),
        ];
        for (kind, want) in kinds {
            let fut = std::future::ready(Err::<TcpStream, _>(Error::from(kind)));
            let r = connect_within(Duration::from_secs(5), fut).await;
            assert_eq!(r.err(), Some(want), "{kind:?}");
        }
    }

    #[tokio::test]
    async fn refused_loopback_connect_is_refused() {
        // A port that was just free: nobody listens there now.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind a loopback port");
        let r = connect_within(Duration::from_secs(5), TcpStream::connect(addr)).await;
        assert_eq!(r.err(), Some(FailReason::Refused));
    }
}
