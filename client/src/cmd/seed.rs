//! `shoal seed`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use shoal::{AddTorrent, Event, Source, TorrentState};

use super::download::{Report, start_session, watch};
use super::progress::parse_rate;

/// Arguments of `shoal seed`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The .torrent file.
    pub torrent: PathBuf,
    /// The folder that holds `<torrent name>`.
    #[arg(long, value_name = "PATH")]
    pub data: PathBuf,
    /// Address to accept peers on.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:6881")]
    pub listen: SocketAddr,
    /// A peer to connect to (repeatable).
    #[arg(long = "peer", value_name = "ADDR")]
    pub peers: Vec<SocketAddr>,
    /// Upload limit, e.g. 500k, 10M (bytes per second).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub max_up: Option<u64>,
    #[command(flatten)]
    pub report: Report,
}

/// Runs `shoal seed`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    super::catch_file_size_signal(&rt);
    rt.block_on(seed(args))
}

async fn seed(args: Args) -> anyhow::Result<ExitCode> {
    if !args.torrent.exists() {
        anyhow::bail!("{} does not exist", args.torrent.display());
    }
    if !args.data.is_dir() {
        anyhow::bail!(
            "{} is not a folder (give the folder that holds the torrent's file or folder)",
            args.data.display()
        );
    }
    let session = start_session(args.listen, None, args.max_up).await?;
    let mut add = AddTorrent::new(Source::TorrentFile(args.torrent.clone()), &args.data);
    add.verify = true;
    add.peers = args.peers.clone();
    let handle = session.add(add).await?;
    // The check runs first; only complete data is seeded.
    let mut events = handle.events();
    let checked = tokio::time::timeout(Duration::from_secs(24 * 3600), async {
        loop {
            let s = handle.stats();
            if matches!(
                s.state,
                TorrentState::Seeding | TorrentState::Downloading | TorrentState::Error
            ) {
                return Ok(s);
            }
            match events.next().await {
                Some(Event::Error { message }) => return Err(anyhow::anyhow!(message)),
                Some(_) => {}
                None => return Err(anyhow::anyhow!("the torrent stopped unexpectedly")),
            }
        }
    })
    .await
    .context("checking the data took too long")??;
    if !checked.complete {
        session.shutdown().await;
        anyhow::bail!(
            "the data in {} does not match the torrent: {} of {} pieces are good",
            args.data.display(),
            checked.pieces_have,
            checked.pieces_total
        );
    }
    if !args.report.quiet && !args.report.json {
        eprintln!(
            "seeding {} on {} (Ctrl-C to stop)",
            checked.name.unwrap_or_default(),
            session.listen_addr().map_or("-".into(), |a| a.to_string())
        );
    }
    let code = watch(&handle, args.report, false).await?;
    session.shutdown().await;
    Ok(if code == ExitCode::from(130) {
        ExitCode::SUCCESS
    } else {
        code
    })
}
