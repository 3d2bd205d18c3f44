//! The pool's rules one at a time: backoff, bans, preference, rate, limits,
//! timers and introspection.

use std::time::{Duration, Instant};

use shoal_conn_pool::{CloseReason, ClosedInfo, FailReason, Pool, PoolConfig, Reason, Source};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config() -> PoolConfig {
    let mut c = PoolConfig::default();
    c.backoff_base = Duration::from_secs(4);
    c.backoff_max = Duration::from_secs(60);
    c.connect_timeout = Duration::from_secs(5);
    c.ban_duration = Duration::from_secs(100);
    c
}

fn backoff_until(pool: &Pool<u32>, addr: u32) -> Instant {
    match pool.why_not(&addr) {
        Some(Reason::BackingOff { until, .. }) => until,
        other => panic!("expected a backoff, got {other:?}"),
    }
}

#[test]
fn backoff_doubles_with_jitter_and_holds_the_address_back() {
    let t0 = Instant::now();
    let mut pool = Pool::new(config(), 1);
    pool.add_candidate(7u32, Source::Tracker, t0);
    let mut now = t0;
    let mut full = Duration::from_secs(4);
    for failures in 1..=6u32 {
        assert_eq!(pool.poll_dial(now), Some(7));
        pool.on_failed(&7, FailReason::Refused, now);
        let until = backoff_until(&pool, 7);
        let wait = until - now;
        assert!(
            wait >= full / 2 && wait <= full,
            "failure {failures}: waited {wait:?}, full delay {full:?}"
        );
        assert_eq!(
            pool.why_not(&7),
            Some(Reason::BackingOff { until, failures })
        );
        // not a moment early
        assert_eq!(pool.poll_dial(until - ms(1)), None);
        now = until;
        full = (full * 2).min(Duration::from_secs(60));
    }
    assert_eq!(pool.poll_dial(now), Some(7));
}

#[test]
fn a_connection_that_gave_data_resets_the_failures() {
    let t0 = Instant::now();
    let mut pool = Pool::new(config(), 2);
    pool.add_candidate(1u32, Source::Tracker, t0);
    pool.poll_dial(t0);
    pool.on_failed(&1, FailReason::Reset, t0);
    let t1 = backoff_until(&pool, 1);
    assert_eq!(pool.poll_dial(t1), Some(1));
    assert!(pool.on_connected(&1, t1));
    assert_eq!(pool.why_not(&1), Some(Reason::Connected));
    let info = ClosedInfo {
        bytes_up: 10,
        bytes_down: 5000,
        reason: CloseReason::Remote,
    };
    pool.on_closed(&1, info, t1 + ms(100));
    assert!(matches!(
        pool.why_not(&1),
        Some(Reason::BackingOff { failures: 0, .. })
    ));
    let wait = backoff_until(&pool, 1) - (t1 + ms(100));
    assert!(wait <= Duration::from_secs(4), "{wait:?}");
}

#[test]
fn banned_addresses_are_neither_dialled_nor_accepted() {
    let t0 = Instant::now();
    let mut pool = Pool::new(config(), 3);
    pool.add_candidate(1u32, Source::Tracker, t0);
    pool.ban(&1, t0);
    // a ban on an address not known yet sticks when it is added later
    pool.ban(&2, t0);
    assert!(!pool.add_candidate(2, Source::Dht, t0));
    let until = t0 + Duration::from_secs(100);
    assert_eq!(pool.why_not(&1), Some(Reason::Banned { until }));
    assert_eq!(pool.poll_dial(t0 + ms(99_999)), None);
    assert!(!pool.on_inbound(&1, t0 + ms(99_999)));
    assert_eq!(pool.stats().banned, 2);
    let mut dialled = vec![
        pool.poll_dial(until).unwrap(),
        pool.poll_dial(until).unwrap(),
    ];
    dialled.sort();
    assert_eq!(dialled, [1, 2]);
    assert_eq!(pool.stats().banned, 0);
}

#[test]
fn banning_while_dialling_refuses_the_connection() {
    let t0 = Instant::now();
    let mut pool = Pool::new(config(), 3);
    pool.add_candidate(1u32, Source::Tracker, t0);
    pool.poll_dial(t0);
    pool.ban(&1, t0);
    assert!(!pool.on_connected(&1, t0 + ms(50)));
    assert!(matches!(pool.why_not(&1), Some(Reason::Banned { .. })));
    assert_eq!(pool.stats().connected(), 0);
    pool.unban(&1);
    assert_eq!(pool.why_not(&1), None);
    assert_eq!(pool.poll_dial(t0 + ms(60)), Some(1));
}

#[test]
fn prefers_addresses_that_gave_data_then_recent_and_user_ones() {
    let t0 = Instant::now();
    let mut pool = Pool::new(config(), 4);
    // 1 gave data before, then closed
    pool.add_candidate(1u32, Source::Tracker, t0);
    assert_eq!(pool.poll_dial(t0), Some(1));
    pool.on_connected(&1, t0);
    let info = ClosedInfo {
        bytes_up: 0,
        bytes_down: 1,
        reason: CloseReason::Local,
    };
    pool.on_closed(&1, info, t0);
    let t1 = backoff_until(&pool, 1);
    pool.add_candidate(2, Source::Tracker, t0); // seen long ago
    pool.add_candidate(3, Source::Dht, t1); // seen just now
    pool.add_candidate(4, Source::User, t0); // named by the user
    let order: Vec<u32> = std::iter::from_fn(|| pool.poll_dial(t1)).collect();
    assert_eq!(order, [1, 4, 3, 2]);

    // seeing an address again moves it ahead of ones seen earlier
    let mut pool = Pool::new(config(), 4);
    pool.add_candidate(2u32, Source::Tracker, t0);
    pool.add_candidate(3, Source::Tracker, t0 + ms(1));
    pool.add_candidate(2, Source::Exchange, t0 + ms(2));
    assert_eq!(pool.poll_dial(t0 + ms(2)), Some(2));
}

#[test]
fn dial_rate_is_a_token_bucket() {
    let t0 = Instant::now();
    let mut c = config();
    c.max_dials_per_sec = 10;
    c.max_half_open = 100;
    c.min_half_open = 100;
    let mut pool = Pool::new(c, 5);
    for a in 0..100u32 {
        pool.add_candidate(a, Source::Tracker, t0);
    }
    let burst = std::iter::from_fn(|| pool.poll_dial(t0)).count();
    assert_eq!(burst, 10);
    assert_eq!(pool.why_not(&50), Some(Reason::DialRate { per_sec: 10 }));
    let next = pool.next_timeout().expect("a wake-up for the next token");
    assert!(next > t0 && next <= t0 + ms(101), "{:?}", next - t0);
    assert_eq!(pool.poll_dial(next - ms(5)), None);
    assert!(pool.poll_dial(next).is_some());
    // over two seconds, about twenty more
    let mut n = 0;
    for step in 1..=200 {
        let now = next + ms(10 * step);
        while pool.poll_dial(now).is_some() {
            n += 1;
        }
    }
    assert!((19..=21).contains(&n), "{n} dials in 2 s at 10/s");
}

#[test]
fn attempts_time_out_at_the_connect_timeout() {
    let t0 = Instant::now();
    let mut pool = Pool::new(config(), 6);
    pool.add_candidate(1u32, Source::Tracker, t0);
    pool.poll_dial(t0);
    assert_eq!(pool.why_not(&1), Some(Reason::Dialing));
    // the earliest timer may be the "overdue" mark; walk the timers
    let mut now = t0;
    while pool.why_not(&1) == Some(Reason::Dialing) {
        let next = pool.next_timeout().expect("a timer while dialling");
        assert!(next > now, "timer did not advance");
        now = next;
        pool.handle_timeout(now);
    }
    assert_eq!(now, t0 + Duration::from_secs(5));
    let s = pool.stats();
    assert_eq!((s.timeouts, s.failures, s.half_open), (1, 1, 0));
    assert!(matches!(
        pool.why_not(&1),
        Some(Reason::BackingOff { failures: 1, .. })
    ));
    // a late success is adopted if there is room
    assert!(pool.on_connected(&1, now + ms(1)));
    assert_eq!(pool.stats().connected_out, 1);
    // a late failure report for it changes nothing
    pool.on_failed(&1, FailReason::TimedOut, now + ms(2));
    assert_eq!(pool.stats().failures, 1);
}

#[test]
fn fixed_limits_hold() {
    let t0 = Instant::now();
    let mut c = PoolConfig::fixed(5, 3);
    c.max_dials_per_sec = 1000;
    let mut pool = Pool::new(c, 7);
    for a in 0..10u32 {
        pool.add_candidate(a, Source::Tracker, t0);
    }
    let first: Vec<u32> = std::iter::from_fn(|| pool.poll_dial(t0)).collect();
    assert_eq!(first.len(), 3);
    assert_eq!(pool.why_not(&9), Some(Reason::HalfOpenLimit { limit: 3 }));
    for a in &first {
        assert!(pool.on_connected(a, t0));
    }
    let second: Vec<u32> = std::iter::from_fn(|| pool.poll_dial(t0)).collect();
    assert_eq!(second.len(), 2);
    for a in &second {
        assert!(pool.on_connected(a, t0));
    }
    assert_eq!(pool.why_not(&9), Some(Reason::ConnectionLimit { limit: 5 }));
    assert_eq!(pool.poll_dial(t0 + Duration::from_secs(60)), None);
    assert!(!pool.on_inbound(&100, t0));
    let s = pool.stats();
    assert_eq!(
        (s.connected(), s.half_open_limit, s.connection_limit),
        (5, 3, 5)
    );
    // no timer: nothing will change until an event
    assert_eq!(pool.next_timeout(), None);
}

#[test]
fn inbound_connections_take_room_and_are_forgotten_after() {
    let t0 = Instant::now();
    let mut pool = Pool::new(PoolConfig::fixed(2, 2), 8);
    assert!(pool.on_inbound(&1u32, t0));
    assert!(!pool.on_inbound(&1, t0), "already connected");
    assert!(pool.on_inbound(&2, t0));
    assert!(!pool.on_inbound(&3, t0), "no room");
    assert_eq!(pool.why_not(&3), Some(Reason::Unknown));
    assert_eq!(pool.stats().connected_in, 2);
    let info = ClosedInfo {
        bytes_up: 1,
        bytes_down: 1,
        reason: CloseReason::Remote,
    };
    pool.on_closed(&1, info, t0);
    // an inbound-only address is not dialled back: it waits out a backoff
    // (so discovering it meanwhile does not redial it at once), then goes
    let until = backoff_until(&pool, 1);
    assert_eq!(pool.poll_dial(until - ms(1)), None);
    // it may connect to us again meanwhile
    assert!(pool.on_inbound(&1, t0 + ms(1)));
    pool.on_closed(&1, info, t0 + ms(2));
    let until = backoff_until(&pool, 1);
    pool.handle_timeout(until);
    assert!(!pool.contains(&1));
    // a banned inbound-only address is remembered for the ban, then forgotten
    assert!(pool.on_inbound(&5, t0));
    pool.ban(&5, t0);
    pool.on_closed(&5, info, t0);
    let Some(Reason::Banned { until }) = pool.why_not(&5) else {
        panic!("not banned: {:?}", pool.why_not(&5));
    };
    assert!(!pool.on_inbound(&5, until - ms(1)));
    pool.handle_timeout(until);
    assert!(!pool.contains(&5));
    // an inbound from a known candidate keeps the candidate
    pool.add_candidate(4, Source::Tracker, t0);
    assert!(pool.on_inbound(&4, t0));
    pool.on_closed(&4, info, t0);
    assert!(pool.contains(&4));
}

#[test]
fn candidates_are_capped_and_removable() {
    let t0 = Instant::now();
    let mut c = config();
    c.max_candidates = 3;
    let mut pool = Pool::new(c, 9);
    assert!(pool.add_candidate(1u32, Source::Tracker, t0));
    assert!(pool.add_candidate(2, Source::Tracker, t0));
    assert!(pool.add_candidate(3, Source::Tracker, t0));
    assert!(!pool.add_candidate(4, Source::Tracker, t0));
    assert_eq!(pool.len(), 3);
    assert!(pool.remove(&2));
    assert!(!pool.remove(&2));
    assert!(pool.add_candidate(4, Source::Tracker, t0));
    let d = pool.poll_dial(t0).unwrap();
    assert!(!pool.remove(&d), "a dialling address stays");
}

#[test]
fn events_for_unknown_addresses_and_old_times_are_harmless() {
    let t0 = Instant::now() + Duration::from_secs(10);
    let mut pool: Pool<u32> = Pool::new(config(), 10);
    pool.on_failed(&1, FailReason::Other, t0);
    let info = ClosedInfo {
        bytes_up: 0,
        bytes_down: 0,
        reason: CloseReason::Error,
    };
    pool.on_closed(&1, info, t0);
    pool.unban(&1);
    assert_eq!(pool.stats().candidates, 0);
    pool.add_candidate(5, Source::Tracker, t0);
    // time going backwards counts as the latest time seen
    assert_eq!(pool.poll_dial(t0 - Duration::from_secs(5)), Some(5));
    pool.on_failed(&5, FailReason::Refused, t0 - Duration::from_secs(9));
    assert!(backoff_until(&pool, 5) >= t0 + Duration::from_secs(2));
}

#[test]
fn stats_read_well_in_logs() {
    let t0 = Instant::now();
    let mut pool = Pool::new(PoolConfig::fixed(5, 3), 1);
    for a in 0..4u32 {
        pool.add_candidate(a, Source::Tracker, t0);
    }
    let a = pool.poll_dial(t0).unwrap();
    pool.on_connected(&a, t0);
    pool.poll_dial(t0);
    assert!(pool.on_inbound(&9, t0));
    assert_eq!(
        pool.stats().to_string(),
        "half-open 1/3 (0 overdue), open 2 (1 out, 1 in), total 3/5, ready 2, backing off 0, \
         banned 0; 2 dials, 1 connected, 0 failed (0 timed out), 0 cuts, expected loss 0‰, \
         connect 0 ms"
    );
}

#[test]
fn io_errors_map_to_fail_reasons() {
    use std::io::{Error, ErrorKind};
    let r = |k: ErrorKind| FailReason::from_io_error(&Error::from(k));
    assert_eq!(r(ErrorKind::ConnectionRefused), FailReason::Refused);
    assert_eq!(r(ErrorKind::TimedOut), FailReason::TimedOut);
    assert_eq!(r(ErrorKind::ConnectionReset), FailReason::Reset);
    assert_eq!(r(ErrorKind::UnexpectedEof), FailReason::Reset);
    assert_eq!(r(ErrorKind::AddrNotAvailable), FailReason::Other);
}

#[test]
fn reasons_read_well() {
    assert_eq!(
        Reason::HalfOpenLimit { limit: 8 }.to_string(),
        "at the half-open limit (8)"
    );
    assert_eq!(Reason::Connected.to_string(), "already connected");
}

#[test]
fn the_same_seed_gives_the_same_decisions() {
    let run = |seed| {
        let t0 = Instant::now();
        let mut pool = Pool::new(config(), seed);
        let mut out = Vec::new();
        for a in 0..50u32 {
            pool.add_candidate(a, Source::Tracker, t0);
        }
        while let Some(a) = pool.poll_dial(t0) {
            pool.on_failed(&a, FailReason::Refused, t0);
            out.push(backoff_until(&pool, a) - t0);
        }
        out
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}
