//! Virtual-time simulations of the pool against a router that silently drops
//! attempts beyond its table size (see `sim/mod.rs` for the model). No
//! sockets, no sleeping: two minutes of network time take milliseconds.

mod sim;

use std::time::Duration;

use shoal_conn_pool::{Pool, PoolConfig, PoolStats};
use sim::{NetModel, Sim};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Ceilings far above the network's, so that only learning keeps the pool
/// near the network's limit.
fn adaptive() -> PoolConfig {
    let mut c = PoolConfig::default();
    c.max_connections = 10_000;
    c.max_half_open = 1_000;
    c.max_dials_per_sec = 1_000;
    c
}

fn fixed(half_open: usize) -> PoolConfig {
    let mut c = PoolConfig::fixed(10_000, half_open);
    c.max_dials_per_sec = 1_000;
    c
}

fn mean(samples: &[(Duration, PoolStats)], from: u64, f: impl Fn(&PoolStats) -> usize) -> f64 {
    let xs: Vec<f64> = samples
        .iter()
        .filter(|(t, _)| *t >= secs(from))
        .map(|(_, s)| f(s) as f64)
        .collect();
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

/// Every (N, seed) pair to run: the claims must hold for each seed, not
/// for a lucky one.
fn cases(ns: &[usize], seeds: u64) -> Vec<(usize, u64)> {
    ns.iter()
        .flat_map(|&n| (0..seeds).map(move |s| (n, s)))
        .collect()
}

#[test]
fn converges_near_the_routers_half_open_limit() {
    for (n, seed) in cases(&[10, 20, 40], 4) {
        let mut net = NetModel::half_open(n);
        net.dead_fraction = 0.1;
        let mut sim = Sim::new(Pool::new(adaptive(), seed), net, 50_000, seed * 7 + 1);
        let samples = sim.run_sampled(secs(120));
        let limit = mean(&samples, 60, |s| s.half_open_limit);
        let pending = mean(&samples, 60, |s| s.half_open);
        println!(
            "N={n} seed {seed}: limit {limit:.1}, pending {pending:.1}, {:?}",
            sim.counters
        );
        let n = n as f64;
        assert!(
            (0.5 * n..=2.5 * n).contains(&limit),
            "N={n} seed {seed}: mean limit {limit:.1} over the last minute"
        );
        // Pending attempts include overdue ones to dead addresses, which
        // wait out the connect timeout; a fixed limit of 10 N keeps 10 N.
        assert!(
            pending <= 5.0 * n,
            "N={n} seed {seed}: mean half-open {pending:.1} over the last minute"
        );
        assert_eq!(sim.counters.stalls, 0, "next_timeout asked for a busy loop");
    }
}

#[test]
fn completes_more_connections_than_a_fixed_limit_of_ten_n() {
    // A swarm: 500 addresses, 30% dead, connections that close after
    // 30-120 s and are redialled. Attempts the router drops cost the fixed
    // pool backoffs on live addresses; the adaptive one keeps them usable.
    for (n, seed) in cases(&[10, 20], 4) {
        let run = |config: PoolConfig| {
            let mut net = NetModel::half_open(n);
            net.dead_fraction = 0.3;
            let mut sim = Sim::new(Pool::new(config, seed), net, 500, seed * 3 + 5);
            sim.run_until(secs(300), |_| {});
            sim.counters
        };
        let ours = run(adaptive());
        let theirs = run(fixed(10 * n));
        println!("N={n} seed {seed}: adaptive {ours:?}\n      fixed 10N {theirs:?}");
        assert!(
            ours.completed > theirs.completed,
            "N={n} seed {seed}: adaptive completed {} <= fixed {}",
            ours.completed,
            theirs.completed
        );
        assert!(
            ours.dropped * 3 < theirs.dropped,
            "N={n} seed {seed}: adaptive dropped {} vs {}",
            ours.dropped,
            theirs.dropped
        );
    }
}

#[test]
fn climbs_back_when_the_network_carries_more() {
    for seed in 0..4 {
        let mut net = NetModel::half_open(10);
        net.dead_fraction = 0.1;
        let mut sim = Sim::new(Pool::new(adaptive(), seed), net, 100_000, seed * 5 + 2);
        let low = sim.run_sampled(secs(60));
        sim.net.capacity = 50;
        let high = sim.run_sampled(secs(120));
        let before = mean(&low, 30, |s| s.half_open_limit);
        let after = mean(&high, 90, |s| s.half_open_limit);
        println!("seed {seed}: limit at N=10: {before:.1}, at N=50: {after:.1}");
        assert!(
            after > 1.5 * before,
            "seed {seed}: limit {before:.1} -> {after:.1}"
        );
        assert!(
            after >= 25.0,
            "seed {seed}: limit after the rise {after:.1}"
        );
    }
}

#[test]
fn settles_near_a_router_that_counts_open_connections() {
    let n = 60;
    let mut net = NetModel::open(n);
    net.dead_fraction = 0.1;
    // long-lived connections: the table fills with open ones
    net.lifetime = (secs(600), secs(1200));
    let mut sim = Sim::new(Pool::new(adaptive(), 2), net, 50_000, 13);
    let samples = sim.run_sampled(secs(240));
    let limit = mean(&samples, 120, |s| s.connection_limit);
    let open = mean(&samples, 120, |s| s.connected());
    let pending = mean(&samples, 120, |s| s.half_open);
    println!("N={n}: connection limit {limit:.1}, open {open:.1}, half-open {pending:.1}");
    let n = n as f64;
    assert!(open >= 0.8 * n, "open {open:.1}");
    assert!(
        limit <= 1.5 * n,
        "connection limit {limit:.1} stayed far above N"
    );
    assert!(
        pending <= 0.5 * n,
        "kept {pending:.1} attempts in flight into a full table"
    );
}

#[test]
fn reaches_the_configured_maximum_quickly_on_a_perfect_network() {
    let config = PoolConfig::default(); // 200 connections, 64 half-open, 50 dials/s
    let mut sim = Sim::new(Pool::new(config.clone(), 9), NetModel::perfect(), 5_000, 17);
    let mut full_half_open = None;
    let mut full_connections = None;
    sim.run_until(secs(30), |sim| {
        let s = sim.pool.stats();
        if full_half_open.is_none() && s.half_open_limit == config.max_half_open {
            full_half_open = Some(sim.elapsed());
        }
        if full_connections.is_none() && s.connected() == config.max_connections {
            full_connections = Some(sim.elapsed());
        }
    });
    println!(
        "half-open limit at max after {full_half_open:?}, connections after {full_connections:?}"
    );
    // 200 dials at 50/s take 4 s (the burst is 50): the rate, not the learning, binds
    let h = full_half_open.expect("half-open limit reached its maximum");
    let c = full_connections.expect("connections reached their maximum");
    assert!(h <= secs(3), "half-open limit took {h:?}");
    assert!(c <= secs(6), "connections took {c:?}");
    assert_eq!(sim.pool.stats().congestion_events, 0);
}

#[test]
fn learns_a_higher_dead_address_rate_instead_of_collapsing() {
    // The router has room to spare (N = 200). At one minute a tracker
    // returns 100,000 new addresses, 85% of them dead (the first 20,000 had
    // 10%). That is not congestion: the limit must not sink to its floor.
    let mut net = NetModel::half_open(200);
    net.dead_fraction = 0.1;
    let mut config = adaptive();
    config.max_half_open = 60;
    let mut sim = Sim::new(Pool::new(config, 21), net, 20_000, 23);
    let before = sim.run_sampled(secs(60));
    sim.add_candidates(20_000..120_000, 0.85);
    let after = sim.run_sampled(secs(180));
    let limit_before = mean(&before, 30, |s| s.half_open_limit);
    let limit_after = mean(&after, 120, |s| s.half_open_limit);
    let lowest = after
        .iter()
        .map(|(_, s)| s.half_open_limit)
        .min()
        .unwrap_or(0);
    let loss = after.last().map_or(0, |(_, s)| s.expected_loss_permille);
    println!(
        "limit {limit_before:.1} -> {limit_after:.1} (lowest {lowest}), expected loss {loss}‰, dropped {}",
        sim.counters.dropped
    );
    assert!(
        limit_after >= 0.5 * limit_before,
        "{limit_before:.1} -> {limit_after:.1}"
    );
    // addresses that connected before still answer: no deep cut meanwhile
    assert!(
        lowest as f64 >= 0.5 * limit_before,
        "limit fell to {lowest} from {limit_before:.1}"
    );
    assert!(
        loss >= 400,
        "expected loss {loss}‰ after the dead-heavy batch"
    );
    assert_eq!(sim.counters.dropped, 0, "the router never overflowed");
}
