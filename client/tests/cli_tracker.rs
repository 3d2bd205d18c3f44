//! `shoal tracker` run as a user runs it: a real process on loopback, announced to over
//! HTTP and UDP by hand-made requests, and stopped with Ctrl-C (SIGINT).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use common::ChildGuard;
use metainfo::PeerId;
use tracker_proto::{
    AnnounceReply, AnnounceRequest, Limits, UdpAnnounceRequest, UdpPeers, UdpRequest, UdpResponse,
};

const SHOAL: &str = env!("CARGO_BIN_EXE_shoal");
const INFO_HASH: [u8; 20] = [0x5a; 20];

/// One HTTP/1.0 GET; returns the status line and the body.
fn http_get(addr: SocketAddr, path_and_query: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path_and_query} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, raw[split + 4..].to_vec())
}

fn http_announce(addr: SocketAddr, peer: u8, port: u16, left: u64) -> AnnounceReply {
    let mut req = AnnounceRequest::new(INFO_HASH, PeerId([peer; 20]), port);
    req.left = left;
    let (status, body) = http_get(addr, &format!("/announce?{}", req.to_query_string()));
    assert!(status.contains(" 200"), "{status}");
    AnnounceReply::decode(&body, &Limits::default()).unwrap()
}

fn udp_roundtrip(sock: &UdpSocket, to: SocketAddr, req: &UdpRequest) -> UdpResponse {
    sock.send_to(&req.to_bytes(), to).unwrap();
    let mut buf = [0u8; 2048];
    let (n, from) = sock.recv_from(&mut buf).expect("no UDP reply within 10 s");
    assert_eq!(from, to);
    let resp = UdpResponse::parse(&buf[..n], false, &Limits::default()).unwrap();
    assert_eq!(resp.transaction_id(), req.transaction_id());
    resp
}

#[test]
fn tracker_command_serves_http_and_udp_and_stops_on_ctrl_c() {
    let mut tracker = ChildGuard::spawn(
        SHOAL,
        &[
            "tracker",
            "--http",
            "127.0.0.1:0",
            "--udp",
            "127.0.0.1:0",
            "--json",
            "--stats-every",
            "0",
            "--interval",
            "60",
        ],
    );
    let started: serde_json::Value = serde_json::from_str(&tracker.wait_line("", 20)).unwrap();
    assert_eq!(started["event"], "started", "{started}");
    let http: SocketAddr = started["http_addr"].as_str().unwrap().parse().unwrap();
    let udp: SocketAddr = started["udp_addr"].as_str().unwrap().parse().unwrap();
    let udp_url = started["announce_udp"].as_str().unwrap();
    assert!(udp_url.starts_with(&format!("udp://{udp}")), "{started}");

    // Two peers over HTTP: the second learns of the first, and the counts are right.
    let AnnounceReply::Ok(first) = http_announce(http, 1, 7001, 0) else {
        panic!("refused")
    };
    assert!(first.peers.is_empty(), "{:?}", first.peers);
    let AnnounceReply::Ok(second) = http_announce(http, 2, 7002, 1000) else {
        panic!("refused")
    };
    assert_eq!(second.peers, vec!["127.0.0.1:7001".parse().unwrap()]);
    assert_eq!((second.complete, second.incomplete), (Some(1), Some(1)));
    assert_eq!(second.interval, 60);

    // A third over UDP (BEP 15): connect, then announce; it gets both.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let UdpResponse::Connect { connection_id, .. } =
        udp_roundtrip(&sock, udp, &UdpRequest::Connect { transaction_id: 11 })
    else {
        panic!("no connect reply")
    };
    let announce = UdpRequest::Announce(UdpAnnounceRequest {
        connection_id,
        transaction_id: 12,
        info_hash: INFO_HASH,
        peer_id: PeerId([3; 20]),
        downloaded: 0,
        left: 500,
        uploaded: 0,
        event: None,
        ip: None,
        key: 3,
        num_want: Some(50),
        port: 7003,
    });
    let UdpResponse::Announce(reply) = udp_roundtrip(&sock, udp, &announce) else {
        panic!("no announce reply")
    };
    let UdpPeers::V4(mut peers) = reply.peers else {
        panic!("IPv6 peers for an IPv4 request")
    };
    peers.sort();
    assert_eq!(
        peers,
        vec![
            "127.0.0.1:7001".parse().unwrap(),
            "127.0.0.1:7002".parse().unwrap()
        ]
    );
    assert_eq!(reply.interval, 60);

    // A wrong connection id is refused with an error packet, not answered.
    let forged = UdpRequest::Announce(UdpAnnounceRequest {
        connection_id: connection_id ^ 1,
        transaction_id: 13,
        ..match &announce {
            UdpRequest::Announce(a) => a.clone(),
            _ => unreachable!(),
        }
    });
    assert!(matches!(
        udp_roundtrip(&sock, udp, &forged),
        UdpResponse::Error { .. }
    ));

    // The statistics page counts what happened.
    let (status, body) = http_get(http, "/stats.json");
    assert!(status.contains(" 200"), "{status}");
    let stats: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(stats["peers"], 3, "{stats}");
    assert_eq!(stats["seeders"], 1, "{stats}");
    assert_eq!(stats["http"]["announces"], 2, "{stats}");
    assert_eq!(stats["udp"]["announces"], 1, "{stats}");

    // Ctrl-C: a final statistics line and exit status 0.
    let status = tracker.interrupt(20);
    let stopped: serde_json::Value = serde_json::from_str(&tracker.wait_line("", 20)).unwrap();
    assert_eq!(stopped["event"], "stopped", "{stopped}");
    assert_eq!(stopped["stats"]["swarms"], 1, "{stopped}");
    assert!(status.success(), "{status}");
}

#[test]
fn tracker_command_refuses_an_address_in_use() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(SHOAL)
        .args(["tracker", "--http", &addr, "--stats-every", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&addr), "{err}");
    // Said once, although the error and its source both carry the OS message.
    assert_eq!(err.matches("os error").count(), 1, "{err}");
}
