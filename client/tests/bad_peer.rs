//! A peer that answers requests with wrong bytes is banned, and no bad byte reaches a
//! verified piece: the download completes from an honest seeder with every byte right.

mod common;

use std::time::Duration;

use bytes::BytesMut;
use common::*;
use shoal::Event;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wire::{Handshake, HandshakeDecoder, Message, MessageDecoder, PeerId};

/// Accepts connections and serves garbage for every request.
async fn bad_peer(listener: TcpListener, num_pieces: u32) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let mut buf = BytesMut::new();
            let hs = loop {
                if let Some(hs) = HandshakeDecoder::new().decode(&mut buf).unwrap() {
                    break hs;
                }
                if stream.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
            };
            let mut ours = Handshake::new(hs.info_hash, PeerId([b'x'; 20]));
            ours.reserved = wire::Reserved::default();
            let mut out = BytesMut::new();
            ours.encode(&mut out);
            wire::Bitfield::full(num_pieces)
                .to_message()
                .encode(&mut out);
            Message::Unchoke.encode(&mut out);
            if stream.write_all(&out).await.is_err() {
                return;
            }
            let mut dec = MessageDecoder::default();
            loop {
                while let Ok(Some(msg)) = dec.decode(&mut buf) {
                    if let Message::Request(r) = msg {
                        let mut out = BytesMut::new();
                        Message::Piece {
                            index: r.index,
                            begin: r.begin,
                            data: vec![0xEE; r.length as usize].into(),
                        }
                        .encode(&mut out);
                        if stream.write_all(&out).await.is_err() {
                            return;
                        }
                    }
                }
                if stream.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_data_is_rejected_and_the_sender_banned() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "payload", &[400_000, 250_000]);
    let meta = make_torrent(&payload, 32 * 1024, &[]);

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bad_addr = listener.local_addr().unwrap();
    tokio::spawn(bad_peer(listener, meta.num_pieces()));

    // First only the bad peer: every piece it sends fails, and it gets banned.
    let leecher = session(false).await;
    let out = dir.path().join("out");
    let leech = add(&leecher, &meta, &out, vec![bad_addr]).await;
    let mut events = leech.events();
    let mut failed = 0;
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(e) = events.next().await {
            match e {
                Event::PieceFailed { .. } => failed += 1,
                Event::PeerBanned { addr } => {
                    assert_eq!(addr, bad_addr);
                    return;
                }
                Event::PieceVerified { piece } => panic!("piece {piece} verified from bad data"),
                _ => {}
            }
        }
    })
    .await
    .expect("the bad peer was not banned");
    assert!(failed >= 1);
    assert_eq!(leech.stats().pieces_have, 0);

    // Then an honest seeder dials in; the download completes with the right bytes.
    let seeder = session(false).await;
    let seed = add(&seeder, &meta, &src, vec![leecher.listen_addr().unwrap()]).await;
    wait_completed(&seed, 20).await;
    wait_completed(&leech, 60).await;
    assert_same_tree(&payload, &out.join("payload"));
    // The banned peer is not connected again.
    assert!(leech.stats().peers <= 1);
    leecher.shutdown().await;
    seeder.shutdown().await;
}
