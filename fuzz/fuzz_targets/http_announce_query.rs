//! Any query string, as an announce and as a scrape: no panic; a parsed request builds a
//! query string that parses to the same request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracker_proto::{AnnounceRequest, Limits, ScrapeRequest};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(request) = AnnounceRequest::parse_query(data, &limits) {
        let query = request.to_query_string();
        assert!(query.is_ascii());
        assert_eq!(
            AnnounceRequest::parse_query(
                query.as_bytes(),
                &Limits {
                    max_query_len: usize::MAX,
                    ..limits
                }
            ),
            Ok(request),
            "parse -> build -> parse"
        );
    }
    if let Ok(request) = ScrapeRequest::parse_query(data, &limits) {
        let query = request.to_query_string();
        assert_eq!(
            ScrapeRequest::parse_query(
                query.as_bytes(),
                &Limits {
                    max_query_len: usize::MAX,
                    ..limits
                }
            ),
            Ok(request),
            "parse -> build -> parse"
        );
    }
});
