//! The pool drives a parallel HTTP range download from loopback "mirrors".
//!
//! Three mirrors serve the same 16 MiB file with HTTP/1.1 range requests
//! (hand-written HTTP over tokio sockets): mirror A serves up to 4
//! connections at once, mirror B up to 2, mirror C is a black hole that
//! accepts connections and never answers. Connections beyond a mirror's
//! limit get no answer either, as from an overloaded server or router.
//!
//! The pool's keys are `(mirror, lane)` pairs, so it may hold several
//! connections to one mirror: it learns how many get answers, backs off from
//! the black hole, and the download completes from what answers.
//!
//! cargo run -p shoal-conn-pool --example range_download

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shoal_conn_pool::{CloseReason, ClosedInfo, FailReason, Pool, PoolConfig, Source};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::{Instant, sleep_until, timeout};

const FILE_LEN: u64 = 16 << 20;
const CHUNK: u64 = 256 << 10;
const LANES: u8 = 8;

fn byte_at(i: u64) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 9)) as u8
}

/// A mirror serving `slots` connections at once; `slots == 0` never answers.
async fn mirror(slots: usize) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let slots = Arc::new(Semaphore::new(slots));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let permit = slots.clone().try_acquire_owned().ok();
            tokio::spawn(async move {
                let _ = serve(stream, permit.is_some()).await;
                drop(permit);
            });
        }
    });
    Ok(addr)
}

/// Answers range requests until the client closes; stays silent if `answer`
/// is false.
async fn serve(mut stream: TcpStream, answer: bool) -> std::io::Result<()> {
    let mut buf = Vec::new();
    loop {
        let Some(head) = read_head(&mut stream, &mut buf).await? else {
            return Ok(());
        };
        if !answer {
            continue; // read and ignore, until the client gives up
        }
        let range = head
            .lines()
            .find_map(|l| l.strip_prefix("Range: bytes="))
            .and_then(|r| r.split_once('-'))
            .and_then(|(a, b)| {
                Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?))
            });
        let Some((first, last)) = range.filter(|&(a, b)| a <= b && b < FILE_LEN) else {
            stream
                .write_all(b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\n\r\n")
                .await?;
            continue;
        };
        let body: Vec<u8> = (first..=last).map(byte_at).collect();
        let header = format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {first}-{last}/{FILE_LEN}\r\n\r\n",
            body.len()
        );
        stream.write_all(header.as_bytes()).await?;
        stream.write_all(&body).await?;
    }
}

/// Reads one header block (up to the blank line); `None` at a clean EOF.
/// Bytes after the header stay in `buf`.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<String>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 4);
            return Ok(Some(head));
        }
        if buf.len() > 16 << 10 {
            return Err(std::io::Error::other("header longer than 16 KiB"));
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The pool's key: one connection lane to one mirror.
type Lane = (SocketAddr, u8);

enum Event {
    Connected(Lane),
    Failed(Lane, FailReason),
    Data(u64, Vec<u8>),
    Closed(Lane, ClosedInfo),
}

/// Fetches one range on an open connection: `Ok(None)` if the server did not
/// answer within `limit`.
async fn fetch(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    (first, last): (u64, u64),
    limit: Duration,
) -> std::io::Result<Option<Vec<u8>>> {
    let req = format!("GET /file HTTP/1.1\r\nHost: mirror\r\nRange: bytes={first}-{last}\r\n\r\n");
    stream.write_all(req.as_bytes()).await?;
    let Ok(head) = timeout(limit, read_head(stream, buf)).await else {
        return Ok(None);
    };
    let head = head?.ok_or_else(|| std::io::Error::other("closed before answering"))?;
    if !head.starts_with("HTTP/1.1 206") {
        return Err(std::io::Error::other(format!("unexpected answer: {head}")));
    }
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .filter(|&n| n as u64 == last - first + 1)
        .ok_or_else(|| std::io::Error::other("bad Content-Length"))?;
    while buf.len() < len {
        let mut chunk = vec![0u8; 64 << 10];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::other("closed mid-body"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(buf.drain(..len).collect()))
}

/// One connection: dial, then take ranges from the queue until it is empty.
/// It counts as connected once the first answer arrives.
async fn worker(
    lane: Lane,
    queue: Arc<Mutex<VecDeque<(u64, u64)>>>,
    limit: Duration,
    tx: mpsc::UnboundedSender<Event>,
) {
    let stream = timeout(limit, TcpStream::connect(lane.0)).await;
    let mut stream = match stream {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => return drop(tx.send(Event::Failed(lane, FailReason::Refused))),
        Err(_) => return drop(tx.send(Event::Failed(lane, FailReason::TimedOut))),
    };
    let mut buf = Vec::new();
    let mut bytes_down = 0u64;
    let mut connected = false;
    let reason = loop {
        let Some(range) = queue.lock().unwrap().pop_front() else {
            break CloseReason::Local; // nothing left to fetch
        };
        match fetch(&mut stream, &mut buf, range, limit).await {
            Ok(Some(body)) => {
                if !connected {
                    connected = true;
                    let _ = tx.send(Event::Connected(lane));
                }
                bytes_down += body.len() as u64;
                let _ = tx.send(Event::Data(range.0, body));
            }
            Ok(None) | Err(_) => {
                queue.lock().unwrap().push_front(range);
                if !connected {
                    return drop(tx.send(Event::Failed(lane, FailReason::TimedOut)));
                }
                break CloseReason::Error;
            }
        }
    };
    if !connected {
        // the queue emptied before this lane fetched anything
        let _ = tx.send(Event::Failed(lane, FailReason::Other));
        return;
    }
    let info = ClosedInfo {
        bytes_up: 0,
        bytes_down,
        reason,
    };
    let _ = tx.send(Event::Closed(lane, info));
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mirrors = [
        ("A", mirror(4).await?),
        ("B", mirror(2).await?),
        ("C", mirror(0).await?),
    ];
    let mut config = PoolConfig::default();
    config.max_connections = 16;
    config.max_half_open = 16;
    config.min_half_open = 2;
    config.connect_timeout = Duration::from_millis(500);
    config.backoff_base = Duration::from_millis(250);
    let limit = config.connect_timeout;
    let start = Instant::now();
    let mut pool = Pool::new(config, 2024);
    for (_, addr) in &mirrors {
        for lane in 0..LANES {
            pool.add_candidate((*addr, lane), Source::User, start.into_std());
        }
    }
    let queue: VecDeque<(u64, u64)> = (0..FILE_LEN / CHUNK)
        .map(|i| (i * CHUNK, (i + 1) * CHUNK - 1))
        .collect();
    let queue = Arc::new(Mutex::new(queue));
    let mut file = vec![0u8; FILE_LEN as usize];
    let mut received = 0u64;
    let mut peak = 0usize;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let deadline = start + Duration::from_secs(60);
    while received < FILE_LEN {
        let now = Instant::now();
        if now > deadline {
            return Err(format!("download stalled: {:?}", pool.stats()).into());
        }
        if !queue.lock().unwrap().is_empty() {
            while let Some(lane) = pool.poll_dial(now.into_std()) {
                tokio::spawn(worker(lane, queue.clone(), limit, tx.clone()));
            }
        }
        let cap = now + Duration::from_millis(100);
        let wake = pool
            .next_timeout()
            .map_or(cap, |t| Instant::from_std(t).min(cap));
        tokio::select! {
            Some(event) = rx.recv() => {
                let now = Instant::now().into_std();
                match event {
                    Event::Connected(lane) => {
                        // a connection the pool has no room for still finishes
                        // its range; it is not worth aborting in this example
                        pool.on_connected(&lane, now);
                        peak = peak.max(pool.stats().connected());
                    }
                    Event::Failed(lane, reason) => pool.on_failed(&lane, reason, now),
                    Event::Data(at, body) => {
                        file[at as usize..at as usize + body.len()].copy_from_slice(&body);
                        received += body.len() as u64;
                    }
                    Event::Closed(lane, info) => pool.on_closed(&lane, info, now),
                }
            }
            () = sleep_until(wake) => pool.handle_timeout(Instant::now().into_std()),
        }
    }
    let elapsed = start.elapsed();
    let bad = (0..FILE_LEN).find(|&i| file[i as usize] != byte_at(i));
    if let Some(i) = bad {
        return Err(format!("byte {i} differs").into());
    }
    let stats = pool.stats();
    println!(
        "downloaded {} MiB in {elapsed:.2?} ({:.0} MiB/s), verified",
        FILE_LEN >> 20,
        (FILE_LEN >> 20) as f64 / elapsed.as_secs_f64()
    );
    println!(
        "peak {peak} connections; {} dials, {} connected, {} failed ({} timed out); \
         limits now {} half-open / {} connections",
        stats.dials,
        stats.connects,
        stats.failures,
        stats.timeouts,
        stats.half_open_limit,
        stats.connection_limit
    );
    for (name, addr) in &mirrors {
        let why = pool
            .why_not(&(*addr, 0))
            .map_or("ready".to_string(), |r| r.to_string());
        println!("mirror {name} lane 0: {why}");
    }
    Ok(())
}
