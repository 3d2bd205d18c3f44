//! Any body, as an announce reply and as a scrape reply: no panic; a decoded reply encodes
//! (dictionary model and compact) to canonical bencode that decodes to the same reply.
#![no_main]

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use tracker_proto::{AnnounceReply, Limits, ScrapeReply};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(reply) = AnnounceReply::decode(data, &limits) {
        let dict = reply.encode(false);
        assert!(bencode::decode(&dict).is_ok(), "canonical");
        assert_eq!(AnnounceReply::decode(&dict, &limits), Ok(reply.clone()));

        let compact = reply.encode(true);
        let mut expected = reply;
        // Compact form lists IPv4 peers (`peers`) before IPv6 ones (`peers6`).
        if let AnnounceReply::Ok(r) = &mut expected {
            let (v4, v6): (Vec<SocketAddr>, Vec<SocketAddr>) =
                r.peers.iter().partition(|p| p.is_ipv4());
            r.peers = v4.into_iter().chain(v6).collect();
        }
        assert_eq!(AnnounceReply::decode(&compact, &limits), Ok(expected));
    }
    if let Ok(reply) = ScrapeReply::decode(data, &limits) {
        let body = reply.encode();
        assert!(bencode::decode(&body).is_ok(), "canonical");
        assert_eq!(ScrapeReply::decode(&body, &limits), Ok(reply));
    }
});
