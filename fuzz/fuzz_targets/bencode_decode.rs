//! Any input: no panic; what strict decode accepts encodes back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = bencode::decode(data) {
        assert_eq!(
            bencode::encode(&value),
            data,
            "strict input must round-trip"
        );
    }
    let _ = bencode::Decoder::new().lenient(true).decode(data);
});
