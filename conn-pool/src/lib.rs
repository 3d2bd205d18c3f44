//! An adaptive, protocol-agnostic connection pool policy.
//!
//! Programs that open many connections (BitTorrent, parallel HTTP or FTP
//! downloads) must decide whom to dial, how many connections and half-open
//! attempts to hold, and when to retry. Fixed limits either leave speed
//! unused or overflow a home router's connection table, after which the
//! router silently drops new attempts. [`Pool`] *learns* the limits: the
//! half-open and connection limits rise while attempts succeed and fall when
//! timeouts cluster, so the pool settles near what the network carries and
//! climbs back when it carries more.
//!
//! This crate does no networking and reads no clock (sans-IO): the caller
//! passes `now`, asks [`Pool::poll_dial`] whom to dial, reports what
//! happened, and sleeps until [`Pool::next_timeout`]. It knows nothing of
//! any protocol: the address type `A` is anything `Clone + Eq + Hash`.
//!
//! ```text
//!  candidates ──add_candidate──▶ ┌──────┐ ──poll_dial──▶ dial (caller)
//!  connected / failed / closed ─▶│ Pool │ ──next_timeout▶ sleep (caller)
//!  inbound ────on_inbound──────▶ └──────┘ ──stats / why_not▶ logs, UI
//! ```
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, Instant};
//! use shoal_conn_pool::{ClosedInfo, CloseReason, FailReason, Pool, PoolConfig, Source};
//!
//! let start = Instant::now();
//! let mut pool = Pool::new(PoolConfig::default(), 42);
//! pool.add_candidate("10.0.0.1:6881", Source::Tracker, start);
//! pool.add_candidate("10.0.0.2:6881", Source::Tracker, start);
//!
//! let a = pool.poll_dial(start).unwrap();
//! let b = pool.poll_dial(start).unwrap();
//! assert_eq!(pool.poll_dial(start), None); // nobody else to dial
//!
//! let later = start + Duration::from_millis(50);
//! assert!(pool.on_connected(&a, later)); // keep the connection
//! pool.on_failed(&b, FailReason::Refused, later);
//! assert!(matches!(
//!     pool.why_not(&b),
//!     Some(shoal_conn_pool::Reason::BackingOff { failures: 1, .. })
//! ));
//!
//! let info = ClosedInfo { bytes_up: 0, bytes_down: 1 << 20, reason: CloseReason::Remote };
//! pool.on_closed(&a, info, later + Duration::from_secs(60));
//! assert_eq!(pool.stats().connected(), 0);
//! ```
//!
//! # Driving it
//!
//! A driver loops: call [`Pool::poll_dial`] until `None`, starting a
//! connection for each address (with its own timeout of
//! [`PoolConfig::connect_timeout`]); on each result call
//! [`Pool::on_connected`] / [`Pool::on_failed`]; on each close
//! [`Pool::on_closed`]; sleep until the earliest of [`Pool::next_timeout`]
//! and the next IO event, then call [`Pool::handle_timeout`].
#![deny(missing_docs, missing_debug_implementations)]

mod config;
mod control;
mod error;
mod pool;
mod rng;
mod types;

pub use config::PoolConfig;
pub use error::{Error, Result};
pub use pool::Pool;
pub use types::{CloseReason, ClosedInfo, FailReason, PoolStats, Reason, Source};
