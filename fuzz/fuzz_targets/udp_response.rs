//! Any datagram, read as an IPv4 or IPv6 reply (first byte's low bit): no panic; a parsed
//! response encodes to a packet that parses to the same response, byte for byte for
//! announce and scrape replies. The borrowed view (`UdpResponseRef`) accepts exactly what
//! the owned parser accepts, gives the same response, re-encodes to the datagram itself
//! (error replies too), and its compact peers iterate to the owned peers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracker_proto::{CompactPeers, Limits, UdpResponse, UdpResponseRef};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, packet)) = data.split_first() else {
        return;
    };
    let ipv6 = flags & 1 == 1;
    let limits = Limits::default();
    let owned = UdpResponse::parse(packet, ipv6, &limits);
    let view = UdpResponseRef::parse(packet, ipv6, &limits);
    assert_eq!(
        view.clone().map(|v| v.to_response()),
        owned.clone(),
        "view and owned parse agree"
    );
    if let Ok(view) = view {
        let mut again = Vec::with_capacity(view.encoded_len());
        view.encode(&mut again);
        assert_eq!(again.len(), view.encoded_len());
        match view {
            // A connect reply may carry bytes after its 16.
            UdpResponseRef::Connect { .. } => assert_eq!(again, packet[..16]),
            _ => assert_eq!(again, packet, "view encodes to its datagram"),
        }
        if let UdpResponseRef::Announce(a) = view {
            assert_eq!(a.peers.iter().len(), a.peers.len());
            assert_eq!(a.peers.as_bytes(), &packet[20..]);
            assert_eq!(CompactPeers::new(a.peers.as_bytes(), ipv6), Ok(a.peers));
            assert_eq!(
                a.peers.iter().collect::<Vec<_>>(),
                a.to_response().peers.to_socket_addrs()
            );
        }
    }
    if let Ok(response) = owned {
        let bytes = response.to_bytes();
        assert_eq!(
            UdpResponse::parse(&bytes, ipv6, &limits),
            Ok(response.clone()),
            "parse -> encode -> parse"
        );
        if matches!(response, UdpResponse::Announce(_) | UdpResponse::Scrape(_)) {
            assert_eq!(bytes, packet);
        }
    }
});
