//! Interop against a real peer: libtorrent 2.0 (Debian's python3-libtorrent) seeding on
//! 127.0.0.1. Only this crate and a std `TcpStream`: handshake, extension handshake,
//! have-all / bitfield, interested, unchoke, blocks of two pieces checked against the
//! torrent's SHA-1s, and the metadata through ut_metadata checked against the info-hash.
//!
//! Run with `cargo test -p shoal-wire -- --ignored` (needs `/usr/bin/python3` with
//! `import libtorrent`: scripts/install-peers.sh).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use sha1::{Digest, Sha1};
use shoal_wire::{
    BLOCK_LEN, Bitfield, BlockRequest, EXTENDED_HANDSHAKE_ID, ExtendedHandshake, Handshake,
    HandshakeDecoder, HashRequest, Message, MessageDecoder, PeerId, UT_METADATA, UtMetadata,
    allowed_fast_set, allowed_fast_set_unmasked,
};

const PYTHON: &str = "/usr/bin/python3";
const FILE_SIZE: u64 = 2_000_000;
const PIECE_LENGTH: u32 = 32 * 1024;
/// The id we ask the seeder to send ut_metadata messages under.
const OUR_UT_METADATA_ID: u8 = 3;

/// The seeder process; killed by its PID when dropped.
struct Seeder {
    child: Child,
    facts: HashMap<String, String>,
    piece_hashes: Vec<[u8; 20]>,
    /// BEP 52 piece layer of the file (hybrid torrents only).
    piece_layer: Vec<[u8; 32]>,
    _dir: tempfile::TempDir,
}

impl Drop for Seeder {
    fn drop(&mut self) {
        // `Child::kill` signals this child's PID only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Seeder {
    /// `kind`: "v1" or "hybrid".
    fn start(kind: &str) -> Seeder {
        let dir = tempfile::tempdir().expect("temp dir");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/libtorrent_seeder.py");
        let mut child = Command::new(PYTHON)
            .arg(script)
            .arg(dir.path())
            .arg(FILE_SIZE.to_string())
            .arg(PIECE_LENGTH.to_string())
            .arg(kind)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start /usr/bin/python3 (python3-libtorrent: scripts/install-peers.sh)");
        let stdout = child.stdout.take().expect("stdout");
        let mut seeder = Seeder {
            child,
            facts: HashMap::new(),
            piece_hashes: Vec::new(),
            piece_layer: Vec::new(),
            _dir: dir,
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("the seeder did not print `ready` within 60 s (or it exited)");
            if line == "ready" {
                break;
            }
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("piece"), Some(i), Some(hex)) => {
                    assert_eq!(i.parse::<usize>().unwrap(), seeder.piece_hashes.len());
                    seeder
                        .piece_hashes
                        .push(metainfo::from_hex::<20>(hex).expect("piece hash hex"));
                }
                (Some("layer"), Some(i), Some(hex)) => {
                    assert_eq!(i.parse::<usize>().unwrap(), seeder.piece_layer.len());
                    seeder
                        .piece_layer
                        .push(metainfo::from_hex::<32>(hex).expect("layer hash hex"));
                }
                (Some(key), Some(value), None) => {
                    seeder.facts.insert(key.to_string(), value.to_string());
                }
                _ => panic!("unexpected line from the seeder: {line:?}"),
            }
        }
        seeder
    }

    fn fact<T: std::str::FromStr>(&self, key: &str) -> T {
        self.facts[key]
            .parse()
            .unwrap_or_else(|_| panic!("seeder fact {key}"))
    }
}

/// A connection driven only by this crate's codec over a blocking `TcpStream`.
struct Peer {
    stream: TcpStream,
    buf: BytesMut,
    decoder: MessageDecoder,
}

impl Peer {
    /// Connects to the seeder, sends `ours` and reads its handshake.
    fn connect(
        port: u16,
        num_pieces: u32,
        ours: &Handshake,
        deadline: Instant,
    ) -> (Peer, Handshake) {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut peer = Peer {
            stream,
            buf: BytesMut::new(),
            decoder: MessageDecoder::for_torrent(num_pieces, BLOCK_LEN),
        };
        peer.stream.write_all(&ours.to_bytes()).unwrap();
        let theirs = loop {
            if let Some(hs) = HandshakeDecoder::new().decode(&mut peer.buf).unwrap() {
                break hs;
            }
            peer.fill(deadline);
        };
        (peer, theirs)
    }

    fn send(&mut self, msg: &Message) {
        self.stream.write_all(&msg.to_bytes()).expect("send");
    }

    /// Reads more bytes, waiting until `deadline` at most.
    fn fill(&mut self, deadline: Instant) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out waiting for the seeder");
        self.stream.set_read_timeout(Some(left)).unwrap();
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => panic!("the seeder closed the connection"),
            Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("timed out waiting for the seeder")
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("read: {e}"),
        }
    }

    fn next_message(&mut self, deadline: Instant) -> Message {
        loop {
            if let Some(msg) = self.decoder.decode(&mut self.buf).expect("valid messages") {
                return msg;
            }
            self.fill(deadline);
        }
    }
}

#[test]
#[ignore = "needs python3-libtorrent: scripts/install-peers.sh"]
fn download_pieces_and_metadata_from_libtorrent() {
    let seeder = Seeder::start("v1");
    let port: u16 = seeder.fact("port");
    let info_hash = metainfo::from_hex::<20>(&seeder.facts["info_hash"]).expect("info-hash");
    let num_pieces: u32 = seeder.fact("num_pieces");
    let metadata_size: u64 = seeder.fact("metadata_size");
    assert_eq!(seeder.fact::<u32>("piece_length"), PIECE_LENGTH);
    assert_eq!(seeder.fact::<u64>("total_size"), FILE_SIZE);
    assert_eq!(seeder.piece_hashes.len(), num_pieces as usize);

    let deadline = Instant::now() + Duration::from_secs(30);
    let ours = Handshake::new(info_hash, PeerId::with_random([42; 12]));
    let (mut peer, theirs) = Peer::connect(port, num_pieces, &ours, deadline);
    assert_eq!(theirs.info_hash, info_hash);
    assert!(
        theirs.reserved.extension_protocol(),
        "{:?}",
        theirs.reserved
    );
    assert!(theirs.reserved.fast(), "{:?}", theirs.reserved);
    assert_ne!(theirs.peer_id, ours.peer_id);

    // Extension handshake, then interest.
    let mut ext = ExtendedHandshake::default();
    ext.m.insert(UT_METADATA.to_string(), OUR_UT_METADATA_ID);
    ext.v = Some("shoal-wire interop test".into());
    ext.reqq = Some(64);
    peer.send(&ext.to_message());
    peer.send(&Message::HaveNone);
    peer.send(&Message::Interested);

    // Their extension handshake, what they have, and the unchoke, in any order.
    let mut their_ext = None;
    let mut have = None;
    let mut unchoked = false;
    let mut allowed_fast = Vec::new();
    // libtorrent answers `have none` with its allowed-fast set (5 pieces by default).
    while their_ext.is_none() || have.is_none() || !unchoked || allowed_fast.len() < 5 {
        match peer.next_message(deadline) {
            Message::Extended {
                id: EXTENDED_HANDSHAKE_ID,
                payload,
            } => their_ext = Some(ExtendedHandshake::decode(&payload).expect("their ext hs")),
            Message::HaveAll => have = Some(Bitfield::full(num_pieces)),
            Message::Bitfield(bits) => {
                have = Some(Bitfield::from_bytes(&bits, num_pieces).expect("valid bitfield"));
            }
            Message::Unchoke => unchoked = true,
            Message::AllowedFast(index) => allowed_fast.push(index),
            Message::KeepAlive | Message::Have(_) | Message::Port(_) => {}
            other => panic!("unexpected message before unchoke: {other:?}"),
        }
    }
    let their_ext = their_ext.unwrap();
    assert!(have.unwrap().is_full(), "a seeder has every piece");
    assert_eq!(their_ext.metadata_size, Some(metadata_size));
    assert_eq!(their_ext.yourip, Some(Ipv4Addr::LOCALHOST.into()));
    assert!(their_ext.reqq.is_some_and(|n| n > 0), "{their_ext:?}");
    assert!(
        their_ext.upload_only(),
        "a seeder says upload_only: {their_ext:?}"
    );
    assert!(
        their_ext.v.as_deref().unwrap_or("").contains("libtorrent"),
        "{their_ext:?}"
    );
    let their_ut_metadata = their_ext
        .extension_id(UT_METADATA)
        .expect("libtorrent speaks ut_metadata");
    eprintln!("libtorrent: {their_ext:?}, allowed fast = {allowed_fast:?}");
    // The allowed-fast pieces it offered: libtorrent hashes our whole address, where
    // BEP 6 masks it to its /24 (so the two sets differ here).
    assert_eq!(
        allowed_fast,
        allowed_fast_set_unmasked(Ipv4Addr::LOCALHOST, info_hash, num_pieces, 5)
    );
    assert_ne!(
        allowed_fast,
        allowed_fast_set(Ipv4Addr::LOCALHOST, info_hash, num_pieces, 5)
    );

    // Every block of a full piece and of the short last piece.
    let last = num_pieces - 1;
    let last_len = (FILE_SIZE - u64::from(last) * u64::from(PIECE_LENGTH)) as u32;
    let wanted = [(1, PIECE_LENGTH), (last, last_len)];
    let mut pending = Vec::new();
    for (index, len) in wanted {
        for begin in (0..len).step_by(BLOCK_LEN as usize) {
            let req = BlockRequest {
                index,
                begin,
                length: BLOCK_LEN.min(len - begin),
            };
            peer.send(&Message::Request(req));
            pending.push(req);
        }
    }
    let mut blocks: HashMap<(u32, u32), Bytes> = HashMap::new();
    while !pending.is_empty() {
        match peer.next_message(deadline) {
            Message::Piece { index, begin, data } => {
                let pos = pending
                    .iter()
                    .position(|r| r.index == index && r.begin == begin)
                    .unwrap_or_else(|| panic!("unrequested block {index}/{begin}"));
                assert_eq!(data.len() as u32, pending[pos].length);
                pending.swap_remove(pos);
                blocks.insert((index, begin), data);
            }
            Message::Reject(r) => panic!("the seeder rejected {r:?}"),
            Message::Choke => panic!("the seeder choked us"),
            _ => {}
        }
    }
    for (index, len) in wanted {
        let mut sha = Sha1::new();
        for begin in (0..len).step_by(BLOCK_LEN as usize) {
            sha.update(&blocks[&(index, begin)]);
        }
        let digest: [u8; 20] = sha.finalize().into();
        assert_eq!(
            digest, seeder.piece_hashes[index as usize],
            "SHA-1 of piece {index}"
        );
    }

    // The metadata through ut_metadata: its SHA-1 is the info-hash.
    assert!(metadata_size <= u64::from(shoal_wire::METADATA_PIECE_LEN));
    peer.send(&UtMetadata::Request { piece: 0 }.to_message(their_ut_metadata));
    let metadata = loop {
        if let Message::Extended {
            id: OUR_UT_METADATA_ID,
            payload,
        } = peer.next_message(deadline)
        {
            match UtMetadata::decode(&payload).expect("ut_metadata message") {
                UtMetadata::Data {
                    piece: 0,
                    total_size,
                    data,
                } => {
                    assert_eq!(total_size, metadata_size);
                    break data;
                }
                other => panic!("expected metadata piece 0, got {other:?}"),
            }
        }
    };

    let digest: [u8; 20] = Sha1::digest(&metadata).into();
    assert_eq!(digest, info_hash, "SHA-1 of the metadata is the info-hash");

    peer.send(&Message::NotInterested);
}

#[test]
#[ignore = "needs python3-libtorrent: scripts/install-peers.sh"]
fn v2_hashes_from_libtorrent_hybrid_torrent() {
    let seeder = Seeder::start("hybrid");
    let port: u16 = seeder.fact("port");
    let info_hash = metainfo::from_hex::<20>(&seeder.facts["info_hash"]).expect("info-hash");
    let pieces_root = metainfo::from_hex::<32>(&seeder.facts["pieces_root"]).expect("root");
    let num_pieces: u32 = seeder.fact("num_pieces");
    assert_eq!(seeder.piece_layer.len(), num_pieces as usize);

    let deadline = Instant::now() + Duration::from_secs(30);
    let v2 = metainfo::from_hex::<32>(&seeder.facts["info_hash_v2"]).expect("v2 hash");
    let torrent = metainfo::InfoHash::Hybrid { v1: info_hash, v2 };

    // Without the v2 upgrade bit, libtorrent answers in v1 terms...
    let plain = Handshake::new(info_hash, PeerId::with_random([44; 12]));
    let (_, theirs) = Peer::connect(port, num_pieces, &plain, deadline);
    assert_eq!(theirs.info_hash, info_hash);
    // ...with it (BEP 52 upgrade), it answers with the truncated v2 info-hash, which the
    // hybrid torrent's identity accepts. (libtorrent 2.0.8 does not set the bit itself in
    // its answer: the v2 hash is the answer.)
    let mut ours = Handshake::new(info_hash, PeerId::with_random([43; 12]));
    ours.reserved = ours.reserved.with_v2_upgrade(true);
    let (mut peer, theirs) = Peer::connect(port, num_pieces, &ours, deadline);
    assert_eq!(Some(theirs.info_hash), torrent.v2_truncated());
    assert!(torrent.matches_wire(&theirs.info_hash));
    assert!(theirs.reserved.extension_protocol() && theirs.reserved.fast());

    peer.send(&ExtendedHandshake::default().to_message());
    peer.send(&Message::HaveNone);
    peer.send(&Message::Interested);

    // The first two hashes of the piece layer (layer 1: 32 KiB pieces are 2 blocks), with
    // the uncle hashes up to the file's root.
    let tree_height = num_pieces.next_power_of_two().trailing_zeros();
    let request = HashRequest {
        pieces_root,
        base_layer: (PIECE_LENGTH / BLOCK_LEN).trailing_zeros(),
        index: 0,
        length: 2,
        proof_layers: tree_height - 1,
    };
    peer.send(&Message::HashRequest(request));
    let hashes = loop {
        match peer.next_message(deadline) {
            Message::Hashes(h) => break h,
            Message::HashReject(r) => panic!("libtorrent rejected {r:?}"),
            _ => {}
        }
    };
    eprintln!(
        "libtorrent hashes: {} for {:?}",
        hashes.hashes.len(),
        hashes.request
    );
    assert_eq!(hashes.request, request);
    assert_eq!(&hashes.hashes[..2], &seeder.piece_layer[..2]);
    // Fold the proof: our pair is leftmost, so every uncle is a right sibling.
    let sha256 = |l: &[u8; 32], r: &[u8; 32]| -> [u8; 32] {
        let mut h = sha2::Sha256::new();
        h.update(l);
        h.update(r);
        h.finalize().into()
    };
    let mut node = sha256(&hashes.hashes[0], &hashes.hashes[1]);
    for uncle in &hashes.hashes[2..] {
        node = sha256(&node, uncle);
    }
    assert_eq!(hashes.hashes.len() as u32, 2 + tree_height - 1);
    assert_eq!(
        node, pieces_root,
        "the proof leads to the file's pieces root"
    );
}
