//! `shoal info`: what a .torrent file or a magnet link describes.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use metainfo::{InfoHash, Magnet, Metainfo, TorrentVersion, to_hex};
use serde_json::{Value, json};

/// Largest .torrent file read (real ones are well under a few MiB).
const MAX_TORRENT_FILE: u64 = 64 * 1024 * 1024;

/// Arguments of `shoal info`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A .torrent file, or a magnet URI (`magnet:?xt=...`).
    pub input: String,
    /// Print one JSON object instead of a summary for people.
    #[arg(long)]
    pub json: bool,
}

/// Runs `shoal info`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let out = if args
        .input
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("magnet:"))
    {
        let magnet = Magnet::parse(&args.input)?;
        if args.json {
            magnet_json(&magnet).to_string()
        } else {
            magnet_text(&magnet)
        }
    } else {
        let meta = read_torrent(Path::new(&args.input))?;
        if args.json {
            torrent_json(&meta).to_string()
        } else {
            torrent_text(&meta)
        }
    };
    println!("{}", out.trim_end());
    Ok(ExitCode::SUCCESS)
}

/// Reads and parses a .torrent file, with the file name in every error.
pub fn read_torrent(path: &Path) -> anyhow::Result<Metainfo> {
    let shown = path.display();
    let len = std::fs::metadata(path)
        .with_context(|| format!("cannot read {shown}"))?
        .len();
    anyhow::ensure!(
        len <= MAX_TORRENT_FILE,
        "{shown} is {len} bytes: too large for a .torrent file (limit {MAX_TORRENT_FILE})"
    );
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
    Metainfo::from_bytes(&bytes).with_context(|| format!("invalid torrent {shown}"))
}

fn hex_or_null(hash: Option<Vec<u8>>) -> Value {
    hash.map_or(Value::Null, |h| Value::String(to_hex(&h)))
}

fn hashes_json(ih: InfoHash) -> (Value, Value) {
    (
        hex_or_null(ih.v1().map(Vec::from)),
        hex_or_null(ih.v2().map(Vec::from)),
    )
}

fn version_name(v: TorrentVersion) -> &'static str {
    match v {
        TorrentVersion::V1 => "v1",
        TorrentVersion::V2 => "v2",
        TorrentVersion::Hybrid => "hybrid",
    }
}

/// The `--json` object for a .torrent.
pub fn torrent_json(meta: &Metainfo) -> Value {
    let (v1, v2) = hashes_json(meta.info_hash());
    let files: Vec<Value> = meta
        .files()
        .iter()
        .map(|f| json!({ "path": f.path.iter().collect::<Vec<_>>(), "length": f.length, "pad": f.pad }))
        .collect();
    json!({
        "info_hash_v1": v1,
        "info_hash_v2": v2,
        "version": version_name(meta.version()),
        "name": meta.name(),
        "piece_length": meta.piece_length(),
        "num_pieces": meta.num_pieces(),
        "total_length": meta.total_length(),
        "files": files,
        "trackers": meta.trackers(),
        "web_seeds": meta.web_seeds(),
        "private": meta.is_private(),
        "comment": meta.comment(),
        "created_by": meta.created_by(),
        "creation_date": meta.creation_date(),
        "magnet": Magnet::from_metainfo(meta).to_string(),
    })
}

/// The `--json` object for a magnet link: what the torrent file would say is unknown
/// until the metadata is fetched, so those fields are null.
pub fn magnet_json(m: &Magnet) -> Value {
    let (v1, v2) = hashes_json(m.info_hash);
    let tiers: Vec<Vec<&String>> = m.trackers.iter().map(|t| vec![t]).collect();
    json!({
        "info_hash_v1": v1,
        "info_hash_v2": v2,
        "version": null,
        "name": m.name,
        "piece_length": null,
        "num_pieces": null,
        "total_length": null,
        "files": null,
        "trackers": tiers,
        "web_seeds": m.web_seeds,
        "private": null,
        "peers": m.peers,
        "select_only": m.select_only.iter().map(|&(a, b)| [a, b]).collect::<Vec<_>>(),
        "magnet": m.to_string(),
    })
}

/// `1.50 MiB` style sizes.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

fn torrent_text(meta: &Metainfo) -> String {
    let mut s = String::new();
    let ih = meta.info_hash();
    let real_files: Vec<_> = meta.files().iter().filter(|f| !f.pad).collect();
    let _ = writeln!(s, "Name:          {}", meta.name());
    let _ = writeln!(s, "Version:       {}", version_name(meta.version()));
    if let Some(v1) = ih.v1() {
        let _ = writeln!(s, "Info-hash v1:  {}", to_hex(&v1));
    }
    if let Some(v2) = ih.v2() {
        let _ = writeln!(s, "Info-hash v2:  {}", to_hex(&v2));
    }
    let _ = writeln!(
        s,
        "Size:          {} ({} bytes) in {} file{}",
        human_size(meta.total_length()),
        meta.total_length(),
        real_files.len(),
        if real_files.len() == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        s,
        "Pieces:        {} × {}",
        meta.num_pieces(),
        human_size(meta.piece_length())
    );
    let _ = writeln!(
        s,
        "Private:       {}",
        if meta.is_private() { "yes" } else { "no" }
    );
    if let Some(c) = meta.comment() {
        let _ = writeln!(s, "Comment:       {c}");
    }
    if let Some(c) = meta.created_by() {
        let _ = writeln!(s, "Created by:    {c}");
    }
    if let Some(d) = meta.creation_date() {
        let _ = writeln!(s, "Creation date: {d} (Unix time)");
    }
    if meta.trackers().is_empty() {
        let _ = writeln!(s, "Trackers:      none");
    } else {
        let _ = writeln!(s, "Trackers:");
        for (i, tier) in meta.trackers().iter().enumerate() {
            for url in tier {
                let _ = writeln!(s, "  tier {}: {url}", i + 1);
            }
        }
    }
    if !meta.web_seeds().is_empty() {
        let _ = writeln!(s, "Web seeds:");
        for url in meta.web_seeds() {
            let _ = writeln!(s, "  {url}");
        }
    }
    // The index is the file's place in the torrent's list (pad files count), what
    // `shoal stream --file N` takes.
    let _ = writeln!(s, "Files:");
    for (i, f) in meta.files().iter().enumerate().filter(|(_, f)| !f.pad) {
        let _ = writeln!(
            s,
            "  [{i}] {:>12}  {}",
            human_size(f.length),
            f.display_path()
        );
    }
    let _ = writeln!(s, "Magnet:        {}", Magnet::from_metainfo(meta));
    s
}

fn magnet_text(m: &Magnet) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Magnet link (the file list comes with the metadata from peers)"
    );
    if let Some(name) = &m.name {
        let _ = writeln!(s, "Name:          {name}");
    }
    if let Some(v1) = m.info_hash.v1() {
        let _ = writeln!(s, "Info-hash v1:  {}", to_hex(&v1));
    }
    if let Some(v2) = m.info_hash.v2() {
        let _ = writeln!(s, "Info-hash v2:  {}", to_hex(&v2));
    }
    for t in &m.trackers {
        let _ = writeln!(s, "Tracker:       {t}");
    }
    for w in &m.web_seeds {
        let _ = writeln!(s, "Web seed:      {w}");
    }
    for p in &m.peers {
        let _ = writeln!(s, "Peer:          {p}");
    }
    if let Some(so) = m.select_only_spec() {
        let _ = writeln!(s, "Only files:    {so}");
    }
    s
}
