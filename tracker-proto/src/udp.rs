//! UDP tracker packets (BEP 15, with the IPv6 announce reply): both directions.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use bytes::BufMut;
use metainfo::PeerId;

use crate::common::{Event, SwarmStats};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::udp_compact::{CompactV4, CompactV6, UdpResponseRef};

/// The magic `connection_id` of a connect request.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;

/// How long a client may use a connection id after receiving it (BEP 15: one minute).
pub const CONNECTION_ID_LIFETIME: std::time::Duration = std::time::Duration::from_secs(60);

pub(crate) const ACTION_CONNECT: u32 = 0;
pub(crate) const ACTION_ANNOUNCE: u32 = 1;
pub(crate) const ACTION_SCRAPE: u32 = 2;
pub(crate) const ACTION_ERROR: u32 = 3;

/// Length of an announce request without BEP 41 extensions.
const ANNOUNCE_REQUEST_LEN: usize = 98;

/// A packet from a client to a UDP tracker.
///
/// ```
/// use shoal_tracker_proto::{Limits, UdpRequest, UdpScrapeRequest};
///
/// let req = UdpRequest::Scrape(UdpScrapeRequest {
///     connection_id: 42,
///     transaction_id: 7,
///     info_hashes: vec![[1; 20]],
/// });
/// let bytes = req.to_bytes();
/// assert_eq!(bytes.len(), 36);
/// assert_eq!(UdpRequest::parse(&bytes, &Limits::default()).unwrap(), req);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UdpRequest {
    /// Ask for a connection id (`connection_id` is [`PROTOCOL_ID`] on the wire).
    Connect {
        /// Chosen by the client, echoed by the tracker.
        transaction_id: u32,
    },
    /// Announce.
    Announce(UdpAnnounceRequest),
    /// Scrape.
    Scrape(UdpScrapeRequest),
}

/// A UDP announce request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UdpAnnounceRequest {
    /// The id from the connect response.
    pub connection_id: u64,
    /// Chosen by the client, echoed by the tracker.
    pub transaction_id: u32,
    /// The torrent's 20-byte info-hash.
    pub info_hash: [u8; 20],
    /// The client's peer id.
    pub peer_id: PeerId,
    /// Bytes downloaded.
    pub downloaded: u64,
    /// Bytes still needed.
    pub left: u64,
    /// Bytes uploaded.
    pub uploaded: u64,
    /// The event, `None` for a regular update.
    pub event: Option<Event>,
    /// The address to announce instead of the packet's source (`None`: 0 on the wire).
    pub ip: Option<Ipv4Addr>,
    /// An opaque key identifying the client across IP changes.
    pub key: u32,
    /// Peers wanted; `None` is -1 on the wire (tracker's default). Values above
    /// `i32::MAX` are sent as `i32::MAX`.
    pub num_want: Option<u32>,
    /// The port the client accepts peer connections on.
    pub port: u16,
}

/// A UDP scrape request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UdpScrapeRequest {
    /// The id from the connect response.
    pub connection_id: u64,
    /// Chosen by the client, echoed by the tracker.
    pub transaction_id: u32,
    /// The torrents asked about (at least one).
    pub info_hashes: Vec<[u8; 20]>,
}

/// Why a request did not parse, and whether the tracker can still answer with an error
/// packet (it can when the action and transaction id were read).
///
/// A server should send the error reply only after checking `connection_id`, so it never
/// answers spoofed sources with more than they sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestParseError {
    /// The header was read: reply with [`UdpResponse::Error`] to this transaction.
    #[error("{error}")]
    Sendable {
        /// The packet's connection id, to check before replying.
        connection_id: u64,
        /// The transaction to answer.
        transaction_id: u32,
        /// What was wrong.
        error: Error,
    },
    /// Not even a header (or a connect without the protocol id): drop the packet.
    #[error("{error}")]
    Unsendable {
        /// What was wrong.
        error: Error,
    },
}

impl RequestParseError {
    /// What was wrong.
    pub fn error(&self) -> &Error {
        match self {
            RequestParseError::Sendable { error, .. } | RequestParseError::Unsendable { error } => {
                error
            }
        }
    }
}

impl UdpRequest {
    /// The transaction id.
    pub fn transaction_id(&self) -> u32 {
        match self {
            UdpRequest::Connect { transaction_id } => *transaction_id,
            UdpRequest::Announce(r) => r.transaction_id,
            UdpRequest::Scrape(r) => r.transaction_id,
        }
    }

    /// The connection id as sent ([`PROTOCOL_ID`] for a connect).
    pub fn connection_id(&self) -> u64 {
        match self {
            UdpRequest::Connect { .. } => PROTOCOL_ID,
            UdpRequest::Announce(r) => r.connection_id,
            UdpRequest::Scrape(r) => r.connection_id,
        }
    }

    /// Appends the packet to `out`.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        match self {
            UdpRequest::Connect { transaction_id } => {
                out.put_u64(PROTOCOL_ID);
                out.put_u32(ACTION_CONNECT);
                out.put_u32(*transaction_id);
            }
            UdpRequest::Announce(r) => {
                out.put_u64(r.connection_id);
                out.put_u32(ACTION_ANNOUNCE);
                out.put_u32(r.transaction_id);
                out.put_slice(&r.info_hash);
                out.put_slice(&r.peer_id.0);
                out.put_u64(r.downloaded);
                out.put_u64(r.left);
                out.put_u64(r.uploaded);
                out.put_u32(Event::to_udp(r.event));
                out.put_u32(r.ip.map_or(0, u32::from));
                out.put_u32(r.key);
                out.put_i32(match r.num_want {
                    None => -1,
                    Some(n) => i32::try_from(n).unwrap_or(i32::MAX),
                });
                out.put_u16(r.port);
            }
            UdpRequest::Scrape(r) => {
                out.put_u64(r.connection_id);
                out.put_u32(ACTION_SCRAPE);
                out.put_u32(r.transaction_id);
                for hash in &r.info_hashes {
                    out.put_slice(hash);
                }
            }
        }
    }

    /// The packet as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(match self {
            UdpRequest::Connect { .. } => 16,
            UdpRequest::Announce(_) => ANNOUNCE_REQUEST_LEN,
            UdpRequest::Scrape(r) => 16 + 20 * r.info_hashes.len(),
        });
        self.encode(&mut out);
        out
    }

    /// Parses a datagram received by a tracker.
    ///
    /// Bytes after a 98-byte announce (BEP 41 options) are ignored. An announce whose
    /// `ip` is 0 has `ip: None`; a negative `num_want` is `None`.
    pub fn parse(packet: &[u8], limits: &Limits) -> Result<UdpRequest, RequestParseError> {
        if packet.len() < 16 {
            return Err(RequestParseError::Unsendable {
                error: Error::Truncated {
                    what: "udp request",
                    len: packet.len(),
                    expected: 16,
                },
            });
        }
        let connection_id = be_u64(packet, 0);
        let action = be_u32(packet, 8);
        let transaction_id = be_u32(packet, 12);
        let sendable = |error| RequestParseError::Sendable {
            connection_id,
            transaction_id,
            error,
        };
        match action {
            ACTION_CONNECT => {
                if connection_id != PROTOCOL_ID {
                    return Err(RequestParseError::Unsendable {
                        error: Error::InvalidField {
                            field: "protocol_id",
                            offset: 0,
                            reason: format!(
                                "connect request must carry {PROTOCOL_ID:#x}, found {connection_id:#x}"
                            ),
                        },
                    });
                }
                Ok(UdpRequest::Connect { transaction_id })
            }
            ACTION_ANNOUNCE => {
                if packet.len() < ANNOUNCE_REQUEST_LEN {
                    return Err(sendable(Error::Truncated {
                        what: "udp announce request",
                        len: packet.len(),
                        expected: ANNOUNCE_REQUEST_LEN,
                    }));
                }
                let event_code = be_u32(packet, 80);
                let event = Event::from_udp(event_code).ok_or_else(|| {
                    sendable(Error::InvalidField {
                        field: "event",
                        offset: 80,
                        reason: format!("expected 0 to 3, found {event_code}"),
                    })
                })?;
                let ip = be_u32(packet, 84);
                let num_want = be_u32(packet, 92) as i32;
                Ok(UdpRequest::Announce(UdpAnnounceRequest {
                    connection_id,
                    transaction_id,
                    info_hash: array20(packet, 16),
                    peer_id: PeerId(array20(packet, 36)),
                    downloaded: be_u64(packet, 56),
                    left: be_u64(packet, 64),
                    uploaded: be_u64(packet, 72),
                    event,
                    ip: (ip != 0).then(|| Ipv4Addr::from(ip)),
                    key: be_u32(packet, 88),
                    num_want: u32::try_from(num_want).ok(),
                    port: be_u16(packet, 96),
                }))
            }
            ACTION_SCRAPE => {
                let body = &packet[16..];
                if !body.len().is_multiple_of(20) {
                    return Err(sendable(Error::RaggedLength {
                        what: "udp scrape request",
                        len: body.len(),
                        header: 16,
                        entry: 20,
                    }));
                }
                let count = body.len() / 20;
                if count == 0 {
                    return Err(sendable(Error::Truncated {
                        what: "udp scrape request",
                        len: packet.len(),
                        expected: 36,
                    }));
                }
                if count > limits.max_scrape_hashes {
                    return Err(sendable(Error::TooMany {
                        what: "info hashes",
                        count,
                        max: limits.max_scrape_hashes,
                    }));
                }
                let info_hashes = body.chunks_exact(20).map(|c| array20(c, 0)).collect();
                Ok(UdpRequest::Scrape(UdpScrapeRequest {
                    connection_id,
                    transaction_id,
                    info_hashes,
                }))
            }
            action => Err(sendable(Error::UnknownAction { action, offset: 8 })),
        }
    }
}

/// A packet from a UDP tracker to a client.
///
/// ```
/// use shoal_tracker_proto::{Limits, UdpAnnounceResponse, UdpPeers, UdpResponse};
///
/// let resp = UdpResponse::Announce(UdpAnnounceResponse {
///     transaction_id: 9,
///     interval: 1800,
///     leechers: 1,
///     seeders: 2,
///     peers: UdpPeers::V6(vec!["[::1]:6881".parse().unwrap()]),
/// });
/// let bytes = resp.to_bytes();
/// assert_eq!(bytes.len(), 20 + 18);
/// // Whether peers are 6 or 18 bytes depends on how the request was sent.
/// assert_eq!(UdpResponse::parse(&bytes, true, &Limits::default()).unwrap(), resp);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UdpResponse {
    /// The connection id to use for the next minute.
    Connect {
        /// Echo of the request's.
        transaction_id: u32,
        /// The id to put in announce and scrape requests.
        connection_id: u64,
    },
    /// Peers for an announce.
    Announce(UdpAnnounceResponse),
    /// Counts for a scrape.
    Scrape(UdpScrapeResponse),
    /// The tracker refused the request.
    Error {
        /// Echo of the request's.
        transaction_id: u32,
        /// Why (invalid UTF-8 replaced).
        message: String,
    },
}

/// A UDP announce response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UdpAnnounceResponse {
    /// Echo of the request's.
    pub transaction_id: u32,
    /// Seconds to wait before the next regular announce.
    pub interval: u32,
    /// Peers still downloading.
    pub leechers: u32,
    /// Peers with the whole torrent.
    pub seeders: u32,
    /// The peers: IPv4 (6 bytes each) for requests that came over IPv4, IPv6 (18 bytes
    /// each) for requests that came over IPv6.
    pub peers: UdpPeers,
}

/// Peers of a UDP announce response, all of one address family.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UdpPeers {
    /// For a request that came over IPv4.
    V4(Vec<SocketAddrV4>),
    /// For a request that came over IPv6 (flow info and scope id are not sent).
    V6(Vec<SocketAddrV6>),
}

impl UdpPeers {
    /// Number of peers.
    pub fn len(&self) -> usize {
        match self {
            UdpPeers::V4(p) => p.len(),
            UdpPeers::V6(p) => p.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The peers as `SocketAddr`s.
    pub fn to_socket_addrs(&self) -> Vec<SocketAddr> {
        match self {
            UdpPeers::V4(p) => p.iter().map(|&a| SocketAddr::V4(a)).collect(),
            UdpPeers::V6(p) => p.iter().map(|&a| SocketAddr::V6(a)).collect(),
        }
    }
}

/// A UDP scrape response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UdpScrapeResponse {
    /// Echo of the request's.
    pub transaction_id: u32,
    /// Counts, in the order of the request's info-hashes.
    pub stats: Vec<SwarmStats>,
}

impl UdpResponse {
    /// The transaction id.
    pub fn transaction_id(&self) -> u32 {
        match self {
            UdpResponse::Connect { transaction_id, .. }
            | UdpResponse::Error { transaction_id, .. } => *transaction_id,
            UdpResponse::Announce(r) => r.transaction_id,
            UdpResponse::Scrape(r) => r.transaction_id,
        }
    }

    /// Appends the packet to `out`.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        match self {
            UdpResponse::Connect {
                transaction_id,
                connection_id,
            } => UdpResponseRef::Connect {
                transaction_id: *transaction_id,
                connection_id: *connection_id,
            }
            .encode(out),
            UdpResponse::Announce(r) => {
                out.put_slice(&crate::udp_compact::announce_header(
                    r.transaction_id,
                    r.interval,
                    r.leechers,
                    r.seeders,
                ));
                match &r.peers {
                    UdpPeers::V4(peers) => put_peers_v4(out, peers),
                    UdpPeers::V6(peers) => put_peers_v6(out, peers),
                }
            }
            UdpResponse::Scrape(r) => {
                out.put_u32(ACTION_SCRAPE);
                out.put_u32(r.transaction_id);
                for s in &r.stats {
                    out.put_u32(s.seeders);
                    out.put_u32(s.completed);
                    out.put_u32(s.leechers);
                }
            }
            UdpResponse::Error {
                transaction_id,
                message,
            } => UdpResponseRef::Error {
                transaction_id: *transaction_id,
                message: message.as_bytes(),
            }
            .encode(out),
        }
    }

    /// The packet as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(match self {
            UdpResponse::Connect { .. } => 16,
            UdpResponse::Announce(r) => {
                20 + r.peers.len()
                    * match r.peers {
                        UdpPeers::V4(_) => 6,
                        UdpPeers::V6(_) => 18,
                    }
            }
            UdpResponse::Scrape(r) => 8 + 12 * r.stats.len(),
            UdpResponse::Error { message, .. } => 8 + message.len(),
        });
        self.encode(&mut out);
        out
    }

    /// Parses a datagram received from a tracker. `ipv6` says whether the request went to
    /// the tracker over IPv6, which makes announce peers 18 bytes instead of 6.
    ///
    /// This is [`UdpResponseRef::parse`] then [`UdpResponseRef::to_response`]; use the
    /// former to read peers without building a vector.
    pub fn parse(packet: &[u8], ipv6: bool, limits: &Limits) -> Result<UdpResponse> {
        UdpResponseRef::parse(packet, ipv6, limits).map(|r| r.to_response())
    }
}

/// Writes peers through a stack buffer of compact entries: one `put_slice` per 64 peers
/// instead of two `BufMut` calls per peer (which costs about 10x on a 50-peer reply).
fn put_peers_v4<B: BufMut + ?Sized>(out: &mut B, peers: &[SocketAddrV4]) {
    let mut chunk = [[0u8; 6]; 64];
    for group in peers.chunks(64) {
        for (dst, &p) in chunk.iter_mut().zip(group) {
            *dst = CompactV4::entry(p);
        }
        out.put_slice(chunk[..group.len()].as_flattened());
    }
}

/// Like [`put_peers_v4`], 18 bytes per peer.
fn put_peers_v6<B: BufMut + ?Sized>(out: &mut B, peers: &[SocketAddrV6]) {
    let mut chunk = [[0u8; 18]; 32];
    for group in peers.chunks(32) {
        for (dst, &p) in chunk.iter_mut().zip(group) {
            *dst = CompactV6::entry(p);
        }
        out.put_slice(chunk[..group.len()].as_flattened());
    }
}

// The callers check lengths first; these read fixed positions of a slice long enough.
#[inline]
fn be_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
pub(crate) fn be_u32(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(x)
}

#[inline]
pub(crate) fn be_u64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(x)
}

fn array20(b: &[u8], at: usize) -> [u8; 20] {
    let mut x = [0u8; 20];
    x.copy_from_slice(&b[at..at + 20]);
    x
}
