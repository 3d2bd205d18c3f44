//! Any datagram: no panic; a parsed request encodes to a packet that parses to the same
//! request; a parse error is sendable exactly when the header could be read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracker_proto::{Limits, RequestParseError, UdpRequest};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    match UdpRequest::parse(data, &limits) {
        Ok(request) => {
            let bytes = request.to_bytes();
            assert!(bytes.len() <= data.len(), "encoding never grows a request");
            assert_eq!(
                UdpRequest::parse(&bytes, &limits),
                Ok(request.clone()),
                "parse -> encode -> parse"
            );
            // Without BEP 41 options, scrape and connect bytes are reproduced exactly.
            if matches!(request, UdpRequest::Scrape(_)) {
                assert_eq!(bytes, data);
            }
        }
        Err(RequestParseError::Sendable { transaction_id, .. }) => {
            assert!(data.len() >= 16);
            assert_eq!(transaction_id.to_be_bytes(), data[12..16]);
        }
        Err(RequestParseError::Unsendable { .. }) => {}
    }
});
