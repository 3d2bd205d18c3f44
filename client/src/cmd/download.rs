//! `shoal download`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use shoal::{AddTorrent, Event, Limits, Session, SessionConfig, Source, TorrentHandle};

use super::progress::{Progress, parse_rate};

/// Arguments of `shoal download`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A .torrent file or a magnet link.
    pub torrent: String,
    /// Folder to download into (the payload lands at DIR/<torrent name>).
    #[arg(short = 'o', long = "output", value_name = "DIR", default_value = ".")]
    pub output: PathBuf,
    /// Keep seeding after the download completes (until Ctrl-C).
    #[arg(long)]
    pub seed: bool,
    #[command(flatten)]
    pub swarm: Swarm,
    /// Download pieces in order (for playing while downloading).
    #[arg(long)]
    pub sequential: bool,
    #[command(flatten)]
    pub report: Report,
}

/// Where and how fast a downloading command trades with peers.
#[derive(Debug, Clone, clap::Args)]
pub struct Swarm {
    /// A peer to connect to (repeatable), e.g. 127.0.0.1:6881 or [::1]:6881.
    #[arg(long = "peer", value_name = "ADDR")]
    pub peers: Vec<SocketAddr>,
    /// Address to accept peers on.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:6881")]
    pub listen: SocketAddr,
    /// Download limit, e.g. 500k, 10M (bytes per second).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub max_down: Option<u64>,
    /// Upload limit, e.g. 500k, 10M (bytes per second).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub max_up: Option<u64>,
}

/// How a command reports: a progress bar, JSON lines, or nothing but errors.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Report {
    /// Print progress and events as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs `shoal download`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    super::catch_file_size_signal(&rt);
    let code = rt.block_on(download(args));
    // Everything is saved and announced by now: do not wait for idle worker threads.
    rt.shutdown_background();
    code
}

/// Starts a session on `listen`, or on a free port of the same address if it is taken.
pub(crate) async fn start_session(
    listen: SocketAddr,
    max_down: Option<u64>,
    max_up: Option<u64>,
) -> anyhow::Result<Session> {
    let config = |listen| SessionConfig {
        listen: Some(listen),
        max_down,
        max_up,
        ..SessionConfig::default()
    };
    match Session::new(config(listen)).await {
        Ok(s) => Ok(s),
        Err(_) if listen.port() != 0 => {
            let mut any = listen;
            any.set_port(0);
            Ok(Session::new(config(any)).await?)
        }
        Err(e) => Err(e.into()),
    }
}

async fn download(args: Args) -> anyhow::Result<ExitCode> {
    let (session, handle) =
        start_torrent(&args.torrent, &args.output, &args.swarm, args.sequential).await?;
    let code = watch(&handle, args.report, !args.seed).await;
    session.shutdown().await;
    code
}

/// Checks the torrent argument and the output folder, starts a session and adds the
/// torrent to it.
pub(crate) async fn start_torrent(
    torrent: &str,
    output: &std::path::Path,
    swarm: &Swarm,
    sequential: bool,
) -> anyhow::Result<(Session, TorrentHandle)> {
    let source = Source::parse(torrent);
    if let Source::TorrentFile(p) = &source
        && !p.exists()
    {
        anyhow::bail!(
            "{} does not exist (give a .torrent file or a magnet: link)",
            p.display()
        );
    }
    std::fs::create_dir_all(output)
        .with_context(|| format!("cannot create the folder {}", output.display()))?;
    let session = start_session(swarm.listen, swarm.max_down, swarm.max_up).await?;
    let mut add = AddTorrent::new(source, output);
    add.peers = swarm.peers.clone();
    add.sequential = sequential;
    add.limits = Limits::default();
    let handle = session.add(add).await?;
    Ok((session, handle))
}

/// Shows progress until completion (`exit_on_complete`), an error, or Ctrl-C.
pub(crate) async fn watch(
    handle: &TorrentHandle,
    report: Report,
    exit_on_complete: bool,
) -> anyhow::Result<ExitCode> {
    let mut events = handle.events();
    let mut progress = Progress::new(report.json, report.quiet);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut completed = false;
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    let mut tracker_errors = std::collections::HashSet::new();
    loop {
        tokio::select! {
            _ = tick.tick() => progress.update(&handle.stats()),
            _ = &mut ctrl_c => {
                progress.finish(&handle.stats());
                handle.stop().await;
                if completed {
                    return Ok(ExitCode::SUCCESS);
                }
                progress.line("stopped; resume data saved — run the same command to continue");
                return Ok(ExitCode::from(130));
            }
            e = events.next() => {
                let Some(e) = e else {
                    anyhow::bail!("the torrent stopped unexpectedly");
                };
                progress.event(&e);
                match e {
                    Event::Completed => {
                        completed = true;
                        if exit_on_complete {
                            progress.finish(&handle.stats());
                            handle.stop().await;
                            return Ok(ExitCode::SUCCESS);
                        }
                        progress.line("download complete and verified; seeding until Ctrl-C");
                    }
                    Event::Error { message } => {
                        progress.finish(&handle.stats());
                        handle.stop().await;
                        anyhow::bail!("{message}");
                    }
                    Event::Warning { message } => progress.line(&message),
                    // Said once per tracker; the engine keeps retrying.
                    Event::TrackerReply { url, error: Some(err), .. }
                        if tracker_errors.insert(url.clone()) =>
                    {
                        progress.line(&format!("{err} (will retry)"));
                    }
                    _ => {}
                }
            }
        }
    }
}
