//! Any input: no panic, no hang, no stack overflow. Invariants checked on every input:
//! - strict accept ⇒ encoding gives back exactly the input bytes;
//! - lenient accept ⇒ the canonical encoding decodes strictly to the same content, and the
//!   raw span of the top value is the input without trailing whitespace;
//! - `decode_prefix` agrees with `decode` on the bytes it consumed.
#![no_main]

use bencode::{Decoder, Value, decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let strict = decode(data);
    if let Ok(value) = &strict {
        assert_eq!(encode(value), data, "strict input must round-trip");
    }

    let lenient = Decoder::new().lenient(true);
    match lenient.decode(data) {
        Ok(value) => {
            let canonical = encode(&value);
            let again = decode(&canonical).expect("canonical output decodes strictly");
            assert_eq!(encode(&again), canonical, "canonical form is a fixed point");
            let trimmed = data.trim_ascii_end();
            if matches!(value, Value::List(_) | Value::Dict(_)) {
                assert_eq!(&*value.raw(), trimmed, "raw span is the input");
            }
            if strict.is_ok() {
                assert_eq!(again, value, "strict and lenient agree on canonical input");
            }
        }
        Err(e) => {
            // What lenient refuses, strict refuses too, and every error has an offset
            // within the input.
            assert!(strict.is_err(), "strict accepted what lenient refused: {e}");
            assert!(e.offset().is_some_and(|o| o <= data.len()), "{e:?}");
        }
    }

    if let Ok((value, rest)) = Decoder::new().decode_prefix(data) {
        let consumed = &data[..data.len() - rest.len()];
        assert_eq!(
            decode(consumed).as_ref(),
            Ok(&value),
            "prefix decodes alone"
        );
    }
});
