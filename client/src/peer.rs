//! One peer connection: handshake, then a reader loop (this task) and a writer task.
//!
//! The reader decodes messages with `wire::MessageDecoder`, keeps the peer's bitfield and our
//! outstanding requests, and refills the request pipeline; the writer owns the socket's write
//! half, serves the peer's requests from disk (in `spawn_blocking`, batched) and applies the
//! upload limit. Reading and writing run concurrently so two peers uploading to each other
//! never deadlock on full socket buffers.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::mpsc;
use wire::{
    BlockRequest, ExtendedHandshake, Handshake, HandshakeDecoder, Message, MessageDecoder, Pex,
    UT_METADATA, UT_PEX, UtMetadata,
};

use crate::picker::{BLOCK_LEN, BlockRef, Picker};
use crate::torrent::{MetadataFetch, PeerCmd, PeerCounters, PieceBuf, Torrent};

/// Our extension ids (what peers must use when sending to us).
pub(crate) const OUR_UT_METADATA: u8 = 1;
pub(crate) const OUR_UT_PEX: u8 = 2;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const IDLE_TIMEOUT: Duration = Duration::from_secs(150);
const SNUB_TIMEOUT: Duration = Duration::from_secs(20);
const MIN_QUEUE: usize = 32;
const MAX_QUEUE: usize = 1000;
/// Requests in flight to a new peer before its rate is known.
const INITIAL_WINDOW: usize = 128;
/// Requests kept when making room for a piece a stream waits for.
const KEEP_ON_MAKE_ROOM: usize = 4;
/// Bytes of finished pieces that may wait for hashing before requests stop.
const HASH_BACKLOG_BYTES: usize = 8 * 1024 * 1024;
const DEFAULT_REQQ: usize = 250;
/// The requests a peer may have waiting at us (our `reqq`, BEP 10): twice the most we
/// keep in flight ourselves.
pub(crate) const OUR_REQQ: usize = MAX_QUEUE * 2;
const ALLOWED_FAST_K: usize = 10;
/// Largest metadata accepted from a peer (an info dict with 8 M pieces).
const MAX_METADATA: u64 = 160 * 1024 * 1024;

/// Handshake on an outgoing connection. Returns the peer's handshake.
pub(crate) async fn handshake_outgoing(
    stream: &mut TcpStream,
    torrent: &Torrent,
) -> crate::Result<(Handshake, BytesMut)> {
    let ours = Handshake::new(torrent.wire_hash(), torrent.peer_id);
    let work = async {
        stream.write_all(&ours.to_bytes()).await?;
        let mut buf = BytesMut::with_capacity(64 * 1024);
        let mut dec = HandshakeDecoder::new();
        loop {
            if let Some(hs) = dec.decode(&mut buf)? {
                return Ok::<_, crate::Error>((hs, buf));
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(crate::Error::Peer("closed during handshake".into()));
            }
        }
    };
    let (hs, buf) = tokio::time::timeout(HANDSHAKE_TIMEOUT, work)
        .await
        .map_err(|_| crate::Error::Peer("handshake timed out".into()))??;
    if !torrent.info_hash.matches_wire(&hs.info_hash) {
        return Err(crate::Error::Peer(
            "peer answered for another torrent".into(),
        ));
    }
    if hs.peer_id == torrent.peer_id {
        return Err(crate::Error::Peer("connected to ourselves".into()));
    }
    Ok((hs, buf))
}

/// Reads the handshake of an incoming connection (before we know the torrent).
pub(crate) async fn read_incoming_handshake(
    stream: &mut TcpStream,
) -> crate::Result<(Handshake, BytesMut)> {
    let work = async {
        let mut buf = BytesMut::with_capacity(64 * 1024);
        let mut dec = HandshakeDecoder::new();
        loop {
            if let Some(hs) = dec.decode(&mut buf)? {
                return Ok::<_, crate::Error>((hs, buf));
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(crate::Error::Peer("closed during handshake".into()));
            }
        }
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, work)
        .await
        .map_err(|_| crate::Error::Peer("handshake timed out".into()))?
}

/// Requests to keep in flight to a peer that sends `rate` bytes a second (0 before it is
/// measured), with slow-start window `window` and request queue limit `reqq`.
///
/// About half a second of data at the peer's rate, or — before the rate is measured — the
/// window, which grows by two per block delivered (TCP-style slow start) so one fast peer
/// fills the link within the first second. Not the window once the rate is known: at a
/// slow peer it would keep growing to many seconds of requests, which a stream's late
/// piece then waits behind.
fn queue_depth(rate: u64, window: usize, reqq: usize) -> usize {
    let depth = if rate > 0 {
        (rate / 2 / u64::from(BLOCK_LEN)) as usize
    } else {
        window
    };
    depth.clamp(MIN_QUEUE, MAX_QUEUE).min(reqq.max(1))
}

/// What the writer task is asked to do.
#[derive(Debug)]
pub(crate) enum Out {
    Msg(Bytes),
    /// A request, and whether it may be served while the peer is choked (allowed fast).
    Serve(BlockRequest, bool),
}

/// Runs a connected, handshaken peer until it ends. Registers and unregisters it.
pub(crate) async fn run(
    torrent: Arc<Torrent>,
    stream: TcpStream,
    addr: SocketAddr,
    theirs: Handshake,
    leftover: BytesMut,
) {
    let _ = stream.set_nodelay(true);
    let (tx, rx) = mpsc::unbounded_channel();
    let Some((key, counters)) = torrent.add_peer(addr, theirs.peer_id, tx) else {
        return;
    };
    let (rd, wr) = stream.into_split();
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(crate::upload::writer_task(
        torrent.clone(),
        wr,
        out_rx,
        counters.clone(),
        theirs.reserved.fast(),
    ));
    let mut conn = Conn {
        torrent: torrent.clone(),
        key,
        addr,
        counters,
        out: out_tx,
        fast: theirs.reserved.fast(),
        ext: theirs.reserved.extension_protocol(),
        has: Vec::new(),
        pending_have: Vec::new(),
        pending_bitfield: None,
        have_all: false,
        peer_choking: true,
        am_interested: false,
        outstanding: HashMap::new(),
        order: VecDeque::new(),
        made_room_for: HashMap::new(),
        unanswered_cancels: HashMap::new(),
        allowed_fast: Vec::new(),
        their_ut_metadata: None,
        their_pex: None,
        reqq: DEFAULT_REQQ,
        metadata_size: None,
        metadata_req: None,
        last_piece: Instant::now(),
        last_recv: Instant::now(),
        setup_done: false,
        decoder: MessageDecoder::default(),
        paced_until: None,
        window: INITIAL_WINDOW,
        our_allowed: Vec::new(),
    };
    let reason = conn.run(rd, leftover, rx).await;
    writer.abort();
    let outstanding: Vec<BlockRef> = conn.outstanding.keys().copied().collect();
    torrent.remove_peer(key, &conn.has, &outstanding, reason);
}

struct Conn {
    torrent: Arc<Torrent>,
    key: u64,
    addr: SocketAddr,
    counters: Arc<PeerCounters>,
    out: mpsc::UnboundedSender<Out>,
    fast: bool,
    ext: bool,
    /// The peer's pieces (empty until metadata is known).
    has: Vec<bool>,
    pending_have: Vec<u32>,
    pending_bitfield: Option<Bytes>,
    have_all: bool,
    peer_choking: bool,
    am_interested: bool,
    outstanding: HashMap<BlockRef, Instant>,
    order: VecDeque<BlockRef>,
    /// Pieces [`Conn::make_room`] cancelled requests for, with the deadline they had then
    /// (once per deadline: a piece whose deadline was removed and set again, as when a
    /// player seeks back, gets room again).
    made_room_for: HashMap<u32, u64>,
    /// Requests we cancelled at a fast peer that it has not answered yet. A BEP 6 peer
    /// answers every request, cancelled or not, with its block or a reject: a reject that
    /// comes for one of these answers the cancelled request, not the same block asked
    /// again since (taking it for the latter would lose track of a request the peer still
    /// holds, which then comes back unwanted and cannot be cancelled).
    unanswered_cancels: HashMap<BlockRef, u32>,
    allowed_fast: Vec<u32>,
    their_ut_metadata: Option<u8>,
    their_pex: Option<u8>,
    reqq: usize,
    metadata_size: Option<u64>,
    metadata_req: Option<(u32, Instant)>,
    last_piece: Instant,
    last_recv: Instant,
    setup_done: bool,
    decoder: MessageDecoder,
    paced_until: Option<Instant>,
    /// Slow-start request window (blocks).
    window: usize,
    /// The allowed-fast set we gave the peer: served even while it is choked.
    our_allowed: Vec<u32>,
}

async fn pace(until: Option<Instant>) {
    match until {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

impl Conn {
    fn send(&self, msg: &Message) {
        let _ = self.out.send(Out::Msg(msg.to_bytes().freeze()));
    }

    fn send_all(&self, msgs: Vec<Message>) {
        for m in &msgs {
            self.send(m);
        }
    }

    async fn run(
        &mut self,
        mut rd: OwnedReadHalf,
        mut buf: BytesMut,
        mut cmds: mpsc::UnboundedReceiver<PeerCmd>,
    ) -> String {
        if self.ext {
            self.send_ext_handshake();
        }
        self.setup_after_metadata();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Drain whatever is already buffered before reading more.
            loop {
                match self.decoder.decode(&mut buf) {
                    Ok(Some(msg)) => {
                        if let Err(reason) = self.on_message(msg) {
                            return reason;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return format!("protocol error: {e}"),
                }
            }
            self.fill_requests();
            if buf.capacity() - buf.len() < 32 * 1024 {
                buf.reserve(256 * 1024);
            }
            tokio::select! {
                n = rd.read_buf(&mut buf) => match n {
                    Ok(0) => return "closed by peer".into(),
                    Ok(_) => self.last_recv = Instant::now(),
                    Err(e) => return format!("read failed: {e}"),
                },
                cmd = cmds.recv() => match cmd {
                    None => return "torrent closed".into(),
                    Some(cmd) => if let Err(reason) = self.on_cmd(cmd) { return reason },
                },
                _ = tick.tick() => if let Err(reason) = self.on_tick() { return reason },
                _ = pace(self.paced_until) => {}
            }
        }
    }

    fn send_ext_handshake(&self) {
        let mut hs = ExtendedHandshake::default();
        hs.m.insert(UT_METADATA.to_string(), OUR_UT_METADATA);
        hs.m.insert(UT_PEX.to_string(), OUR_UT_PEX);
        hs.v = Some(concat!("shoal ", env!("CARGO_PKG_VERSION")).to_string());
        hs.reqq = Some(OUR_REQQ as u32);
        hs.p = self.torrent.session.listen_port();
        let st = self.torrent.lock();
        if let Some(a) = st.active.as_ref() {
            hs.metadata_size = Some(a.meta.info_bytes().len() as u64);
        }
        drop(st);
        self.send(&hs.to_message());
    }

    /// Once metadata is known: our bitfield, allowed-fast set, the peer's pending haves.
    fn setup_after_metadata(&mut self) {
        if self.setup_done {
            return;
        }
        let mut st = self.torrent.lock();
        let Some(picker) = st.picker.as_mut() else {
            return;
        };
        self.setup_done = true;
        let n = picker.num_pieces();
        self.decoder = MessageDecoder::for_torrent(n, BLOCK_LEN);
        // Our pieces.
        let have = picker.have();
        let count = picker.have_count();
        let msg = if self.fast && count == n {
            Message::HaveAll
        } else if self.fast && count == 0 {
            Message::HaveNone
        } else {
            let mut bf = wire::Bitfield::new(n);
            for (i, h) in have.iter().enumerate() {
                if *h {
                    let _ = bf.set(i as u32, true);
                }
            }
            bf.to_message()
        };
        // The peer's pieces, if they came before the metadata.
        self.has = vec![false; n as usize];
        if self.have_all {
            self.has.iter_mut().for_each(|h| *h = true);
        } else if let Some(raw) = self.pending_bitfield.take()
            && let Ok(bf) = wire::Bitfield::from_bytes(&raw, n)
        {
            for i in bf.iter_set() {
                self.has[i as usize] = true;
            }
        }
        for i in self.pending_have.drain(..) {
            if let Some(h) = self.has.get_mut(i as usize) {
                *h = true;
            }
        }
        picker.peer_has_all(&self.has);
        drop(st);
        if count > 0 || self.fast {
            self.send(&msg);
        }
        if self.fast
            && let IpAddr::V4(ip) = self.addr.ip()
        {
            self.our_allowed =
                wire::allowed_fast_set(ip, self.torrent.wire_hash(), n, ALLOWED_FAST_K);
            for p in &self.our_allowed {
                self.send(&Message::AllowedFast(*p));
            }
        }
        self.update_interest();
    }

    fn update_interest(&mut self) {
        if self.has.is_empty() {
            return;
        }
        let interested = {
            let st = self.torrent.lock();
            st.picker
                .as_ref()
                .is_some_and(|p| p.interested_in(&self.has))
        };
        if interested != self.am_interested {
            self.am_interested = interested;
            self.send(if interested {
                &Message::Interested
            } else {
                &Message::NotInterested
            });
        }
    }

    fn fill_requests(&mut self) {
        if !self.am_interested || self.has.is_empty() {
            return;
        }
        if let Some(t) = self.paced_until {
            if Instant::now() < t {
                return;
            }
            self.paced_until = None;
        }
        if self.peer_choking && self.allowed_fast.is_empty() {
            return;
        }
        let torrent = self.torrent.clone();
        let blocks = {
            let mut st = torrent.lock();
            let rate = st.peers.get(&self.key).map_or(0, |p| p.down_rate);
            let depth = queue_depth(rate, self.window, self.reqq);
            if self.outstanding.len() >= depth {
                return;
            }
            let hashing = st.hashing;
            let Some(picker) = st.picker.as_mut() else {
                return;
            };
            picker.set_now(self.torrent.session.now_ms());
            // A deadline that came due since (a stream's read-ahead, a player's own
            // `set_piece_deadline`): make room for it as for a read that waits.
            self.make_room_if_late(picker);
            let want = depth.saturating_sub(self.outstanding.len());
            if want == 0 {
                return;
            }
            // Finished pieces wait in memory for the hashing threads: while too many wait
            // (a slow disk), ask for nothing new, so memory stays bounded. The first
            // piece hashed wakes the peers again (its `Have`).
            let backlog = (HASH_BACKLOG_BYTES / picker.piece_len(0).max(1) as usize).max(2);
            if hashing >= backlog {
                return;
            }
            let has = &self.has;
            let outstanding = &self.outstanding;
            let allowed = if self.peer_choking {
                Some(&self.allowed_fast[..])
            } else {
                None
            };
            picker.pick(
                &|p| has.get(p as usize).copied().unwrap_or(false),
                &|b| outstanding.contains_key(b),
                allowed,
                want,
            )
        };
        if blocks.is_empty() {
            return;
        }
        let limiters = [&self.torrent.down_limit, &self.torrent.session.down_limit];
        let limited = limiters.iter().any(|l| l.rate().is_some());
        let mut out = BytesMut::with_capacity(blocks.len() * 17);
        let now = Instant::now();
        let mut blocks = blocks.into_iter();
        for b in blocks.by_ref() {
            if limited {
                // Download limits pace requests: once in debt, wait before asking for more.
                let wait = limiters
                    .iter()
                    .map(|l| l.delay(u64::from(b.len)))
                    .max()
                    .unwrap_or_default();
                if !wait.is_zero() {
                    self.paced_until = Some(now + wait);
                }
            }
            Message::Request(BlockRequest {
                index: b.piece,
                begin: b.offset,
                length: b.len,
            })
            .encode(&mut out);
            self.outstanding.insert(b, now);
            self.order.push_back(b);
            if self.paced_until.is_some() {
                break;
            }
        }
        // Blocks picked but not requested go back to the picker.
        let rest: Vec<BlockRef> = blocks.collect();
        if !rest.is_empty() {
            let mut st = self.torrent.lock();
            if let Some(p) = st.picker.as_mut() {
                for b in &rest {
                    p.cancel(b);
                }
            }
        }
        let _ = self.out.send(Out::Msg(out.freeze()));
    }

    fn on_message(&mut self, msg: Message) -> Result<(), String> {
        match msg {
            Message::KeepAlive | Message::Port(_) | Message::Suggest(_) => {}
            Message::Choke => {
                self.peer_choking = true;
                if !self.fast {
                    self.drop_outstanding();
                }
            }
            Message::Unchoke => self.peer_choking = false,
            Message::Interested => {
                self.counters.peer_interested.store(true, Ordering::Relaxed);
                let _ = self
                    .torrent
                    .driver_tx
                    .send(crate::driver::DriverCmd::Interested(self.key));
            }
            Message::NotInterested => {
                self.counters
                    .peer_interested
                    .store(false, Ordering::Relaxed);
            }
            Message::Have(i) => {
                if self.has.is_empty() {
                    if self.pending_have.len() < 1 << 20 {
                        self.pending_have.push(i);
                    }
                } else if let Some(h) = self.has.get_mut(i as usize) {
                    if !*h {
                        *h = true;
                        let mut st = self.torrent.lock();
                        if let Some(p) = st.picker.as_mut() {
                            p.peer_has(i);
                        }
                    }
                    if !self.am_interested {
                        self.update_interest();
                    }
                } else {
                    return Err(format!("have for piece {i}, past the last piece"));
                }
            }
            Message::Bitfield(raw) => {
                if self.has.is_empty() {
                    self.pending_bitfield = Some(raw);
                } else {
                    let n = self.has.len() as u32;
                    let bf = wire::Bitfield::from_bytes(&raw, n).map_err(|e| e.to_string())?;
                    let mut st = self.torrent.lock();
                    if let Some(p) = st.picker.as_mut() {
                        p.peer_gone(&self.has);
                        for i in 0..n {
                            self.has[i as usize] = bf.get(i);
                        }
                        p.peer_has_all(&self.has);
                    }
                    drop(st);
                    self.update_interest();
                }
            }
            Message::HaveAll => {
                self.have_all = true;
                if !self.has.is_empty() {
                    let mut st = self.torrent.lock();
                    if let Some(p) = st.picker.as_mut() {
                        p.peer_gone(&self.has);
                        self.has.iter_mut().for_each(|h| *h = true);
                        p.peer_has_all(&self.has);
                    }
                    drop(st);
                    self.update_interest();
                }
            }
            Message::HaveNone => {}
            Message::Request(r) => self.on_request(r),
            Message::Piece { index, begin, data } => self.on_piece(index, begin, data)?,
            Message::Cancel(r) => self
                .counters
                .requests
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .cancel(&r),
            Message::Reject(r) => {
                let b = BlockRef {
                    piece: r.index,
                    offset: r.begin,
                    len: r.length,
                };
                if !self.answered_cancel(&b) && self.outstanding.remove(&b).is_some() {
                    let mut st = self.torrent.lock();
                    if let Some(p) = st.picker.as_mut() {
                        p.cancel(&b);
                    }
                }
            }
            Message::AllowedFast(i)
                if self.allowed_fast.len() < 64 && !self.allowed_fast.contains(&i) =>
            {
                self.allowed_fast.push(i);
            }
            Message::Extended { id, payload } => self.on_extended(id, payload)?,
            // BEP 52 piece layers (crate::piece_layers).
            Message::HashRequest(r) => {
                self.send(&crate::piece_layers::answer(&self.torrent, self.key, &r))
            }
            Message::Hashes(h) => {
                self.send_all(crate::piece_layers::on_hashes(&self.torrent, self.key, &h))
            }
            Message::HashReject(r) => {
                self.send_all(crate::piece_layers::on_reject(&self.torrent, self.key, &r))
            }
            _ => {}
        }
        Ok(())
    }

    fn on_request(&mut self, r: BlockRequest) {
        let ok = {
            let st = self.torrent.lock();
            match (st.picker.as_ref(), st.active.as_ref()) {
                (Some(p), Some(a)) => {
                    // v2 peers (libtorrent) pad a file's last piece to a whole block and
                    // ask for the zeros too; v1 requests must stay inside the piece.
                    let limit = if a.meta.info_hash().v2().is_some() {
                        u64::from(a.store.piece_size(r.index))
                            .next_multiple_of(u64::from(BLOCK_LEN))
                    } else {
                        u64::from(a.store.piece_size(r.index))
                    };
                    p.has(r.index)
                        && r.length > 0
                        && r.length <= 128 * 1024
                        && r.begin < a.store.piece_size(r.index)
                        && u64::from(r.begin) + u64::from(r.length) <= limit
                }
                _ => false,
            }
        };
        let queued = ok
            && self
                .counters
                .requests
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .queue(r);
        if queued {
            let _ = self
                .out
                .send(Out::Serve(r, self.our_allowed.contains(&r.index)));
        } else if self.fast {
            self.send(&Message::Reject(r));
        }
    }

    fn on_piece(&mut self, index: u32, begin: u32, data: Bytes) -> Result<(), String> {
        let b = BlockRef {
            piece: index,
            offset: begin,
            len: data.len() as u32,
        };
        let now = Instant::now();
        self.last_piece = now;
        if self.outstanding.remove(&b).is_none() {
            // Unrequested (or cancelled and sent anyway): ignore, it is not counted.
            self.answered_cancel(&b);
            return Ok(());
        }
        self.window = (self.window + 2).min(MAX_QUEUE);
        self.counters
            .downloaded
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        let mut to_verify = None;
        let mut endgame = false;
        {
            let mut st = self.torrent.lock();
            st.downloaded += data.len() as u64;
            let Some(picker) = st.picker.as_mut() else {
                return Ok(());
            };
            match picker.received(&b) {
                None => {}
                Some(done) => {
                    endgame = picker.in_endgame();
                    let piece_len = picker.piece_len(index) as usize;
                    let buf = st.bufs.entry(index).or_insert_with(|| PieceBuf {
                        data: crate::bufpool::take(piece_len),
                        from: Default::default(),
                    });
                    let start = begin as usize;
                    buf.data[start..start + data.len()].copy_from_slice(&data);
                    buf.from.insert(self.addr);
                    if done {
                        to_verify = st.bufs.remove(&index);
                    }
                }
            }
            if endgame {
                for (k, p) in &st.peers {
                    if *k != self.key {
                        let _ = p.tx.send(PeerCmd::Cancel(b));
                    }
                }
            }
        }
        if let Some(buf) = to_verify {
            self.torrent.spawn_verify(index, buf);
        }
        Ok(())
    }

    fn on_extended(&mut self, id: u8, payload: Bytes) -> Result<(), String> {
        match id {
            wire::EXTENDED_HANDSHAKE_ID => {
                let hs = ExtendedHandshake::decode(&payload).map_err(|e| e.to_string())?;
                self.their_ut_metadata = hs.extension_id(UT_METADATA);
                self.their_pex = hs.extension_id(UT_PEX);
                if let Some(q) = hs.reqq {
                    self.reqq = (q as usize).clamp(1, MAX_QUEUE);
                }
                self.metadata_size = hs.metadata_size.filter(|s| *s > 0 && *s <= MAX_METADATA);
                let mut st = self.torrent.lock();
                if let Some(p) = st.peers.get_mut(&self.key) {
                    p.pex_id = self.their_pex;
                    p.listen_addr =
                        hs.p.filter(|p| *p != 0)
                            .map(|port| SocketAddr::new(self.addr.ip(), port));
                }
                drop(st);
                self.request_metadata();
            }
            OUR_UT_METADATA => {
                let msg = UtMetadata::decode(&payload).map_err(|e| e.to_string())?;
                self.on_metadata(msg)?;
            }
            OUR_UT_PEX => {
                if let Ok(pex) = Pex::decode(&payload) {
                    let addrs: Vec<SocketAddr> = pex
                        .added
                        .iter()
                        .map(|(a, _)| SocketAddr::V4(*a))
                        .chain(pex.added6.iter().map(|(a, _)| SocketAddr::V6(*a)))
                        .take(200)
                        .collect();
                    let _ = self
                        .torrent
                        .driver_tx
                        .send(crate::driver::DriverCmd::AddPeers(addrs));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn request_metadata(&mut self) {
        let (Some(their_id), Some(size)) = (self.their_ut_metadata, self.metadata_size) else {
            return;
        };
        if self.metadata_req.is_some() {
            return;
        }
        let piece = {
            let mut st = self.torrent.lock();
            if st.meta_known {
                return;
            }
            let fetch = st.metadata.get_or_insert_with(|| {
                let n = (size as usize).div_ceil(wire::METADATA_PIECE_LEN as usize);
                MetadataFetch {
                    size: size as usize,
                    pieces: vec![None; n],
                    requested: vec![None; n],
                }
            });
            if fetch.size != size as usize {
                return;
            }
            let now = Instant::now();
            let pick = (0..fetch.pieces.len()).find(|i| {
                fetch.pieces[*i].is_none()
                    && fetch.requested[*i].is_none_or(|t| now - t > Duration::from_secs(10))
            });
            if let Some(i) = pick {
                fetch.requested[i] = Some(now);
            }
            pick
        };
        if let Some(piece) = piece {
            self.metadata_req = Some((piece as u32, Instant::now()));
            self.send(
                &UtMetadata::Request {
                    piece: piece as u32,
                }
                .to_message(their_id),
            );
        }
    }

    fn on_metadata(&mut self, msg: UtMetadata) -> Result<(), String> {
        match msg {
            UtMetadata::Request { piece } => {
                let Some(their_id) = self.their_ut_metadata else {
                    return Ok(());
                };
                let info = {
                    let st = self.torrent.lock();
                    st.active.as_ref().map(|a| a.meta.clone())
                };
                let reply = match info {
                    Some(meta) => {
                        let bytes = meta.info_bytes();
                        let start = piece as usize * wire::METADATA_PIECE_LEN as usize;
                        if start < bytes.len() {
                            let end = (start + wire::METADATA_PIECE_LEN as usize).min(bytes.len());
                            UtMetadata::Data {
                                piece,
                                total_size: bytes.len() as u64,
                                data: Bytes::copy_from_slice(&bytes[start..end]),
                            }
                        } else {
                            UtMetadata::Reject { piece }
                        }
                    }
                    None => UtMetadata::Reject { piece },
                };
                self.send(&reply.to_message(their_id));
            }
            UtMetadata::Data { piece, data, .. } => {
                self.metadata_req = None;
                let complete = {
                    let mut st = self.torrent.lock();
                    let Some(fetch) = st.metadata.as_mut() else {
                        return Ok(());
                    };
                    let i = piece as usize;
                    let expected = (fetch.size
                        - (i * wire::METADATA_PIECE_LEN as usize).min(fetch.size))
                    .min(wire::METADATA_PIECE_LEN as usize);
                    if i >= fetch.pieces.len() || data.len() != expected {
                        return Err("sent a metadata piece of the wrong size".into());
                    }
                    fetch.pieces[i] = Some(data);
                    if fetch.pieces.iter().all(Option::is_some) {
                        let mut all = Vec::with_capacity(fetch.size);
                        for p in fetch.pieces.iter().flatten() {
                            all.extend_from_slice(p);
                        }
                        st.metadata = None;
                        Some(all)
                    } else {
                        None
                    }
                };
                if let Some(info) = complete {
                    let _ = self
                        .torrent
                        .driver_tx
                        .send(crate::driver::DriverCmd::MetadataBytes(info));
                } else {
                    self.request_metadata();
                }
            }
            UtMetadata::Reject { piece } => {
                self.metadata_req = None;
                let mut st = self.torrent.lock();
                if let Some(f) = st.metadata.as_mut()
                    && let Some(r) = f.requested.get_mut(piece as usize)
                {
                    *r = None;
                }
                // This peer will not give it; do not ask it again.
                self.their_ut_metadata = None;
            }
        }
        Ok(())
    }

    fn on_cmd(&mut self, cmd: PeerCmd) -> Result<(), String> {
        match cmd {
            PeerCmd::Have(p) => {
                self.made_room_for.remove(&p);
                self.send(&Message::Have(p));
                if self.am_interested {
                    self.update_interest();
                }
            }
            PeerCmd::Choke => {
                self.counters.am_choking.store(true, Ordering::Relaxed);
                self.send(&Message::Choke);
            }
            PeerCmd::Unchoke => {
                self.counters.am_choking.store(false, Ordering::Relaxed);
                self.send(&Message::Unchoke);
            }
            PeerCmd::Cancel(b) => {
                if self.outstanding.remove(&b).is_some() {
                    self.cancelled(b);
                    self.send(&Message::Cancel(BlockRequest {
                        index: b.piece,
                        begin: b.offset,
                        length: b.len,
                    }));
                    let mut st = self.torrent.lock();
                    if let Some(p) = st.picker.as_mut() {
                        p.cancel(&b);
                    }
                }
            }
            PeerCmd::MakeRoom(piece) => self.make_room(piece),
            PeerCmd::Refill => {
                if !self.setup_done {
                    if self.ext {
                        // Metadata arrived: tell the peer its size too.
                        self.send_ext_handshake();
                    }
                    self.setup_after_metadata();
                    self.send_all(crate::piece_layers::requests(&self.torrent, self.key));
                } else {
                    self.update_interest();
                }
            }
            PeerCmd::Pex(payload) => {
                if let Some(id) = self.their_pex {
                    self.send(&Message::Extended { id, payload });
                }
            }
            PeerCmd::Close(reason) => return Err(reason.to_string()),
        }
        Ok(())
    }

    /// A deadline on `piece` is due (a stream waits for it, or a player's deadline came):
    /// the peer serves requests in order, so cancel ours queued ahead of it (all but the
    /// oldest few, which are likely on the wire already) unless they are for pieces with
    /// deadlines too. The picker then asks for the deadline pieces' blocks first. Once per
    /// piece, so a piece that stays late does not cancel the same peer's queue over and
    /// over; nothing for a piece this peer does not have (its queue does not hold that
    /// piece back).
    fn make_room(&mut self, piece: u32) {
        if self.outstanding.is_empty() {
            return;
        }
        let torrent = self.torrent.clone();
        let mut st = torrent.lock();
        let Some(picker) = st.picker.as_mut() else {
            return;
        };
        self.make_room_locked(picker, piece);
    }

    /// [`make_room`](Self::make_room) for the earliest late deadline piece this peer has,
    /// if any (the caller set the picker's clock).
    fn make_room_if_late(&mut self, picker: &mut Picker) {
        let has = &self.has;
        let late = picker.late_piece(&|p| has.get(p as usize).copied().unwrap_or(false));
        if let Some(piece) = late {
            self.make_room_locked(picker, piece);
        }
    }

    fn make_room_locked(&mut self, picker: &mut Picker, piece: u32) {
        let Some(due) = picker.deadline(piece) else {
            return;
        };

        if self.made_room_for.get(&piece) == Some(&due)
            || !self.has.get(piece as usize).copied().unwrap_or(false)
        {
            return;
        }
        self.made_room_for.insert(piece, due);
        let candidates: Vec<BlockRef> = self
            .order
            .iter()
            .filter(|b| self.outstanding.contains_key(b))
            .skip(KEEP_ON_MAKE_ROOM)
            .filter(|b| !picker.has_deadline(b.piece))
            // Asked again after a cancel the peer has not answered yet: cancelled again,
            // the peer would hold two cancels for one block, and one that keeps one note
            // per cancelled block would drop one request and serve the other.
            .filter(|b| !self.unanswered_cancels.contains_key(b))
            .copied()
            .collect();
        // `order` may list a block twice (asked again after a cancel): cancel it once.
        let doomed: Vec<BlockRef> = candidates
            .into_iter()
            .filter(|b| self.outstanding.remove(b).is_some())
            .inspect(|b| picker.cancel(b))
            .collect();
        if doomed.is_empty() {
            return;
        }
        let mut out = BytesMut::with_capacity(doomed.len() * 17);
        for b in &doomed {
            self.cancelled(*b);
            Message::Cancel(BlockRequest {
                index: b.piece,
                begin: b.offset,
                length: b.len,
            })
            .encode(&mut out);
        }
        self.order.retain(|b| self.outstanding.contains_key(b));
        let _ = self.out.send(Out::Msg(out.freeze()));
    }

    fn drop_outstanding(&mut self) {
        if self.outstanding.is_empty() {
            return;
        }
        let mut st = self.torrent.lock();
        if let Some(p) = st.picker.as_mut() {
            for b in self.outstanding.keys() {
                p.cancel(b);
            }
        }
        self.outstanding.clear();
        self.order.clear();
        // A peer that sits on our requests may never answer the cancelled ones either.
        self.unanswered_cancels.clear();
        st.broadcast(&PeerCmd::Refill);
    }

    /// We sent a cancel for `b`: a fast peer still answers it.
    fn cancelled(&mut self, b: BlockRef) {
        if self.fast {
            *self.unanswered_cancels.entry(b).or_insert(0) += 1;
        }
    }

    /// A block or a reject for `b` came: whether it answers a request we cancelled.
    fn answered_cancel(&mut self, b: &BlockRef) -> bool {
        match self.unanswered_cancels.get_mut(b) {
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    self.unanswered_cancels.remove(b);
                }
                true
            }
            None => false,
        }
    }

    fn on_tick(&mut self) -> Result<(), String> {
        let now = Instant::now();
        if now - self.last_recv > IDLE_TIMEOUT {
            return Err("idle too long".into());
        }
        if !self.outstanding.is_empty() && now - self.last_piece > SNUB_TIMEOUT {
            // The peer sits on our requests: give them to others.
            self.drop_outstanding();
            self.window = MIN_QUEUE;
            self.last_piece = now;
        }
        if self
            .metadata_req
            .is_some_and(|(_, t)| now - t > Duration::from_secs(15))
        {
            self.metadata_req = None;
        }
        if !self.setup_done {
            self.request_metadata();
            self.send_all(crate::piece_layers::requests(&self.torrent, self.key));
        }
        self.order.retain(|b| self.outstanding.contains_key(b));
        if self.setup_done {
            // Deadlines that came due while no block arrived (a full queue at a slow peer
            // does not refill), and forgetting pieces that no longer have one.
            let torrent = self.torrent.clone();
            let mut st = torrent.lock();
            if let Some(picker) = st.picker.as_mut() {
                self.made_room_for
                    .retain(|p, due| picker.deadline(*p) == Some(*due));
                picker.set_now(self.torrent.session.now_ms());
                if !self.outstanding.is_empty() {
                    self.make_room_if_late(picker);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_depth_follows_the_rate_once_measured() {
        // Slow start before the rate is known.
        assert_eq!(queue_depth(0, 128, 250), 128);
        assert_eq!(queue_depth(0, 5000, 2000), MAX_QUEUE);
        // Half a second at 1.5 MB/s, however far the window grew: 45 blocks, not 600.
        assert_eq!(queue_depth(1_500_000, 600, 2000), 45);
        assert_eq!(queue_depth(100_000, 600, 2000), MIN_QUEUE);
        // A fast peer: as deep as allowed, and never past the peer's own limit.
        assert_eq!(queue_depth(400_000_000, 32, 2000), MAX_QUEUE);
        assert_eq!(queue_depth(400_000_000, 32, 250), 250);
    }
}
