//! UDP tracker responses over borrowed bytes: peers kept in their compact wire form
//! (6 bytes per IPv4 peer, 18 per IPv6 peer), so a server encodes a reply with one copy
//! and a client reads one without building a vector.
//!
//! [`UdpResponse::parse`] is [`UdpResponseRef::parse`] followed by
//! [`UdpResponseRef::to_response`]: there is one parser.

use std::iter::FusedIterator;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use bytes::BufMut;

use crate::common::SwarmStats;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::udp::{
    ACTION_ANNOUNCE, ACTION_CONNECT, ACTION_ERROR, ACTION_SCRAPE, UdpAnnounceResponse, UdpPeers,
    UdpResponse, UdpScrapeResponse, be_u32, be_u64,
};

/// Length of the fixed part of an announce response.
const ANNOUNCE_HEADER: usize = 20;

/// The fixed part of an announce response, built on the stack and written with one copy.
#[inline]
pub(crate) fn announce_header(
    transaction_id: u32,
    interval: u32,
    leechers: u32,
    seeders: u32,
) -> [u8; ANNOUNCE_HEADER] {
    let mut header = [0u8; ANNOUNCE_HEADER];
    for (at, v) in [ACTION_ANNOUNCE, transaction_id, interval, leechers, seeders]
        .into_iter()
        .enumerate()
    {
        header[at * 4..at * 4 + 4].copy_from_slice(&v.to_be_bytes());
    }
    header
}

/// `bytes` as `N`-byte entries, if its length is a multiple of `N`.
#[inline]
fn whole<const N: usize>(bytes: &[u8]) -> Option<&[[u8; N]]> {
    let (whole, rest) = bytes.as_chunks::<N>();
    rest.is_empty().then_some(whole)
}

/// Like [`whole`], with an error naming the value (`what`) when the length is ragged.
fn entries<'a, const N: usize>(bytes: &'a [u8], what: &'static str) -> Result<&'a [[u8; N]]> {
    whole(bytes).ok_or_else(|| Error::BadCompactLength {
        key: what.to_owned(),
        len: bytes.len(),
        entry: N,
    })
}

/// IPv4 peers in compact form (BEP 15, BEP 23): per peer 4 address bytes then a 2-byte
/// port, both big-endian. A validated view over bytes someone else owns.
///
/// ```
/// use std::net::SocketAddrV4;
/// use shoal_tracker_proto::CompactV4;
///
/// let peers = CompactV4::new(&[10, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0x1a, 0xe2]).unwrap();
/// assert_eq!(peers.len(), 2);
/// assert_eq!(peers.iter().next(), Some("10.0.0.1:6881".parse::<SocketAddrV4>().unwrap()));
/// assert!(CompactV4::new(&[1, 2, 3]).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CompactV4<'a>(&'a [[u8; 6]]);

/// IPv6 peers in compact form (BEP 7, BEP 15 over IPv6): per peer 16 address bytes then a
/// 2-byte port, big-endian. Flow info and scope id are not part of the format.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CompactV6<'a>(&'a [[u8; 18]]);

impl CompactV4<'_> {
    /// The compact form of one address.
    #[inline]
    pub fn entry(addr: SocketAddrV4) -> [u8; 6] {
        let [a, b, c, d] = addr.ip().octets();
        let [p, q] = addr.port().to_be_bytes();
        [a, b, c, d, p, q]
    }

    /// The address of one compact entry.
    #[inline]
    pub fn addr(entry: &[u8; 6]) -> SocketAddrV4 {
        let [a, b, c, d, p, q] = *entry;
        SocketAddrV4::new(Ipv4Addr::new(a, b, c, d), u16::from_be_bytes([p, q]))
    }
}

impl CompactV6<'_> {
    /// The compact form of one address (flow info and scope id are dropped).
    #[inline]
    pub fn entry(addr: SocketAddrV6) -> [u8; 18] {
        let mut e = [0u8; 18];
        e[..16].copy_from_slice(&addr.ip().octets());
        e[16..].copy_from_slice(&addr.port().to_be_bytes());
        e
    }

    /// The address of one compact entry.
    #[inline]
    pub fn addr(entry: &[u8; 18]) -> SocketAddrV6 {
        let (ip, port) = entry.split_at(16);
        let mut octets = [0u8; 16];
        octets.copy_from_slice(ip);
        SocketAddrV6::new(octets.into(), u16::from_be_bytes([port[0], port[1]]), 0, 0)
    }
}

/// What [`CompactV4`] and [`CompactV6`] share: everything but the entry layout
/// (`entry`/`addr` above). `$n` is the entry size, `$addr` the address type, `$what` the
/// key named by a length error.
macro_rules! compact_list {
    ($list:ident, $iter:ident, $n:literal, $addr:ty, $what:literal) => {
        impl<'a> $list<'a> {
            /// Bytes per peer.
            pub const ENTRY: usize = $n;

            /// Views `bytes` as peers; [`Error::BadCompactLength`] (its key names the family)
            /// when the length is not a multiple of [`Self::ENTRY`].
            #[inline]
            pub fn new(bytes: &'a [u8]) -> Result<Self> {
                entries(bytes, $what).map(Self)
            }

            /// Views entries that are already whole (never fails, costs nothing).
            #[inline]
            pub fn from_entries(entries: &'a [[u8; $n]]) -> Self {
                Self(entries)
            }

            #[doc = concat!("The wire bytes, ", stringify!($n), " per peer.")]
            #[inline]
            pub fn as_bytes(self) -> &'a [u8] {
                self.0.as_flattened()
            }

            /// The entries, one array per peer.
            #[inline]
            pub fn entries(self) -> &'a [[u8; $n]] {
                self.0
            }

            /// Number of peers.
            #[inline]
            pub fn len(self) -> usize {
                self.0.len()
            }

            /// Whether there are none.
            #[inline]
            pub fn is_empty(self) -> bool {
                self.0.is_empty()
            }

            /// The peers, in order.
            #[inline]
            pub fn iter(self) -> $iter<'a> {
                $iter(self.0.iter())
            }

            /// The peers in a new vector.
            #[inline]
            pub fn to_vec(self) -> Vec<$addr> {
                // A slice iterator's map has an exact length the standard library trusts:
                // one allocation and no capacity check per element.
                self.0.iter().map(Self::addr).collect()
            }
        }

        impl std::fmt::Debug for $list<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_list().entries(self.iter()).finish()
            }
        }

        #[doc = concat!("Iterator over a [`", stringify!($list), "`]'s peers.")]
        #[derive(Debug, Clone)]
        pub struct $iter<'a>(std::slice::Iter<'a, [u8; $n]>);

        impl Iterator for $iter<'_> {
            type Item = $addr;

            #[inline]
            fn next(&mut self) -> Option<$addr> {
                self.0.next().map($list::addr)
            }

            #[inline]
            fn size_hint(&self) -> (usize, Option<usize>) {
                self.0.size_hint()
            }
        }

        impl DoubleEndedIterator for $iter<'_> {
            #[inline]
            fn next_back(&mut self) -> Option<$addr> {
                self.0.next_back().map($list::addr)
            }
        }

        impl ExactSizeIterator for $iter<'_> {}
        impl FusedIterator for $iter<'_> {}

        impl<'a> IntoIterator for $list<'a> {
            type Item = $addr;
            type IntoIter = $iter<'a>;

            #[inline]
            fn into_iter(self) -> $iter<'a> {
                self.iter()
            }
        }
    };
}

compact_list!(
    CompactV4,
    CompactV4Iter,
    6,
    SocketAddrV4,
    "compact IPv4 peers"
);
compact_list!(
    CompactV6,
    CompactV6Iter,
    18,
    SocketAddrV6,
    "compact IPv6 peers"
);

/// Peers of a UDP announce response in compact form, all of one address family: the
/// borrowed counterpart of [`UdpPeers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompactPeers<'a> {
    /// 6-byte entries, for a request that came over IPv4.
    V4(CompactV4<'a>),
    /// 18-byte entries, for a request that came over IPv6.
    V6(CompactV6<'a>),
}

impl<'a> CompactPeers<'a> {
    /// Views `bytes` as 18-byte (`ipv6`) or 6-byte entries; [`Error::BadCompactLength`]
    /// when the length is not a multiple of the entry size.
    #[inline]
    pub fn new(bytes: &'a [u8], ipv6: bool) -> Result<Self> {
        if ipv6 {
            CompactV6::new(bytes).map(CompactPeers::V6)
        } else {
            CompactV4::new(bytes).map(CompactPeers::V4)
        }
    }

    /// The wire bytes.
    #[inline]
    pub fn as_bytes(self) -> &'a [u8] {
        match self {
            CompactPeers::V4(p) => p.as_bytes(),
            CompactPeers::V6(p) => p.as_bytes(),
        }
    }

    /// Number of peers.
    #[inline]
    pub fn len(self) -> usize {
        match self {
            CompactPeers::V4(p) => p.len(),
            CompactPeers::V6(p) => p.len(),
        }
    }

    /// Whether there are none.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The peers as `SocketAddr`s, in order.
    #[inline]
    pub fn iter(self) -> CompactPeersIter<'a> {
        match self {
            CompactPeers::V4(p) => CompactPeersIter::V4(p.iter()),
            CompactPeers::V6(p) => CompactPeersIter::V6(p.iter()),
        }
    }

    /// The owned form.
    #[inline]
    pub fn to_udp_peers(self) -> UdpPeers {
        match self {
            CompactPeers::V4(p) => UdpPeers::V4(p.to_vec()),
            CompactPeers::V6(p) => UdpPeers::V6(p.to_vec()),
        }
    }
}

/// Iterator over a [`CompactPeers`]' peers as `SocketAddr`s.
#[derive(Debug, Clone)]
pub enum CompactPeersIter<'a> {
    /// Over IPv4 peers.
    V4(CompactV4Iter<'a>),
    /// Over IPv6 peers.
    V6(CompactV6Iter<'a>),
}

impl Iterator for CompactPeersIter<'_> {
    type Item = SocketAddr;

    #[inline]
    fn next(&mut self) -> Option<SocketAddr> {
        match self {
            CompactPeersIter::V4(i) => i.next().map(SocketAddr::V4),
            CompactPeersIter::V6(i) => i.next().map(SocketAddr::V6),
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            CompactPeersIter::V4(i) => i.size_hint(),
            CompactPeersIter::V6(i) => i.size_hint(),
        }
    }
}

impl ExactSizeIterator for CompactPeersIter<'_> {}
impl FusedIterator for CompactPeersIter<'_> {}

impl<'a> IntoIterator for CompactPeers<'a> {
    type Item = SocketAddr;
    type IntoIter = CompactPeersIter<'a>;

    #[inline]
    fn into_iter(self) -> CompactPeersIter<'a> {
        self.iter()
    }
}

/// A UDP announce response whose peers are borrowed compact bytes: what a server builds
/// from peers it keeps in wire form (encoding is two copies: header, then peers), and
/// what [`UdpResponseRef::parse`] gives a client without allocating.
///
/// ```
/// use shoal_tracker_proto::{CompactPeers, CompactV4, Limits, UdpAnnounceResponseRef, UdpResponseRef};
///
/// // A server keeps its peers as compact entries.
/// let swarm: Vec<[u8; 6]> = vec![CompactV4::entry("10.0.0.2:51413".parse().unwrap())];
/// let reply = UdpAnnounceResponseRef {
///     transaction_id: 7,
///     interval: 1800,
///     leechers: 1,
///     seeders: 0,
///     peers: CompactPeers::V4(CompactV4::from_entries(&swarm)),
/// };
/// let mut datagram = Vec::new();
/// reply.encode(&mut datagram);
/// assert_eq!(datagram.len(), 20 + 6);
///
/// // A client reads it back as a view over the datagram.
/// let UdpResponseRef::Announce(got) = UdpResponseRef::parse(&datagram, false, &Limits::default())?
/// else {
///     panic!("an announce reply")
/// };
/// assert_eq!(got, reply);
/// assert_eq!(got.peers.iter().next(), Some("10.0.0.2:51413".parse().unwrap()));
/// # Ok::<(), shoal_tracker_proto::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpAnnounceResponseRef<'a> {
    /// Echo of the request's.
    pub transaction_id: u32,
    /// Seconds to wait before the next regular announce.
    pub interval: u32,
    /// Peers still downloading.
    pub leechers: u32,
    /// Peers with the whole torrent.
    pub seeders: u32,
    /// The peers, of the family the request came over.
    pub peers: CompactPeers<'a>,
}

impl UdpAnnounceResponseRef<'_> {
    /// Length of the encoded packet.
    #[inline]
    pub fn encoded_len(&self) -> usize {
        ANNOUNCE_HEADER + self.peers.as_bytes().len()
    }

    /// Appends the packet to `out`: the 20-byte header, then the peer bytes as they are.
    #[inline]
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        out.put_slice(&announce_header(
            self.transaction_id,
            self.interval,
            self.leechers,
            self.seeders,
        ));
        out.put_slice(self.peers.as_bytes());
    }

    /// The owned form (peers converted to addresses).
    #[inline]
    pub fn to_response(&self) -> UdpAnnounceResponse {
        UdpAnnounceResponse {
            transaction_id: self.transaction_id,
            interval: self.interval,
            leechers: self.leechers,
            seeders: self.seeders,
            peers: self.peers.to_udp_peers(),
        }
    }
}

/// Scrape counts as they are on the wire: 12 bytes per torrent (seeders, completed,
/// leechers, big-endian), in the order of the request's info-hashes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CompactScrapeStats<'a>(&'a [[u8; 12]]);

impl<'a> CompactScrapeStats<'a> {
    /// Views `bytes` as counts; [`Error::BadCompactLength`] (key `compact scrape stats`)
    /// when the length is not a multiple of 12.
    #[inline]
    pub fn new(bytes: &'a [u8]) -> Result<Self> {
        entries(bytes, "compact scrape stats").map(Self)
    }

    /// The wire bytes.
    #[inline]
    pub fn as_bytes(self) -> &'a [u8] {
        self.0.as_flattened()
    }

    /// Number of torrents.
    #[inline]
    pub fn len(self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }

    /// The counts, in order.
    #[inline]
    pub fn iter(self) -> impl ExactSizeIterator<Item = SwarmStats> + 'a {
        self.0.iter().map(|e| SwarmStats {
            seeders: be_u32(e, 0),
            completed: be_u32(e, 4),
            leechers: be_u32(e, 8),
        })
    }
}

impl std::fmt::Debug for CompactScrapeStats<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A packet from a UDP tracker, read without copying: announce peers and scrape counts
/// stay views into the datagram. [`UdpResponseRef::to_response`] gives the owned
/// [`UdpResponse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UdpResponseRef<'a> {
    /// The connection id to use for the next minute.
    Connect {
        /// Echo of the request's.
        transaction_id: u32,
        /// The id to put in announce and scrape requests.
        connection_id: u64,
    },
    /// Peers for an announce.
    Announce(UdpAnnounceResponseRef<'a>),
    /// Counts for a scrape.
    Scrape {
        /// Echo of the request's.
        transaction_id: u32,
        /// One entry per info-hash asked about.
        stats: CompactScrapeStats<'a>,
    },
    /// The tracker refused the request.
    Error {
        /// Echo of the request's.
        transaction_id: u32,
        /// Why, as sent (BEP 15 does not promise UTF-8).
        message: &'a [u8],
    },
}

impl<'a> UdpResponseRef<'a> {
    /// Parses a datagram received from a tracker; `ipv6` says whether the request went to
    /// the tracker over IPv6, which makes announce peers 18 bytes instead of 6. Checks
    /// everything [`UdpResponse::parse`] checks (it is this parser) and allocates nothing
    /// unless it fails.
    #[inline]
    pub fn parse(packet: &'a [u8], ipv6: bool, limits: &Limits) -> Result<Self> {
        if packet.len() < 8 {
            return Err(Error::Truncated {
                what: "udp response",
                len: packet.len(),
                expected: 8,
            });
        }
        let action = be_u32(packet, 0);
        let transaction_id = be_u32(packet, 4);
        match action {
            ACTION_CONNECT => {
                if packet.len() < 16 {
                    return Err(Error::Truncated {
                        what: "udp connect response",
                        len: packet.len(),
                        expected: 16,
                    });
                }
                Ok(UdpResponseRef::Connect {
                    transaction_id,
                    connection_id: be_u64(packet, 8),
                })
            }
            ACTION_ANNOUNCE => {
                let Some((header, body)) = packet.split_at_checked(ANNOUNCE_HEADER) else {
                    return Err(Error::Truncated {
                        what: "udp announce response",
                        len: packet.len(),
                        expected: ANNOUNCE_HEADER,
                    });
                };
                let ragged = |entry| Error::RaggedLength {
                    what: "udp announce response",
                    len: body.len(),
                    header: ANNOUNCE_HEADER,
                    entry,
                };
                let peers = if ipv6 {
                    CompactPeers::V6(CompactV6(whole(body).ok_or_else(|| ragged(18))?))
                } else {
                    CompactPeers::V4(CompactV4(whole(body).ok_or_else(|| ragged(6))?))
                };
                if peers.len() > limits.max_peers {
                    return Err(Error::TooMany {
                        what: "peers",
                        count: peers.len(),
                        max: limits.max_peers,
                    });
                }
                Ok(UdpResponseRef::Announce(UdpAnnounceResponseRef {
                    transaction_id,
                    interval: be_u32(header, 8),
                    leechers: be_u32(header, 12),
                    seeders: be_u32(header, 16),
                    peers,
                }))
            }
            ACTION_SCRAPE => {
                let body = &packet[8..];
                let stats = CompactScrapeStats(whole(body).ok_or(Error::RaggedLength {
                    what: "udp scrape response",
                    len: body.len(),
                    header: 8,
                    entry: 12,
                })?);
                if stats.len() > limits.max_scrape_hashes {
                    return Err(Error::TooMany {
                        what: "scrape entries",
                        count: stats.len(),
                        max: limits.max_scrape_hashes,
                    });
                }
                Ok(UdpResponseRef::Scrape {
                    transaction_id,
                    stats,
                })
            }
            ACTION_ERROR => Ok(UdpResponseRef::Error {
                transaction_id,
                message: &packet[8..],
            }),
            action => Err(Error::UnknownAction { action, offset: 0 }),
        }
    }

    /// The transaction id.
    #[inline]
    pub fn transaction_id(&self) -> u32 {
        match self {
            UdpResponseRef::Connect { transaction_id, .. }
            | UdpResponseRef::Scrape { transaction_id, .. }
            | UdpResponseRef::Error { transaction_id, .. } => *transaction_id,
            UdpResponseRef::Announce(r) => r.transaction_id,
        }
    }

    /// Length of the encoded packet.
    #[inline]
    pub fn encoded_len(&self) -> usize {
        match self {
            UdpResponseRef::Connect { .. } => 16,
            UdpResponseRef::Announce(r) => r.encoded_len(),
            UdpResponseRef::Scrape { stats, .. } => 8 + stats.as_bytes().len(),
            UdpResponseRef::Error { message, .. } => 8 + message.len(),
        }
    }

    /// Appends the packet to `out`; a parsed packet encodes to the bytes it came from.
    #[inline]
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        match self {
            UdpResponseRef::Connect {
                transaction_id,
                connection_id,
            } => {
                out.put_u32(ACTION_CONNECT);
                out.put_u32(*transaction_id);
                out.put_u64(*connection_id);
            }
            UdpResponseRef::Announce(r) => r.encode(out),
            UdpResponseRef::Scrape {
                transaction_id,
                stats,
            } => {
                out.put_u32(ACTION_SCRAPE);
                out.put_u32(*transaction_id);
                out.put_slice(stats.as_bytes());
            }
            UdpResponseRef::Error {
                transaction_id,
                message,
            } => {
                out.put_u32(ACTION_ERROR);
                out.put_u32(*transaction_id);
                out.put_slice(message);
            }
        }
    }

    /// The owned form: peers become addresses, counts [`SwarmStats`], and the error
    /// message a `String` (invalid UTF-8 replaced).
    #[inline]
    pub fn to_response(&self) -> UdpResponse {
        match *self {
            UdpResponseRef::Connect {
                transaction_id,
                connection_id,
            } => UdpResponse::Connect {
                transaction_id,
                connection_id,
            },
            UdpResponseRef::Announce(r) => UdpResponse::Announce(r.to_response()),
            UdpResponseRef::Scrape {
                transaction_id,
                stats,
            } => UdpResponse::Scrape(UdpScrapeResponse {
                transaction_id,
                stats: stats.iter().collect(),
            }),
            UdpResponseRef::Error {
                transaction_id,
                message,
            } => UdpResponse::Error {
                transaction_id,
                message: String::from_utf8_lossy(message).into_owned(),
            },
        }
    }
}
