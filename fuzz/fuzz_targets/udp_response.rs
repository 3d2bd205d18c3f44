//! Any datagram, read as an IPv4 or IPv6 reply (first byte's low bit): no panic; a parsed
//! response encodes to a packet that parses to the same response, byte for byte for
//! announce and scrape replies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracker_proto::{Limits, UdpResponse};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, packet)) = data.split_first() else {
        return;
    };
    let ipv6 = flags & 1 == 1;
    let limits = Limits::default();
    if let Ok(response) = UdpResponse::parse(packet, ipv6, &limits) {
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
