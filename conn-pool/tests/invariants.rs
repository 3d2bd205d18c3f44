//! Property tests: whatever events arrive, in whatever order, the pool keeps
//! its counts within its limits, never dials a banned or backing-off
//! address, and never asks its driver to busy-loop.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use shoal_conn_pool::{CloseReason, ClosedInfo, FailReason, Pool, PoolConfig, Reason, Source};

const ADDRS: u8 = 16;

#[derive(Debug, Clone)]
enum Op {
    Add(u8),
    Poll,
    Connect(usize),
    Fail(usize, u8),
    Close(usize, u64, u8),
    Inbound(u8),
    Ban(u8),
    Unban(u8),
    Advance(u64),
    /// An event about an address that may not be in that state at all.
    Junk(u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..ADDRS).prop_map(Op::Add),
        4 => Just(Op::Poll),
        3 => any::<usize>().prop_map(Op::Connect),
        3 => (any::<usize>(), 0..4u8).prop_map(|(i, r)| Op::Fail(i, r)),
        2 => (any::<usize>(), 0..3u64, 0..4u8).prop_map(|(i, b, r)| Op::Close(i, b, r)),
        1 => (0..ADDRS).prop_map(Op::Inbound),
        1 => (0..ADDRS).prop_map(Op::Ban),
        1 => (0..ADDRS).prop_map(Op::Unban),
        3 => (0..4000u64).prop_map(Op::Advance),
        1 => (0..ADDRS, 0..3u8).prop_map(|(a, k)| Op::Junk(a, k)),
    ]
}

fn fail_reason(r: u8) -> FailReason {
    [
        FailReason::Refused,
        FailReason::TimedOut,
        FailReason::Reset,
        FailReason::Other,
    ][r as usize % 4]
}

fn close_reason(r: u8) -> CloseReason {
    [
        CloseReason::Local,
        CloseReason::Remote,
        CloseReason::Error,
        CloseReason::Protocol,
    ][r as usize % 4]
}

fn config(adaptive: bool) -> PoolConfig {
    let mut c = PoolConfig::default();
    c.max_connections = 6;
    c.min_connections = 1;
    c.max_half_open = 4;
    c.min_half_open = 1;
    c.max_dials_per_sec = 5;
    c.backoff_base = Duration::from_secs(1);
    c.backoff_max = Duration::from_secs(8);
    c.connect_timeout = Duration::from_secs(2);
    c.ban_duration = Duration::from_secs(5);
    c.adaptive = adaptive;
    c
}

fn pick<T: Copy>(v: &[T], i: usize) -> Option<T> {
    (!v.is_empty()).then(|| v[i % v.len()])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn limits_bans_and_backoffs_hold(
        adaptive in any::<bool>(),
        seed in any::<u64>(),
        ops in proptest::collection::vec(op(), 1..200),
    ) {
        let cfg = config(adaptive);
        let mut pool = Pool::new(cfg.clone(), seed);
        let mut now = Instant::now();
        let mut pending: Vec<u8> = Vec::new();
        let mut connected: Vec<u8> = Vec::new();
        let mut banned: HashMap<u8, Instant> = HashMap::new();
        // No redial sooner than half the base backoff (the least jittered
        // delay) after a dial or a close.
        let mut not_before: HashMap<u8, Instant> = HashMap::new();
        let least_backoff = cfg.backoff_base / 2;
        for op in ops {
            match op {
                Op::Add(a) => {
                    pool.add_candidate(a, Source::Tracker, now);
                }
                Op::Poll => {
                    pool.handle_timeout(now);
                    let before: Vec<Option<Reason>> = (0..ADDRS).map(|a| pool.why_not(&a)).collect();
                    while let Some(a) = pool.poll_dial(now) {
                        prop_assert!(
                            !matches!(before[a as usize], Some(Reason::Banned { .. } | Reason::BackingOff { .. })),
                            "dialled {} while {:?}", a, before[a as usize]
                        );
                        prop_assert!(
                            banned.get(&a).is_none_or(|&t| t <= now),
                            "dialled {} before its ban ended", a
                        );
                        prop_assert!(
                            not_before.get(&a).is_none_or(|&t| t <= now),
                            "redialled {} {:?} too early", a, not_before.get(&a).map(|&t| t - now)
                        );
                        not_before.insert(a, now + least_backoff);
                        pending.push(a);
                        // dials stay within the learned limits (overdue
                        // attempts count half against the half-open one)
                        let s = pool.stats();
                        let weighed = s.half_open - s.overdue + s.overdue.div_ceil(2);
                        prop_assert!(weighed <= s.half_open_limit, "{:?}", s);
                        prop_assert!(s.half_open + s.connected() <= s.connection_limit, "{:?}", s);
                    }
                    // drained: the next wake-up is in the future (no busy loop)
                    if let Some(t) = pool.next_timeout() {
                        prop_assert!(t > now, "next_timeout {:?} not after now", t);
                    }
                }
                Op::Connect(i) => {
                    if let Some(a) = pick(&pending, i) {
                        pending.retain(|&x| x != a);
                        if pool.on_connected(&a, now) && !connected.contains(&a) {
                            connected.push(a);
                        }
                    }
                }
                Op::Fail(i, r) => {
                    if let Some(a) = pick(&pending, i) {
                        pending.retain(|&x| x != a);
                        pool.on_failed(&a, fail_reason(r), now);
                    }
                }
                Op::Close(i, bytes, r) => {
                    if let Some(a) = pick(&connected, i) {
                        connected.retain(|&x| x != a);
                        let info = ClosedInfo { bytes_up: bytes, bytes_down: bytes * 1000, reason: close_reason(r) };
                        pool.on_closed(&a, info, now);
                        not_before.insert(a, now + least_backoff);
                    }
                }
                Op::Inbound(a) => {
                    if pool.on_inbound(&a, now) {
                        prop_assert!(banned.get(&a).is_none_or(|&t| t <= now), "accepted banned {}", a);
                        connected.push(a);
                    }
                }
                Op::Ban(a) => {
                    pool.ban(&a, now);
                    let until = now + cfg.ban_duration;
                    let e = banned.entry(a).or_insert(until);
                    *e = (*e).max(until);
                }
                Op::Unban(a) => {
                    pool.unban(&a);
                    banned.remove(&a);
                    not_before.remove(&a); // dialable at once
                }
                Op::Advance(ms) => {
                    now += Duration::from_millis(ms);
                    pool.handle_timeout(now);
                }
                Op::Junk(a, kind) => match kind {
                    0 => {
                        if pool.on_connected(&a, now) && !connected.contains(&a) {
                            pending.retain(|&x| x != a);
                            connected.push(a);
                        }
                    }
                    1 => pool.on_failed(&a, FailReason::Reset, now),
                    _ => {
                        let info = ClosedInfo { bytes_up: 0, bytes_down: 0, reason: CloseReason::Error };
                        pool.on_closed(&a, info, now);
                        if connected.contains(&a) {
                            connected.retain(|&x| x != a);
                            not_before.insert(a, now + least_backoff);
                        }
                    }
                },
            }
            let s = pool.stats();
            prop_assert!(s.half_open <= cfg.max_half_open, "{:?}", s);
            prop_assert!(s.half_open + s.connected() <= cfg.max_connections, "{:?}", s);
            prop_assert!(s.connection_limit <= cfg.max_connections, "{:?}", s);
            prop_assert!(
                (cfg.min_half_open..=cfg.max_half_open).contains(&s.half_open_limit),
                "{:?}", s
            );
            prop_assert_eq!(
                s.ready + s.backing_off + s.banned + s.half_open + s.connected(),
                s.candidates,
                "every address in exactly one state: {:?}", s
            );
            prop_assert!(s.overdue <= s.half_open);
        }
    }
}
