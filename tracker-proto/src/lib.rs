//! BitTorrent tracker messages, HTTP and UDP (BEP 3/7/15/23/24/48), client and server side.
//!
//! This crate does no networking, reads no clock and has no random source: the caller
//! passes bytes in and gets values out, passes values in and gets bytes out, and drives
//! the UDP client state machine ([`UdpAnnouncer`]) with its own `now`. Use it from a
//! tokio server, a blocking client, or a fuzzer alike.
//!
//! ```text
//!   client                                  tracker
//!   AnnounceRequest::announce_url ──GET──▶  AnnounceRequest::parse_query
//!   AnnounceReply::decode         ◀─body──  AnnounceReply::encode
//!   UdpAnnouncer::poll_transmit   ──UDP──▶  UdpRequest::parse
//!   UdpAnnouncer::handle_datagram ◀─UDP───  UdpResponse::encode
//! ```
//!
//! - HTTP: [`AnnounceRequest`] and [`ScrapeRequest`] build and parse query strings with
//!   binary info-hashes percent-encoded; [`AnnounceReply`] and [`ScrapeReply`] encode and
//!   decode bencoded bodies: compact `peers`/`peers6` (BEP 23, 7) or dictionary-model peers,
//!   `failure reason`; [`scrape_url_from_announce`] applies the BEP 48 convention.
//! - UDP (BEP 15): [`UdpRequest`] and [`UdpResponse`] both ways, IPv4 and IPv6 announce
//!   replies; [`RequestParseError`] tells a server whether it can still send an error reply.
//!   [`UdpResponseRef`] and [`UdpAnnounceResponseRef`] are the same responses over borrowed
//!   bytes: peers stay in compact wire form ([`CompactV4`], [`CompactV6`]), so a server
//!   that keeps its peers that way encodes a reply with a copy, and a client reads one
//!   without allocating.
//! - [`Limits`] bound what hostile input can make the caller hold.
#![deny(missing_docs, missing_debug_implementations)]

mod announcer;
mod common;
mod error;
mod http_request;
mod http_response;
mod limits;
mod percent;
mod udp;
mod udp_compact;

pub use announcer::{AnnounceOutcome, AnnouncerOptions, BASE_TIMEOUT, UdpAnnouncer, UdpConnection};
pub use common::{Event, SwarmStats};
pub use error::{Error, Result};
pub use http_request::{AnnounceRequest, ScrapeRequest, scrape_url_from_announce};
pub use http_response::{AnnounceReply, AnnounceResponse, ScrapeReply, ScrapeResponse};
pub use limits::Limits;
pub use udp::{
    CONNECTION_ID_LIFETIME, PROTOCOL_ID, RequestParseError, UdpAnnounceRequest,
    UdpAnnounceResponse, UdpPeers, UdpRequest, UdpResponse, UdpScrapeRequest, UdpScrapeResponse,
};
pub use udp_compact::{
    CompactPeers, CompactPeersIter, CompactScrapeStats, CompactV4, CompactV4Iter, CompactV6,
    CompactV6Iter, UdpAnnounceResponseRef, UdpResponseRef,
};
