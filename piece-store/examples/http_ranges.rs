//! Not BitTorrent: reassemble a file downloaded as random HTTP ranges.
//!
//! A tiny HTTP/1.1 server on 127.0.0.1 (in this program, std only) serves a file and a
//! manifest of SHA-1 hashes, one per 256 KiB chunk (as zsync or a chunked CDN manifest
//! would). Four downloader threads fetch 64 KiB ranges in random order with `Range:`
//! requests and hand them to a `PieceStore`, which writes them in place and verifies each
//! chunk when it is complete. The server corrupts one response on purpose: that chunk
//! fails verification and is fetched again.
//!
//! Run: `cargo run -p shoal-piece-store --example http_ranges`

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};
use shoal_piece_store::{
    BlockWrite, FileEntry, FileStorage, FileStorageOptions, Layout, PieceHashes, PieceStore,
};

const CHUNK: u64 = 256 * 1024;
const RANGE: u32 = 64 * 1024;
const SIZE: usize = 5 * 1024 * 1024 + 12_345;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let payload: Arc<Vec<u8>> = Arc::new(
        (0..SIZE)
            .map(|i| (i as u8).wrapping_mul(151) ^ (i >> 13) as u8)
            .collect(),
    );
    let manifest: String = payload
        .chunks(CHUNK as usize)
        .map(|c| {
            let hex: String = Sha1::digest(c).iter().map(|b| format!("{b:02x}")).collect();
            hex + "\n"
        })
        .collect();

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let corrupted_once = Arc::new(AtomicBool::new(false));
    let server = {
        let (payload, stop, corrupted_once) =
            (payload.clone(), stop.clone(), corrupted_once.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(conn) = conn {
                    let _ = serve(conn, &payload, &manifest, &corrupted_once);
                }
            }
        })
    };

    // The client side: learn the size and the chunk hashes, then fetch ranges at random.
    let size: u64 = request(addr, "HEAD", "/file", None)?.0.parse()?;
    let hashes: Vec<[u8; 20]> = String::from_utf8(request(addr, "GET", "/manifest", None)?.1)?
        .lines()
        .map(|l| {
            let mut h = [0u8; 20];
            for (i, b) in h.iter_mut().enumerate() {
                *b = u8::from_str_radix(&l[2 * i..2 * i + 2], 16).unwrap_or(0);
            }
            h
        })
        .collect();
    let layout = Layout::new(vec![FileEntry::new("download.bin", size)], CHUNK)?;
    let out_dir = std::env::temp_dir().join(format!("shoal-http-ranges-{}", std::process::id()));
    let storage = FileStorage::new(&out_dir, &layout, FileStorageOptions::default())?;
    let store = Arc::new(PieceStore::new(
        layout.clone(),
        storage,
        PieceHashes::V1(hashes),
    )?);

    let mut queue: Vec<(u32, u32)> = Vec::new();
    for piece in 0..layout.num_pieces() {
        let len = layout.piece_size(piece)?;
        queue.extend((0..len).step_by(RANGE as usize).map(|o| (piece, o)));
    }
    shuffle(&mut queue, 0x1234_5678);
    let queue = Arc::new(Mutex::new(queue));
    let failed_checks = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (queue, store, failed) = (queue.clone(), store.clone(), failed_checks.clone());
            std::thread::spawn(move || -> Result<(), BoxError> {
                let deadline = Instant::now() + Duration::from_secs(60);
                while Instant::now() < deadline {
                    let Some((piece, offset)) = queue.lock().map_err(|_| "poisoned")?.pop() else {
                        if store.is_complete() {
                            return Ok(());
                        }
                        std::thread::yield_now();
                        continue;
                    };
                    let len = RANGE.min(store.layout().piece_size(piece)? - offset);
                    let (start, _) = store.layout().piece_range(piece)?;
                    let first = start + u64::from(offset);
                    let range = format!("bytes={}-{}", first, first + u64::from(len) - 1);
                    let body = request(addr, "GET", "/file", Some(&range))?.1;
                    if body.len() != len as usize {
                        queue.lock().map_err(|_| "poisoned")?.push((piece, offset));
                        continue;
                    }
                    if store.write_block(piece, offset, &body)? == BlockWrite::PieceComplete
                        && !store.verify_piece(piece)?
                    {
                        failed.fetch_add(1, Ordering::Relaxed);
                        let mut q = queue.lock().map_err(|_| "poisoned")?;
                        let plen = store.layout().piece_size(piece)?;
                        q.extend((0..plen).step_by(RANGE as usize).map(|o| (piece, o)));
                    }
                }
                Err("download did not finish in 60 s".into())
            })
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| "worker panicked")??;
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let _ = TcpStream::connect(addr); // wake the accept loop so it sees `stop`
    let _ = server.join();

    store.save_resume(out_dir.join("download.resume"))?;
    let got = std::fs::read(out_dir.join("download.bin"))?;
    let same = got == *payload;
    println!(
        "{} bytes in {} chunks from {} random ranges over HTTP in {:.2?}; {} chunk(s) failed \
         verification and were fetched again; file identical: {}",
        size,
        layout.num_pieces(),
        size.div_ceil(u64::from(RANGE)),
        elapsed,
        failed_checks.load(Ordering::Relaxed),
        same
    );
    std::fs::remove_dir_all(&out_dir)?;
    if !same {
        return Err("reassembled file differs".into());
    }
    Ok(())
}

/// One request per connection: returns (Content-Length header, body).
fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    range: Option<&str>,
) -> Result<(String, Vec<u8>), BoxError> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let range = range.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{range}Connection: close\r\n\r\n"
    )?;
    let mut reader = BufReader::new(s);
    let mut length = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().to_string();
        }
    }
    let mut body = Vec::new();
    if method != "HEAD" {
        let n: u64 = length.parse()?;
        reader.take(n).read_to_end(&mut body)?;
    }
    Ok((length, body))
}

/// Answer one request: HEAD/GET /file (with an optional `Range: bytes=a-b`), GET /manifest.
fn serve(
    conn: TcpStream,
    payload: &[u8],
    manifest: &str,
    corrupted_once: &AtomicBool,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut range = None;
    let mut line = String::new();
    for _ in 0..100 {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
            let mut parts = v.trim().splitn(2, '-');
            let a: usize = parts.next().and_then(|x| x.parse().ok()).unwrap_or(0);
            let b: usize = parts
                .next()
                .and_then(|x| x.parse().ok())
                .unwrap_or(usize::MAX);
            range = Some((a, b.min(payload.len().saturating_sub(1))));
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut conn = conn;
    match (method, path, range) {
        ("HEAD", "/file", _) => write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            payload.len()
        ),
        ("GET", "/manifest", _) => {
            write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{manifest}",
                manifest.len()
            )
        }
        ("GET", "/file", Some((a, b))) if a <= b && b < payload.len() => {
            let mut body = payload[a..=b].to_vec();
            // Corrupt one response, once, to show that bad data never passes.
            if a >= 1 << 20 && !corrupted_once.swap(true, Ordering::Relaxed) {
                body[0] ^= 0xff;
            }
            write!(
                conn,
                "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {a}-{b}/{}\r\nContent-Length: {}\r\n\r\n",
                payload.len(),
                body.len()
            )?;
            conn.write_all(&body)
        }
        _ => write!(
            conn,
            "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\n\r\n"
        ),
    }
}

fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}
