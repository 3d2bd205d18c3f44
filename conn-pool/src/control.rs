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
//! simply dead. So the pool keeps, per class of address (connected before,
//! never tried, tried and failed), the share of attempts it expects to go
//! unanswered when the network is not overloaded. Outcomes are counted in
//! epochs of `max(16, limit)` attempts; an epoch with more unanswered
//! attempts than expected for its mix of classes, by more than 5% of the
//! epoch plus 1.5 standard deviations, is a congestion event. The check runs
//! on every outcome, so detection needs at most one epoch.
//!
//! A batch of dead addresses also raises the loss of the unproven classes,
//! but a full router drops attempts whoever they go to: when the addresses
//! that connected before keep answering (clearly more than the drop rate
//! estimated from the others' excess would allow), the epoch is not
//! congestion, and the unproven classes' expected loss is learned at once.
//! An epoch over the threshold waits (up to its end) for enough proven
//! addresses to make that test possible.
//!
//! An attempt is judged unanswered as soon as it is *overdue*: unanswered for
//! longer than a connect usually takes (smoothed connect time plus four
//! deviations, RFC 6298 style, at least 100 ms). The controller thus learns
//! within round trips, not at the connect timeout.
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

/// What the pool knew about an address when it dialled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// It connected before.
    Known = 0,
    /// Never tried.
    Fresh = 1,
    /// Tried, never connected.
    Failed = 2,
}

const CLASSES: usize = 3;

#[derive(Debug, Clone, Copy, Default)]
struct ClassCount {
    n: u32,
    lost: u32,
}

/// Multiplicative decrease factor.
const BETA: f64 = 0.7;
/// Excess timed-out fraction that is congestion even with no noise.
const MARGIN: f64 = 0.05;
/// Proven-address outcomes an epoch needs before the proven addresses can
/// clear it of congestion (below this the test cannot pass, so a cut need
/// not wait for more).
const KNOWN_TO_CLEAR: u32 = 8;
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
    epoch: [ClassCount; CLASSES],
    /// Attempts in the current epoch.
    epoch_len: u32,
    /// Expected unanswered share per class, once measured.
    baseline: [Option<f64>; CLASSES],
    srtt: Option<Duration>,
    rttvar: Duration,
    connect_timeout: Duration,
    pub(crate) congestion_events: u64,
}

/// Least time an attempt gets before it counts as overdue: below this,
/// scheduling noise in the caller would pass for loss.
const MIN_LATE: Duration = Duration::from_millis(100);
/// Overdue time before any connect was measured (TCP's initial RTO).
const INITIAL_LATE: Duration = Duration::from_secs(1);

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
            epoch: [ClassCount::default(); CLASSES],
            epoch_len: MIN_EPOCH,
            // an address that connected before is expected to answer
            baseline: [Some(0.0), None, None],
            srtt: None,
            rttvar: Duration::ZERO,
            connect_timeout: config.connect_timeout,
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

    pub(crate) fn expected_loss_permille(&self) -> u32 {
        // the share expected of a never-tried address: the dead-address rate
        let b = self.baseline[Class::Fresh as usize].unwrap_or(0.0);
        (b * 1000.0).round() as u32
    }

    pub(crate) fn connect_rtt_ms(&self) -> u32 {
        self.srtt
            .map_or(0, |d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX))
    }

    /// How long after its start an unanswered attempt counts as lost.
    /// Never for fixed limits (they count every attempt until it ends).
    pub(crate) fn late_after(&self) -> Duration {
        if !self.adaptive {
            return self.connect_timeout;
        }
        let late = match self.srtt {
            None => INITIAL_LATE,
            Some(srtt) => srtt + 4 * self.rttvar,
        };
        late.clamp(MIN_LATE, self.connect_timeout.max(MIN_LATE))
    }

    /// A connect took `rtt` (RFC 6298 smoothing).
    pub(crate) fn on_rtt(&mut self, rtt: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(rtt);
                self.rttvar = (self.rttvar * 3 + diff) / 4;
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
        }
    }

    fn epoch_len(&self) -> u32 {
        self.epoch_len
    }

    /// Starts a new epoch, sized by the limit now (fixed for the epoch, or
    /// slow start, growing by one per success, would never close one).
    fn new_epoch(&mut self) {
        self.epoch = [ClassCount::default(); CLASSES];
        self.epoch_len = (self.h.ceil() as u32).max(MIN_EPOCH);
    }

    /// Unanswered attempts expected in this epoch so far, their variance,
    /// and the attempts counted.
    fn expected(&self) -> (f64, f64, u32) {
        let mut mean = 0.0;
        let mut var = 0.0;
        let mut n = 0;
        for (c, count) in self.epoch.iter().enumerate() {
            let Some(b) = self.baseline[c] else {
                // not measured yet: this epoch measures it, judges nothing
                mean += f64::from(count.lost);
                continue;
            };
            mean += f64::from(count.n) * b;
            var += f64::from(count.n) * b * (1.0 - b);
            n += count.n;
        }
        (mean, var, n)
    }

    fn lost(&self) -> u32 {
        self.epoch.iter().map(|c| c.lost).sum()
    }

    /// True if this epoch so far shows clearly more loss than expected.
    fn over_threshold(&self) -> bool {
        let (mean, var, n) = self.expected();
        if n == 0 {
            return false;
        }
        let len = f64::from(self.epoch_len());
        // judge against a whole epoch's noise even early in the epoch
        let sigma = (var * len / f64::from(n)).sqrt();
        f64::from(self.lost()) > mean + MARGIN * len + 1.5 * sigma
    }

    /// True if addresses that connected before lost clearly fewer attempts
    /// in this epoch than congestion would explain.
    ///
    /// A full router drops attempts whoever they go to; more dead addresses
    /// among the unproven ones leave the proven ones alone. From the excess
    /// loss of the unproven classes, estimate the drop rate `p`; under
    /// congestion the proven addresses would lose `n * p` give or take two
    /// standard deviations. Only fewer than that clears the network. With
    /// few proven addresses in the epoch the test cannot clear it (safe).
    fn known_addresses_unharmed(&self) -> bool {
        let known = self.epoch[Class::Known as usize];
        let mut n = 0.0;
        let mut excess = 0.0;
        for c in [Class::Fresh, Class::Failed] {
            let count = self.epoch[c as usize];
            let Some(b) = self.baseline[c as usize] else {
                continue;
            };
            if b >= 0.99 {
                continue;
            }
            n += f64::from(count.n);
            excess += (f64::from(count.lost) - f64::from(count.n) * b) / (1.0 - b);
        }
        if known.n == 0 || n < 1.0 {
            return false;
        }
        let p = (excess / n).clamp(0.0, 1.0);
        let kn = f64::from(known.n);
        let expected = kn * p;
        let sd = (kn * p * (1.0 - p)).sqrt();
        f64::from(known.lost) < expected - 2.0 * sd
    }

    /// Moves the unproven classes' expected share towards this epoch's.
    fn learn_unproven(&mut self, gain: f64) {
        for c in [Class::Fresh, Class::Failed] {
            let count = self.epoch[c as usize];
            if count.n == 0 {
                continue;
            }
            let f = f64::from(count.lost) / f64::from(count.n);
            let b = self.baseline[c as usize].unwrap_or(f);
            self.baseline[c as usize] = Some(b + gain * (f - b));
        }
    }

    /// Moves each class's expected share towards what this epoch saw.
    fn learn(&mut self, down: f64, up: f64) {
        for (c, count) in self.epoch.iter().enumerate() {
            if count.n < 4 {
                continue;
            }
            let f = f64::from(count.lost) / f64::from(count.n);
            self.baseline[c] = Some(match self.baseline[c] {
                None => f,
                Some(b) if f < b => b + down * (f - b),
                Some(b) => b + up * (f - b),
            });
        }
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
        class: Class,
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
        let count = &mut self.epoch[class as usize];
        count.n += 1;
        if outcome == Outcome::Timeout {
            count.lost += 1;
        }
        let complete = self.epoch.iter().map(|c| c.n).sum::<u32>() >= self.epoch_len();
        if self.over_threshold() {
            if self.known_addresses_unharmed() {
                // Not congestion: more of the unproven addresses are dead.
                // Learn their new rate quickly, keep the limits.
                self.learn_unproven(0.5);
                self.new_epoch();
            } else if complete || self.epoch[Class::Known as usize].n >= KNOWN_TO_CLEAR {
                self.congested(open, now);
            }
            // else: too few proven addresses yet to tell; wait for more
            // outcomes, at most to the end of the epoch
        } else if complete {
            // a plain moving average over clean epochs (those above the
            // threshold only creep it, in `congested`)
            self.learn(0.1, 0.1);
            self.new_epoch();
        }
    }

    fn congested(&mut self, open: usize, now: Instant) {
        self.congestion_events += 1;
        let at_floor = self.h < self.min_h + 1.0;
        // A lasting change in the share of dead addresses looks like
        // congestion at first; creep towards it so it is learned. Real
        // congestion ends after the cut, and clean epochs pull back fast.
        // At the floor the pool cannot cut further: what it sees there is
        // what the network is.
        self.learn(0.0, if at_floor { 0.3 } else { 0.05 });
        if at_floor {
            // Even the fewest attempts go unanswered: either the open
            // connections fill the network, or dead addresses are this
            // common. Stop adding connections; probes will find out which.
            self.c = self.c.min((open as f64).max(self.min_c));
            self.last_c_change = Some(now);
        }
        self.h = (self.h * BETA).max(self.min_h);
        self.ssthresh = self.h;
        self.last_decrease = Some(now);
        self.new_epoch();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PoolConfig {
        PoolConfig {
            min_half_open: 4,
            max_half_open: 200,
            min_connections: 2,
            max_connections: 500,
            connect_timeout: Duration::from_secs(10),
            ..PoolConfig::default()
        }
    }

    /// Feeds `n` outcomes of class `class`, `lost` of them timeouts spread
    /// evenly, all launched at `launched`.
    fn feed(
        ctl: &mut Controller,
        n: u32,
        lost: u32,
        class: Class,
        launched: Instant,
        now: Instant,
    ) {
        for i in 0..n {
            // spread evenly: the (i+1)-th outcome is lost when the running
            // share of losses crosses a whole number
            let outcome = if (i + 1) * lost / n > i * lost / n {
                Outcome::Timeout
            } else {
                Outcome::Success
            };
            ctl.on_outcome(launched, outcome, class, true, 10, 20, now);
        }
    }

    #[test]
    fn slow_start_doubles_then_a_loss_cluster_cuts_once() {
        let t0 = Instant::now();
        let mut ctl = Controller::new(&config());
        assert_eq!(ctl.half_open_limit(), 4);
        feed(&mut ctl, 16, 0, Class::Fresh, t0, t0);
        assert_eq!(ctl.half_open_limit(), 20, "+1 per success in slow start");
        // half the attempts of the next epoch go unanswered
        let t1 = t0 + Duration::from_secs(1);
        let t1_later = t1 + Duration::from_millis(1);
        feed(&mut ctl, 20, 10, Class::Fresh, t1, t1_later);
        // with no proven addresses to clear it, the epoch runs to its end
        // (10 more successes: 30), then the limit is cut to 0.7 of it
        assert_eq!(ctl.congestion_events, 1);
        let cut = ctl.half_open_limit();
        assert_eq!(cut, 21);
        // more losses of attempts started before the cut change nothing
        feed(&mut ctl, 40, 40, Class::Fresh, t1, t1_later);
        assert_eq!((ctl.congestion_events, ctl.half_open_limit()), (1, cut));
        // after the cut growth is additive: +1 per round of successes
        let t2 = t1 + Duration::from_secs(1);
        feed(&mut ctl, 2 * cut as u32, 0, Class::Fresh, t2, t2);
        assert_eq!(ctl.half_open_limit(), cut + 1);
    }

    #[test]
    fn a_steady_share_of_dead_addresses_is_not_congestion() {
        let t0 = Instant::now();
        let mut ctl = Controller::new(&config());
        for i in 0..200 {
            let t = t0 + Duration::from_millis(100 * i);
            feed(&mut ctl, 10, 3, Class::Fresh, t, t);
        }
        assert_eq!(ctl.congestion_events, 0);
        let learned = ctl.expected_loss_permille();
        assert!((270..=330).contains(&learned), "{learned}");
        assert_eq!(ctl.half_open_limit(), 200, "grew to the ceiling");
        // the same share on top of it from a congested network is caught
        let t = t0 + Duration::from_secs(100);
        feed(&mut ctl, 200, 120, Class::Fresh, t, t);
        assert!(ctl.congestion_events >= 1);
        assert!(ctl.half_open_limit() <= 140);
    }

    #[test]
    fn proven_addresses_that_answer_clear_a_batch_of_dead_ones() {
        let t0 = Instant::now();
        let mut ctl = Controller::new(&config());
        feed(&mut ctl, 40, 4, Class::Fresh, t0, t0);
        let before = ctl.half_open_limit();
        // new addresses: 80% dead, while known ones all answer
        for i in 1..=20 {
            let t = t0 + Duration::from_millis(100 * i);
            for _ in 0..2 {
                feed(&mut ctl, 5, 4, Class::Fresh, t, t);
                feed(&mut ctl, 5, 0, Class::Known, t, t);
            }
        }
        assert_eq!(ctl.congestion_events, 0);
        assert!(ctl.half_open_limit() >= before);
        let learned = ctl.expected_loss_permille();
        assert!(learned >= 500, "learned {learned}‰");
        // when the known ones stop answering too, it is congestion
        let grown = ctl.half_open_limit();
        let t = t0 + Duration::from_secs(10);
        for _ in 0..10 {
            feed(&mut ctl, 5, 4, Class::Fresh, t, t);
            feed(&mut ctl, 5, 4, Class::Known, t, t);
        }
        assert!(ctl.congestion_events >= 1);
        assert!(ctl.half_open_limit() < grown);
    }

    #[test]
    fn losses_at_the_floor_cap_connections_then_probes_raise_them() {
        let t0 = Instant::now();
        let mut ctl = Controller::new(&config());
        feed(&mut ctl, 16, 0, Class::Known, t0, t0);
        // everything is lost from now on: cut to the floor, then cap
        let mut t = t0;
        for _ in 0..20 {
            t += Duration::from_secs(1);
            for _ in 0..16 {
                ctl.on_outcome(t, Outcome::Timeout, Class::Known, true, 30, 34, t);
            }
        }
        assert_eq!(ctl.half_open_limit(), 4);
        assert_eq!(ctl.connection_limit(), 30, "capped at the open count");
        let probe = ctl.probe_at(34).expect("a probe is scheduled");
        assert!(
            probe > t && probe <= t + Duration::from_secs(20),
            "{:?}",
            probe - t
        );
        ctl.maybe_probe(34, probe - Duration::from_millis(1));
        assert_eq!(ctl.connection_limit(), 30);
        ctl.maybe_probe(34, probe);
        assert_eq!(ctl.connection_limit(), 31);
        // a success at the limit proves room for one more
        ctl.on_outcome(probe, Outcome::Success, Class::Known, true, 31, 31, probe);
        assert_eq!(ctl.connection_limit(), 32);
    }

    #[test]
    fn overdue_time_follows_measured_connects() {
        let mut ctl = Controller::new(&config());
        assert_eq!(ctl.late_after(), Duration::from_secs(1));
        for _ in 0..50 {
            ctl.on_rtt(Duration::from_millis(200));
        }
        let late = ctl.late_after();
        assert!(
            late >= Duration::from_millis(200) && late <= Duration::from_millis(260),
            "{late:?}"
        );
        for _ in 0..50 {
            ctl.on_rtt(Duration::from_micros(50));
        }
        assert_eq!(ctl.late_after(), Duration::from_millis(100), "floor");
        assert_eq!(ctl.connect_rtt_ms(), 0);
    }

    #[test]
    fn fixed_limits_never_move() {
        let t0 = Instant::now();
        let mut c = config();
        c.adaptive = false;
        let mut ctl = Controller::new(&c);
        feed(&mut ctl, 100, 100, Class::Fresh, t0, t0);
        assert_eq!((ctl.half_open_limit(), ctl.connection_limit()), (200, 500));
        assert_eq!(ctl.late_after(), Duration::from_secs(10));
        assert_eq!(ctl.congestion_events, 0);
    }
}
