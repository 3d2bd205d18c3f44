//! Extension payloads: no panic; whatever parses encodes to something that parses to the
//! same value (parse -> encode -> parse).
//!
//! Input layout: 1 byte choosing the parser (extension handshake, ut_metadata, ut_pex),
//! then the payload.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use wire::{ExtendedHandshake, Pex, UtMetadata};

fuzz_target!(|data: &[u8]| {
    let Some((&which, payload)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(hs) = ExtendedHandshake::decode(payload) {
                let again = ExtendedHandshake::decode(&hs.to_bytes()).expect("re-parse");
                assert_eq!(again, hs);
            }
        }
        1 => {
            if let Ok(msg) = UtMetadata::decode(&Bytes::copy_from_slice(payload)) {
                let again = UtMetadata::decode(&msg.to_bytes()).expect("re-parse");
                assert_eq!(again, msg);
            }
        }
        _ => {
            if let Ok(pex) = Pex::decode(payload) {
                let again = Pex::decode(&pex.to_bytes()).expect("re-parse");
                assert_eq!(again, pex);
            }
        }
    }
});
