//! Malformed input, table-driven: each case names the input and the exact error, which
//! says what is wrong and where (and, for UDP requests, whether a reply can be sent).

use shoal_tracker_proto::{
    AnnounceReply, AnnounceRequest, Error, Limits, PROTOCOL_ID, RequestParseError, ScrapeReply,
    ScrapeRequest, UdpRequest, UdpResponse,
};
use shoal_tracker_proto::{CompactPeers, CompactScrapeStats, CompactV4, CompactV6, UdpResponseRef};

const HASH: &str = "%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB";
const PEER: &str = "-SH0100-abcdefghijkl";

fn announce_query(extra: &str) -> String {
    format!("info_hash={HASH}&peer_id={PEER}&port=6881&uploaded=0&downloaded=0&left=5{extra}")
}

fn param(name: &'static str, offset: usize, reason: &str) -> Error {
    Error::InvalidParam {
        name,
        offset,
        reason: reason.into(),
    }
}

/// `query!(input => error)`: parsing the announce query fails with exactly `error`.
macro_rules! query {
    ($($name:ident: $query:expr => $err:expr;)*) => {$(
        #[test]
        fn $name() {
            let query: String = $query;
            let got = AnnounceRequest::parse_query(query.as_bytes(), &Limits::default());
            assert_eq!(got, Err($err), "query {query:?}");
        }
    )*};
}

// The base query is 140 bytes long: `&name=` of an appended parameter starts at byte 140.
query! {
    missing_info_hash: announce_query("").replace(&format!("info_hash={HASH}&"), "")
        => Error::MissingParam { name: "info_hash" };
    missing_left: announce_query("").replace("&left=5", "")
        => Error::MissingParam { name: "left" };
    short_info_hash: announce_query("").replacen("%AB", "", 1)
        => param("info_hash", 10, "expected 20 bytes after decoding, found 19");
    long_peer_id: announce_query("").replace(PEER, "-SH0100-abcdefghijklm")
        => param("peer_id", 79, "expected 20 bytes after decoding, found 21");
    bad_escape: announce_query("").replacen("%AB", "%A_", 1)
        => Error::BadPercentEncoding { offset: 10 };
    truncated_escape: announce_query("&key=%4")
        => Error::BadPercentEncoding { offset: 145 };
    port_out_of_range: announce_query("").replace("port=6881", "port=65536")
        => param("port", 105, "expected a number in range of u16, found \"65536\"");
    negative_left: announce_query("").replace("left=5", "left=-5")
        => param("left", 139, "expected a number in range of u64, found \"-5\"");
    plus_sign_number: announce_query("").replace("uploaded=0", "uploaded=+1")
        => param("uploaded", 119, "expected a number in range of u64, found \"+1\"");
    unknown_event: announce_query("&event=paused")
        => param("event", 147, "unknown event \"paused\"");
    bad_compact: announce_query("&compact=yes")
        => param("compact", 149, "expected 0 or 1, found \"yes\"");
    repeated_port: announce_query("&port=1")
        => Error::DuplicateParam { name: "port", offset: 146 };
    repeated_info_hash: announce_query(&format!("&info_hash={HASH}"))
        => Error::DuplicateParam { name: "info_hash", offset: 151 };
    too_long: announce_query(&"&x=y".repeat(5000))
        => Error::QueryTooLong { len: 140 + 20_000, max: 16 * 1024 };
}

#[test]
fn announce_query_keeps_a_binary_key() {
    // aria2 sends its key as raw bytes, e.g. key=%EFm%F5i.
    let q = announce_query("&key=%EFm%F5i");
    let req = AnnounceRequest::parse_query(q.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(req.key.as_deref(), Some(&b"\xEFm\xF5i"[..]));
    let again = AnnounceRequest::parse_query(req.to_query_string().as_bytes(), &Limits::default());
    assert_eq!(again.unwrap().key, req.key);
}

#[test]
fn announce_query_accepts_odd_but_valid_forms() {
    let q = announce_query("&&event=&numwant=-1&foo&supportcrypto=1&compact=1");
    let req = AnnounceRequest::parse_query(q.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(req.event, None);
    assert_eq!(req.numwant, None);
    assert!(req.compact);
    assert_eq!(req.info_hash, [0xab; 20]);
    assert_eq!(req.left, 5);
    // Unreserved characters may be sent raw, lowercase hex decodes too.
    let q = announce_query("").replace(HASH, &"%ab%AB".repeat(10));
    let req = AnnounceRequest::parse_query(q.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(req.info_hash, [0xab; 20]);
}

#[test]
fn scrape_query_limits_and_errors() {
    let one = format!("info_hash={HASH}");
    let limits = Limits {
        max_scrape_hashes: 2,
        ..Limits::default()
    };
    let three = [one.as_str(); 3].join("&");
    assert_eq!(
        ScrapeRequest::parse_query(three.as_bytes(), &limits),
        Err(Error::TooMany {
            what: "info hashes",
            count: 3,
            max: 2
        })
    );
    assert_eq!(
        ScrapeRequest::parse_query(b"info_hash=abc", &limits),
        Err(param(
            "info_hash",
            10,
            "expected 20 bytes after decoding, found 3"
        ))
    );
    assert_eq!(
        ScrapeRequest::parse_query(b"", &limits)
            .unwrap()
            .info_hashes,
        Vec::<[u8; 20]>::new()
    );
}

/// `body!(input => error)`: decoding the HTTP announce body fails with exactly `error`.
macro_rules! body {
    ($($name:ident: $body:expr => $err:expr;)*) => {$(
        #[test]
        fn $name() {
            let body: &[u8] = $body;
            assert_eq!(AnnounceReply::decode(body, &Limits::default()), Err($err));
        }
    )*};
}

fn wrong(key: &str, expected: &'static str, found: &'static str) -> Error {
    Error::WrongType {
        key: key.into(),
        expected,
        found,
    }
}

body! {
    body_not_bencode: b"<html>" => Error::Bencode(bencode::decode(b"<html>").unwrap_err());
    body_truncated: b"d8:intervali5e" =>
        Error::Bencode(bencode::decode(b"d8:intervali5e").unwrap_err());
    body_not_dict: b"li1ee" => wrong("body", "dictionary", "list");
    missing_interval: b"d5:peers0:e" => Error::MissingKey { key: "interval".into() };
    negative_interval: b"d8:intervali-1e5:peers0:e"
        => Error::OutOfRange { key: "interval".into(), value: -1 };
    interval_as_string: b"d8:interval2:305:peers0:e" => wrong("interval", "integer", "byte string");
    ragged_peers: b"d8:intervali5e5:peers7:abcdefge"
        => Error::BadCompactLength { key: "peers".into(), len: 7, entry: 6 };
    ragged_peers6: b"d8:intervali5e5:peers0:6:peers65:abcdee"
        => Error::BadCompactLength { key: "peers6".into(), len: 5, entry: 18 };
    peers_integer: b"d8:intervali5e5:peersi3ee" => wrong("peers", "byte string or list", "integer");
    dict_peer_without_port: b"d8:intervali5e5:peersld2:ip9:127.0.0.1eee"
        => Error::MissingKey { key: "peers[0].port".into() };
    dict_peer_bad_port: b"d8:intervali5e5:peersld2:ip9:127.0.0.14:porti70000eeee"
        => Error::OutOfRange { key: "peers[0].port".into(), value: 70000 };
    dict_peer_not_dict: b"d8:intervali5e5:peersli1eee" => wrong("peers[0]", "dictionary", "integer");
    bad_external_ip: b"d11:external ip3:abc8:intervali5e5:peers0:e"
        => Error::BadCompactLength { key: "external ip".into(), len: 3, entry: 4 };
    failure_not_string: b"d14:failure reasoni1ee" => wrong("failure reason", "byte string", "integer");
}

#[test]
fn http_body_lenient_and_limited() {
    // Keys out of order, a DNS-name peer (skipped), no peer list at all.
    let body = b"d5:peersld2:ip9:127.0.0.14:porti1eed2:ip9:peer.test4:porti2eee8:intervali9ee";
    let AnnounceReply::Ok(r) = AnnounceReply::decode(body, &Limits::default()).unwrap() else {
        panic!("failure");
    };
    assert_eq!(r.interval, 9);
    assert_eq!(r.peers, vec!["127.0.0.1:1".parse().unwrap()]);
    let AnnounceReply::Ok(r) =
        AnnounceReply::decode(b"d8:intervali9ee", &Limits::default()).unwrap()
    else {
        panic!("failure");
    };
    assert!(r.peers.is_empty());

    let limits = Limits {
        max_peers: 2,
        ..Limits::default()
    };
    assert_eq!(
        AnnounceReply::decode(b"d8:intervali5e5:peers18:aaaaaabbbbbbcccccce", &limits),
        Err(Error::TooMany {
            what: "peers",
            count: 3,
            max: 2
        })
    );
    // The limit counts peers and peers6 together.
    let mut body = b"d8:intervali5e5:peers12:aaaaaabbbbbb6:peers618:".to_vec();
    body.extend_from_slice(&[1; 18]);
    body.push(b'e');
    assert_eq!(
        AnnounceReply::decode(&body, &limits),
        Err(Error::TooMany {
            what: "peers",
            count: 3,
            max: 2
        })
    );
}

#[test]
fn scrape_body_errors() {
    let limits = Limits::default();
    assert_eq!(
        ScrapeReply::decode(b"d5:filesd3:abcdeee", &limits),
        Err(Error::BadCompactLength {
            key: "files key".into(),
            len: 3,
            entry: 20
        })
    );
    let mut body = b"d5:filesd20:".to_vec();
    body.extend_from_slice(&[0xaa; 20]);
    body.extend_from_slice(b"d8:completei-2eeee");
    assert_eq!(
        ScrapeReply::decode(&body, &limits),
        Err(Error::OutOfRange {
            key: format!("files.{}.complete", "aa".repeat(20)),
            value: -2
        })
    );
}

fn header(connection_id: u64, action: u32, transaction_id: u32) -> Vec<u8> {
    let mut p = connection_id.to_be_bytes().to_vec();
    p.extend_from_slice(&action.to_be_bytes());
    p.extend_from_slice(&transaction_id.to_be_bytes());
    p
}

fn sendable(error: Error) -> RequestParseError {
    RequestParseError::Sendable {
        connection_id: 77,
        transaction_id: 5,
        error,
    }
}

/// `udp_req!(packet => error)`: parsing the UDP request fails with exactly `error`.
macro_rules! udp_req {
    ($($name:ident: $packet:expr => $err:expr;)*) => {$(
        #[test]
        fn $name() {
            let packet: Vec<u8> = $packet;
            let limits = Limits { max_scrape_hashes: 3, ..Limits::default() };
            assert_eq!(UdpRequest::parse(&packet, &limits), Err($err));
        }
    )*};
}

udp_req! {
    udp_empty: vec![] => RequestParseError::Unsendable {
        error: Error::Truncated { what: "udp request", len: 0, expected: 16 },
    };
    udp_short_header: header(77, 1, 5)[..15].to_vec() => RequestParseError::Unsendable {
        error: Error::Truncated { what: "udp request", len: 15, expected: 16 },
    };
    udp_connect_without_magic: header(77, 0, 5) => RequestParseError::Unsendable {
        error: Error::InvalidField {
            field: "protocol_id",
            offset: 0,
            reason: "connect request must carry 0x41727101980, found 0x4d".into(),
        },
    };
    udp_short_announce: { let mut p = header(77, 1, 5); p.resize(97, 0); p }
        => sendable(Error::Truncated { what: "udp announce request", len: 97, expected: 98 });
    udp_bad_event: { let mut p = header(77, 1, 5); p.resize(98, 0); p[83] = 4; p }
        => sendable(Error::InvalidField {
            field: "event", offset: 80, reason: "expected 0 to 3, found 4".into(),
        });
    udp_unknown_action: header(77, 9, 5)
        => sendable(Error::UnknownAction { action: 9, offset: 8 });
    udp_empty_scrape: header(77, 2, 5)
        => sendable(Error::Truncated { what: "udp scrape request", len: 16, expected: 36 });
    udp_ragged_scrape: { let mut p = header(77, 2, 5); p.resize(16 + 21, 0); p }
        => sendable(Error::RaggedLength {
            what: "udp scrape request", len: 21, header: 16, entry: 20,
        });
    udp_scrape_over_limit: { let mut p = header(77, 2, 5); p.resize(16 + 80, 0); p }
        => sendable(Error::TooMany { what: "info hashes", count: 4, max: 3 });
}

#[test]
fn udp_request_accepts_bep41_options_and_connect() {
    let mut p = header(77, 1, 5);
    p.resize(98, 0);
    p[92..96].copy_from_slice(&(-7i32).to_be_bytes());
    p.extend_from_slice(&[
        2, 9, b'/', b'a', b'n', b'n', b'o', b'u', b'n', b'c', b'e', 0,
    ]);
    let UdpRequest::Announce(a) = UdpRequest::parse(&p, &Limits::default()).unwrap() else {
        panic!("not an announce");
    };
    assert_eq!((a.connection_id, a.transaction_id), (77, 5));
    assert_eq!((a.num_want, a.ip, a.event), (None, None, None));
    let connect = header(PROTOCOL_ID, 0, 8);
    assert_eq!(
        UdpRequest::parse(&connect, &Limits::default()),
        Ok(UdpRequest::Connect { transaction_id: 8 })
    );
}

/// `udp_resp!(packet, ipv6 => error)`: parsing the UDP response fails with exactly `error`,
/// owned and as a view.
macro_rules! udp_resp {
    ($($name:ident: $packet:expr, $ipv6:expr => $err:expr;)*) => {$(
        #[test]
        fn $name() {
            let packet: Vec<u8> = $packet;
            let limits = Limits { max_peers: 2, max_scrape_hashes: 2, ..Limits::default() };
            assert_eq!(UdpResponse::parse(&packet, $ipv6, &limits), Err($err));
            assert_eq!(UdpResponseRef::parse(&packet, $ipv6, &limits), Err($err), "view");
        }
    )*};
}

fn resp(action: u32, len: usize) -> Vec<u8> {
    let mut p = action.to_be_bytes().to_vec();
    p.extend_from_slice(&5u32.to_be_bytes());
    p.resize(len, 0);
    p
}

udp_resp! {
    resp_short: vec![0, 0, 0], false
        => Error::Truncated { what: "udp response", len: 3, expected: 8 };
    resp_short_connect: resp(0, 12), false
        => Error::Truncated { what: "udp connect response", len: 12, expected: 16 };
    resp_short_announce: resp(1, 19), false
        => Error::Truncated { what: "udp announce response", len: 19, expected: 20 };
    resp_ragged_v4: resp(1, 20 + 7), false
        => Error::RaggedLength { what: "udp announce response", len: 7, header: 20, entry: 6 };
    resp_ragged_v6: resp(1, 20 + 12), true
        => Error::RaggedLength { what: "udp announce response", len: 12, header: 20, entry: 18 };
    resp_too_many_peers: resp(1, 20 + 18), false
        => Error::TooMany { what: "peers", count: 3, max: 2 };
    resp_ragged_scrape: resp(2, 8 + 13), false
        => Error::RaggedLength { what: "udp scrape response", len: 13, header: 8, entry: 12 };
    resp_too_many_scrape: resp(2, 8 + 36), false
        => Error::TooMany { what: "scrape entries", count: 3, max: 2 };
    resp_unknown_action: resp(4, 8), false => Error::UnknownAction { action: 4, offset: 0 };
}

#[test]
fn error_messages_say_what_and_where() {
    let query = announce_query("").replace("port=6881", "port=65536");
    let e = AnnounceRequest::parse_query(query.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid query parameter port at byte 105: expected a number in range of u16, found \"65536\""
    );
    let mut packet = header(77, 1, 5);
    packet.resize(97, 0);
    let e = UdpRequest::parse(&packet, &Limits::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "udp announce request is 97 bytes, expected at least 98"
    );
    let e = AnnounceReply::decode(b"d8:intervali5e5:peers7:abcdefge", &Limits::default());
    assert_eq!(
        e.unwrap_err().to_string(),
        "peers: 7 bytes is not a multiple of 6"
    );
}

#[test]
fn ipv4_mapped_peers_are_sent_and_read_as_ipv4() {
    let mapped: std::net::SocketAddr = "[::ffff:10.1.2.3]:6881".parse().unwrap();
    let reply = AnnounceReply::Ok(shoal_tracker_proto::AnnounceResponse {
        interval: 60,
        peers: vec![mapped],
        ..Default::default()
    });
    let compact = reply.encode(true);
    assert_eq!(
        compact,
        b"d8:intervali60e5:peers6:\x0a\x01\x02\x03\x1a\xe1e"
    );
    let dict = reply.encode(false);
    assert_eq!(
        dict,
        b"d8:intervali60e5:peersld2:ip8:10.1.2.34:porti6881eeee"
    );
    let mut peers6 = b"d8:intervali60e5:peers0:6:peers618:".to_vec();
    peers6.extend_from_slice(&[
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3, 0x1a, 0xe1,
    ]);
    peers6.push(b'e');
    let AnnounceReply::Ok(r) = AnnounceReply::decode(&peers6, &Limits::default()).unwrap() else {
        panic!("failure");
    };
    assert_eq!(r.peers, vec!["10.1.2.3:6881".parse().unwrap()]);
}

/// `compact!(expr => key, len, entry)`: a compact view over a ragged byte string fails with
/// `BadCompactLength`, naming the value, its length and the entry size.
macro_rules! compact {
    ($($name:ident: $view:expr => $key:expr, $len:expr, $entry:expr;)*) => {$(
        #[test]
        fn $name() {
            let err = $view.map(|_| ()).unwrap_err();
            assert_eq!(err, Error::BadCompactLength { key: $key.into(), len: $len, entry: $entry });
            assert_eq!(
                err.to_string(),
                format!("{}: {} bytes is not a multiple of {}", $key, $len, $entry)
            );
        }
    )*};
}

compact! {
    compact_v4_ragged: CompactV4::new(&[1; 7]) => "compact IPv4 peers", 7, 6;
    compact_v4_short: CompactV4::new(&[1; 5]) => "compact IPv4 peers", 5, 6;
    compact_v6_ragged: CompactV6::new(&[1; 30]) => "compact IPv6 peers", 30, 18;
    compact_v6_given_v4_entries: CompactV6::new(&[1; 12]) => "compact IPv6 peers", 12, 18;
    compact_peers_v4_ragged: CompactPeers::new(&[1; 13], false) => "compact IPv4 peers", 13, 6;
    compact_peers_v6_ragged: CompactPeers::new(&[1; 6], true) => "compact IPv6 peers", 6, 18;
    compact_stats_ragged: CompactScrapeStats::new(&[1; 25]) => "compact scrape stats", 25, 12;
}

#[test]
fn compact_views_of_whole_entries() {
    assert!(CompactV4::new(&[]).unwrap().is_empty());
    assert!(CompactV6::new(&[]).unwrap().is_empty());
    let v4 = CompactV4::new(&[127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 80]).unwrap();
    assert_eq!(
        v4.to_vec(),
        [
            "127.0.0.1:6881".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap()
        ]
    );
    assert_eq!(format!("{v4:?}"), "[127.0.0.1:6881, 10.0.0.2:80]");
    let mut v6 = [0u8; 18];
    v6[15] = 1;
    v6[16..].copy_from_slice(&6881u16.to_be_bytes());
    let peers = CompactPeers::new(&v6, true).unwrap();
    assert_eq!(
        peers.iter().collect::<Vec<_>>(),
        ["[::1]:6881".parse().unwrap()]
    );
    assert_eq!(peers.as_bytes(), &v6);
    let stats = CompactScrapeStats::new(&[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]).unwrap();
    assert_eq!(
        stats.iter().collect::<Vec<_>>(),
        [shoal_tracker_proto::SwarmStats {
            seeders: 1,
            completed: 2,
            leechers: 3
        }]
    );
}

#[test]
fn error_reply_view_keeps_the_raw_message() {
    let mut packet = resp(3, 8);
    packet.extend_from_slice(b"bad ");
    packet.push(0xff);
    let view = UdpResponseRef::parse(&packet, false, &Limits::default()).unwrap();
    assert_eq!(
        view,
        UdpResponseRef::Error {
            transaction_id: 5,
            message: &packet[8..]
        }
    );
    let UdpResponse::Error { message, .. } = view.to_response() else {
        panic!("an error reply");
    };
    assert_eq!(message, "bad \u{fffd}");
}
