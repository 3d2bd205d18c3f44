//! The tracker against real BitTorrent programs on 127.0.0.1, and shoal's tracker client
//! side (tracker-proto) against opentracker. Every test here needs Debian packages (see
//! `tests/README.md`) and is ignored by default; CI runs them with `-- --ignored`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use metainfo::PeerId;
use shoal_tracker::{RunningTracker, Tracker, TrackerConfig};
use tracker_proto::{
    AnnounceOutcome, AnnounceReply, AnnounceRequest, AnnouncerOptions, Limits, ScrapeReply,
    ScrapeRequest, SwarmStats, UdpAnnounceRequest, UdpAnnouncer, UdpPeers, UdpRequest, UdpResponse,
    UdpScrapeRequest,
};

const PYTHON: &str = "/usr/bin/python3";
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(90);

/// A child process killed (and reaped) when the guard is dropped, even on panic.
struct Guard {
    name: &'static str,
    child: Child,
}

impl Guard {
    fn spawn(name: &'static str, cmd: &mut Command) -> Guard {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({e}): see scripts/install-peers.sh"));
        Guard { name, child }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit by itself, at most `timeout`.
    fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not finish within {timeout:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Deterministic pseudo-random payload.
fn write_payload(path: &Path, len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(path, &data).unwrap();
    data
}

/// A .torrent made by mktorrent (32 KiB pieces) with one announce URL.
fn mktorrent(announce: &str, file: &Path, out: &Path) -> Vec<u8> {
    let status = Command::new("mktorrent")
        .args(["-l", "15", "-a", announce, "-o"])
        .arg(out)
        .arg(file)
        .stdout(Stdio::null())
        .status()
        .expect("mktorrent runs: see scripts/install-peers.sh");
    assert!(status.success(), "mktorrent failed");
    std::fs::read(out).unwrap()
}

/// The v1 info-hash of a .torrent: SHA-1 of the raw `info` dictionary.
fn info_hash(torrent: &[u8]) -> [u8; 20] {
    use sha1::{Digest, Sha1};
    let v = bencode::Decoder::new()
        .lenient(true)
        .decode(torrent)
        .unwrap();
    let info = v.as_dict().unwrap().get(b"info").unwrap().raw();
    Sha1::digest(&info).into()
}

/// A libtorrent peer (tests/lt_peer.py) whose output lines arrive on a channel.
struct LtPeer {
    /// Kills the peer when the test is done with it.
    _guard: Guard,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl LtPeer {
    fn start(mode: &str, torrent: &Path, save: &Path, port: u16) -> LtPeer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lt_peer.py");
        let mut guard = Guard::spawn(
            "python3-libtorrent",
            Command::new(PYTHON)
                .arg(script)
                .arg(mode)
                .arg(torrent)
                .arg(save)
                .arg(port.to_string())
                .stdout(Stdio::piped()),
        );
        let stdout = guard.child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        LtPeer {
            _guard: guard,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line starting with `prefix`.
    fn expect(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "libtorrent never printed {prefix:?}; it printed {:?}",
                    self.seen
                ),
            }
        }
    }
}

fn aria2c(torrent: &Path, dir: &Path, port: u16, udp_tracker: bool) -> Command {
    let mut cmd = Command::new("aria2c");
    cmd.args([
        "--no-conf",
        "--interface=127.0.0.1",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--bt-require-crypto=false",
        "--seed-time=0",
        "--disable-ipv6=true",
        "--summary-interval=0",
        "--console-log-level=warn",
    ]);
    cmd.arg(format!("--listen-port={port}"))
        .arg(format!("--dir={}", dir.display()));
    if udp_tracker {
        // aria2 talks to UDP trackers only through its DHT socket. The DHT is bound to
        // loopback, starts from an empty routing table and has no bootstrap node, so it
        // stays on this machine.
        cmd.args(["--enable-dht=true", "--enable-dht6=false"])
            .arg(format!("--dht-listen-port={}", free_port()))
            .arg(format!("--dht-file-path={}", dir.join("dht.dat").display()));
    } else {
        cmd.arg("--enable-dht=false");
    }
    cmd.arg(torrent).stdout(Stdio::null());
    cmd
}

fn start_tracker(rt: &tokio::runtime::Runtime) -> RunningTracker {
    rt.block_on(Tracker::start(TrackerConfig {
        http: Some("127.0.0.1:0".parse().unwrap()),
        udp: Some("127.0.0.1:0".parse().unwrap()),
        udp_workers: 1,
        interval: Duration::from_secs(30),
        ..TrackerConfig::default()
    }))
    .expect("tracker starts")
}

/// A blocking HTTP GET; returns the body.
fn http_get(addr: SocketAddr, target: &str) -> Vec<u8> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP response");
    assert!(
        raw.starts_with(b"HTTP/1.1 200") || raw.starts_with(b"HTTP/1.0 200"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    raw[split + 4..].to_vec()
}

fn http_scrape(addr: SocketAddr, hash: [u8; 20]) -> SwarmStats {
    let body = http_get(
        addr,
        &format!(
            "/scrape?{}",
            ScrapeRequest {
                info_hashes: vec![hash]
            }
            .to_query_string()
        ),
    );
    match ScrapeReply::decode(&body, &Limits::default()).unwrap() {
        ScrapeReply::Ok(r) => r.files.get(&hash).copied().unwrap_or_default(),
        ScrapeReply::Failure(f) => panic!("scrape refused: {f}"),
    }
}

/// One UDP request and its reply, with retries.
fn udp_exchange(socket: &UdpSocket, tracker: SocketAddr, req: &UdpRequest) -> UdpResponse {
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut buf = [0u8; 2048];
    for _ in 0..5 {
        socket.send_to(&req.to_bytes(), tracker).unwrap();
        while let Ok((n, _)) = socket.recv_from(&mut buf) {
            let resp =
                UdpResponse::parse(&buf[..n], tracker.is_ipv6(), &Limits::default()).unwrap();
            if resp.transaction_id() == req.transaction_id() {
                return resp;
            }
        }
    }
    panic!("no UDP reply from {tracker}");
}

fn udp_scrape(tracker: SocketAddr, hash: [u8; 20]) -> SwarmStats {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let UdpResponse::Connect { connection_id, .. } =
        udp_exchange(&socket, tracker, &UdpRequest::Connect { transaction_id: 1 })
    else {
        panic!("connect refused")
    };
    let req = UdpRequest::Scrape(UdpScrapeRequest {
        connection_id,
        transaction_id: 2,
        info_hashes: vec![hash],
    });
    match udp_exchange(&socket, tracker, &req) {
        UdpResponse::Scrape(r) => r.stats[0],
        other => panic!("scrape answered with {other:?}"),
    }
}

/// Polls a scrape until it shows `want` (seeders, leechers, completed), within 20 s.
fn wait_scrape(what: &str, mut scrape: impl FnMut() -> SwarmStats, want: (u32, u32, u32)) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = scrape();
        if (s.seeders, s.leechers, s.completed) == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: scrape shows {s:?}, expected (seeders, leechers, completed) = {want:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// libtorrent seeds, aria2c downloads, both through the tracker (HTTP or UDP).
fn libtorrent_seeds_to_aria2(udp: bool) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tracker = start_tracker(&rt);
    let http = tracker.http_addr().unwrap();
    let udp_addr = tracker.udp_addr().unwrap();
    let url = if udp {
        tracker.announce_url_udp()
    } else {
        tracker.announce_url_http()
    }
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let seed_dir = dir.path().join("seed");
    let leech_dir = dir.path().join("leech");
    std::fs::create_dir_all(&seed_dir).unwrap();
    std::fs::create_dir_all(&leech_dir).unwrap();
    let payload = write_payload(&seed_dir.join("payload.bin"), 600_000);
    let torrent_path = dir.path().join("payload.torrent");
    let torrent = mktorrent(&url, &seed_dir.join("payload.bin"), &torrent_path);
    let hash = info_hash(&torrent);
    let scrape = || {
        if udp {
            udp_scrape(udp_addr, hash)
        } else {
            http_scrape(http, hash)
        }
    };

    let mut seeder = LtPeer::start("seed", &torrent_path, &seed_dir, free_port());
    seeder.expect("announced", Duration::from_secs(30));
    wait_scrape("libtorrent seeding alone", scrape, (1, 0, 0));

    let mut leecher = Guard::spawn(
        "aria2c",
        &mut aria2c(&torrent_path, &leech_dir, free_port(), udp),
    );
    let status = leecher.wait_exit(TRANSFER_TIMEOUT);
    assert!(status.success(), "aria2c failed: {status}");
    let got = std::fs::read(leech_dir.join("payload.bin")).unwrap();
    assert!(got == payload, "aria2c's copy differs from the payload");
    // aria2c announced `completed`, then `stopped` when it exited; libtorrent still seeds.
    wait_scrape("after aria2c finished", scrape, (1, 0, 1));
    let stats = tracker.stats();
    if udp {
        assert!(stats.udp.announces >= 3, "{stats:?}");
    } else {
        assert!(stats.http.announces >= 3, "{stats:?}");
    }
    drop(seeder);
    rt.block_on(tracker.shutdown());
}

#[test]
#[ignore = "needs python3-libtorrent, aria2c and mktorrent: scripts/install-peers.sh"]
fn libtorrent_seeds_to_aria2_over_http() {
    libtorrent_seeds_to_aria2(false);
}

#[test]
#[ignore = "needs python3-libtorrent, aria2c and mktorrent: scripts/install-peers.sh"]
fn libtorrent_seeds_to_aria2_over_udp() {
    libtorrent_seeds_to_aria2(true);
}

/// Waits up to 30 s for the file at `path` to hold `want`. libtorrent 2.0 can report a
/// torrent complete ("seeding") once its pieces are hashed, which it may do from blocks
/// still queued for writing: the file catches up a moment later.
fn wait_same_file(path: &Path, want: &[u8], who: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if std::fs::read(path).is_ok_and(|got| got == want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{who}'s copy differs from the payload"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Two libtorrent sessions find each other through the tracker and complete a transfer.
fn libtorrent_to_libtorrent(udp: bool) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tracker = start_tracker(&rt);
    let http = tracker.http_addr().unwrap();
    let udp_addr = tracker.udp_addr().unwrap();
    let url = if udp {
        tracker.announce_url_udp()
    } else {
        tracker.announce_url_http()
    }
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let seed_dir = dir.path().join("seed");
    let leech_dir = dir.path().join("leech");
    std::fs::create_dir_all(&seed_dir).unwrap();
    std::fs::create_dir_all(&leech_dir).unwrap();
    let payload = write_payload(&seed_dir.join("payload.bin"), 700_000);
    let torrent_path = dir.path().join("payload.torrent");
    let torrent = mktorrent(&url, &seed_dir.join("payload.bin"), &torrent_path);
    let hash = info_hash(&torrent);
    let scrape = || {
        if udp {
            udp_scrape(udp_addr, hash)
        } else {
            http_scrape(http, hash)
        }
    };

    let mut seeder = LtPeer::start("seed", &torrent_path, &seed_dir, free_port());
    seeder.expect("announced", Duration::from_secs(30));
    let mut leecher = LtPeer::start("leech", &torrent_path, &leech_dir, free_port());
    let reply = leecher.expect("announced", Duration::from_secs(30));
    assert_eq!(reply, "announced 1", "the leecher is told about the seeder");
    leecher.expect("seeding", TRANSFER_TIMEOUT);
    wait_same_file(&leech_dir.join("payload.bin"), &payload, "libtorrent");
    // Both seed now; the leecher's `completed` was counted.
    wait_scrape("after the download", scrape, (2, 0, 1));
    drop((seeder, leecher));
    rt.block_on(tracker.shutdown());
}

#[test]
#[ignore = "needs python3-libtorrent and mktorrent: scripts/install-peers.sh"]
fn libtorrent_to_libtorrent_over_http() {
    libtorrent_to_libtorrent(false);
}

#[test]
#[ignore = "needs python3-libtorrent and mktorrent: scripts/install-peers.sh"]
fn libtorrent_to_libtorrent_over_udp() {
    libtorrent_to_libtorrent(true);
}

/// opentracker on loopback, whitelisting `hashes` (Debian's build is whitelist-only); it
/// chroots into `dir` and drops to `nobody`, so the folder must be world-readable.
fn start_opentracker(dir: &Path, port: u16, hashes: &[[u8; 20]]) -> Guard {
    use std::os::unix::fs::PermissionsExt;
    let list: String = hashes
        .iter()
        .map(|h| format!("{}\n", metainfo::to_hex(h)))
        .collect();
    std::fs::write(dir.join("whitelist.txt"), list).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        dir.join("whitelist.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let guard = Guard::spawn(
        "opentracker",
        Command::new("opentracker")
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-P",
                &port.to_string(),
                "-d",
            ])
            .arg(dir)
            .args(["-w", "/whitelist.txt"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "opentracker does not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    guard
}

/// An HTTP announce built and parsed by tracker-proto.
fn proto_http_announce(
    tracker: SocketAddr,
    hash: [u8; 20],
    peer: u8,
    port: u16,
) -> Vec<SocketAddr> {
    let mut req = AnnounceRequest::new(hash, PeerId([peer; 20]), port);
    req.left = 100;
    req.event = Some(tracker_proto::Event::Started);
    let body = http_get(tracker, &format!("/announce?{}", req.to_query_string()));
    match AnnounceReply::decode(&body, &Limits::default()).expect("announce reply parses") {
        AnnounceReply::Ok(r) => r.peers,
        AnnounceReply::Failure(f) => panic!("announce refused: {f}"),
    }
}

/// A UDP announce driven by tracker-proto's `UdpAnnouncer` over a std socket.
fn proto_udp_announce(tracker: SocketAddr, hash: [u8; 20], peer: u8, port: u16) -> Vec<SocketAddr> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let request = UdpAnnounceRequest {
        connection_id: 0,
        transaction_id: 0,
        info_hash: hash,
        peer_id: PeerId([peer; 20]),
        downloaded: 0,
        left: 100,
        uploaded: 0,
        event: Some(tracker_proto::Event::Started),
        ip: None,
        key: u32::from(peer),
        num_want: Some(50),
        port,
    };
    let options = AnnouncerOptions {
        seed: u64::from(peer) + 1,
        max_retransmits: 2,
        ..AnnouncerOptions::default()
    };
    let mut announcer = UdpAnnouncer::new(request, options, Instant::now());
    let mut buf = [0u8; 2048];
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            Instant::now() < give_up,
            "UDP announce to {tracker} did not finish"
        );
        let now = Instant::now();
        while let Some(packet) = announcer.poll_transmit(now) {
            socket.send_to(&packet, tracker).unwrap();
        }
        // Wake at the announcer's deadline, but at least every 200 ms.
        let wait = announcer
            .poll_timeout()
            .map_or(Duration::from_millis(200), |t| {
                t.saturating_duration_since(now)
            })
            .clamp(Duration::from_millis(1), Duration::from_millis(200));
        socket.set_read_timeout(Some(wait)).unwrap();
        let outcome = match socket.recv_from(&mut buf) {
            Ok((n, _)) => announcer
                .handle_datagram(&buf[..n], Instant::now())
                .expect("reply parses"),
            Err(_) => announcer.handle_timeout(Instant::now()),
        };
        match outcome {
            Some(AnnounceOutcome::Announced(r)) => {
                return match r.peers {
                    UdpPeers::V4(p) => p.into_iter().map(SocketAddr::V4).collect(),
                    UdpPeers::V6(p) => p.into_iter().map(SocketAddr::V6).collect(),
                };
            }
            Some(other) => panic!("UDP announce ended with {other:?}"),
            None => {}
        }
    }
}

#[test]
#[ignore = "needs opentracker: scripts/install-peers.sh"]
fn tracker_proto_client_announces_to_opentracker() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let hash = [0x5a; 20];
    let mut ot = start_opentracker(dir.path(), port, &[hash]);
    let pid = ot.pid();
    let tracker: SocketAddr = ([127, 0, 0, 1], port).into();

    // Not whitelisted: refused with a failure reason, which tracker-proto decodes.
    let mut req = AnnounceRequest::new([0x11; 20], PeerId([9; 20]), 7009);
    req.left = 1;
    let body = http_get(tracker, &format!("/announce?{}", req.to_query_string()));
    assert!(
        matches!(
            AnnounceReply::decode(&body, &Limits::default()).unwrap(),
            AnnounceReply::Failure(_)
        ),
        "{}",
        String::from_utf8_lossy(&body)
    );

    // (opentracker hands a peer back its own address too; only others are checked.)
    proto_http_announce(tracker, hash, 1, 7001);
    let peers = proto_http_announce(tracker, hash, 2, 7002);
    assert!(
        peers.contains(&"127.0.0.1:7001".parse().unwrap()),
        "{peers:?}"
    );
    let peers = proto_udp_announce(tracker, hash, 3, 7003);
    assert!(
        peers.contains(&"127.0.0.1:7001".parse().unwrap()),
        "UDP sees the HTTP peers: {peers:?}"
    );
    let peers = proto_udp_announce(tracker, hash, 4, 7004);
    assert!(
        peers.contains(&"127.0.0.1:7003".parse().unwrap()),
        "{peers:?}"
    );

    let _ = ot.child.kill();
    let _ = ot.child.wait();
    assert!(
        !PathBuf::from(format!("/proc/{pid}")).exists(),
        "opentracker (pid {pid}) is gone"
    );
}
