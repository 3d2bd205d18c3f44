//! Plays the largest file of a torrent while it downloads, the way a video player would:
//! reads it through a `FileStream` at a fixed bitrate, one tenth of a second at a time,
//! and counts the stalls (a read that did not come back before the player's buffer ran
//! dry). Optionally starts with a seek, as a player does to read a file's index, and
//! jumps ahead once during playback (`--jump FRACTION`, after 3 s), as a viewer who skips
//! a scene does: the stream's read-ahead around the old position is dropped at the first
//! read at the new one, so the new position is fetched first.
//!
//! ```text
//! cargo run --release -p shoal --example play_while_downloading -- \
//!     <file.torrent | magnet:...> [--bitrate BYTES_PER_S] [--seek-end] [--jump FRACTION]
//!     [--out DIR] [--peer ADDR]...
//! ```

use std::time::{Duration, Instant};

use shoal::{AddTorrent, Session, SessionConfig, Source};

/// Seconds of playback the player keeps buffered before it stalls.
const BUFFER_SECS: f64 = 2.0;
/// Playback time before `--jump`.
const JUMP_AFTER: Duration = Duration::from_secs(3);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut torrent = None;
    let mut bitrate: u64 = 1_000_000;
    let mut seek_end = false;
    let mut jump: Option<f64> = None;
    let mut out = String::from(".");
    let mut peers = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bitrate" => bitrate = args.next().ok_or("--bitrate needs a value")?.parse()?,
            "--seek-end" => seek_end = true,
            "--jump" => {
                let f: f64 = args.next().ok_or("--jump needs a fraction")?.parse()?;
                if !(0.0..1.0).contains(&f) {
                    return Err("--jump takes a fraction of the file, from 0 to below 1".into());
                }
                jump = Some(f);
            }
            "--out" => out = args.next().ok_or("--out needs a folder")?,
            "--peer" => peers.push(args.next().ok_or("--peer needs an address")?.parse()?),
            _ if torrent.is_none() => torrent = Some(a),
            _ => return Err(format!("unexpected argument {a}").into()),
        }
    }
    let torrent = torrent.ok_or(
        "usage: play_while_downloading <file.torrent | magnet:...> [--bitrate N] [--seek-end] [--jump FRACTION] [--out DIR] [--peer ADDR]...",
    )?;

    let session = Session::new(SessionConfig {
        listen: Some("0.0.0.0:0".parse()?),
        ..SessionConfig::default()
    })
    .await?;
    let mut add = AddTorrent::new(Source::parse(&torrent), out);
    add.peers = peers;
    let handle = session.add(add).await?;
    let meta = handle.wait_metainfo().await?;
    let (index, file) = meta
        .files()
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.pad)
        .max_by_key(|(_, f)| f.length)
        .ok_or("the torrent lists no file")?;
    let mut stream = handle.stream_file(index).await?;
    // What a player reads ahead: its buffer.
    stream.set_readahead((bitrate as f64 * BUFFER_SECS) as u64);
    eprintln!(
        "playing {} ({} bytes) at {bitrate} B/s",
        file.path,
        stream.len()
    );

    if seek_end {
        let at = stream.len().saturating_sub(64 * 1024);
        let started = Instant::now();
        let tail = stream.read_at(at, 64 * 1024).await?;
        eprintln!(
            "seek near the end: {} bytes in {:.0} ms",
            tail.len(),
            started.elapsed().as_secs_f64() * 1e3
        );
    }

    // Playback: every tick the player consumes a tenth of a second of data. A read that
    // takes longer than what is buffered is a stall.
    let tick = Duration::from_millis(100);
    let per_tick = (bitrate / 10).max(1) as usize;
    let mut buffered = BUFFER_SECS;
    let mut stalls = 0;
    let mut pos = 0;
    let started = Instant::now();
    while pos < stream.len() {
        if let Some(f) = jump
            && started.elapsed() >= JUMP_AFTER
        {
            // The viewer skips ahead: what was buffered is thrown away and playback
            // waits for the first bytes at the new position.
            jump = None;
            let from = pos;
            pos = (stream.len() as f64 * f) as u64;
            let t = Instant::now();
            let have = handle.stats().pieces_have;
            let data = stream.read_at(pos, per_tick).await?;
            pos += data.len() as u64;
            eprintln!(
                "jump from {from} to {} bytes: first bytes in {:.0} ms, {} pieces verified meanwhile",
                pos - data.len() as u64,
                t.elapsed().as_secs_f64() * 1e3,
                handle.stats().pieces_have - have
            );
            buffered = BUFFER_SECS;
            continue;
        }
        let t = Instant::now();
        // A tenth of a second of data (a read stops at a piece's end: read on).
        let tick_end = (pos + per_tick as u64).min(stream.len());
        while pos < tick_end {
            let data = stream.read_at(pos, (tick_end - pos) as usize).await?;
            pos += data.len() as u64;
        }
        let waited = t.elapsed().as_secs_f64();
        buffered -= waited;
        if buffered < 0.0 {
            stalls += 1;
            eprintln!("stall at {pos} bytes: waited {waited:.2} s");
            buffered = BUFFER_SECS;
        }
        // Playing what was read refills the buffer up to its size.
        buffered = (buffered + tick.as_secs_f64()).min(BUFFER_SECS);
        tokio::time::sleep(tick).await;
    }
    println!(
        "played {} bytes in {:.1} s with {stalls} stalls",
        pos,
        started.elapsed().as_secs_f64()
    );
    session.shutdown().await;
    Ok(())
}
