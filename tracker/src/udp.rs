//! The UDP side (BEP 15): worker threads, each with its own `SO_REUSEPORT` socket on the
//! same port, answering packets in a tight blocking loop. The kernel spreads clients over
//! the sockets; the workers share only the swarm store (sharded) and the connection-id key.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol as SockProtocol, Socket, Type};
use tracker_proto::{
    CompactPeers, RequestParseError, UdpAnnounceResponseRef, UdpRequest, UdpResponse,
    UdpScrapeResponse,
};

use crate::error::{Error, Result};
use crate::http::peer_event;
use crate::server::Shared;
use crate::stats::{Counters, Protocol};
use crate::swarm::{self, PeerRng, PeerSelection, ReplyFamilies};

/// How often a blocked worker wakes up to see whether the tracker is shutting down.
const POLL: Duration = Duration::from_millis(100);

/// Largest datagram read; requests are at most a few hundred bytes, a scrape of 74
/// hashes is 1496.
const RECV_BUF: usize = 2048;

/// Datagrams taken per `recvmmsg` call.
#[cfg(target_os = "linux")]
const BATCH: usize = 32;

#[cfg(target_os = "linux")]
fn to_std(a: &nix::sys::socket::SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
}

#[cfg(not(target_os = "linux"))]
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

fn bind_one(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::DGRAM,
        Some(SockProtocol::UDP),
    )?;
    if addr.is_ipv6() {
        // Dual-stack when bound to `[::]`: IPv4 clients arrive as mapped addresses.
        let _ = socket.set_only_v6(false);
    }
    socket.set_reuse_port(true)?;
    // Room for bursts: a worker busy for a moment should not drop valid requests.
    let _ = socket.set_recv_buffer_size(8 << 20);
    let _ = socket.set_send_buffer_size(8 << 20);
    socket.bind(&addr.into())?;
    let socket: UdpSocket = socket.into();
    socket.set_read_timeout(Some(POLL))?;
    Ok(socket)
}

/// Binds `workers` sockets on `addr` (the first decides the port when it is 0).
pub(crate) fn bind(addr: SocketAddr, workers: usize) -> Result<Vec<UdpSocket>> {
    let err = |source| Error::Bind {
        protocol: "UDP",
        addr,
        source,
    };
    let first = bind_one(addr).map_err(err)?;
    let bound = first.local_addr().map_err(err)?;
    let mut sockets = vec![first];
    for _ in 1..workers.max(1) {
        sockets.push(bind_one(bound).map_err(err)?);
    }
    Ok(sockets)
}

/// Starts one thread per socket.
pub(crate) fn spawn(
    shared: &Arc<Shared>,
    sockets: Vec<UdpSocket>,
    stop: &Arc<AtomicBool>,
) -> Result<Vec<std::thread::JoinHandle<()>>> {
    let mut handles = Vec::new();
    for (i, socket) in sockets.into_iter().enumerate() {
        let mut worker = Worker::new(shared.clone());
        let stop = stop.clone();
        let handle = std::thread::Builder::new()
            .name(format!("shoal-udp-{i}"))
            .spawn(move || worker.run(&socket, &stop))
            .map_err(|e| Error::Io {
                context: "starting a UDP worker thread".into(),
                source: e,
            })?;
        handles.push(handle);
    }
    Ok(handles)
}

/// One worker's state: everything reused from packet to packet.
struct Worker {
    shared: Arc<Shared>,
    counters: Arc<Counters>,
    rng: PeerRng,
    selection: PeerSelection,
    interval: u32,
}

impl Worker {
    fn new(shared: Arc<Shared>) -> Self {
        let counters = shared.stats.register(Protocol::Udp);
        let interval = shared.config.interval.as_secs().min(u64::from(u32::MAX)) as u32;
        Self {
            shared,
            counters,
            rng: PeerRng::new(),
            selection: PeerSelection::default(),
            interval,
        }
    }

    /// One packet per system call (platforms without `recvmmsg`).
    #[cfg(not(target_os = "linux"))]
    fn run(&mut self, socket: &UdpSocket, stop: &AtomicBool) {
        let mut buf = [0u8; RECV_BUF];
        let mut out = Vec::with_capacity(RECV_BUF);
        while !stop.load(Ordering::Relaxed) {
            let (len, from) = match socket.recv_from(&mut buf) {
                Ok(x) => x,
                Err(e) => {
                    if !is_timeout(&e) {
                        // ICMP errors from earlier sends surface here; the socket is fine.
                        tracing::debug!("udp recv: {e}");
                    }
                    continue;
                }
            };
            if self.handle_guarded(&buf[..len], from, Instant::now(), &mut out)
                && let Err(e) = socket.send_to(&out, from)
            {
                tracing::debug!("udp send to {from}: {e}");
            }
        }
    }

    /// Batches: one `recvmmsg` takes up to [`BATCH`] waiting datagrams, one `sendmmsg`
    /// sends their replies. Under load this saves most of the system-call cost per packet;
    /// when idle it blocks on the first datagram like a plain `recv_from`.
    #[cfg(target_os = "linux")]
    fn run(&mut self, socket: &UdpSocket, stop: &AtomicBool) {
        use std::io::{IoSlice, IoSliceMut};
        use std::os::fd::AsRawFd;

        use nix::errno::Errno;
        use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};

        let fd = socket.as_raw_fd();
        let mut rx_bufs = vec![[0u8; RECV_BUF]; BATCH];
        let mut tx_bufs: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(RECV_BUF)).collect();
        let mut rx_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
        let mut tx_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
        let mut received: Vec<(usize, Option<SocketAddr>)> = Vec::with_capacity(BATCH);
        let mut tx_addrs: Vec<Option<SockaddrStorage>> = Vec::with_capacity(BATCH);
        while !stop.load(Ordering::Relaxed) {
            received.clear();
            {
                let mut iovs: Vec<[IoSliceMut<'_>; 1]> = rx_bufs
                    .iter_mut()
                    .map(|b| [IoSliceMut::new(&mut b[..])])
                    .collect();
                match recvmmsg(
                    fd,
                    &mut rx_headers,
                    iovs.iter_mut(),
                    MsgFlags::MSG_WAITFORONE,
                    None,
                ) {
                    Ok(results) => {
                        for r in results {
                            received.push((r.bytes, r.address.as_ref().and_then(to_std)));
                        }
                    }
                    Err(Errno::EAGAIN | Errno::EINTR) => continue,
                    Err(e) => {
                        // ICMP errors from earlier sends surface here; the socket is fine.
                        tracing::debug!("udp recvmmsg: {e}");
                        continue;
                    }
                }
            }
            let now = Instant::now();
            tx_addrs.clear();
            for (i, &(len, from)) in received.iter().enumerate() {
                let Some(from) = from else { continue };
                let out = &mut tx_bufs[tx_addrs.len()];
                if self.handle_guarded(&rx_bufs[i][..len.min(RECV_BUF)], from, now, out) {
                    tx_addrs.push(Some(SockaddrStorage::from(from)));
                }
            }
            let mut sent = 0;
            while sent < tx_addrs.len() {
                let slices: Vec<[IoSlice<'_>; 1]> = tx_bufs[sent..tx_addrs.len()]
                    .iter()
                    .map(|b| [IoSlice::new(b)])
                    .collect();
                match sendmmsg(
                    fd,
                    &mut tx_headers,
                    &slices,
                    &tx_addrs[sent..],
                    [],
                    MsgFlags::empty(),
                ) {
                    Ok(results) => sent += results.count().max(1),
                    Err(Errno::EINTR) => {}
                    Err(e) => {
                        // The first message could not go (e.g. its address is unreachable):
                        // skip it, send the others.
                        tracing::debug!("udp sendmmsg: {e}");
                        sent += 1;
                    }
                }
            }
        }
    }

    /// [`Worker::handle`], but a panic (a bug) costs one packet, not the worker.
    fn handle_guarded(
        &mut self,
        packet: &[u8],
        from: SocketAddr,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> bool {
        let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.handle(packet, from, now, out)
        }));
        handled.unwrap_or_else(|_| {
            tracing::error!(%from, len = packet.len(), "udp request handler panicked; packet dropped");
            Counters::add(&self.counters.ignored);
            false
        })
    }

    /// Answers one datagram into `out`; returns whether there is a reply to send.
    fn handle(&mut self, packet: &[u8], from: SocketAddr, now: Instant, out: &mut Vec<u8>) -> bool {
        out.clear();
        let sh = &*self.shared;
        let from = swarm::canonical(from);
        match UdpRequest::parse(packet, &sh.proto_limits) {
            Ok(UdpRequest::Connect { transaction_id }) => {
                let connection_id = sh.conn_ids.issue(&from, now);
                UdpResponse::Connect {
                    transaction_id,
                    connection_id,
                }
                .encode(out);
                Counters::add(&self.counters.connects);
            }
            Ok(UdpRequest::Announce(req)) => {
                if !sh.conn_ids.check(req.connection_id, &from, now) {
                    return self.error(
                        req.transaction_id,
                        "connection id expired or invalid",
                        packet.len(),
                        out,
                    );
                }
                if req.port == 0 {
                    return self.error(req.transaction_id, "port 0", packet.len(), out);
                }
                let a = swarm::Announce {
                    info_hash: req.info_hash,
                    peer_id: req.peer_id.0,
                    addr: SocketAddr::new(from.ip(), req.port),
                    left: req.left,
                    event: peer_event(req.event),
                    numwant: req.num_want.map(|n| n as usize),
                };
                let counts = sh.store.announce(
                    &a,
                    now,
                    ReplyFamilies::Own,
                    &mut self.rng,
                    &mut self.selection,
                );
                // The store keeps peers in wire form: the reply is a header and a copy.
                let peers = match from {
                    SocketAddr::V4(_) => CompactPeers::V4(self.selection.compact_v4()),
                    SocketAddr::V6(_) => CompactPeers::V6(self.selection.compact_v6()),
                };
                UdpAnnounceResponseRef {
                    transaction_id: req.transaction_id,
                    interval: self.interval,
                    leechers: counts.leechers,
                    seeders: counts.seeders,
                    peers,
                }
                .encode(out);
                Counters::add(&self.counters.announces);
            }
            Ok(UdpRequest::Scrape(req)) => {
                if !sh.conn_ids.check(req.connection_id, &from, now) {
                    return self.error(
                        req.transaction_id,
                        "connection id expired or invalid",
                        packet.len(),
                        out,
                    );
                }
                let stats = req
                    .info_hashes
                    .iter()
                    .map(|h| {
                        let c = sh.store.scrape(h);
                        tracker_proto::SwarmStats {
                            seeders: c.seeders,
                            completed: c.downloaded,
                            leechers: c.leechers,
                        }
                    })
                    .collect();
                UdpResponse::Scrape(UdpScrapeResponse {
                    transaction_id: req.transaction_id,
                    stats,
                })
                .encode(out);
                Counters::add(&self.counters.scrapes);
            }
            Err(RequestParseError::Sendable {
                transaction_id,
                error,
                ..
            }) => {
                return self.error(transaction_id, &error.to_string(), packet.len(), out);
            }
            Err(_) => {
                Counters::add(&self.counters.ignored);
                return false;
            }
        }
        true
    }

    /// An error reply, cut so it is never larger than the request: a spoofed source can
    /// not use the tracker to amplify traffic.
    fn error(
        &mut self,
        transaction_id: u32,
        message: &str,
        request_len: usize,
        out: &mut Vec<u8>,
    ) -> bool {
        Counters::add(&self.counters.errors);
        let room = request_len.saturating_sub(8);
        let mut end = message.len().min(room);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        UdpResponse::Error {
            transaction_id,
            message: message[..end].to_owned(),
        }
        .encode(out);
        true
    }
}
