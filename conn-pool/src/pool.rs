//! The pool: candidates, their states, and the decisions.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::Hash;
use std::time::{Duration, Instant};

use crate::config::{LONGEST, PoolConfig};
use crate::control::{Class, Controller, Outcome};
use crate::rng::SplitMix64;
use crate::types::{CloseReason, ClosedInfo, FailReason, PoolStats, Reason, Source};

/// Order of the ready queue: tier (lower is better), most recently seen
/// first, then oldest entry first.
type ReadyKey = (u8, Reverse<Instant>, u64);
/// Order of the timer queues: deadline, then entry.
type TimerKey = (Instant, u64);

#[derive(Debug, Clone, Copy)]
enum State {
    Ready(ReadyKey),
    Waiting {
        until: Instant,
        banned: bool,
    },
    HalfOpen {
        class: Class,
        started: Instant,
        deadline: Instant,
        /// When the attempt counts as probably lost; `None` once it does.
        late_at: Option<Instant>,
        busy: bool,
    },
    Connected {
        inbound: bool,
    },
    /// Out of every queue and count, between two states.
    Detached,
}

#[derive(Debug, Clone)]
struct Entry<A> {
    addr: A,
    seq: u64,
    source: Source,
    state: State,
    last_seen: Instant,
    ever_connected: bool,
    bytes_down: u64,
    failures: u32,
    ban_until: Option<Instant>,
}

impl<A> Entry<A> {
    fn tier(&self) -> u8 {
        let preferred = matches!(self.source, Source::User | Source::Local);
        match self.failures {
            0 if self.bytes_down > 0 => 0,
            0 if self.ever_connected || preferred => 1,
            0 => 2,
            n => 2 + n.min(16) as u8,
        }
    }

    fn ready_key(&self) -> ReadyKey {
        (self.tier(), Reverse(self.last_seen), self.seq)
    }

    fn banned_at(&self, now: Instant) -> bool {
        self.ban_until.is_some_and(|t| t > now)
    }
}

fn source_rank(s: Source) -> u8 {
    match s {
        Source::User => 0,
        Source::Local => 1,
        Source::Tracker | Source::Exchange | Source::Dht | Source::Other => 2,
        Source::Inbound => 3,
    }
}

fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d.min(LONGEST)).unwrap_or(now)
}

/// An adaptive connection pool policy over addresses of type `A`.
///
/// It decides; the caller acts. Feed it candidates with
/// [`add_candidate`](Pool::add_candidate), ask [`poll_dial`](Pool::poll_dial)
/// whom to dial until it answers `None`, report each attempt's result
/// ([`on_connected`](Pool::on_connected), [`on_failed`](Pool::on_failed)) and
/// each close ([`on_closed`](Pool::on_closed)), and call
/// [`handle_timeout`](Pool::handle_timeout) at [`next_timeout`](Pool::next_timeout).
/// Every call that takes `now` first brings timers up to `now`; an earlier
/// `now` than one seen before is treated as the latest one.
///
/// Every decision costs O(log n) in the number of candidates.
pub struct Pool<A> {
    config: PoolConfig,
    rng: SplitMix64,
    entries: Vec<Option<Entry<A>>>,
    free: Vec<usize>,
    index: HashMap<A, usize>,
    ready: BTreeMap<ReadyKey, usize>,
    waiting: BTreeMap<TimerKey, usize>,
    half_open: BTreeMap<TimerKey, usize>,
    /// Attempts not yet overdue, by when they become so.
    fresh: BTreeMap<TimerKey, usize>,
    connected_out: usize,
    connected_in: usize,
    banned_idle: usize,
    tokens: f64,
    now: Option<Instant>,
    ctl: Controller,
    next_seq: u64,
    dials: u64,
    connects: u64,
    failures: u64,
    timeouts: u64,
}

impl<A> fmt::Debug for Pool<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("config", &self.config)
            .field("candidates", &self.index.len())
            .field("ready", &self.ready.len())
            .field("half_open", &self.half_open.len())
            .field("connected_out", &self.connected_out)
            .field("connected_in", &self.connected_in)
            .field("half_open_limit", &self.ctl.half_open_limit())
            .field("connection_limit", &self.ctl.connection_limit())
            .finish_non_exhaustive()
    }
}

impl<A: Clone + Eq + Hash> Pool<A> {
    /// A pool with `config` (clamped into range, see [`PoolConfig::validate`]);
    /// `seed` drives the backoff jitter, so equal seeds and inputs give equal
    /// decisions.
    pub fn new(config: PoolConfig, seed: u64) -> Self {
        let config = config.clamped();
        let ctl = Controller::new(&config);
        Self {
            tokens: f64::from(config.max_dials_per_sec),
            config,
            rng: SplitMix64::new(seed),
            entries: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            ready: BTreeMap::new(),
            waiting: BTreeMap::new(),
            half_open: BTreeMap::new(),
            fresh: BTreeMap::new(),
            connected_out: 0,
            connected_in: 0,
            banned_idle: 0,
            now: None,
            ctl,
            next_seq: 0,
            dials: 0,
            connects: 0,
            failures: 0,
            timeouts: 0,
        }
    }

    /// The config in use (after clamping).
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Known addresses, in any state.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True if no address is known.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// True if `addr` is known, in any state.
    pub fn contains(&self, addr: &A) -> bool {
        self.index.contains_key(addr)
    }

    /// Adds a candidate address, or refreshes one already known (it was seen
    /// again: recently seen addresses are dialled first; a better `source`
    /// replaces a worse one). Returns true if the address is new; false if it
    /// was known, or is refused because `max_candidates` are known.
    pub fn add_candidate(&mut self, addr: A, source: Source, now: Instant) -> bool {
        let now = self.tick(now);
        if let Some(&idx) = self.index.get(&addr) {
            let e = self.entry_mut(idx);
            e.last_seen = now;
            if source_rank(source) < source_rank(e.source) {
                e.source = source;
            }
            if let State::Ready(_) = e.state {
                self.detach(idx);
                self.make_ready(idx);
            }
            return false;
        }
        if self.index.len() >= self.config.max_candidates {
            return false;
        }
        let idx = self.insert(addr, source, now);
        self.make_ready(idx);
        true
    }

    /// Forgets an idle candidate (ready or backing off). Addresses that are
    /// dialling, connected or banned stay; returns true if it was removed.
    pub fn remove(&mut self, addr: &A) -> bool {
        let Some(&idx) = self.index.get(addr) else {
            return false;
        };
        match self.entry(idx).state {
            State::Ready(_) | State::Waiting { banned: false, .. } => {
                self.detach(idx);
                self.forget(idx);
                true
            }
            _ => false,
        }
    }

    /// The next address to dial, if limits, the dial rate and backoffs allow
    /// one now. The address becomes half-open: report its result with
    /// [`on_connected`](Pool::on_connected) or [`on_failed`](Pool::on_failed).
    /// Call until it returns `None`.
    pub fn poll_dial(&mut self, now: Instant) -> Option<A> {
        let now = self.tick(now);
        if self.blocked().is_some() {
            return None;
        }
        let (_, idx) = self.ready.pop_first()?;
        self.tokens -= 1.0;
        self.dials += 1;
        let busy = 2 * (self.weighted_half_open() + 1) >= self.ctl.half_open_limit();
        let deadline = later(now, self.config.connect_timeout);
        let late_at = later(now, self.ctl.late_after()).min(deadline);
        let seq = self.entry(idx).seq;
        self.half_open.insert((deadline, seq), idx);
        self.fresh.insert((late_at, seq), idx);
        let e = self.entry_mut(idx);
        let class = match (e.ever_connected, e.failures) {
            (true, _) => Class::Known,
            (false, 0) => Class::Fresh,
            (false, _) => Class::Failed,
        };
        e.state = State::HalfOpen {
            class,
            started: now,
            deadline,
            late_at: Some(late_at),
            busy,
        };
        Some(e.addr.clone())
    }

    /// An attempt connected. Returns true if the caller should keep the
    /// connection; false if the pool had no room for it (it had already given
    /// the attempt up as timed out and filled its place) or the address was
    /// banned meanwhile: close it then, without reporting a close.
    ///
    /// A connection the caller made on its own (the address unknown or not
    /// dialling) is adopted if there is room.
    pub fn on_connected(&mut self, addr: &A, now: Instant) -> bool {
        let now = self.tick(now);
        let idx = match self.index.get(addr) {
            Some(&idx) => idx,
            None => {
                if self.total() >= self.ctl.connection_limit()
                    || self.index.len() >= self.config.max_candidates
                {
                    return false;
                }
                self.insert(addr.clone(), Source::Other, now)
            }
        };
        match self.entry(idx).state {
            State::HalfOpen {
                class,
                started,
                busy,
                late_at,
                ..
            } => {
                self.detach(idx);
                self.connects += 1;
                let (open, total) = (self.open() + 1, self.total() + 1);
                self.ctl.on_rtt(now.saturating_duration_since(started));
                if late_at.is_some() {
                    self.ctl
                        .on_outcome(started, Outcome::Success, class, busy, open, total, now);
                }
                let e = self.entry_mut(idx);
                e.ever_connected = true;
                e.failures = 0;
                if e.banned_at(now) {
                    let until = e.ban_until.unwrap_or(now);
                    self.make_waiting(idx, until, true);
                    return false;
                }
                self.make_connected(idx, false);
                true
            }
            State::Connected { .. } => true,
            State::Ready(_) | State::Waiting { banned: false, .. } | State::Detached => {
                if self.total() >= self.ctl.connection_limit() {
                    // keep an adopted-but-refused unknown address as a candidate
                    return false;
                }
                self.detach(idx);
                self.connects += 1;
                let e = self.entry_mut(idx);
                e.ever_connected = true;
                e.failures = 0;
                self.make_connected(idx, false);
                true
            }
            State::Waiting { banned: true, .. } => false,
        }
    }

    /// An attempt failed. Ignored unless `addr` is dialling (a late report for
    /// an attempt the pool already timed out changes nothing).
    pub fn on_failed(&mut self, addr: &A, reason: FailReason, now: Instant) {
        let now = self.tick(now);
        if let Some(&idx) = self.index.get(addr)
            && let State::HalfOpen { .. } = self.entry(idx).state
        {
            self.fail(idx, reason, now);
        }
    }

    /// An open connection closed. The address may be redialled after a
    /// backoff: short if it gave data, growing if it keeps closing without.
    /// Addresses known only because they connected to us are forgotten when
    /// that backoff ends.
    pub fn on_closed(&mut self, addr: &A, info: ClosedInfo, now: Instant) {
        let now = self.tick(now);
        let Some(&idx) = self.index.get(addr) else {
            return;
        };
        if !matches!(self.entry(idx).state, State::Connected { .. }) {
            return;
        }
        self.detach(idx);
        let e = self.entry_mut(idx);
        e.bytes_down = e.bytes_down.saturating_add(info.bytes_down);
        let useful = info.bytes_down > 0 || info.bytes_up > 0;
        let broken = matches!(info.reason, CloseReason::Error | CloseReason::Protocol);
        if useful && !broken {
            e.failures = 0;
        } else {
            e.failures = e.failures.saturating_add(1);
        }
        // Addresses known only from inbound connections wait out the backoff
        // too (so a discovery of the same address then does not redial it at
        // once) and are forgotten when it ends.
        self.wait_after_failure(idx, now);
    }

    /// Bans `addr` for `config.ban_duration` from `now`. See [`ban_until`](Pool::ban_until).
    pub fn ban(&mut self, addr: &A, now: Instant) {
        let now = self.tick(now);
        self.ban_until(addr, later(now, self.config.ban_duration));
    }

    /// Bans `addr` until `until`: it is not dialled and its inbound
    /// connections are refused until then. A connected or dialling address
    /// stays so until the caller closes it (close it), then waits out the ban.
    /// Unknown addresses are remembered so the ban holds when they are added.
    pub fn ban_until(&mut self, addr: &A, until: Instant) {
        let idx = match self.index.get(addr) {
            Some(&idx) => idx,
            None => {
                let seen = self.now.unwrap_or(until);
                self.insert(addr.clone(), Source::Other, seen)
            }
        };
        let e = self.entry_mut(idx);
        let until = e.ban_until.map_or(until, |t| t.max(until));
        e.ban_until = Some(until);
        match e.state {
            State::Ready(_) => {
                self.detach(idx);
                self.make_waiting(idx, until, true);
            }
            State::Waiting { until: old, .. } => {
                self.detach(idx);
                self.make_waiting(idx, old.max(until), true);
            }
            State::Detached => self.make_waiting(idx, until, true),
            State::HalfOpen { .. } | State::Connected { .. } => {}
        }
    }

    /// Lifts a ban early; an idle banned address becomes dialable at once.
    pub fn unban(&mut self, addr: &A) {
        let Some(&idx) = self.index.get(addr) else {
            return;
        };
        let e = self.entry_mut(idx);
        e.ban_until = None;
        if let State::Waiting { banned: true, .. } = e.state {
            self.detach(idx);
            self.make_ready(idx);
        }
    }

    /// Someone connected to us from `addr`. Returns true to accept: there is
    /// room and the address is neither banned nor already connected or
    /// dialling. Report the accepted connection's end with
    /// [`on_closed`](Pool::on_closed).
    pub fn on_inbound(&mut self, addr: &A, now: Instant) -> bool {
        let now = self.tick(now);
        let total = self.total();
        if total >= self.config.max_connections {
            return false;
        }
        let idx = match self.index.get(addr) {
            Some(&idx) => idx,
            None => self.insert(addr.clone(), Source::Inbound, now),
        };
        let e = self.entry(idx);
        if e.banned_at(now) || matches!(e.state, State::HalfOpen { .. } | State::Connected { .. }) {
            if e.source == Source::Inbound && !matches!(e.state, State::Connected { .. }) {
                // never keep an address we only learned from a refused inbound
                if !e.banned_at(now) {
                    self.detach(idx);
                    self.forget(idx);
                }
            }
            return false;
        }
        self.detach(idx);
        self.ctl.on_inbound(total);
        self.entry_mut(idx).last_seen = now;
        self.make_connected(idx, true);
        true
    }

    /// When [`handle_timeout`](Pool::handle_timeout) (and then
    /// [`poll_dial`](Pool::poll_dial)) should next be called: an attempt
    /// times out, a backoff ends, or the dial rate allows the next dial. A
    /// time in the past means "now". `None`: nothing will happen until an
    /// event arrives.
    pub fn next_timeout(&self) -> Option<Instant> {
        let mut next = self.half_open.first_key_value().map(|(k, _)| k.0);
        if let Some((k, _)) = self.fresh.first_key_value() {
            next = Some(next.map_or(k.0, |n| n.min(k.0)));
        }
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        };
        let h_room = self.weighted_half_open() < self.ctl.half_open_limit()
            && self.half_open.len() < self.config.max_half_open;
        let c_room = self.total() < self.ctl.connection_limit();
        if h_room {
            consider(self.waiting.first_key_value().map(|(k, _)| k.0));
            if !self.ready.is_empty() {
                if c_room {
                    consider(self.tokens_at());
                } else {
                    consider(self.ctl.probe_at(self.total()));
                }
            }
        }
        next
    }

    /// Brings timers up to `now`: attempts older than `connect_timeout` fail
    /// as timed out, backoffs and bans that ended make addresses dialable.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
    }

    /// Why `addr` is not being dialled now, or `None` if nothing holds it
    /// back (it is ready and there is room: it waits only for better
    /// candidates). Times are as of the last call that took `now`.
    pub fn why_not(&self, addr: &A) -> Option<Reason> {
        let Some(&idx) = self.index.get(addr) else {
            return Some(Reason::Unknown);
        };
        let e = self.entry(idx);
        match e.state {
            State::Waiting {
                until,
                banned: true,
            } => Some(Reason::Banned { until }),
            State::Waiting { until, .. } => Some(Reason::BackingOff {
                until,
                failures: e.failures,
            }),
            State::HalfOpen { .. } => Some(Reason::Dialing),
            State::Connected { .. } => Some(Reason::Connected),
            State::Ready(_) => self.blocked(),
            State::Detached => Some(Reason::Unknown),
        }
    }

    /// Current limits, counts by state and totals.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            half_open_limit: self.ctl.half_open_limit(),
            connection_limit: self.ctl.connection_limit(),
            dials_per_sec: self.config.max_dials_per_sec,
            candidates: self.index.len(),
            ready: self.ready.len(),
            backing_off: self.waiting.len() - self.banned_idle,
            banned: self.banned_idle,
            half_open: self.half_open.len(),
            overdue: self.half_open.len() - self.fresh.len(),
            connected_out: self.connected_out,
            connected_in: self.connected_in,
            dials: self.dials,
            connects: self.connects,
            failures: self.failures,
            timeouts: self.timeouts,
            congestion_events: self.ctl.congestion_events,
            expected_loss_permille: self.ctl.expected_loss_permille(),
            connect_rtt_ms: self.ctl.connect_rtt_ms(),
        }
    }

    // ---- internals ----

    fn open(&self) -> usize {
        self.connected_out + self.connected_in
    }

    fn total(&self) -> usize {
        self.open() + self.half_open.len()
    }

    /// Half-open attempts as the adaptive limit counts them: overdue ones
    /// (probably lost) count half. Counting them fully would stall dialling
    /// for a whole connect timeout after every cut; not at all would let
    /// attempts to dead addresses pile up.
    fn weighted_half_open(&self) -> usize {
        let overdue = self.half_open.len() - self.fresh.len();
        self.fresh.len() + overdue.div_ceil(2)
    }

    /// What stops a ready address from being dialled now, if anything.
    fn blocked(&self) -> Option<Reason> {
        let limit = self.ctl.half_open_limit();
        if self.weighted_half_open() >= limit {
            return Some(Reason::HalfOpenLimit { limit });
        }
        let limit = self.config.max_half_open;
        if self.half_open.len() >= limit {
            return Some(Reason::HalfOpenLimit { limit });
        }
        let limit = self.ctl.connection_limit();
        if self.total() >= limit {
            return Some(Reason::ConnectionLimit { limit });
        }
        if self.tokens < 1.0 {
            return Some(Reason::DialRate {
                per_sec: self.config.max_dials_per_sec,
            });
        }
        None
    }

    /// When the token bucket holds a whole token.
    fn tokens_at(&self) -> Option<Instant> {
        let now = self.now?;
        if self.tokens >= 1.0 {
            return Some(now);
        }
        let secs = (1.0 - self.tokens) / f64::from(self.config.max_dials_per_sec);
        // round up so that at the returned time the token is really there
        Some(later(
            now,
            Duration::from_secs_f64(secs) + Duration::from_micros(1),
        ))
    }

    fn tick(&mut self, now: Instant) -> Instant {
        let now = match self.now {
            Some(prev) if prev >= now => prev,
            _ => now,
        };
        if let Some(prev) = self.now {
            let rate = f64::from(self.config.max_dials_per_sec);
            let dt = now.saturating_duration_since(prev).as_secs_f64();
            self.tokens = (self.tokens + dt * rate).min(rate.max(1.0));
        }
        self.now = Some(now);
        while let Some((&(late_at, _), &idx)) = self.fresh.first_key_value() {
            if late_at > now {
                break;
            }
            self.overdue(idx, now);
        }
        while let Some((&(deadline, _), &idx)) = self.half_open.first_key_value() {
            if deadline > now {
                break;
            }
            self.fail(idx, FailReason::TimedOut, now);
        }
        while let Some((&(until, _), &idx)) = self.waiting.first_key_value() {
            if until > now {
                break;
            }
            self.detach(idx);
            let e = self.entry_mut(idx);
            if !e.banned_at(now) {
                e.ban_until = None;
            }
            match e.ban_until {
                Some(t) => self.make_waiting(idx, t, true),
                // known only from an inbound connection: not an address to dial
                None if e.source == Source::Inbound => self.forget(idx),
                None => self.make_ready(idx),
            }
        }
        let wants = !self.ready.is_empty();
        if wants {
            self.ctl.maybe_probe(self.total(), now);
        }
        now
    }

    /// An attempt got no answer in the time answers usually take: count it
    /// as lost now (the controller learns within round trips, not at the
    /// connect timeout) and stop counting it against the adaptive limit. It
    /// stays half-open, within `max_half_open`, until it ends or times out.
    fn overdue(&mut self, idx: usize, now: Instant) {
        let seq = self.entry(idx).seq;
        let State::HalfOpen {
            class,
            started,
            deadline,
            late_at: Some(late_at),
            busy,
        } = self.entry(idx).state
        else {
            return;
        };
        self.fresh.remove(&(late_at, seq));
        self.entry_mut(idx).state = State::HalfOpen {
            class,
            started,
            deadline,
            late_at: None,
            busy,
        };
        let (open, total) = (self.open(), self.total());
        self.ctl
            .on_outcome(started, Outcome::Timeout, class, busy, open, total, now);
    }

    fn fail(&mut self, idx: usize, reason: FailReason, now: Instant) {
        let State::HalfOpen {
            class,
            started,
            busy,
            late_at,
            ..
        } = self.entry(idx).state
        else {
            return;
        };
        self.detach(idx);
        self.failures += 1;
        let outcome = if reason == FailReason::TimedOut {
            self.timeouts += 1;
            Outcome::Timeout
        } else {
            Outcome::Failure
        };
        if late_at.is_some() {
            let (open, total) = (self.open(), self.total());
            self.ctl
                .on_outcome(started, outcome, class, busy, open, total, now);
        }
        let e = self.entry_mut(idx);
        e.failures = e.failures.saturating_add(1);
        self.wait_after_failure(idx, now);
    }

    /// Puts a detached entry into backoff by its failure count (or the ban).
    fn wait_after_failure(&mut self, idx: usize, now: Instant) {
        let failures = self.entry(idx).failures;
        let base = self.config.backoff_base.as_secs_f64();
        let max = self.config.backoff_max.as_secs_f64();
        let full = (base * 2f64.powi(failures.saturating_sub(1).min(60) as i32)).min(max);
        // "equal jitter": half fixed, half random, so retries of many
        // addresses that failed together spread out
        let delay = full * (0.5 + 0.5 * self.rng.unit());
        let mut until = later(now, Duration::from_secs_f64(delay));
        let e = self.entry(idx);
        let banned = e.banned_at(now);
        if banned {
            until = until.max(e.ban_until.unwrap_or(until));
        }
        self.make_waiting(idx, until, banned);
    }

    fn entry(&self, idx: usize) -> &Entry<A> {
        self.entries[idx]
            .as_ref()
            .expect("index points at a live entry")
    }

    fn entry_mut(&mut self, idx: usize) -> &mut Entry<A> {
        self.entries[idx]
            .as_mut()
            .expect("index points at a live entry")
    }

    /// A new, detached entry: the caller gives it a state.
    fn insert(&mut self, addr: A, source: Source, now: Instant) -> usize {
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Entry {
            addr: addr.clone(),
            seq,
            source,
            state: State::Detached,
            last_seen: now,
            ever_connected: false,
            bytes_down: 0,
            failures: 0,
            ban_until: None,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.entries[i] = Some(entry);
                i
            }
            None => {
                self.entries.push(Some(entry));
                self.entries.len() - 1
            }
        };
        self.index.insert(addr, idx);
        idx
    }

    /// Removes a detached entry.
    fn forget(&mut self, idx: usize) {
        if let Some(e) = self.entries[idx].take() {
            self.index.remove(&e.addr);
            self.free.push(idx);
        }
    }

    /// Takes the entry out of whatever queue or count its state puts it in.
    /// The state field is left stale until the caller sets a new one.
    fn detach(&mut self, idx: usize) {
        let e = self.entry(idx);
        let seq = e.seq;
        match e.state {
            State::Ready(key) => {
                self.ready.remove(&key);
            }
            State::Waiting { until, banned } => {
                if self.waiting.remove(&(until, seq)).is_some() && banned {
                    self.banned_idle -= 1;
                }
            }
            State::HalfOpen {
                deadline, late_at, ..
            } => {
                self.half_open.remove(&(deadline, seq));
                if let Some(t) = late_at {
                    self.fresh.remove(&(t, seq));
                }
            }
            State::Connected { inbound } => {
                if inbound {
                    self.connected_in -= 1;
                } else {
                    self.connected_out -= 1;
                }
            }
            State::Detached => {}
        }
        self.entry_mut(idx).state = State::Detached;
    }

    fn make_ready(&mut self, idx: usize) {
        let key = self.entry(idx).ready_key();
        self.ready.insert(key, idx);
        self.entry_mut(idx).state = State::Ready(key);
    }

    fn make_waiting(&mut self, idx: usize, until: Instant, banned: bool) {
        let seq = self.entry(idx).seq;
        self.waiting.insert((until, seq), idx);
        if banned {
            self.banned_idle += 1;
        }
        self.entry_mut(idx).state = State::Waiting { until, banned };
    }

    fn make_connected(&mut self, idx: usize, inbound: bool) {
        if inbound {
            self.connected_in += 1;
        } else {
            self.connected_out += 1;
        }
        self.entry_mut(idx).state = State::Connected { inbound };
    }
}
