//! The tokio-util adapters decode and encode exactly like the sans-IO codec.
#![cfg(feature = "tokio")]

use bytes::{Bytes, BytesMut};
use shoal_wire::{Handshake, HandshakeDecoder, Message, MessageCodec, MessageDecoder, PeerId};
use tokio_util::codec::{Decoder, Encoder};

#[test]
fn message_codec_round_trips_through_the_tokio_traits() {
    let mut codec = MessageCodec::new(MessageDecoder::new(1024));
    let mut buf = BytesMut::new();
    let msgs = [
        Message::HaveAll,
        Message::Piece {
            index: 1,
            begin: 0,
            data: Bytes::from_static(b"block"),
        },
        Message::KeepAlive,
    ];
    for m in &msgs {
        Encoder::<&Message>::encode(&mut codec, m, &mut buf).unwrap();
    }
    Encoder::<Message>::encode(&mut codec, Message::Choke, &mut buf).unwrap();
    for m in msgs.iter().chain([&Message::Choke]) {
        assert_eq!(
            Decoder::decode(&mut codec, &mut buf).unwrap().as_ref(),
            Some(m)
        );
    }
    assert_eq!(Decoder::decode(&mut codec, &mut buf).unwrap(), None);
    // The maximum still applies through the adapter.
    let mut big = BytesMut::from(&[0, 0, 4, 1, 7][..]);
    assert!(Decoder::decode(&mut codec, &mut big).is_err());
}

#[test]
fn handshake_decoder_is_a_tokio_codec() {
    let hs = Handshake::new([3; 20], PeerId([4; 20]));
    let mut buf = BytesMut::new();
    Encoder::encode(&mut HandshakeDecoder::new(), hs, &mut buf).unwrap();
    assert_eq!(
        Decoder::decode(&mut HandshakeDecoder::new(), &mut buf).unwrap(),
        Some(hs)
    );
    assert!(buf.is_empty());
}
