//! Any byte stream, any chunking: no panic; the messages (and the error, if any) are the
//! same as decoding the stream whole; every decoded message encodes back to exactly the
//! bytes it was decoded from.
//!
//! Input layout: 2 bytes of maximum length, 1 byte seeding the chunk sizes, the stream.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wire::{Error, Handshake, Message, MessageDecoder};

fn decode_all(
    decoder: &mut MessageDecoder,
    buf: &mut BytesMut,
    out: &mut Vec<Message>,
) -> Option<Error> {
    loop {
        match decoder.decode(buf) {
            Ok(Some(m)) => out.push(m),
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let max_len = u32::from(u16::from_be_bytes([data[0], data[1]]));
    let seed = usize::from(data[2]);
    let stream = &data[3..];

    let _ = Handshake::decode(stream);

    let mut whole = Vec::new();
    let mut buf = BytesMut::from(stream);
    let whole_err = decode_all(&mut MessageDecoder::new(max_len), &mut buf, &mut whole);
    let consumed = stream.len() - buf.len();

    // Re-encoding what was decoded gives back the consumed bytes exactly.
    let mut encoded = Vec::with_capacity(consumed);
    for m in &whole {
        m.encode(&mut encoded);
    }
    assert_eq!(
        encoded,
        &stream[..consumed],
        "decode then encode must be the identity"
    );

    // The same stream in chunks of 1..=37 bytes, sizes derived from the seed and input.
    let mut decoder = MessageDecoder::new(max_len);
    let mut chunked = Vec::new();
    let mut chunked_err = None;
    let mut buf = BytesMut::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < stream.len() && chunked_err.is_none() {
        let size = 1 + (seed.wrapping_mul(31).wrapping_add(i * 7) ^ usize::from(stream[pos])) % 37;
        let end = (pos + size).min(stream.len());
        buf.extend_from_slice(&stream[pos..end]);
        pos = end;
        i += 1;
        let before = buf.len();
        let n = chunked.len();
        chunked_err = decode_all(&mut decoder, &mut buf, &mut chunked);
        if chunked.len() == n && chunked_err.is_none() {
            assert_eq!(buf.len(), before, "Ok(None) must consume nothing");
        }
    }
    assert_eq!(chunked, whole);
    assert_eq!(chunked_err, whole_err);
});
