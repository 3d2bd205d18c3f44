//! Round-trip properties: every message, built then parsed (or encoded then decoded),
//! comes back equal.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use metainfo::PeerId;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use shoal_tracker_proto::{
    AnnounceReply, AnnounceRequest, AnnounceResponse, CompactPeers, CompactV4, CompactV6, Event,
    Limits, ScrapeReply, ScrapeRequest, ScrapeResponse, SwarmStats, UdpAnnounceRequest,
    UdpAnnounceResponse, UdpAnnounceResponseRef, UdpPeers, UdpRequest, UdpResponse, UdpResponseRef,
    UdpScrapeRequest, UdpScrapeResponse,
};

fn limits() -> Limits {
    Limits::default()
}

fn event() -> impl Strategy<Value = Option<Event>> {
    prop_oneof![
        Just(None),
        Just(Some(Event::Started)),
        Just(Some(Event::Completed)),
        Just(Some(Event::Stopped)),
    ]
}

fn v4() -> impl Strategy<Value = SocketAddrV4> {
    (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddrV4::new(ip.into(), port))
}

fn v6() -> impl Strategy<Value = SocketAddrV6> {
    (any::<[u8; 16]>(), any::<u16>())
        .prop_map(|(ip, port)| SocketAddrV6::new(ip.into(), port, 0, 0))
}

fn peer() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        v4().prop_map(SocketAddr::V4),
        v6().prop_map(SocketAddr::V6),
        // What a dual-stack server socket reports for an IPv4 client.
        v4().prop_map(|a| SocketAddr::new(a.ip().to_ipv6_mapped().into(), a.port())),
    ]
}

/// HTTP replies carry IPv4-mapped IPv6 addresses as IPv4.
fn canonical(peers: &[SocketAddr]) -> Vec<SocketAddr> {
    peers
        .iter()
        .map(|p| SocketAddr::new(p.ip().to_canonical(), p.port()))
        .collect()
}

fn stats() -> impl Strategy<Value = SwarmStats> {
    any::<(u32, u32, u32)>().prop_map(|(seeders, completed, leechers)| SwarmStats {
        seeders,
        completed,
        leechers,
    })
}

prop_compose! {
    fn announce_request()(
        info_hash in any::<[u8; 20]>(),
        peer_id in any::<[u8; 20]>(),
        port in any::<u16>(),
        uploaded in any::<u64>(),
        downloaded in any::<u64>(),
        left in any::<u64>(),
        event in event(),
        compact in any::<bool>(),
        no_peer_id in any::<bool>(),
        numwant in option::of(any::<u32>()),
        key in option::of(vec(any::<u8>(), 0..12)),
        tracker_id in option::of(vec(any::<u8>(), 0..24)),
        ip in option::of("[a-z0-9:.]{0,40}"),
    ) -> AnnounceRequest {
        AnnounceRequest {
            info_hash, peer_id: PeerId(peer_id), port, uploaded, downloaded, left, event,
            compact, no_peer_id, numwant, key, tracker_id, ip,
        }
    }
}

prop_compose! {
    fn announce_response()(
        interval in any::<u32>(),
        min_interval in option::of(any::<u32>()),
        tracker_id in option::of(vec(any::<u8>(), 0..24)),
        complete in option::of(any::<u32>()),
        incomplete in option::of(any::<u32>()),
        warning_message in option::of(".{0,40}"),
        external_ip in option::of(prop_oneof![
            any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
            any::<[u8; 16]>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        ]),
        peers in vec(peer(), 0..40),
    ) -> AnnounceResponse {
        AnnounceResponse {
            interval, min_interval, tracker_id, complete, incomplete, warning_message,
            external_ip, peers,
        }
    }
}

prop_compose! {
    fn udp_announce_request()(
        connection_id in any::<u64>(),
        transaction_id in any::<u32>(),
        info_hash in any::<[u8; 20]>(),
        peer_id in any::<[u8; 20]>(),
        downloaded in any::<u64>(),
        left in any::<u64>(),
        uploaded in any::<u64>(),
        event in event(),
        ip in option::of(1u32..).prop_map(|ip| ip.map(Ipv4Addr::from)),
        key in any::<u32>(),
        num_want in option::of(0..=i32::MAX as u32),
        port in any::<u16>(),
    ) -> UdpAnnounceRequest {
        UdpAnnounceRequest {
            connection_id, transaction_id, info_hash, peer_id: PeerId(peer_id), downloaded,
            left, uploaded, event, ip, key, num_want, port,
        }
    }
}

fn udp_request() -> impl Strategy<Value = UdpRequest> {
    prop_oneof![
        any::<u32>().prop_map(|transaction_id| UdpRequest::Connect { transaction_id }),
        udp_announce_request().prop_map(UdpRequest::Announce),
        (any::<u64>(), any::<u32>(), vec(any::<[u8; 20]>(), 1..=74)).prop_map(
            |(connection_id, transaction_id, info_hashes)| {
                UdpRequest::Scrape(UdpScrapeRequest {
                    connection_id,
                    transaction_id,
                    info_hashes,
                })
            }
        ),
    ]
}

/// A response and whether it is meant for an IPv6 request.
fn udp_response() -> impl Strategy<Value = (UdpResponse, bool)> {
    let peers = prop_oneof![
        vec(v4(), 0..60).prop_map(UdpPeers::V4),
        vec(v6(), 0..60).prop_map(UdpPeers::V6),
    ];
    let announce = (any::<(u32, u32, u32, u32)>(), peers).prop_map(
        |((transaction_id, interval, leechers, seeders), peers)| {
            let ipv6 = matches!(peers, UdpPeers::V6(_));
            let r = UdpAnnounceResponse {
                transaction_id,
                interval,
                leechers,
                seeders,
                peers,
            };
            (UdpResponse::Announce(r), ipv6)
        },
    );
    let rest = prop_oneof![
        any::<(u32, u64)>().prop_map(|(transaction_id, connection_id)| UdpResponse::Connect {
            transaction_id,
            connection_id
        }),
        (any::<u32>(), vec(stats(), 0..74)).prop_map(|(transaction_id, stats)| {
            UdpResponse::Scrape(UdpScrapeResponse {
                transaction_id,
                stats,
            })
        }),
        (any::<u32>(), ".{0,60}").prop_map(|(transaction_id, message)| UdpResponse::Error {
            transaction_id,
            message
        }),
    ];
    prop_oneof![announce, (rest, any::<bool>())]
}

/// Compact encoding lists IPv4 peers (`peers`) before IPv6 ones (`peers6`).
fn compact_order(peers: &[SocketAddr]) -> Vec<SocketAddr> {
    let peers = canonical(peers);
    let mut out: Vec<_> = peers.iter().copied().filter(SocketAddr::is_ipv4).collect();
    out.extend(peers.iter().copied().filter(SocketAddr::is_ipv6));
    out
}

proptest! {
    #[test]
    fn http_announce_query_round_trips(req in announce_request(), base in prop_oneof![
        Just("http://t.example/announce"),
        Just("http://t.example/announce?pk=1"),
        Just("http://t.example/announce?"),
    ]) {
        let query = req.to_query_string();
        prop_assert!(query.is_ascii());
        prop_assert_eq!(AnnounceRequest::parse_query(query.as_bytes(), &limits()).unwrap(), req.clone());
        let url = req.announce_url(base);
        prop_assert!(url.starts_with(base));
        let (_, url_query) = url.split_once('?').unwrap();
        prop_assert_eq!(AnnounceRequest::parse_query(url_query.as_bytes(), &limits()).unwrap(), req);
    }

    #[test]
    fn http_scrape_query_round_trips(hashes in vec(any::<[u8; 20]>(), 0..=128)) {
        let req = ScrapeRequest { info_hashes: hashes };
        let query = req.to_query_string();
        prop_assert_eq!(ScrapeRequest::parse_query(query.as_bytes(), &limits()).unwrap(), req);
    }

    #[test]
    fn http_announce_reply_round_trips_dict_model(resp in announce_response()) {
        let body = AnnounceReply::Ok(resp.clone()).encode(false);
        prop_assert!(bencode::decode(&body).is_ok(), "canonical bencode");
        let expected = AnnounceResponse { peers: canonical(&resp.peers), ..resp };
        prop_assert_eq!(AnnounceReply::decode(&body, &limits()).unwrap(), AnnounceReply::Ok(expected));
    }

    #[test]
    fn http_announce_reply_round_trips_compact(resp in announce_response()) {
        let body = AnnounceReply::Ok(resp.clone()).encode(true);
        prop_assert!(bencode::decode(&body).is_ok(), "canonical bencode");
        let AnnounceReply::Ok(back) = AnnounceReply::decode(&body, &limits()).unwrap() else {
            panic!("decoded a failure");
        };
        let expected = AnnounceResponse { peers: compact_order(&resp.peers), ..resp };
        prop_assert_eq!(back, expected);
    }

    #[test]
    fn http_failure_round_trips(reason in ".{0,80}", compact in any::<bool>()) {
        let reply = AnnounceReply::Failure(reason.clone());
        prop_assert_eq!(AnnounceReply::decode(&reply.encode(compact), &limits()).unwrap(), reply);
        let reply = ScrapeReply::Failure(reason);
        prop_assert_eq!(ScrapeReply::decode(&reply.encode(), &limits()).unwrap(), reply);
    }

    #[test]
    fn http_scrape_reply_round_trips(
        files in proptest::collection::btree_map(any::<[u8; 20]>(), stats(), 0..40),
        min_request_interval in option::of(any::<u32>()),
    ) {
        let reply = ScrapeReply::Ok(ScrapeResponse { files: files.into_iter().collect::<BTreeMap<_, _>>(), min_request_interval });
        prop_assert_eq!(ScrapeReply::decode(&reply.encode(), &limits()).unwrap(), reply);
    }

    #[test]
    fn udp_request_round_trips(req in udp_request()) {
        let bytes = req.to_bytes();
        prop_assert_eq!(UdpRequest::parse(&bytes, &limits()).unwrap(), req);
    }

    #[test]
    fn udp_response_round_trips((resp, ipv6) in udp_response()) {
        let bytes = resp.to_bytes();
        prop_assert_eq!(UdpResponse::parse(&bytes, ipv6, &limits()).unwrap(), resp);
    }

    #[test]
    fn udp_request_parse_never_panics(bytes in vec(any::<u8>(), 0..200)) {
        if let Ok(req) = UdpRequest::parse(&bytes, &limits()) {
            prop_assert_eq!(UdpRequest::parse(&req.to_bytes(), &limits()).unwrap(), req);
        }
    }

    #[test]
    fn udp_response_parse_never_panics(bytes in vec(any::<u8>(), 0..200), ipv6 in any::<bool>()) {
        if let Ok(resp) = UdpResponse::parse(&bytes, ipv6, &limits()) {
            prop_assert_eq!(UdpResponse::parse(&resp.to_bytes(), ipv6, &limits()).unwrap(), resp);
        }
    }

    /// The borrowed view reads what the owned parser reads, and encodes back to the very
    /// bytes it came from.
    #[test]
    fn udp_response_view_round_trips((resp, ipv6) in udp_response()) {
        let bytes = resp.to_bytes();
        let view = UdpResponseRef::parse(&bytes, ipv6, &limits()).unwrap();
        prop_assert_eq!(view.to_response(), resp.clone());
        prop_assert_eq!(view.transaction_id(), resp.transaction_id());
        prop_assert_eq!(view.encoded_len(), bytes.len());
        let mut again = Vec::new();
        view.encode(&mut again);
        prop_assert_eq!(&again, &bytes);
        match (view, &resp) {
            (UdpResponseRef::Announce(v), UdpResponse::Announce(r)) => {
                prop_assert_eq!(v.peers.len(), r.peers.len());
                prop_assert_eq!(v.peers.iter().len(), r.peers.len());
                prop_assert_eq!(v.peers.iter().collect::<Vec<_>>(), r.peers.to_socket_addrs());
                match (v.peers, &r.peers) {
                    (CompactPeers::V4(c), UdpPeers::V4(p)) => {
                        prop_assert_eq!(c.iter().rev().collect::<Vec<_>>(),
                            p.iter().rev().copied().collect::<Vec<_>>());
                    }
                    (CompactPeers::V6(c), UdpPeers::V6(p)) => {
                        prop_assert_eq!(c.iter().rev().collect::<Vec<_>>(),
                            p.iter().rev().copied().collect::<Vec<_>>());
                    }
                    _ => prop_assert!(false, "peer family changed"),
                }
            }
            (UdpResponseRef::Scrape { stats, .. }, UdpResponse::Scrape(r)) => {
                prop_assert_eq!(stats.iter().collect::<Vec<_>>(), r.stats.clone());
            }
            (UdpResponseRef::Error { message, .. }, UdpResponse::Error { message: m, .. }) => {
                prop_assert_eq!(message, m.as_bytes());
            }
            (UdpResponseRef::Connect { .. }, UdpResponse::Connect { .. }) => {}
            (v, r) => prop_assert!(false, "kind changed: {:?} / {:?}", v, r),
        }
    }

    /// A reply built from compact entries is byte for byte the reply built from addresses.
    #[test]
    fn compact_announce_reply_encodes_like_the_owned_one(
        header in any::<(u32, u32, u32, u32)>(),
        v4s in vec(v4(), 0..80),
        v6s in vec(v6(), 0..80),
        ipv6 in any::<bool>(),
    ) {
        let (transaction_id, interval, leechers, seeders) = header;
        let e4: Vec<[u8; 6]> = v4s.iter().map(|&a| CompactV4::entry(a)).collect();
        let e6: Vec<[u8; 18]> = v6s.iter().map(|&a| CompactV6::entry(a)).collect();
        let (peers, owned) = if ipv6 {
            (CompactPeers::V6(CompactV6::from_entries(&e6)), UdpPeers::V6(v6s.clone()))
        } else {
            (CompactPeers::V4(CompactV4::from_entries(&e4)), UdpPeers::V4(v4s.clone()))
        };
        let compact = UdpAnnounceResponseRef { transaction_id, interval, leechers, seeders, peers };
        let owned = UdpAnnounceResponse { transaction_id, interval, leechers, seeders, peers: owned };
        let mut bytes = Vec::new();
        compact.encode(&mut bytes);
        prop_assert_eq!(&bytes, &UdpResponse::Announce(owned.clone()).to_bytes());
        prop_assert_eq!(bytes.len(), compact.encoded_len());
        prop_assert_eq!(compact.to_response(), owned);
        // The same bytes, viewed without the entry arrays.
        let again = CompactPeers::new(&bytes[20..], ipv6).unwrap();
        prop_assert_eq!(again, peers);
        prop_assert_eq!(CompactV4::new(CompactV4::from_entries(&e4).as_bytes()).unwrap().to_vec(), v4s);
        prop_assert_eq!(CompactV6::new(CompactV6::from_entries(&e6).as_bytes()).unwrap().to_vec(), v6s);
    }

    /// Any bytes: the view parses exactly when the owned parser does, to the same thing.
    #[test]
    fn udp_response_view_agrees_on_any_bytes(bytes in vec(any::<u8>(), 0..200), ipv6 in any::<bool>()) {
        let view = UdpResponseRef::parse(&bytes, ipv6, &limits());
        prop_assert_eq!(view.clone().map(|v| v.to_response()), UdpResponse::parse(&bytes, ipv6, &limits()));
        if let Ok(v) = view {
            let mut again = Vec::new();
            v.encode(&mut again);
            if !matches!(v, UdpResponseRef::Connect { .. }) {
                prop_assert_eq!(again, bytes);
            }
        }
    }
}
