//! `Session` (holds torrents, accepts peers) and `TorrentHandle` (drives one torrent).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use metainfo::{InfoHash, Magnet, Metainfo, PeerId};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use wire::Handshake;

use crate::driver::{DriverCmd, Initial, apply_file_priorities};
use crate::error::{Error, Result};
use crate::picker::USER_DEADLINES;
use crate::ratelimit::SharedLimiter;
use crate::rng::SmallRng;
use crate::stream::FileStream;
use crate::torrent::{State, Torrent};
use crate::types::{AddTorrent, Event, Limits, SessionConfig, Source, Stats};

/// What every torrent of a session shares.
#[derive(Debug)]
pub(crate) struct SessionShared {
    pub config: SessionConfig,
    pub peer_id: PeerId,
    pub listen_addr: Option<SocketAddr>,
    pub torrents: Mutex<HashMap<[u8; 20], Arc<Torrent>>>,
    pub down_limit: SharedLimiter,
    pub up_limit: SharedLimiter,
    pub http: reqwest::Client,
    pub epoch: Instant,
}

impl SessionShared {
    /// Milliseconds since the session started: the clock of piece deadlines.
    pub fn now_ms(&self) -> u64 {
        self.at_ms(Instant::now())
    }

    /// `at` in milliseconds since the session started (0 for an earlier instant).
    pub fn at_ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// The port peers can reach us on.
    pub fn listen_port(&self) -> Option<u16> {
        self.listen_addr.map(|a| a.port())
    }
}

/// A BitTorrent session: holds torrents, listens for peers, shares rate limits.
///
/// ```no_run
/// # async fn demo() -> Result<(), shoal::Error> {
/// use shoal::{AddTorrent, Event, Session, SessionConfig, Source};
///
/// let session = Session::new(SessionConfig::default()).await?;
/// let torrent = session
///     .add(AddTorrent::new(Source::TorrentFile("file.torrent".into()), "downloads"))
///     .await?;
/// let mut events = torrent.events();
/// while let Some(event) = events.next().await {
///     if event == Event::Completed {
///         println!("ready");
///         break;
///     }
/// }
/// session.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Session {
    shared: Arc<SessionShared>,
    accept: Arc<tokio::task::JoinHandle<()>>,
}

impl Session {
    /// Starts a session on the current tokio runtime: binds the listening socket if one is
    /// configured.
    pub async fn new(config: SessionConfig) -> Result<Session> {
        let mut rng = SmallRng::from_entropy();
        let mut random = [0u8; 12];
        rng.fill(&mut random);
        let listener =
            match config.listen {
                Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
                    Error::Network(format!("cannot listen for peers on {addr}: {e}"))
                })?),
                None => None,
            };
        let listen_addr = listener.as_ref().and_then(|l| l.local_addr().ok());
        let http = reqwest::Client::builder()
            .user_agent(concat!("shoal/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Network(format!("cannot set up the HTTP client: {e}")))?;
        let shared = Arc::new(SessionShared {
            down_limit: SharedLimiter::new(config.max_down),
            up_limit: SharedLimiter::new(config.max_up),
            config,
            peer_id: PeerId::with_random(random),
            listen_addr,
            torrents: Mutex::new(HashMap::new()),
            http,
            epoch: Instant::now(),
        });
        let accept = match listener {
            Some(l) => tokio::spawn(accept_loop(l, Arc::downgrade(&shared))),
            None => tokio::spawn(async {}),
        };
        Ok(Session {
            shared,
            accept: Arc::new(accept),
        })
    }

    /// The address peers can connect to (with the real port when port 0 was asked).
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.shared.listen_addr
    }

    /// Our peer id.
    pub fn peer_id(&self) -> PeerId {
        self.shared.peer_id
    }

    /// Changes the global rate limits.
    pub fn set_limits(&self, limits: Limits) {
        self.shared.down_limit.set_rate(limits.down);
        self.shared.up_limit.set_rate(limits.up);
    }

    /// Adds a torrent and starts it (unless `add.paused`). A torrent already in the
    /// session is refused.
    ///
    /// A magnet link's metadata, once fetched and checked (for v2 with its piece layers),
    /// is saved as a whole .torrent in `<output>/.shoal/<info-hash hex>.torrent`. Adding
    /// the same magnet link over the same output folder again uses that file when it
    /// parses and its info-hash matches every hash the link gives: no metadata or piece
    /// layers are asked of peers, storage opens with its resume data at once, and
    /// [`Event::MetadataReceived`] follows as for a .torrent. A file that cannot be used
    /// is ignored with an [`Event::Warning`] and the metadata is fetched from peers.
    pub async fn add(&self, add: AddTorrent) -> Result<TorrentHandle> {
        let mut warnings = Vec::new();
        let mut save_torrent = None;
        let (meta, info_hash, mut trackers, mut peers, name) = match &add.source {
            Source::TorrentBytes(b) => from_torrent_bytes(b)?,
            Source::TorrentFile(path) => {
                let bytes = tokio::fs::read(path).await.map_err(|e| {
                    Error::BadTorrent(format!("cannot read {}: {e}", path.display()))
                })?;
                from_torrent_bytes(&bytes)?
            }
            Source::Magnet(uri) => {
                let m = Magnet::parse(uri).map_err(|e| {
                    Error::BadTorrent(format!("this magnet link does not parse: {e}"))
                })?;
                let peers = m.peers.iter().filter_map(|p| p.parse().ok()).collect();
                let trackers: Vec<Vec<String>> =
                    m.trackers.iter().map(|t| vec![t.clone()]).collect();
                let path = crate::storage::saved_torrent_path(&add.output, &m.info_hash);
                let saved = {
                    let (path, ih) = (path.clone(), m.info_hash);
                    tokio::task::spawn_blocking(move || {
                        crate::storage::load_saved_torrent(&path, &ih)
                    })
                    .await
                    .unwrap_or_else(|e| Err(format!("reading the saved metadata failed: {e}")))
                };
                let saved = saved.unwrap_or_else(|e| {
                    warnings.push(format!(
                        "ignoring the saved metadata: {e}; fetching it from peers"
                    ));
                    None
                });
                // Saved (again) once complete, unless the file already holds all of it.
                if saved.as_ref().is_none_or(crate::piece_layers::needed) {
                    save_torrent = Some((path, trackers.clone()));
                }
                (saved, m.info_hash, trackers, peers, m.name.clone())
            }
        };
        if !self.shared.config.use_trackers {
            trackers.clear();
        }
        peers.extend(add.peers.iter().copied());
        let key = info_hash.wire();
        if self
            .shared
            .torrents
            .lock()
            .map_err(|_| Error::Closed)?
            .contains_key(&key)
        {
            return Err(Error::BadTorrent(
                "this torrent is already in the session".to_string(),
            ));
        }
        let (driver_tx, driver_rx) = mpsc::unbounded_channel();
        // Subscribed before the driver runs, so the first events() caller misses nothing.
        let (early_tx, early_rx) = mpsc::unbounded_channel();
        let torrent = Arc::new(Torrent {
            info_hash,
            peer_id: self.shared.peer_id,
            output: add.output.clone(),
            session: self.shared.clone(),
            state: Mutex::new(State::new(meta.is_some(), add.sequential, trackers, name)),
            subscribers: Mutex::new(vec![early_tx]),
            early_events: Mutex::new(Some(early_rx)),
            down_limit: SharedLimiter::new(add.limits.down),
            up_limit: SharedLimiter::new(add.limits.up),
            driver_tx,
            running: AtomicBool::new(false),
            piece_ready: tokio::sync::Notify::new(),
            removed: AtomicBool::new(false),
        });
        {
            let mut map = self.shared.torrents.lock().map_err(|_| Error::Closed)?;
            map.insert(key, torrent.clone());
            if let Some(v2) = info_hash.v2_truncated() {
                map.insert(v2, torrent.clone());
            }
        }
        for message in warnings {
            torrent.emit(Event::Warning { message });
        }
        let handle = TorrentHandle {
            torrent: torrent.clone(),
        };
        tokio::spawn(crate::driver::drive(
            torrent,
            driver_rx,
            Initial {
                meta,
                peers,
                paused: add.paused,
                verify: add.verify,
                save_torrent,
            },
        ));
        Ok(handle)
    }

    /// The torrents in the session.
    pub fn torrents(&self) -> Vec<TorrentHandle> {
        let map = self
            .shared
            .torrents
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut seen = Vec::<TorrentHandle>::new();
        for t in map.values() {
            if !seen.iter().any(|h| Arc::ptr_eq(&h.torrent, t)) {
                seen.push(TorrentHandle { torrent: t.clone() });
            }
        }
        seen
    }

    /// Stops every torrent (trackers told, resume data saved) and stops listening.
    pub async fn shutdown(&self) {
        for t in self.torrents() {
            t.stop().await;
        }
        self.accept.abort();
    }
}

type Parsed = (
    Option<Metainfo>,
    InfoHash,
    Vec<Vec<String>>,
    Vec<SocketAddr>,
    Option<String>,
);

fn from_torrent_bytes(bytes: &[u8]) -> Result<Parsed> {
    let meta = Metainfo::from_bytes(bytes)
        .map_err(|e| Error::BadTorrent(format!("this .torrent file does not parse: {e}")))?;
    let ih = meta.info_hash();
    let trackers = meta.trackers().to_vec();
    let name = Some(meta.name().to_string());
    Ok((Some(meta), ih, trackers, Vec::new(), name))
}

async fn accept_loop(listener: TcpListener, session: std::sync::Weak<SessionShared>) {
    loop {
        let Ok((mut stream, addr)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Some(shared) = session.upgrade() else {
            return;
        };
        tokio::spawn(async move {
            let Ok((hs, buf)) = crate::peer::read_incoming_handshake(&mut stream).await else {
                return;
            };
            let torrent = {
                let map = shared.torrents.lock().unwrap_or_else(|e| e.into_inner());
                map.get(&hs.info_hash).cloned()
            };
            let Some(torrent) = torrent else { return };
            if hs.peer_id == torrent.peer_id || !torrent.running.load(Ordering::Relaxed) {
                return;
            }
            let ours = Handshake::new(hs.info_hash, torrent.peer_id);
            if stream.write_all(&ours.to_bytes()).await.is_err() {
                return;
            }
            let _ = torrent
                .driver_tx
                .send(DriverCmd::Incoming(stream, addr, hs, buf));
        });
    }
}

/// Drives one torrent: commands in, statistics and events out. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TorrentHandle {
    torrent: Arc<Torrent>,
}

impl TorrentHandle {
    /// The torrent's identity.
    pub fn info_hash(&self) -> InfoHash {
        self.torrent.info_hash
    }

    /// Resumes a paused or stopped torrent.
    pub fn start(&self) {
        let _ = self.torrent.driver_tx.send(DriverCmd::Start);
    }

    /// Adds peers to dial (as [`AddTorrent::peers`] does at add time).
    pub fn add_peers(&self, peers: impl IntoIterator<Item = SocketAddr>) {
        let _ = self
            .torrent
            .driver_tx
            .send(DriverCmd::UserPeers(peers.into_iter().collect()));
    }

    /// Closes connections and stops transfers; state and trackers stay as they are.
    pub fn pause(&self) {
        let _ = self.torrent.driver_tx.send(DriverCmd::Pause);
    }

    /// Stops: connections closed, resume data saved, trackers told `stopped`. Waits until
    /// done. `start` continues where verified data ends.
    pub async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.torrent.driver_tx.send(DriverCmd::Stop(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Stops the torrent and removes it from its session. What shoal kept beside the
    /// download for it (resume data and saved metadata in `<output>/.shoal`) is deleted,
    /// so adding it again starts with a check of the data; the data stays on disk.
    pub async fn remove(&self) -> Result<()> {
        self.remove_inner(false).await
    }

    /// As [`remove`](Self::remove), and the torrent's files are deleted too, with the
    /// folders they leave empty. Without metadata (a magnet link still fetching it) there
    /// are no files to delete.
    pub async fn remove_with_files(&self) -> Result<()> {
        self.remove_inner(true).await
    }

    async fn remove_inner(&self, files: bool) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        if self.torrent.driver_tx.send(DriverCmd::Remove(tx)).is_ok() {
            let _ = rx.await;
        }
        self.torrent.removed.store(true, Ordering::Relaxed);
        self.torrent.piece_ready.notify_waiters();
        self.torrent
            .session
            .torrents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, t| !Arc::ptr_eq(t, &self.torrent));
        let meta = self.metainfo();
        let output = self.torrent.output.clone();
        let mut hashes = vec![self.torrent.info_hash];
        hashes.extend(meta.as_ref().map(|m| m.info_hash()));
        tokio::task::spawn_blocking(move || {
            crate::storage::forget_state(&output, &hashes)?;
            match meta {
                Some(meta) if files => crate::storage::delete_files(&meta, &output),
                _ => Ok(()),
            }
        })
        .await
        .map_err(|e| Error::Internal(format!("removing failed: {e}")))?
    }

    /// Sets this torrent's rate limits.
    pub fn set_limits(&self, limits: Limits) {
        self.torrent.down_limit.set_rate(limits.down);
        self.torrent.up_limit.set_rate(limits.up);
    }

    /// Sets one file's priority (0 = skip, 1..=7, default 4). Before metadata arrives the
    /// setting is kept and applied then.
    pub fn set_file_priority(&self, file: usize, priority: u8) {
        set_file_priority(&self.torrent, file, priority);
    }

    /// The torrent's metadata, once known (a magnet link's once fetched and checked).
    pub fn metainfo(&self) -> Option<Arc<Metainfo>> {
        self.torrent.lock().active.as_ref().map(|a| a.meta.clone())
    }

    /// Waits for the metadata (and for the data on disk to be checked), then gives it.
    /// Fails if the torrent fails, is stopped or removed first.
    pub async fn wait_metainfo(&self) -> Result<Arc<Metainfo>> {
        Ok(crate::stream::wait_active(&self.torrent).await?.0)
    }

    /// Opens file `file` (its index in the torrent's file list) for reading while the
    /// torrent downloads, waiting for the metadata first. Reads of bytes not here yet get
    /// them fetched before anything else (piece deadlines); see [`FileStream`].
    pub async fn stream_file(&self, file: usize) -> Result<FileStream> {
        FileStream::open(self.torrent.clone(), file).await
    }

    /// Downloads pieces in order (streaming) instead of rarest first.
    pub fn set_sequential(&self, on: bool) {
        let mut st = self.torrent.lock();
        st.sequential = on;
        if let Some(p) = st.picker.as_mut() {
            p.set_sequential(on);
        }
    }

    /// Asks for `piece` within `deadline` from now: pieces with deadlines are fetched
    /// first, earliest first, and from several peers at once when they are late. Setting
    /// it again replaces the deadline.
    ///
    /// A deadline that is due (`Duration::ZERO`, or once its time comes while the piece
    /// is still missing) is treated as a [`FileStream`] read that waits: every peer that
    /// has the piece cancels our requests queued ahead of it (keeping the few oldest,
    /// once per piece), and a peer that has it is asked only for deadline pieces until
    /// no deadline is late. A verified piece's deadline is dropped.
    ///
    /// These deadlines are the handle's (shared by its clones); a [`FileStream`] keeps its
    /// own, which the calls here never change. A player that drives deadlines itself
    /// should clear them when it seeks ([`clear_piece_deadlines`](Self::clear_piece_deadlines)),
    /// or the pieces around the old position keep their place ahead of the new one.
    pub fn set_piece_deadline(&self, piece: u32, deadline: Duration) {
        self.torrent.set_piece_deadline(piece, deadline);
    }

    /// The pieces that have a deadline now (the handle's and every stream's), earliest
    /// deadline first; verified pieces have none. Before the metadata is known, the ones
    /// [`set_piece_deadline`](Self::set_piece_deadline) keeps until then.
    pub fn piece_deadlines(&self) -> Vec<u32> {
        let st = self.torrent.lock();
        match st.picker.as_ref() {
            Some(p) => p.deadlines().map(|(piece, _)| piece).collect(),
            None => {
                let mut kept: Vec<(u64, u32)> =
                    st.deadlines.iter().map(|(p, d)| (*d, *p)).collect();
                kept.sort_unstable();
                kept.into_iter().map(|(_, piece)| piece).collect()
            }
        }
    }

    /// Removes the deadline [`set_piece_deadline`](Self::set_piece_deadline) set on
    /// `piece` (a stream's deadline on it stays).
    pub fn reset_piece_deadline(&self, piece: u32) {
        let mut st = self.torrent.lock();
        st.deadlines.remove(&piece);
        if let Some(p) = st.picker.as_mut() {
            p.remove_deadline(USER_DEADLINES, piece);
        }
    }

    /// Removes every deadline [`set_piece_deadline`](Self::set_piece_deadline) set, as a
    /// player that drives deadlines itself does after a seek before setting the ones of
    /// its new position. Deadlines of [`FileStream`]s stay (each stream removes its own
    /// when it reads elsewhere or is dropped).
    pub fn clear_piece_deadlines(&self) {
        let mut st = self.torrent.lock();
        st.deadlines.clear();
        if let Some(p) = st.picker.as_mut() {
            p.clear_deadlines(USER_DEADLINES);
        }
    }

    /// A snapshot of progress.
    pub fn stats(&self) -> Stats {
        self.torrent.stats()
    }

    /// A new stream of this torrent's events from now on. The first call after
    /// [`Session::add`] also gets the events that happened since the add.
    pub fn events(&self) -> EventStream {
        if let Some(rx) = self
            .torrent
            .early_events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            return EventStream { rx };
        }
        let (tx, rx) = mpsc::unbounded_channel();
        self.torrent
            .subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tx);
        EventStream { rx }
    }
}

/// A stream of [`Event`]s (a `futures::Stream`, or call [`EventStream::next`]).
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::UnboundedReceiver<Event>,
}

impl EventStream {
    /// The next event; `None` once the torrent is gone.
    pub async fn next(&mut self) -> Option<Event> {
        self.rx.recv().await
    }
}

impl futures::Stream for EventStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}

/// [`TorrentHandle::set_file_priority`], for the engine's own callers too.
pub(crate) fn set_file_priority(torrent: &Torrent, file: usize, priority: u8) {
    let mut st = torrent.lock();
    if st.file_priorities.len() <= file {
        st.file_priorities
            .resize(file + 1, crate::picker::DEFAULT_PRIORITY);
    }
    st.file_priorities[file] = priority.min(7);
    let prios = st.file_priorities.clone();
    let meta = st.active.as_ref().map(|a| a.meta.clone());
    if let (Some(meta), Some(picker)) = (meta, st.picker.as_mut()) {
        apply_file_priorities(&meta, picker, &prios);
        let complete = picker.wanted_complete();
        if !complete {
            st.completed_reported = false;
        }
        st.broadcast(&crate::torrent::PeerCmd::Refill);
    }
}
