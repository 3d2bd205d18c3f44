//! A sans-IO client for one UDP announce: connect, announce, retransmit, give up.

use std::time::{Duration, Instant};

use crate::error::Result;
use crate::limits::Limits;
use crate::udp::{
    CONNECTION_ID_LIFETIME, UdpAnnounceRequest, UdpAnnounceResponse, UdpRequest, UdpResponse,
};

/// The first retransmission timeout of BEP 15; the n-th wait is `15 · 2ⁿ` seconds.
pub const BASE_TIMEOUT: Duration = Duration::from_secs(15);

/// A connection id and when it was received; valid for [`CONNECTION_ID_LIFETIME`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpConnection {
    /// The id the tracker gave.
    pub id: u64,
    /// When the connect response arrived.
    pub received: Instant,
}

impl UdpConnection {
    /// Whether the id may still be used at `now` (less than a minute old).
    pub fn is_valid(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.received) < CONNECTION_ID_LIFETIME
    }
}

/// Settings of a [`UdpAnnouncer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnouncerOptions {
    /// Whether the tracker is reached over IPv6 (its announce reply then has 18-byte peers).
    pub ipv6: bool,
    /// Seed of the transaction ids (the crate has no random source: pass a random one).
    pub seed: u64,
    /// Retransmissions before giving up: BEP 15 says 8 (the last wait is 3840 s).
    pub max_retransmits: u32,
    /// A connection id from an earlier exchange with the same tracker, reused while valid.
    pub connection: Option<UdpConnection>,
    /// Limits on the reply.
    pub limits: Limits,
}

impl Default for AnnouncerOptions {
    fn default() -> Self {
        AnnouncerOptions {
            ipv6: false,
            seed: 0,
            max_retransmits: 8,
            connection: None,
            limits: Limits::default(),
        }
    }
}

/// How an announce ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AnnounceOutcome {
    /// The tracker answered with peers.
    Announced(UdpAnnounceResponse),
    /// The tracker answered with an error packet.
    TrackerError(String),
    /// No answer after every retransmission.
    TimedOut {
        /// Packets sent in all (connects and announces).
        attempts: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting {
        transaction_id: u32,
    },
    Announcing {
        transaction_id: u32,
        connection: UdpConnection,
    },
    Done,
}

/// One UDP announce as a state machine: the caller owns the socket and the clock.
///
/// Drive it like this: after creating it and after every `handle_*` call, send every
/// packet [`poll_transmit`](Self::poll_transmit) gives; wake at
/// [`poll_timeout`](Self::poll_timeout) and call [`handle_timeout`](Self::handle_timeout);
/// give every datagram from the tracker's address to
/// [`handle_datagram`](Self::handle_datagram). Both `handle_*` return the outcome when the
/// announce is over.
///
/// Retransmission follows BEP 15: the n-th wait is `15 · 2ⁿ` s, n = 0..=8, then give up;
/// a retransmission uses the same transaction id, so a late answer to an earlier copy
/// still counts. A connection id is reused for a minute; one that expires while waiting
/// makes the next retransmission a connect.
///
/// ```
/// use std::time::{Duration, Instant};
/// use metainfo::PeerId;
/// use shoal_tracker_proto::{
///     AnnounceOutcome, AnnouncerOptions, Limits, UdpAnnounceRequest, UdpAnnounceResponse,
///     UdpAnnouncer, UdpPeers, UdpRequest, UdpResponse,
/// };
///
/// let request = UdpAnnounceRequest {
///     connection_id: 0, // filled in by the announcer
///     transaction_id: 0,
///     info_hash: [1; 20],
///     peer_id: PeerId([b'p'; 20]),
///     downloaded: 0, left: 100, uploaded: 0, event: None,
///     ip: None, key: 5, num_want: Some(50), port: 6881,
/// };
/// let t0 = Instant::now();
/// let mut a = UdpAnnouncer::new(request, AnnouncerOptions { seed: 99, ..Default::default() }, t0);
///
/// // A connect goes out; the "tracker" answers it.
/// let connect = a.poll_transmit(t0).unwrap();
/// let req = UdpRequest::parse(&connect, &Limits::default()).unwrap();
/// let reply = UdpResponse::Connect { transaction_id: req.transaction_id(), connection_id: 77 };
/// assert_eq!(a.handle_datagram(&reply.to_bytes(), t0).unwrap(), None);
///
/// // Then the announce, with the connection id.
/// let announce = a.poll_transmit(t0).unwrap();
/// let UdpRequest::Announce(req) = UdpRequest::parse(&announce, &Limits::default()).unwrap()
///     else { unreachable!() };
/// assert_eq!(req.connection_id, 77);
/// assert_eq!(a.poll_timeout(), Some(t0 + Duration::from_secs(15)));
///
/// let reply = UdpResponse::Announce(UdpAnnounceResponse {
///     transaction_id: req.transaction_id, interval: 1800, leechers: 0, seeders: 1,
///     peers: UdpPeers::V4(vec!["127.0.0.1:7000".parse().unwrap()]),
/// });
/// let outcome = a.handle_datagram(&reply.to_bytes(), t0).unwrap();
/// assert!(matches!(outcome, Some(AnnounceOutcome::Announced(r)) if r.seeders == 1));
/// ```
#[derive(Debug, Clone)]
pub struct UdpAnnouncer {
    request: UdpAnnounceRequest,
    options: AnnouncerOptions,
    rng: u64,
    phase: Phase,
    /// The latest connection id known (given, or received).
    connection: Option<UdpConnection>,
    /// The exponent n of the current wait.
    retransmits: u32,
    /// Packets sent so far.
    attempts: u32,
    /// A packet is due (the first, after a reply, or after a timeout).
    send_due: bool,
    /// When the current wait ends (set when a packet is sent).
    deadline: Option<Instant>,
}

impl UdpAnnouncer {
    /// An announce of `request` (its `connection_id` and `transaction_id` are ignored and
    /// filled in); the first packet is due at once.
    pub fn new(request: UdpAnnounceRequest, options: AnnouncerOptions, now: Instant) -> Self {
        let mut announcer = UdpAnnouncer {
            request,
            options,
            rng: options.seed,
            phase: Phase::Done,
            connection: options.connection,
            retransmits: 0,
            attempts: 0,
            send_due: true,
            deadline: None,
        };
        announcer.phase = match options.connection {
            Some(connection) if connection.is_valid(now) => Phase::Announcing {
                transaction_id: announcer.next_transaction_id(),
                connection,
            },
            _ => Phase::Connecting {
                transaction_id: announcer.next_transaction_id(),
            },
        };
        announcer
    }

    /// The next packet to send to the tracker, if one is due.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        if !self.send_due || self.phase == Phase::Done {
            return None;
        }
        if let Phase::Announcing { connection, .. } = self.phase
            && !connection.is_valid(now)
        {
            self.phase = Phase::Connecting {
                transaction_id: self.next_transaction_id(),
            };
        }
        let packet = match self.phase {
            Phase::Connecting { transaction_id } => UdpRequest::Connect { transaction_id },
            Phase::Announcing {
                transaction_id,
                connection,
            } => {
                let mut request = self.request.clone();
                request.connection_id = connection.id;
                request.transaction_id = transaction_id;
                UdpRequest::Announce(request)
            }
            Phase::Done => return None,
        };
        self.send_due = false;
        self.attempts += 1;
        let wait = BASE_TIMEOUT * (1u32 << self.retransmits.min(16));
        // A caller's `now` near the end of time must not panic: time out at once instead.
        self.deadline = Some(now.checked_add(wait).unwrap_or(now));
        Some(packet.to_bytes())
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next (`None` when the
    /// announce is over or a packet is waiting in [`poll_transmit`](Self::poll_transmit)).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.send_due || self.phase == Phase::Done {
            None
        } else {
            self.deadline
        }
    }

    /// Tells the announcer the time is `now`: at the deadline a retransmission becomes due,
    /// or, after the last one, the announce gives up ([`AnnounceOutcome::TimedOut`]).
    pub fn handle_timeout(&mut self, now: Instant) -> Option<AnnounceOutcome> {
        let deadline = self.poll_timeout()?;
        if now < deadline {
            return None;
        }
        if self.retransmits >= self.options.max_retransmits {
            self.phase = Phase::Done;
            return Some(AnnounceOutcome::TimedOut {
                attempts: self.attempts,
            });
        }
        self.retransmits += 1;
        self.send_due = true;
        None
    }

    /// Handles a datagram from the tracker. Packets for other transactions are ignored
    /// (`Ok(None)`); a packet that does not parse is an error and changes nothing.
    pub fn handle_datagram(
        &mut self,
        datagram: &[u8],
        now: Instant,
    ) -> Result<Option<AnnounceOutcome>> {
        let response = UdpResponse::parse(datagram, self.options.ipv6, &self.options.limits)?;
        let expected = match self.phase {
            Phase::Connecting { transaction_id } | Phase::Announcing { transaction_id, .. } => {
                transaction_id
            }
            Phase::Done => return Ok(None),
        };
        if response.transaction_id() != expected {
            return Ok(None);
        }
        match (self.phase, response) {
            (_, UdpResponse::Error { message, .. }) => {
                self.phase = Phase::Done;
                Ok(Some(AnnounceOutcome::TrackerError(message)))
            }
            (Phase::Connecting { .. }, UdpResponse::Connect { connection_id, .. }) => {
                let connection = UdpConnection {
                    id: connection_id,
                    received: now,
                };
                self.connection = Some(connection);
                self.phase = Phase::Announcing {
                    transaction_id: self.next_transaction_id(),
                    connection,
                };
                self.retransmits = 0;
                self.send_due = true;
                self.deadline = None;
                Ok(None)
            }
            (Phase::Announcing { .. }, UdpResponse::Announce(r)) => {
                self.phase = Phase::Done;
                Ok(Some(AnnounceOutcome::Announced(r)))
            }
            // A reply of the wrong kind to our transaction: ignore, keep waiting.
            _ => Ok(None),
        }
    }

    /// The connection id in use, to pass to the next announce to the same tracker.
    pub fn connection(&self) -> Option<UdpConnection> {
        self.connection
    }

    /// Whether the announce is over (an outcome was returned).
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// splitmix64: distinct, unpredictable-enough ids from the caller's seed.
    fn next_transaction_id(&mut self) -> u32 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as u32
    }
}
