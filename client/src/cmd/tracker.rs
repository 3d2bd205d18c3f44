//! `shoal tracker`: run an HTTP and/or UDP tracker until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use tracker::{RunningTracker, Tracker, TrackerConfig};

/// Arguments of `shoal tracker`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Serve HTTP announce/scrape, statistics and published torrents on this address.
    /// Without --http and --udp, both listen on 0.0.0.0:6969.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Serve UDP (BEP 15) announce/scrape on this address.
    #[arg(long, value_name = "ADDR")]
    udp: Option<SocketAddr>,
    /// UDP worker threads (0: one per CPU).
    #[arg(long, value_name = "N", default_value_t = 0)]
    udp_workers: usize,
    /// Publish the .torrent files of this folder: a page at /, an RSS feed at /feed.xml.
    #[arg(long, value_name = "DIR")]
    torrents: Option<PathBuf>,
    /// Accept `POST /upload` of .torrent files into --torrents from requests with the
    /// header `Authorization: Bearer <T>`.
    #[arg(long, value_name = "T", requires = "torrents")]
    upload_token: Option<String>,
    /// Announce interval told to clients, in seconds (peers expire after 3 intervals).
    #[arg(long, value_name = "SECS", default_value_t = 1800)]
    interval: u64,
    /// Print statistics every this many seconds (0: only when stopping).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    stats_every: u64,
    /// Print machine-readable JSON lines instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `shoal tracker`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (http, udp) = match (args.http, args.udp) {
        (None, None) => {
            let any = SocketAddr::from(([0, 0, 0, 0], 6969));
            (Some(any), Some(any))
        }
        other => other,
    };
    let config = TrackerConfig {
        http,
        udp,
        udp_workers: args.udp_workers,
        torrents_dir: args.torrents,
        upload_token: args.upload_token,
        interval: Duration::from_secs(args.interval.max(1)),
        ..TrackerConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("shoal-tracker")
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let tracker = Tracker::start(config)
            .await
            .context("starting the tracker")?;
        print_started(&tracker, args.json);
        let every = Duration::from_secs(args.stats_every.max(1));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            tokio::select! {
                r = &mut ctrl_c => {
                    r.context("waiting for Ctrl-C")?;
                    break;
                }
                _ = tick.tick(), if args.stats_every > 0 => {
                    print_stats("stats", &tracker.stats(), args.json);
                }
            }
        }
        let stats = tracker.stats();
        tracker.shutdown().await;
        print_stats("stopped", &stats, args.json);
        Ok(ExitCode::SUCCESS)
    })
}

fn print_stats(event: &str, stats: &tracker::StatsSnapshot, json: bool) {
    if json {
        println!("{}", serde_json::json!({ "event": event, "stats": stats }));
    } else {
        println!(
            "{event} after {} s: {} swarms, {} peers ({} seeders); {} announces ({:.1}/s), {} scrapes, {} errors",
            stats.uptime_secs,
            stats.swarms,
            stats.peers,
            stats.seeders,
            stats.announces(),
            stats.announces_per_sec,
            stats.scrapes(),
            stats.errors(),
        );
    }
}

fn print_started(tracker: &RunningTracker, json: bool) {
    let http = tracker.announce_url_http();
    let udp = tracker.announce_url_udp();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "event": "started",
                "http_addr": tracker.http_addr(),
                "udp_addr": tracker.udp_addr(),
                "announce_http": http,
                "announce_udp": udp,
            })
        );
        return;
    }
    if let (Some(url), Some(addr)) = (&http, tracker.http_addr()) {
        println!("HTTP tracker: {url}  (stats: http://{addr}/stats, torrents: http://{addr}/)");
    }
    if let Some(url) = &udp {
        println!("UDP tracker:  {url}");
    }
    println!("Ctrl-C stops it.");
}
