//! A magnet link: metadata over ut_metadata (BEP 9) from a shoal seeder, then the data.

mod common;

use common::*;
use metainfo::Magnet;
use shoal::{AddTorrent, Event, Source};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_download_fetches_metadata_then_data() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "payload", &[200_000, 90_000, 1]);
    let meta = make_torrent(&payload, 16 * 1024, &[]);

    let seeder = session(false).await;
    let seed = add(&seeder, &meta, &src, vec![]).await;
    wait_completed(&seed, 20).await;

    let leecher = session(false).await;
    let out = dir.path().join("out");
    let uri = Magnet::from_metainfo(&meta).to_string();
    let mut a = AddTorrent::new(Source::Magnet(uri), &out);
    a.peers = vec![seeder.listen_addr().unwrap()];
    let h = leecher.add(a).await.unwrap();
    assert_eq!(h.stats().total_len, 0);
    let mut events = h.events();
    let first = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            if let Some(Event::MetadataReceived {
                name, total_len, ..
            }) = events.next().await
            {
                return (name, total_len);
            }
        }
    })
    .await
    .expect("no metadata");
    assert_eq!(first.0, "payload");
    assert_eq!(first.1, meta.total_length());
    wait_completed(&h, 30).await;
    assert_same_tree(&payload, &out.join("payload"));
    leecher.shutdown().await;
    seeder.shutdown().await;
}

/// Leeches `meta` (seeded by shoal from `src`) by its magnet link; checks the payload.
async fn magnet_swarm(meta: &metainfo::Metainfo, src: &std::path::Path, payload: &std::path::Path) {
    let seeder = session(false).await;
    let seed = add(&seeder, meta, src, vec![]).await;
    wait_completed(&seed, 20).await;

    let leecher = session(false).await;
    let out = tempfile::tempdir().unwrap();
    let uri = Magnet::from_metainfo(meta).to_string();
    let mut a = AddTorrent::new(Source::Magnet(uri), out.path());
    a.peers = vec![seeder.listen_addr().unwrap()];
    let h = leecher.add(a).await.unwrap();
    wait_completed(&h, 60).await;
    assert_eq!(h.stats().have_len, meta.total_length());
    assert_same_tree(payload, &out.path().join(payload.file_name().unwrap()));
    // The fetched metadata is kept for a restart: the same info dictionary, and the piece
    // layers when they were fetched (v2; a hybrid download uses its v1 hashes).
    let saved = out.path().join(".shoal").join(format!(
        "{}.torrent",
        metainfo::to_hex(&meta.info_hash().wire())
    ));
    let saved = metainfo::Metainfo::from_bytes(&std::fs::read(saved).unwrap()).unwrap();
    assert_eq!(saved.info_bytes(), meta.info_bytes());
    if meta.version() == metainfo::TorrentVersion::V2 {
        assert!(saved.has_all_piece_layers());
    }
    leecher.shutdown().await;
    seeder.shutdown().await;
}

/// A v2-only magnet link (`xt=urn:btmh:`): the info dictionary has no piece layers, so
/// they come over BEP 52 hash requests, proved against each file's pieces root. One file
/// has 600 pieces (two requests of 512 hashes with proofs), one fits in a piece (its root
/// is its hash, no request), one has a handful.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_magnet_fetches_piece_layers_with_hash_requests() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "v2", &[600 * 16 * 1024 - 77, 9_000, 100_000]);
    let meta = make_torrent_version(&payload, 16 * 1024, &[], metainfo::TorrentVersion::V2);
    let uri = Magnet::from_metainfo(&meta).to_string();
    assert!(uri.contains("xt=urn:btmh:1220"), "{uri}");
    assert!(!uri.contains("btih"), "{uri}");
    let bare = metainfo::Metainfo::from_info_bytes(meta.info_bytes()).unwrap();
    assert!(
        !bare.has_all_piece_layers(),
        "the info dict alone lacks the layers"
    );
    magnet_swarm(&meta, &src, &payload).await;
}

/// A hybrid magnet link (btih and btmh) still downloads (verified with its v1 hashes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_magnet_downloads() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "hy", &[300_000, 5, 70_000]);
    let meta = make_torrent_version(&payload, 16 * 1024, &[], metainfo::TorrentVersion::Hybrid);
    let uri = Magnet::from_metainfo(&meta).to_string();
    assert!(uri.contains("btih") && uri.contains("btmh"), "{uri}");
    magnet_swarm(&meta, &src, &payload).await;
}

/// What the fake peer does with hash requests.
#[derive(Clone, Copy, PartialEq)]
enum OnHashRequest {
    Reject,
    Ignore,
}

/// A peer that serves a v2 torrent's metadata but not its piece layers: it rejects (or
/// ignores) every hash request, then points the leecher at `seeder` with PEX. Returns the
/// number of hash requests it got once the connection ends.
async fn layerless_peer(
    listener: tokio::net::TcpListener,
    meta: metainfo::Metainfo,
    seeder: std::net::SocketAddrV4,
    mode: OnHashRequest,
) -> usize {
    use bytes::BytesMut;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use wire::{ExtendedHandshake, Handshake, HandshakeDecoder, Message, MessageDecoder};

    let (mut s, _) = listener.accept().await.unwrap();
    let mut buf = BytesMut::new();
    let mut hs = HandshakeDecoder::new();
    let theirs = loop {
        if let Some(h) = hs.decode(&mut buf).unwrap() {
            break h;
        }
        assert!(
            s.read_buf(&mut buf).await.unwrap() > 0,
            "closed in handshake"
        );
    };
    let ours = Handshake::new(theirs.info_hash, metainfo::PeerId([b'F'; 20]));
    let mut ext = ExtendedHandshake::default();
    ext.m.insert(wire::UT_METADATA.to_string(), 3);
    ext.m.insert(wire::UT_PEX.to_string(), 4);
    ext.metadata_size = Some(meta.info_bytes().len() as u64);
    let mut out = BytesMut::new();
    ours.encode(&mut out);
    ext.to_message().encode(&mut out);
    s.write_all(&out).await.unwrap();

    let info = meta.info_bytes().to_vec();
    let mut dec = MessageDecoder::default();
    let (mut their_meta, mut their_pex) = (None, None);
    let mut hash_requests = 0;
    loop {
        while let Some(msg) = dec.decode(&mut buf).unwrap() {
            let mut out = BytesMut::new();
            match msg {
                Message::Extended { id: 0, payload } => {
                    let h = ExtendedHandshake::decode(&payload).unwrap();
                    their_meta = h.extension_id(wire::UT_METADATA);
                    their_pex = h.extension_id(wire::UT_PEX);
                }
                Message::Extended { id: 3, payload } => {
                    if let wire::UtMetadata::Request { piece } =
                        wire::UtMetadata::decode(&payload).unwrap()
                    {
                        let start = piece as usize * wire::METADATA_PIECE_LEN as usize;
                        let end = (start + wire::METADATA_PIECE_LEN as usize).min(info.len());
                        wire::UtMetadata::Data {
                            piece,
                            total_size: info.len() as u64,
                            data: bytes::Bytes::copy_from_slice(&info[start..end]),
                        }
                        .to_message(their_meta.unwrap())
                        .encode(&mut out);
                    }
                }
                Message::HashRequest(r) => {
                    hash_requests += 1;
                    if mode == OnHashRequest::Reject {
                        Message::HashReject(r).encode(&mut out);
                    }
                    if hash_requests == 1 {
                        let mut pex = wire::Pex::default();
                        pex.added.push((seeder, wire::PexFlags(0)));
                        Message::Extended {
                            id: their_pex.unwrap(),
                            payload: pex.to_bytes(),
                        }
                        .encode(&mut out);
                    }
                }
                _ => {}
            }
            if !out.is_empty() && s.write_all(&out).await.is_err() {
                return hash_requests;
            }
        }
        match s.read_buf(&mut buf).await {
            Ok(n) if n > 0 => {}
            _ => return hash_requests,
        }
    }
}

/// The leecher's only peer at first has the metadata but rejects or ignores hash requests;
/// the layers then come from another peer (learned by PEX), and the download completes.
async fn layers_from_another_peer(mode: OnHashRequest, secs: u64) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "v2", &[300_000, 50_000]);
    let meta = make_torrent_version(&payload, 16 * 1024, &[], metainfo::TorrentVersion::V2);
    let seeder = session(false).await;
    let seed = add(&seeder, &meta, &src, vec![]).await;
    wait_completed(&seed, 20).await;
    let std::net::SocketAddr::V4(seeder_addr) = seeder.listen_addr().unwrap() else {
        panic!("IPv4 loopback expected");
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake_addr = listener.local_addr().unwrap();
    let fake = tokio::spawn(layerless_peer(listener, meta.clone(), seeder_addr, mode));

    let leecher = session(false).await;
    let out = tempfile::tempdir().unwrap();
    let mut a = AddTorrent::new(
        Source::Magnet(Magnet::from_metainfo(&meta).to_string()),
        out.path(),
    );
    a.peers = vec![fake_addr];
    let h = leecher.add(a).await.unwrap();
    wait_completed(&h, secs).await;
    assert_same_tree(&payload, &out.path().join("v2"));
    leecher.shutdown().await;
    let asked = tokio::time::timeout(std::time::Duration::from_secs(10), fake)
        .await
        .expect("the fake peer's connection ends with the session")
        .unwrap();
    assert!(asked >= 1, "the layerless peer was asked first");
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_magnet_layers_come_from_another_peer_after_a_hash_reject() {
    layers_from_another_peer(OnHashRequest::Reject, 20).await;
}

/// Unanswered hash requests time out (10 s) and go to the other peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_magnet_layers_come_from_another_peer_after_unanswered_hash_requests() {
    layers_from_another_peer(OnHashRequest::Ignore, 40).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_set_before_the_metadata_replace_and_clear() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.bin");
    std::fs::write(&file, payload_bytes(256 * 1024, 3)).unwrap();
    let meta = make_torrent(&file, 16 * 1024, &[]);
    // No peers: the metadata never comes during the test.
    let s = session(false).await;
    let a = AddTorrent::new(
        Source::Magnet(Magnet::from_metainfo(&meta).to_string()),
        dir.path().join("out"),
    );
    let h = s.add(a).await.unwrap();
    h.set_piece_deadline(5, std::time::Duration::from_secs(10));
    h.set_piece_deadline(3, std::time::Duration::from_secs(20));
    h.set_piece_deadline(7, std::time::Duration::from_secs(30));
    // Set again replaces: 5 moves behind 3.
    h.set_piece_deadline(5, std::time::Duration::from_secs(25));
    assert_eq!(h.piece_deadlines(), vec![3, 5, 7]);
    h.reset_piece_deadline(3);
    assert_eq!(h.piece_deadlines(), vec![5, 7]);
    h.clear_piece_deadlines();
    assert!(h.piece_deadlines().is_empty());
    s.shutdown().await;
}
