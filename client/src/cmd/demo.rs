//! `shoal demo`: a tracker, one seeder and four leechers in one process on 127.0.0.1.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use metainfo::TorrentBuilder;
use shoal::{AddTorrent, Event, Session, SessionConfig, Source, TorrentHandle};

/// Arguments of `shoal demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Payload size in MiB.
    #[arg(long, default_value_t = 64)]
    pub size_mib: u64,
    /// Number of leechers.
    #[arg(long, default_value_t = 4)]
    pub leechers: usize,
}

/// Runs `shoal demo`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(demo(args))
}

fn fill(buf: &mut [u8], seed: u64) {
    let mut rng = shoal::SmallRng::seeded(seed);
    rng.fill(buf);
}

/// Writes a multi-file payload of about `total` bytes under `dir/name`.
fn make_payload(dir: &Path, total: u64) -> anyhow::Result<std::path::PathBuf> {
    let root = dir.join("shoal-demo");
    // Uneven sizes so pieces straddle files; one nested folder; one tiny file.
    let parts = [
        ("intro.txt", 1u64),
        ("video/part1.bin", 35),
        ("video/part2.bin", 25),
        ("extras/notes.bin", 15),
        ("extras/deep/data.bin", 24),
    ];
    let weight: u64 = parts.iter().map(|p| p.1).sum();
    let mut written = 0;
    for (i, (name, w)) in parts.iter().enumerate() {
        let len = if i + 1 == parts.len() {
            total - written
        } else {
            total * w / weight + 12_345
        };
        written += len;
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().context("path has a parent")?)?;
        let mut data = vec![0u8; len as usize];
        fill(&mut data, i as u64 + 7);
        std::fs::write(&path, data).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(root)
}

async fn wait_complete(h: &TorrentHandle, within: Duration) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let mut events = h.events();
    tokio::time::timeout(within, async {
        loop {
            if h.stats().complete {
                return Ok(start.elapsed());
            }
            match events.next().await {
                Some(Event::Completed) => return Ok(start.elapsed()),
                Some(Event::Error { message }) => anyhow::bail!("{message}"),
                Some(_) => {}
                None => anyhow::bail!("a torrent stopped unexpectedly"),
            }
        }
    })
    .await
    .map_err(|_| anyhow::anyhow!("not complete after {} s: {:?}", within.as_secs(), h.stats()))?
}

fn same_tree(a: &Path, b: &Path) -> anyhow::Result<u64> {
    let mut bytes = 0;
    for entry in std::fs::read_dir(a)? {
        let path = entry?.path();
        let other = b.join(path.file_name().context("file name")?);
        if path.is_dir() {
            bytes += same_tree(&path, &other)?;
        } else {
            let x = std::fs::read(&path)?;
            let y =
                std::fs::read(&other).with_context(|| format!("{} is missing", other.display()))?;
            if x != y {
                anyhow::bail!("{} differs from the original", other.display());
            }
            bytes += x.len() as u64;
        }
    }
    Ok(bytes)
}

async fn demo(args: Args) -> anyhow::Result<ExitCode> {
    let size = args.size_mib.max(1) * 1024 * 1024;
    let tmp = tempfile::tempdir().context("cannot create a temporary folder")?;
    let tracker = tracker::Tracker::start(tracker::TrackerConfig {
        http: Some("127.0.0.1:0".parse()?),
        udp: Some("127.0.0.1:0".parse()?),
        udp_workers: 1,
        interval: Duration::from_secs(5),
        ..tracker::TrackerConfig::default()
    })
    .await
    .context("cannot start the tracker")?;
    let announce = tracker
        .announce_url_http()
        .context("the tracker has no HTTP address")?;
    println!("tracker   {announce}");

    let seed_dir = tmp.path().join("seeder");
    let payload = make_payload(&seed_dir, size)?;
    let t = Instant::now();
    let meta = TorrentBuilder::new(&payload)
        .piece_length(256 * 1024)
        .tracker(announce.clone())
        .tracker_tier(vec![tracker.announce_url_udp().unwrap_or_default()])
        .build()
        .context("cannot create the torrent")?;
    println!(
        "payload   {} MiB in {} files, {} pieces, hashed in {:.2} s",
        size / (1024 * 1024),
        meta.files().iter().filter(|f| !f.pad).count(),
        meta.num_pieces(),
        t.elapsed().as_secs_f64()
    );
    let torrent = meta.to_torrent_bytes();
    let config = || SessionConfig {
        listen: Some("127.0.0.1:0".parse().expect("literal")),
        min_announce_interval: Duration::from_secs(2),
        ..SessionConfig::default()
    };

    let seeder = Session::new(config()).await?;
    let mut add = AddTorrent::new(Source::TorrentBytes(torrent.clone()), &seed_dir);
    add.verify = true;
    let seed = seeder.add(add).await?;
    wait_complete(&seed, Duration::from_secs(120)).await?;
    println!(
        "seeder    {} ready",
        seeder.listen_addr().map_or("-".into(), |a| a.to_string())
    );

    let start = Instant::now();
    let mut leechers = Vec::new();
    for i in 0..args.leechers {
        let s = Session::new(config()).await?;
        let out = tmp.path().join(format!("leecher{i}"));
        let h = s
            .add(AddTorrent::new(Source::TorrentBytes(torrent.clone()), &out))
            .await?;
        leechers.push((s, h, out));
    }
    let mut failures = 0;
    let waits = leechers
        .iter()
        .map(|(_, h, _)| wait_complete(h, Duration::from_secs(300)));
    let results = futures::future::join_all(waits).await;
    // The swarm's time: until the last leecher completed (byte checks come after).
    let wall = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .max()
        .copied()
        .unwrap_or_else(|| start.elapsed())
        .as_secs_f64();
    for (i, ((s, h, out), result)) in leechers.iter().zip(results).enumerate() {
        match result {
            Ok(d) => {
                let st = h.stats();
                let verified = same_tree(&payload, &out.join("shoal-demo"));
                match verified {
                    Ok(bytes) if bytes == size => println!(
                        "leecher{i}  {} done in {:.2} s, every byte matches ({} from peers)",
                        s.listen_addr().map_or("-".into(), |a| a.to_string()),
                        d.as_secs_f64(),
                        indicatif::HumanBytes(st.downloaded),
                    ),
                    Ok(bytes) => {
                        failures += 1;
                        println!("leecher{i}  FAILED: {bytes} bytes compared, expected {size}");
                    }
                    Err(e) => {
                        failures += 1;
                        println!("leecher{i}  FAILED: {e:#}");
                    }
                }
            }
            Err(e) => {
                failures += 1;
                println!("leecher{i}  FAILED: {e:#}");
            }
        }
    }
    let total = size as f64 * args.leechers as f64;
    let uploaded = seed.stats().uploaded;
    println!(
        "swarm     {} leechers × {} MiB in {wall:.2} s: {:.0} MB/s delivered; the seeder sent {} ({:.1} copies), the leechers traded the rest",
        args.leechers,
        size / (1024 * 1024),
        total / wall / 1e6,
        indicatif::HumanBytes(uploaded),
        uploaded as f64 / size as f64
    );
    for (s, _, _) in &leechers {
        s.shutdown().await;
    }
    seeder.shutdown().await;
    tracker.shutdown().await;
    if failures > 0 {
        println!("demo FAILED ({failures} leechers)");
        return Ok(ExitCode::FAILURE);
    }
    println!("demo OK");
    Ok(ExitCode::SUCCESS)
}
