//! Round trips (proptest) for every message, the handshake and the extension payloads,
//! and the chunking property: any split of a stream gives the same messages.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use shoal_wire::{
    BlockRequest, Error, ExtendedHandshake, HANDSHAKE_LEN, Handshake, HandshakeDecoder,
    HashRequest, Hashes, Message, MessageDecoder, PeerId, Pex, PexFlags, Reserved, UtMetadata,
};

fn bytes_up_to(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn block_request() -> impl Strategy<Value = BlockRequest> {
    (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(index, begin, length)| BlockRequest {
        index,
        begin,
        length,
    })
}

fn hash_request() -> impl Strategy<Value = HashRequest> {
    (
        any::<[u8; 32]>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(pieces_root, base_layer, index, length, proof_layers)| HashRequest {
                pieces_root,
                base_layer,
                index,
                length,
                proof_layers,
            },
        )
}

/// Every message kind, with arbitrary field values.
fn message() -> impl Strategy<Value = Message> {
    // Ids the crate knows are decoded as their own variants, never as `Unknown`.
    let unknown_id = any::<u8>().prop_filter(
        "an unassigned id",
        |id| !matches!(id, 0..=9 | 13..=17 | 20..=23),
    );
    prop_oneof![
        Just(Message::KeepAlive),
        Just(Message::Choke),
        Just(Message::Unchoke),
        Just(Message::Interested),
        Just(Message::NotInterested),
        any::<u32>().prop_map(Message::Have),
        bytes_up_to(300).prop_map(Message::Bitfield),
        block_request().prop_map(Message::Request),
        (any::<u32>(), any::<u32>(), bytes_up_to(2000))
            .prop_map(|(index, begin, data)| Message::Piece { index, begin, data }),
        block_request().prop_map(Message::Cancel),
        any::<u16>().prop_map(Message::Port),
        any::<u32>().prop_map(Message::Suggest),
        Just(Message::HaveAll),
        Just(Message::HaveNone),
        block_request().prop_map(Message::Reject),
        any::<u32>().prop_map(Message::AllowedFast),
        (any::<u8>(), bytes_up_to(300)).prop_map(|(id, payload)| Message::Extended { id, payload }),
        hash_request().prop_map(Message::HashRequest),
        (
            hash_request(),
            proptest::collection::vec(any::<[u8; 32]>(), 0..20)
        )
            .prop_map(|(request, hashes)| Message::Hashes(Hashes { request, hashes })),
        hash_request().prop_map(Message::HashReject),
        (unknown_id, bytes_up_to(100)).prop_map(|(id, payload)| Message::Unknown { id, payload }),
    ]
}

/// Decodes everything in `buf`; the messages, then the error if one stopped decoding.
fn decode_all(decoder: &mut MessageDecoder, buf: &mut BytesMut) -> (Vec<Message>, Option<Error>) {
    let mut out = Vec::new();
    loop {
        match decoder.decode(buf) {
            Ok(Some(m)) => out.push(m),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// Feeds `stream` in chunks of the given sizes (cycled), decoding after each chunk.
fn decode_chunked(stream: &[u8], sizes: &[usize], max_len: u32) -> (Vec<Message>, Option<Error>) {
    let mut decoder = MessageDecoder::new(max_len);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < stream.len() {
        let n = sizes[i % sizes.len()].max(1).min(stream.len() - pos);
        i += 1;
        buf.extend_from_slice(&stream[pos..pos + n]);
        pos += n;
        let before = buf.len();
        let (msgs, err) = decode_all(&mut decoder, &mut buf);
        if msgs.is_empty() && err.is_none() {
            assert_eq!(buf.len(), before, "Ok(None) must consume nothing");
        }
        out.extend(msgs);
        if err.is_some() {
            return (out, err);
        }
    }
    (out, None)
}

proptest! {
    #[test]
    fn every_message_round_trips(msg in message()) {
        let mut buf = msg.to_bytes();
        prop_assert_eq!(buf.len(), msg.encoded_len());
        let mut decoder = MessageDecoder::new(1 << 20);
        prop_assert_eq!(decoder.decode(&mut buf).unwrap(), Some(msg));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn piece_header_then_block_is_the_piece_message(index in any::<u32>(), begin in any::<u32>(),
                                                    data in bytes_up_to(100)) {
        let mut out = Vec::new();
        Message::encode_piece_header(index, begin, data.len(), &mut out);
        prop_assert_eq!(out.len(), 13);
        out.extend_from_slice(&data);
        prop_assert_eq!(out, Message::Piece { index, begin, data }.to_bytes().to_vec());
    }

    #[test]
    fn handshake_round_trips(reserved in any::<[u8; 8]>(), info_hash in any::<[u8; 20]>(),
                             peer_id in any::<[u8; 20]>(), cut in 0usize..=HANDSHAKE_LEN) {
        let hs = Handshake { reserved: Reserved(reserved), info_hash, peer_id: PeerId(peer_id) };
        let bytes = hs.to_bytes();
        let mut buf = BytesMut::from(&bytes[..cut]);
        let mut decoder = HandshakeDecoder::new();
        if cut < HANDSHAKE_LEN {
            prop_assert_eq!(decoder.decode(&mut buf).unwrap(), None);
            prop_assert_eq!(buf.len(), cut);
            buf.extend_from_slice(&bytes[cut..]);
        }
        prop_assert_eq!(decoder.decode(&mut buf).unwrap(), Some(hs));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn any_chunking_gives_the_same_messages(
        msgs in proptest::collection::vec(message(), 0..40),
        sizes in proptest::collection::vec(1usize..64, 1..8),
    ) {
        let mut stream = BytesMut::new();
        for m in &msgs {
            m.encode(&mut stream);
        }
        let (got, err) = decode_chunked(&stream, &sizes, 1 << 20);
        prop_assert_eq!(err, None);
        prop_assert_eq!(got, msgs);
    }

    #[test]
    fn garbage_decodes_the_same_whole_or_chunked(
        stream in proptest::collection::vec(any::<u8>(), 0..400),
        sizes in proptest::collection::vec(1usize..20, 1..8),
        max_len in 0u32..300,
    ) {
        let whole = decode_all(&mut MessageDecoder::new(max_len), &mut BytesMut::from(&stream[..]));
        prop_assert_eq!(decode_chunked(&stream, &sizes, max_len), whole);
    }

    #[test]
    fn extended_handshake_round_trips(
        m in proptest::collection::btree_map("[a-z_]{1,12}", any::<u8>(), 0..5),
        v in proptest::option::of("[ -~]{0,20}"),
        p in proptest::option::of(any::<u16>()),
        reqq in proptest::option::of(any::<u32>()),
        yourip in proptest::option::of(prop_oneof![
            any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
            any::<[u8; 16]>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        ]),
        metadata_size in proptest::option::of(0u64..=i64::MAX as u64),
        extra_ints in proptest::collection::btree_map("x[a-z]{0,6}", any::<i64>(), 0..4),
    ) {
        let extra: BTreeMap<Vec<u8>, Vec<u8>> = extra_ints
            .into_iter()
            .map(|(k, n)| (k.into_bytes(), format!("i{n}e").into_bytes()))
            .collect();
        let hs = ExtendedHandshake { m, v, p, reqq, yourip, metadata_size, extra };
        let payload = hs.to_bytes();
        prop_assert!(bencode::decode(&payload).is_ok(), "canonical bencode");
        prop_assert_eq!(ExtendedHandshake::decode(&payload).unwrap(), hs);
    }

    #[test]
    fn ut_metadata_round_trips(kind in 0u8..3, piece in any::<u32>(),
                               total_size in 0u64..=i64::MAX as u64, data in bytes_up_to(16384)) {
        let msg = match kind {
            0 => UtMetadata::Request { piece },
            1 => UtMetadata::Data { piece, total_size, data },
            _ => UtMetadata::Reject { piece },
        };
        prop_assert_eq!(UtMetadata::decode(&msg.to_bytes()).unwrap(), msg);
    }

    #[test]
    fn pex_round_trips(
        added in proptest::collection::vec((any::<[u8; 4]>(), any::<u16>(), any::<u8>()), 0..10),
        added6 in proptest::collection::vec((any::<[u8; 16]>(), any::<u16>(), any::<u8>()), 0..10),
        dropped in proptest::collection::vec((any::<[u8; 4]>(), any::<u16>()), 0..10),
        dropped6 in proptest::collection::vec((any::<[u8; 16]>(), any::<u16>()), 0..10),
    ) {
        let pex = Pex {
            added: added.into_iter()
                .map(|(ip, port, f)| (SocketAddrV4::new(ip.into(), port), PexFlags(f)))
                .collect(),
            added6: added6.into_iter()
                .map(|(ip, port, f)| (SocketAddrV6::new(ip.into(), port, 0, 0), PexFlags(f)))
                .collect(),
            dropped: dropped.into_iter().map(|(ip, port)| SocketAddrV4::new(ip.into(), port)).collect(),
            dropped6: dropped6.into_iter()
                .map(|(ip, port)| SocketAddrV6::new(ip.into(), port, 0, 0))
                .collect(),
        };
        prop_assert_eq!(Pex::decode(&pex.to_bytes()).unwrap(), pex);
    }
}

#[test]
fn piece_payload_shares_the_input_buffer() {
    let data = Bytes::from(vec![7u8; 16384]);
    let msg = Message::Piece {
        index: 3,
        begin: 16384,
        data: data.clone(),
    };
    let mut buf = msg.to_bytes();
    let start = buf.as_ptr() as usize;
    let Some(Message::Piece { data: got, .. }) =
        MessageDecoder::default().decode(&mut buf).unwrap()
    else {
        panic!("expected a piece");
    };
    assert_eq!(got, data);
    // The block is the 16 KiB after the 13-byte header of the very same allocation.
    assert_eq!(got.as_ptr() as usize, start + 13);
}
