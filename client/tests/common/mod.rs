//! Helpers shared by the integration tests: payloads, torrents, sessions, waiting.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use metainfo::{Metainfo, TorrentBuilder, TorrentVersion};
use shoal::{AddTorrent, Event, Session, SessionConfig, Source, TorrentHandle};

/// Deterministic pseudo-random bytes.
pub fn payload_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = shoal::SmallRng::seeded(seed);
    let mut v = vec![0u8; len];
    rng.fill(&mut v);
    v
}

/// Writes a folder `root/name` with a few files of the given sizes; returns its path.
pub fn make_folder(root: &Path, name: &str, sizes: &[usize]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    for (i, size) in sizes.iter().enumerate() {
        let path = if i % 2 == 0 {
            dir.join(format!("file{i}.bin"))
        } else {
            dir.join("sub").join(format!("file{i}.bin"))
        };
        std::fs::write(path, payload_bytes(*size, i as u64 + 1)).unwrap();
    }
    dir
}

/// A free TCP port on 127.0.0.1 (for programs that must be told their port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A payload under `dir/seed`: the folder `tree` with files of `folder_sizes`, or the one
/// file `one.bin` of `file_len` pseudo-random bytes from `seed`. Returns (seed folder,
/// payload path).
pub fn seed_payload(
    dir: &Path,
    folder: bool,
    folder_sizes: &[usize],
    file_len: usize,
    seed: u64,
) -> (PathBuf, PathBuf) {
    let seed_dir = dir.join("seed");
    if folder {
        let p = make_folder(&seed_dir, "tree", folder_sizes);
        (seed_dir, p)
    } else {
        std::fs::create_dir_all(&seed_dir).unwrap();
        let p = seed_dir.join("one.bin");
        std::fs::write(&p, payload_bytes(file_len, seed)).unwrap();
        (seed_dir, p)
    }
}

/// An embedded HTTP tracker on loopback that asks for announces every 2 s.
pub async fn start_tracker() -> tracker::RunningTracker {
    tracker::Tracker::start(tracker::TrackerConfig {
        http: Some("127.0.0.1:0".parse().unwrap()),
        interval: Duration::from_secs(2),
        ..tracker::TrackerConfig::default()
    })
    .await
    .unwrap()
}

/// What an interop test through a tracker starts from: the tracker, a temp folder with a
/// payload under `seed_dir`, and a v1 torrent of it announcing to the tracker, written to
/// `torrent`.
pub struct TrackedPayload {
    pub tracker: tracker::RunningTracker,
    pub dir: tempfile::TempDir,
    pub seed_dir: PathBuf,
    pub src: PathBuf,
    pub meta: Metainfo,
    pub torrent: PathBuf,
}

/// A [`TrackedPayload`]: [`seed_payload`] with these arguments, pieces of `piece_length`.
pub async fn tracked_payload(
    folder: bool,
    folder_sizes: &[usize],
    file_len: usize,
    seed: u64,
    piece_length: u64,
) -> TrackedPayload {
    let tracker = start_tracker().await;
    let dir = tempfile::tempdir().unwrap();
    let (seed_dir, src) = seed_payload(dir.path(), folder, folder_sizes, file_len, seed);
    let meta = make_torrent(&src, piece_length, &[tracker.announce_url_http().unwrap()]);
    let torrent = write_torrent(dir.path(), &meta);
    TrackedPayload {
        tracker,
        dir,
        seed_dir,
        src,
        meta,
        torrent,
    }
}

/// Writes `meta` to `dir/t.torrent` and returns that path.
pub fn write_torrent(dir: &Path, meta: &Metainfo) -> PathBuf {
    let torrent = dir.join("t.torrent");
    std::fs::write(&torrent, meta.to_torrent_bytes()).unwrap();
    torrent
}

/// A torrent of `path` with `piece_length` and optional trackers.
pub fn make_torrent(path: &Path, piece_length: u64, trackers: &[String]) -> Metainfo {
    make_torrent_version(path, piece_length, trackers, TorrentVersion::V1)
}

/// Same with a chosen version.
pub fn make_torrent_version(
    path: &Path,
    piece_length: u64,
    trackers: &[String],
    version: TorrentVersion,
) -> Metainfo {
    let mut b = TorrentBuilder::new(path)
        .piece_length(piece_length)
        .version(version);
    for t in trackers {
        b = b.tracker(t.clone());
    }
    b.build().unwrap()
}

/// A loopback session.
pub async fn session(use_trackers: bool) -> Session {
    Session::new(SessionConfig {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        use_trackers,
        min_announce_interval: Duration::from_secs(1),
        ..SessionConfig::default()
    })
    .await
    .unwrap()
}

/// Adds `meta` with data folder `output`.
pub async fn add(
    session: &Session,
    meta: &Metainfo,
    output: &Path,
    peers: Vec<std::net::SocketAddr>,
) -> TorrentHandle {
    let mut add = AddTorrent::new(Source::TorrentBytes(meta.to_torrent_bytes()), output);
    add.peers = peers;
    session.add(add).await.unwrap()
}

/// Waits for `Completed` (or fails on `Error`), within `secs`.
pub async fn wait_completed(handle: &TorrentHandle, secs: u64) {
    if let Err(e) = try_wait_completed(handle, secs).await {
        panic!("{e}");
    }
}

/// [`wait_completed`] that returns what went wrong instead of panicking.
pub async fn try_wait_completed(handle: &TorrentHandle, secs: u64) -> Result<(), String> {
    let mut events = handle.events();
    let wait = async {
        if handle.stats().complete {
            return Ok(());
        }
        while let Some(e) = events.next().await {
            match e {
                Event::Completed => return Ok(()),
                Event::Error { message } => return Err(format!("torrent error: {message}")),
                _ => {}
            }
        }
        Err("event stream ended".to_string())
    };
    tokio::time::timeout(Duration::from_secs(secs), wait)
        .await
        .unwrap_or_else(|_| Err(format!("not complete in {secs} s: {:?}", handle.stats())))
}

/// Downloads `source` into `out` from `seed` in a new session, slowly (400 kB/s), stops
/// once `pieces` pieces are verified (within `secs`), shuts the session down and returns
/// the torrent's statistics at the stop.
pub async fn download_some_then_stop(
    source: Source,
    seed: std::net::SocketAddr,
    out: &Path,
    pieces: u32,
    secs: u64,
) -> shoal::Stats {
    let first = session(false).await;
    let mut a = AddTorrent::new(source, out);
    a.peers = vec![seed];
    a.limits = shoal::Limits {
        down: Some(400_000),
        up: None,
    };
    let h = first.add(a).await.unwrap();
    let mut events = h.events();
    let mut verified = 0;
    tokio::time::timeout(Duration::from_secs(secs), async {
        while let Some(e) = events.next().await {
            if let Event::PieceVerified { .. } = e {
                verified += 1;
                if verified >= pieces {
                    return;
                }
            }
        }
    })
    .await
    .expect("no progress");
    h.stop().await;
    let stopped = h.stats();
    first.shutdown().await;
    stopped
}

/// Every file under `a` has the same bytes under `b`.
pub fn assert_same_tree(a: &Path, b: &Path) {
    let mut n = 0;
    for entry in walk(a) {
        let rel = entry.strip_prefix(a).unwrap();
        let x = std::fs::read(&entry).unwrap();
        let y = std::fs::read(b.join(rel)).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
        assert!(x == y, "{} differs", rel.display());
        n += 1;
    }
    assert!(n > 0, "no files compared");
}

fn walk(p: &Path) -> Vec<PathBuf> {
    if p.is_file() {
        return vec![p.to_path_buf()];
    }
    let mut out = Vec::new();
    // A path gone by now (another program renamed it) is left out.
    let Ok(entries) = std::fs::read_dir(p) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.file_name().is_some_and(|n| n == ".shoal") {
            continue;
        }
        out.extend(walk(&path));
    }
    out
}

/// A child process killed (by its PID) when dropped.
pub struct ChildGuard {
    pub child: std::process::Child,
    pub lines: std::sync::mpsc::Receiver<String>,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ChildGuard {
    /// Starts `program args`, reading its stdout line by line.
    pub fn spawn(program: &str, args: &[&str]) -> ChildGuard {
        use std::io::BufRead;
        let mut child = std::process::Command::new(program)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        ChildGuard { child, lines: rx }
    }

    /// Starts `program args` with its stdout and stderr appended to the file `log` (for a
    /// program whose output only matters when a test fails; see [`log_tail`]).
    pub fn spawn_logged(program: &str, args: &[&str], log: &Path) -> ChildGuard {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()));
        let err = out.try_clone().unwrap();
        let child = std::process::Command::new(program)
            .args(args)
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let (_, lines) = std::sync::mpsc::channel();
        ChildGuard { child, lines }
    }

    /// Sends SIGINT (what Ctrl-C sends) and waits up to `secs` for the process to exit.
    pub fn interrupt(&mut self, secs: u64) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -INT {pid} failed");
        self.wait_exit(secs, "of Ctrl-C")
    }

    /// Waits up to `secs` for the process to exit by itself; `after` names what it should
    /// exit after, for the failure message.
    pub fn wait_exit(&mut self, secs: u64, after: &str) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no exit within {secs} s {after}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (blocking, up to `secs`) for a stdout line starting with `prefix`; returns
    /// the rest of it.
    pub fn wait_line(&self, prefix: &str, secs: u64) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => {
                    return line[prefix.len()..].trim().to_string();
                }
                Ok(_) => {}
                Err(_) => panic!("no {prefix:?} line within {secs} s"),
            }
        }
    }
}

/// Starts `shoal seed <torrent> --data <data>` (with `output_flag`, e.g. `--quiet` or
/// `--json`) on a free loopback port and waits up to `secs` until it accepts connections
/// (seeding starts once the data is checked). Returns the process and its address.
pub fn start_shoal_seeder(
    torrent: &Path,
    data: &Path,
    output_flag: &str,
    secs: u64,
) -> (ChildGuard, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let seeder = ChildGuard::spawn(
        env!("CARGO_BIN_EXE_shoal"),
        &[
            "seed",
            torrent.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--listen",
            &listen,
            output_flag,
        ],
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "seeder never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (seeder, listen)
}

/// The libtorrent helper script.
pub fn lt_script() -> String {
    format!("{}/tests/peers/lt_peer.py", env!("CARGO_MANIFEST_DIR"))
}

/// Starts a libtorrent peer (`mode` seed or leech) and returns it with its port.
pub fn spawn_libtorrent(mode: &str, extra: &[&str]) -> (ChildGuard, u16) {
    let script = lt_script();
    let mut args = vec![script.as_str(), mode, "--quiet"];
    args.extend_from_slice(extra);
    let guard = ChildGuard::spawn("/usr/bin/python3", &args);
    let port: u16 = guard.wait_line("PORT ", 30).parse().unwrap();
    (guard, port)
}

/// The last `max` bytes of the file at `path` as text (empty when it cannot be read).
pub fn log_tail(path: &Path, max: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(max)..]).into_owned()
}

/// Hex SHA-256 of every file under `root` (sorted by relative path).
pub fn sha256_tree(root: &Path) -> Vec<(PathBuf, String)> {
    try_sha256_tree(root).unwrap_or_else(|e| panic!("cannot hash {}: {e}", root.display()))
}

/// [`sha256_tree`] of a folder another program may still be writing: an error when a
/// file vanishes (renamed) while it is read.
pub fn try_sha256_tree(root: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
    use sha2::Digest;
    let mut out = Vec::new();
    for p in walk(root) {
        let digest = sha2::Sha256::digest(std::fs::read(&p)?);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        out.push((p.strip_prefix(root).unwrap().to_path_buf(), hex));
    }
    out.sort();
    Ok(out)
}

/// The same files with the same SHA-256 under both roots.
pub fn assert_same_sha256(a: &Path, b: &Path) {
    let x = sha256_tree(a);
    assert!(!x.is_empty(), "nothing under {}", a.display());
    assert_eq!(x, sha256_tree(b), "payloads differ");
}

/// Through a stream of file 0 of `handle`'s torrent (whose bytes are `payload`): reads
/// the last 100 kB first, checks them and that they came before half of the pieces, then
/// reads the whole file from the start in 10 kB reads and checks it. Returns the pieces
/// the torrent had when the tail arrived.
pub async fn stream_tail_first(handle: &TorrentHandle, payload: &[u8]) -> u32 {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let mut stream = handle.stream_file(0).await.unwrap();
    assert_eq!(stream.len(), payload.len() as u64);
    let started = std::time::Instant::now();
    let at = payload.len() - 100_000;
    stream
        .seek(std::io::SeekFrom::Start(at as u64))
        .await
        .unwrap();
    let mut tail = vec![0; 100_000];
    stream.read_exact(&mut tail).await.unwrap();
    let took = started.elapsed();
    let stats = handle.stats();
    assert!(tail == payload[at..], "the tail read back wrong");
    assert!(
        stats.pieces_have < stats.pieces_total / 2,
        "the tail came only after {} of {} pieces ({took:?})",
        stats.pieces_have,
        stats.pieces_total
    );
    eprintln!(
        "tail in {took:?} with {}/{} pieces",
        stats.pieces_have, stats.pieces_total
    );

    stream.seek(std::io::SeekFrom::Start(0)).await.unwrap();
    let mut all = Vec::with_capacity(payload.len());
    let mut chunk = vec![0; 10_000];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(60), stream.read(&mut chunk))
            .await
            .expect("a read stalled")
            .unwrap();
        if n == 0 {
            break;
        }
        all.extend_from_slice(&chunk[..n]);
    }
    assert!(all == payload, "the file read back wrong");
    stats.pieces_have
}
