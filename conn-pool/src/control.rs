//! The adaptive limits: how many half-open attempts and connections the
//! network carries, learned from attempt outcomes.
//!
//! The half-open limit follows TCP's congestion control, with attempt
//! outcomes in place of packet acknowledgements:
//!
//! - *Slow start*: from `min_half_open`, each success adds one (the limit
//!   doubles per round of attempts) until the first congestion event.
//! - *Additive increase*: afterwards each success adds `1/limit` (one per
//!   round). Growth only counts attempts made while the limit was in use, so
//!   an idle pool does not inflate its limit.
//! - *Multiplicative decrease*: the limit is cut to 0.7 of itself on a
//!   congestion event. Outcomes of attempts started before the cut are then
//!   ignored, so one overload is punished once.
//!
//! A timeout alone is not congestion: on real networks many addresses are
//! simply dead. Outcomes are counted in epochs of `max(16, limit)` attempts,
//! and the pool keeps a baseline of the timed-out fraction seen when it was
//! not overloaded. An epoch whose timed-out fraction rises above the baseline
//! by more than the sampling noise (`0.1 + 1.5 sigma`) is a congestion event;
//! the epoch is closed as soon as that threshold is crossed, so detection takes
//! at most one epoch.
//!
//! The connection limit starts at `max_connections` and falls only when a
//! congestion event happens while the half-open limit is already at its
//! floor: then it is the number of open connections that blocks new ones
//! (a router whose table counts open connections), so the limit becomes the
//! open count. It rises by one for every success at the limit and, while
//! the pool sits at it, by one probe per `2 * connect_timeout`.

use std::time::{Duration, Instant};

use crate::config::PoolConfig;

/// How an attempt ended, as the controller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Connected.
    Success,
    /// No answer: dead address or dropped attempt.
    Timeout,
    /// A refusal or error: the network carried the attempt.
    Failure,
}

/// Multiplicative decrease factor.
const BETA: f64 = 0.7;
/// Smallest epoch, in attempts.
const MIN_EPOCH: u32 = 16;

#[derive(Debug, Clone)]
pub(crate) struct Controller {
    adaptive: bool,
    min_h: f64,
    max_h: f64,
    min_c: f64,
    max_c: f64,
    h: f64,
    c: f64,
    ssthresh: f64,
    last_decrease: Option<Instant>,
    last_c_change: Option<Instant>,
    probe_interval: Duration,
    epoch_n: u32,
    epoch_timeouts: u32,
    baseline: Option<f64>,
    pub(crate) congestion_events: u64,
}

impl Controller {
    pub(crate) fn new(config: &PoolConfig) -> Self {
        let min_h = config.min_half_open as f64;
        let max_h = config.max_half_open as f64;
        let min_c = config.min_connections as f64;
        let max_c = config.max_connections as f64;
        Self {
            adaptive: config.adaptive,
            min_h,
            max_h,
            min_c,
            max_c,
            h: if config.adaptive { min_h } else { max_h },
            c: max_c,
            ssthresh: max_h,
            last_decrease: None,
            last_c_change: None,
            probe_interval: config.connect_timeout.saturating_mul(2),
            epoch_n: 0,
            epoch_timeouts: 0,
            baseline: None,
            congestion_events: 0,
        }
    }

    /// The effective half-open limit.
    pub(crate) fn half_open_limit(&self) -> usize {
        (self.h.floor() as usize).max(1)
    }

    /// The effective limit on open plus half-open connections.
    pub(crate) fn connection_limit(&self) -> usize {
        (self.c.floor() as usize).max(1)
    }

    fn epoch_len(&self) -> u32 {
        (self.h.ceil() as u32).max(MIN_EPOCH)
    }

    /// Timed-out fraction above which an epoch of `n` attempts is congested.
    fn threshold(&self, n: u32) -> f64 {
        let b = self.baseline.unwrap_or(0.0);
        b + 0.1 + 1.5 * (b * (1.0 - b) / f64::from(n.max(1))).sqrt()
    }

    /// Feeds the outcome of one attempt.
    ///
    /// `launched` is when it started, `busy` whether the half-open limit was
    /// in use then; `open` and `total` are the pool's open connections and open
    /// plus half-open connections now.
    pub(crate) fn on_outcome(
        &mut self,
        launched: Instant,
        outcome: Outcome,
        busy: bool,
        open: usize,
        total: usize,
        now: Instant,
    ) {
        if !self.adaptive {
            return;
        }
        if self.last_decrease.is_some_and(|t| launched < t) {
            return; // reflects the limit before the last cut
        }
        if outcome == Outcome::Success {
            if busy {
                let step = if self.h < self.ssthresh {
                    1.0
                } else {
                    1.0 / self.h
                };
                self.h = (self.h + step).min(self.max_h);
            }
            if total + 1 >= self.connection_limit() {
                self.c = (self.c + 1.0).min(self.max_c);
                self.last_c_change = Some(now);
            }
        }
        self.epoch_n += 1;
        if outcome == Outcome::Timeout {
            self.epoch_timeouts += 1;
        }
        let len = self.epoch_len();
        let fraction = |t: u32| f64::from(t) / f64::from(len);
        if self.baseline.is_some() && fraction(self.epoch_timeouts) > self.threshold(len) {
            self.congested(open, now);
        } else if self.epoch_n >= len {
            let f = f64::from(self.epoch_timeouts) / f64::from(self.epoch_n);
            self.baseline = Some(match self.baseline {
                None => f,
                // learn a better network fast, a worse one slowly
                Some(b) if f < b => 0.5 * b + 0.5 * f,
                Some(b) => 0.9 * b + 0.1 * f,
            });
            self.epoch_n = 0;
            self.epoch_timeouts = 0;
        }
    }

    fn congested(&mut self, open: usize, now: Instant) {
        self.congestion_events += 1;
        let at_floor = self.h < self.min_h + 1.0;
        if at_floor {
            // Even the fewest attempts time out: either the open connections
            // fill the network, or the dead-address rate really is this high.
            // Stop adding connections; probes will find out which.
            self.c = self.c.min((open as f64).max(self.min_c));
            self.last_c_change = Some(now);
            let f = f64::from(self.epoch_timeouts) / f64::from(self.epoch_n.max(1));
            let b = self.baseline.unwrap_or(f);
            self.baseline = Some(0.7 * b + 0.3 * f);
        }
        self.h = (self.h * BETA).max(self.min_h);
        self.ssthresh = self.h;
        self.last_decrease = Some(now);
        self.epoch_n = 0;
        self.epoch_timeouts = 0;
    }

    /// An inbound connection arrived while `total` connections were held:
    /// the network carried it, so the limit is at least `total + 1`.
    pub(crate) fn on_inbound(&mut self, total: usize) {
        if self.adaptive {
            self.c = self.c.max((total + 1) as f64).min(self.max_c);
        }
    }

    /// When the next probe above the connection limit is due, if the pool is
    /// held back by that limit.
    pub(crate) fn probe_at(&self, total: usize) -> Option<Instant> {
        if !self.adaptive || total < self.connection_limit() || self.c >= self.max_c {
            return None;
        }
        match self.last_c_change {
            Some(t) => t.checked_add(self.probe_interval),
            None => None,
        }
    }

    /// Raises the connection limit by one if a probe is due.
    pub(crate) fn maybe_probe(&mut self, total: usize, now: Instant) {
        if self.probe_at(total).is_some_and(|t| t <= now) {
            self.c = (self.c + 1.0).min(self.max_c);
            self.last_c_change = Some(now);
        }
    }
}
