//! Values passed into and out of a [`Pool`](crate::Pool).

use std::fmt;
use std::time::Instant;

/// Where a candidate address was learned. Addresses the user named or found
/// on the local network are preferred over ones from wider discovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// Named by the user or the application.
    User,
    /// Found on the local network.
    Local,
    /// From a tracker or other directory server.
    Tracker,
    /// From another peer (peer exchange).
    Exchange,
    /// From a distributed hash table.
    Dht,
    /// The address connected to us.
    Inbound,
    /// Anything else.
    Other,
}

/// Why an outbound attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailReason {
    /// The remote side refused (the network carried the attempt both ways).
    Refused,
    /// No answer within the connect timeout: the address is dead, or the
    /// network dropped the attempt. Clusters of these shrink the limits.
    TimedOut,
    /// The connection was reset during setup (or the handshake failed).
    Reset,
    /// Any other error (no route, address unusable, ...).
    Other,
}

impl FailReason {
    /// Classifies a failed connect: refused, timed out, reset or aborted,
    /// anything else. For callers that dial with `std` or tokio sockets.
    ///
    /// ```
    /// use std::io::{Error, ErrorKind};
    /// use shoal_conn_pool::FailReason;
    /// let e = Error::from(ErrorKind::ConnectionRefused);
    /// assert_eq!(FailReason::from_io_error(&e), FailReason::Refused);
    /// ```
    pub fn from_io_error(error: &std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        match error.kind() {
            K::ConnectionRefused => FailReason::Refused,
            K::TimedOut | K::WouldBlock => FailReason::TimedOut,
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                FailReason::Reset
            }
            _ => FailReason::Other,
        }
    }
}

/// Why an open connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// We closed it (not useful, shutting down, replaced).
    Local,
    /// The remote side closed it cleanly.
    Remote,
    /// An IO error, reset or timeout on an open connection.
    Error,
    /// The remote side broke the protocol (the caller may also [`ban`](crate::Pool::ban) it).
    Protocol,
}

/// What the caller reports when an open connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosedInfo {
    /// Payload bytes sent over the connection's life.
    pub bytes_up: u64,
    /// Payload bytes received over the connection's life. Addresses that gave
    /// data are redialled first.
    pub bytes_down: u64,
    /// Why it closed.
    pub reason: CloseReason,
}

/// Why an address is not being dialled, from [`Pool::why_not`](crate::Pool::why_not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The address is not a candidate (never added, removed, or refused as over
    /// `max_candidates`).
    Unknown,
    /// Banned until the given time.
    Banned {
        /// When the ban ends.
        until: Instant,
    },
    /// Waiting before a redial after failures or a close.
    BackingOff {
        /// When it may be dialled again.
        until: Instant,
        /// Consecutive failures so far.
        failures: u32,
    },
    /// An attempt to it is in progress.
    Dialing,
    /// It is connected (outbound or inbound).
    Connected,
    /// Ready, but the half-open attempts are at the (effective) limit.
    HalfOpenLimit {
        /// The effective half-open limit.
        limit: usize,
    },
    /// Ready, but the connections are at the (effective) limit.
    ConnectionLimit {
        /// The effective connection limit.
        limit: usize,
    },
    /// Ready, but the dial rate is used up for now.
    DialRate {
        /// Dials allowed per second.
        per_sec: u32,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Unknown => f.write_str("not a candidate"),
            Reason::Banned { .. } => f.write_str("banned"),
            Reason::BackingOff { failures: 0, .. } => f.write_str("waiting to reconnect"),
            Reason::BackingOff { failures: 1, .. } => f.write_str("backing off after a failure"),
            Reason::BackingOff { failures, .. } => {
                write!(f, "backing off after {failures} consecutive failures")
            }
            Reason::Dialing => f.write_str("attempt in progress"),
            Reason::Connected => f.write_str("already connected"),
            Reason::HalfOpenLimit { limit } => write!(f, "at the half-open limit ({limit})"),
            Reason::ConnectionLimit { limit } => write!(f, "at the connection limit ({limit})"),
            Reason::DialRate { per_sec } => write!(f, "at the dial rate ({per_sec}/s)"),
        }
    }
}

/// A snapshot of a pool's limits, counts by state and totals, from
/// [`Pool::stats`](crate::Pool::stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PoolStats {
    /// Effective (learned) limit on half-open attempts that are not overdue.
    pub half_open_limit: usize,
    /// Effective (learned) limit on open plus half-open connections.
    pub connection_limit: usize,
    /// Configured dials per second.
    pub dials_per_sec: u32,
    /// Known addresses, in any state.
    pub candidates: usize,
    /// Addresses that may be dialled now.
    pub ready: usize,
    /// Addresses waiting out a reconnect backoff.
    pub backing_off: usize,
    /// Addresses banned (idle ones; a banned connected address counts as connected).
    pub banned: usize,
    /// Outbound attempts in progress.
    pub half_open: usize,
    /// Of those, attempts unanswered for longer than answers usually take:
    /// probably lost. They no longer count against the adaptive half-open
    /// limit, only against `max_half_open`.
    pub overdue: usize,
    /// Open connections we dialled.
    pub connected_out: usize,
    /// Open connections the remote side dialled.
    pub connected_in: usize,
    /// Attempts started since the pool was created.
    pub dials: u64,
    /// Attempts that connected.
    pub connects: u64,
    /// Attempts that failed, timeouts included.
    pub failures: u64,
    /// Attempts that timed out.
    pub timeouts: u64,
    /// Times the pool decided the network was congested and cut its limits.
    pub congestion_events: u64,
    /// Share of attempts, in thousandths, the pool expects to go unanswered
    /// when the network is not congested (dead addresses). Congestion is
    /// declared when clearly more than this go unanswered.
    pub expected_loss_permille: u32,
    /// Smoothed time an attempt takes to connect, in milliseconds (0 before
    /// the first connect). Attempts unanswered for much longer are overdue.
    pub connect_rtt_ms: u32,
}

impl PoolStats {
    /// Open connections, both directions.
    pub fn connected(&self) -> usize {
        self.connected_out + self.connected_in
    }
}

/// One line for logs: limits, counts by state, totals.
impl fmt::Display for PoolStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "half-open {}/{} ({} overdue), open {} ({} out, {} in), total {}/{}, \
             ready {}, backing off {}, banned {}; {} dials, {} connected, {} failed \
             ({} timed out), {} cuts, expected loss {}‰, connect {} ms",
            self.half_open,
            self.half_open_limit,
            self.overdue,
            self.connected(),
            self.connected_out,
            self.connected_in,
            self.connected() + self.half_open,
            self.connection_limit,
            self.ready,
            self.backing_off,
            self.banned,
            self.dials,
            self.connects,
            self.failures,
            self.timeouts,
            self.congestion_events,
            self.expected_loss_permille,
            self.connect_rtt_ms
        )
    }
}
