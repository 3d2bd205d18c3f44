//! `shoal create`: make a .torrent of a file or folder.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use metainfo::{Magnet, TorrentBuilder, TorrentVersion, to_hex};

/// Arguments of `shoal create`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file or folder to make a torrent of.
    pub path: PathBuf,
    /// Where to write the .torrent (default: `<name>.torrent` in the current folder).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A tracker URL; repeat for more tiers. `URL1,URL2` puts URLs in one tier.
    #[arg(short = 't', long = "tracker", value_name = "URL")]
    pub trackers: Vec<String>,
    /// A web seed URL (BEP 19); repeatable.
    #[arg(short = 'w', long = "web-seed", value_name = "URL")]
    pub web_seeds: Vec<String>,
    /// Bytes per piece: a power of two ≥ 16 KiB, e.g. `262144`, `256K`, `1M`
    /// (default: chosen from the total size, about 1500 pieces).
    #[arg(short = 'l', long = "piece-length", value_name = "N", value_parser = parse_size)]
    pub piece_length: Option<u64>,
    /// Set the private flag (BEP 27): peers come from the trackers only.
    #[arg(short = 'p', long)]
    pub private: bool,
    /// A v1 torrent (BEP 3), understood by every client (the default).
    #[arg(long, conflicts_with_all = ["v2", "hybrid"])]
    pub v1: bool,
    /// A v2-only torrent (BEP 52).
    #[arg(long, conflicts_with = "hybrid")]
    pub v2: bool,
    /// A hybrid v1+v2 torrent, with pad files so v1 pieces align with files.
    #[arg(long)]
    pub hybrid: bool,
    /// A comment to put in the torrent.
    #[arg(short = 'c', long, value_name = "TEXT")]
    pub comment: Option<String>,
    /// Leave out the creation date, so the same data always gives the same bytes.
    #[arg(long)]
    pub no_date: bool,
    /// Hashing threads (default: cores + 1).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Parses `262144`, `256K`, `256KiB`, `1M`, `1MiB`.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let (digits, mult) = if let Some(d) = lower.strip_suffix("kib").or(lower.strip_suffix('k')) {
        (d, 1024)
    } else if let Some(d) = lower.strip_suffix("mib").or(lower.strip_suffix('m')) {
        (d, 1024 * 1024)
    } else {
        (lower.as_str(), 1)
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 262144, 256K or 1M"))?;
    let n = n
        .checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))?;
    if !n.is_power_of_two() || n < 16 * 1024 {
        return Err(format!("{n} is not a power of two of at least 16384"));
    }
    Ok(n)
}

/// Runs `shoal create`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let version = if args.v2 {
        TorrentVersion::V2
    } else if args.hybrid {
        TorrentVersion::Hybrid
    } else {
        TorrentVersion::V1
    };
    let mut builder = TorrentBuilder::new(&args.path)
        .version(version)
        .private(args.private);
    for t in &args.trackers {
        let tier: Vec<String> = t
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(String::from)
            .collect();
        builder = builder.tracker_tier(tier);
    }
    for w in &args.web_seeds {
        builder = builder.web_seed(w.clone());
    }
    if let Some(pl) = args.piece_length {
        builder = builder.piece_length(pl);
    }
    if let Some(c) = &args.comment {
        builder = builder.comment(c.clone());
    }
    if let Some(n) = args.threads {
        builder = builder.threads(n);
    }
    if !args.no_date {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        builder = builder.creation_date(Some(now));
    }

    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "hashing {bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .expect("the template is valid"),
        );
        bar
    };
    let meta = builder.build_with_progress(|p| {
        bar.set_length(p.total_bytes);
        bar.set_position(p.hashed_bytes);
    })?;
    bar.finish_and_clear();

    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.torrent", meta.name())));
    std::fs::write(&output, meta.to_torrent_bytes())
        .with_context(|| format!("cannot write {}", output.display()))?;

    let ih = meta.info_hash();
    println!("wrote {}", output.display());
    if let Some(v1) = ih.v1() {
        println!("info-hash v1: {}", to_hex(&v1));
    }
    if let Some(v2) = ih.v2() {
        println!("info-hash v2: {}", to_hex(&v2));
    }
    println!(
        "{} pieces of {} bytes, {} bytes in {} files",
        meta.num_pieces(),
        meta.piece_length(),
        meta.total_length(),
        meta.files().iter().filter(|f| !f.pad).count()
    );
    println!("{}", Magnet::from_metainfo(&meta));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("262144"), Ok(262_144));
        assert_eq!(parse_size("256K"), Ok(262_144));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert!(parse_size("1000").is_err());
        assert!(parse_size("8K").is_err());
        assert!(parse_size("x").is_err());
    }
}
