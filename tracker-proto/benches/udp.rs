//! UDP packet parse and encode, shoal against aquatic_udp_protocol (the protocol crate of
//! the aquatic tracker) on the same packets, plus HTTP query and reply figures.
//!
//! `cargo bench -p shoal-tracker-proto --bench udp -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::net::{IpAddr, SocketAddrV4};

use criterion::{Criterion, criterion_group, criterion_main};
use metainfo::PeerId;
use shoal_tracker_proto::{
    AnnounceReply, AnnounceRequest, AnnounceResponse, CompactPeers, CompactV4, Event, Limits,
    UdpAnnounceRequest, UdpAnnounceResponse, UdpAnnounceResponseRef, UdpPeers, UdpRequest,
    UdpResponse, UdpResponseRef,
};

fn announce_request() -> Vec<u8> {
    UdpRequest::Announce(UdpAnnounceRequest {
        connection_id: 0x1234_5678_9abc_def0,
        transaction_id: 77,
        info_hash: [0xab; 20],
        peer_id: PeerId(*b"-SH0100-abcdefghijkl"),
        downloaded: 1000,
        left: 5000,
        uploaded: 10,
        event: Some(Event::Started),
        ip: None,
        key: 99,
        num_want: Some(50),
        port: 6881,
    })
    .to_bytes()
}

fn peers(n: u8) -> Vec<SocketAddrV4> {
    (0..n)
        .map(|i| SocketAddrV4::new([10, 0, 0, i].into(), 6881 + u16::from(i)))
        .collect()
}

fn announce_response() -> UdpResponse {
    UdpResponse::Announce(UdpAnnounceResponse {
        transaction_id: 77,
        interval: 1800,
        leechers: 20,
        seeders: 30,
        peers: UdpPeers::V4(peers(50)),
    })
}

fn udp(c: &mut Criterion) {
    let limits = Limits::default();
    let request = announce_request();
    let mut g = c.benchmark_group("udp announce request parse");
    g.bench_function("shoal", |b| {
        b.iter(|| UdpRequest::parse(black_box(&request), &limits).unwrap())
    });
    g.bench_function("aquatic", |b| {
        b.iter(|| aquatic_udp_protocol::Request::parse_bytes(black_box(&request), 74).unwrap())
    });
    g.finish();

    let response = announce_response();
    let bytes = response.to_bytes();
    let aquatic_response = aquatic_udp_protocol::Response::parse_bytes(&bytes, true).unwrap();
    let mut out = Vec::with_capacity(2048);
    // Peers kept in wire form, as the shoal tracker keeps them.
    let compact: Vec<[u8; 6]> = peers(50).into_iter().map(CompactV4::entry).collect();
    let compact_response = UdpAnnounceResponseRef {
        transaction_id: 77,
        interval: 1800,
        leechers: 20,
        seeders: 30,
        peers: CompactPeers::V4(CompactV4::from_entries(&compact)),
    };
    let mut g = c.benchmark_group("udp announce response encode, 50 peers");
    g.bench_function("shoal compact", |b| {
        b.iter(|| {
            out.clear();
            black_box(&compact_response).encode(&mut out);
            black_box(out.len())
        })
    });
    g.bench_function("shoal", |b| {
        b.iter(|| {
            out.clear();
            black_box(&response).encode(&mut out);
            black_box(out.len())
        })
    });
    g.bench_function("aquatic", |b| {
        b.iter(|| {
            out.clear();
            black_box(&aquatic_response).write_bytes(&mut out).unwrap();
            black_box(out.len())
        })
    });
    g.finish();
    let mut check = Vec::new();
    aquatic_response.write_bytes(&mut check).unwrap();
    assert_eq!(check, bytes, "both encode the same packet");
    check.clear();
    compact_response.encode(&mut check);
    assert_eq!(check, bytes, "compact encodes the same packet");

    let mut g = c.benchmark_group("udp announce response parse, 50 peers");
    g.bench_function("shoal view", |b| {
        b.iter(|| UdpResponseRef::parse(black_box(&bytes), false, &limits).unwrap())
    });
    // The view parse plus reading every peer's address and port, to compare with a
    // parse that materialises them.
    g.bench_function("shoal view + read peers", |b| {
        b.iter(|| {
            let Ok(UdpResponseRef::Announce(r)) =
                UdpResponseRef::parse(black_box(&bytes), false, &limits)
            else {
                unreachable!()
            };
            r.peers.iter().fold(0u64, |acc, p| {
                let ip = match p.ip() {
                    IpAddr::V4(ip) => u64::from(ip.to_bits()),
                    IpAddr::V6(ip) => ip.to_bits() as u64,
                };
                acc.wrapping_add(ip ^ u64::from(p.port()))
            })
        })
    });
    g.bench_function("shoal", |b| {
        b.iter(|| UdpResponse::parse(black_box(&bytes), false, &limits).unwrap())
    });
    g.bench_function("aquatic", |b| {
        b.iter(|| aquatic_udp_protocol::Response::parse_bytes(black_box(&bytes), true).unwrap())
    });
    g.finish();
}

fn http(c: &mut Criterion) {
    let limits = Limits::default();
    let mut req = AnnounceRequest::new([0xab; 20], PeerId(*b"-SH0100-abcdefghijkl"), 6881);
    req.left = 5000;
    req.numwant = Some(50);
    req.key = Some("1a2b3c4d".into());
    let query = req.to_query_string();
    c.bench_function("http announce query parse", |b| {
        b.iter(|| AnnounceRequest::parse_query(black_box(query.as_bytes()), &limits).unwrap())
    });
    let reply = AnnounceReply::Ok(AnnounceResponse {
        interval: 1800,
        complete: Some(30),
        incomplete: Some(20),
        peers: peers(50).into_iter().map(Into::into).collect(),
        ..AnnounceResponse::default()
    });
    c.bench_function("http announce reply encode compact, 50 peers", |b| {
        b.iter(|| black_box(&reply).encode(true))
    });
    let body = reply.encode(true);
    c.bench_function("http announce reply decode compact, 50 peers", |b| {
        b.iter(|| AnnounceReply::decode(black_box(&body), &limits).unwrap())
    });
}

criterion_group!(benches, udp, http);
criterion_main!(benches);
