//! Bad input: each case gets the error that says what and where, never a panic.

use bytes::{Bytes, BytesMut};
use shoal_wire::{
    Bitfield, Error, ExtendedHandshake, Handshake, Message, MessageDecoder, Pex, UtMetadata,
    allowed_fast_set,
};

fn decode_one(max_len: u32, bytes: &[u8]) -> Result<Option<Message>, Error> {
    MessageDecoder::new(max_len).decode(&mut BytesMut::from(bytes))
}

/// Table of length errors: (bytes, id, length, expected).
macro_rules! bad_length {
    ($($name:ident: $bytes:expr => ($id:expr, $len:expr, $expected:expr);)*) => {$(
        #[test]
        fn $name() {
            match decode_one(1 << 20, &$bytes) {
                Err(Error::BadLength { id, length, expected, offset, .. }) => {
                    assert_eq!((id, length, expected, offset), ($id, $len, $expected, 0));
                }
                other => panic!("expected BadLength, got {other:?}"),
            }
        }
    )*};
}

bad_length! {
    choke_with_payload: [0, 0, 0, 2, 0, 0] => (0, 2, "1");
    have_too_short: [0, 0, 0, 4, 4, 0, 0, 0] => (4, 4, "5");
    request_too_long: [0, 0, 0, 14, 6] => (6, 14, "13");
    port_wrong: [0, 0, 0, 5, 9] => (9, 5, "3");
    piece_without_header: [0, 0, 0, 8, 7] => (7, 8, "at least 9");
    extended_without_id: [0, 0, 0, 1, 20] => (20, 1, "at least 2");
    hashes_partial_hash: [0, 0, 0, 50, 22] => (22, 50, "49 plus a multiple of 32");
    hash_reject_short: [0, 0, 0, 48, 23] => (23, 48, "49");
    have_all_with_payload: [0, 0, 0, 2, 14] => (14, 2, "1");
}

#[test]
fn length_over_the_maximum_is_refused_before_the_payload_arrives() {
    // Only the prefix and the id: nothing of the claimed 1 GiB is needed to refuse it.
    let err = decode_one(1024, &[0x40, 0, 0, 0, 7]).unwrap_err();
    assert_eq!(
        err,
        Error::MessageTooLong {
            id: 7,
            length: 0x4000_0000,
            max: 1024,
            offset: 0
        }
    );
    assert!(err.to_string().contains("message id 7"), "{err}");
    // With only the prefix, the decoder waits for the id.
    assert_eq!(decode_one(1024, &[0x40, 0, 0, 0]), Ok(None));
}

#[test]
fn error_offset_counts_the_messages_before() {
    let mut buf = BytesMut::new();
    Message::Interested.encode(&mut buf); // 5 bytes
    Message::KeepAlive.encode(&mut buf); // 4 bytes
    buf.extend_from_slice(&[0, 0, 0, 2, 1, 0]); // unchoke with a payload
    let mut decoder = MessageDecoder::default();
    assert_eq!(decoder.decode(&mut buf), Ok(Some(Message::Interested)));
    assert_eq!(decoder.decode(&mut buf), Ok(Some(Message::KeepAlive)));
    match decoder.decode(&mut buf) {
        Err(Error::BadLength { offset, id, .. }) => assert_eq!((offset, id), (9, 1)),
        other => panic!("expected BadLength, got {other:?}"),
    }
}

#[test]
fn for_torrent_fits_its_bitfield_and_blocks() {
    // 10 million pieces: a 1.25 MB bitfield must pass, one byte more must not.
    let d = MessageDecoder::for_torrent(10_000_000, 16384);
    assert_eq!(d.max_len(), 1_250_001);
    let d = MessageDecoder::for_torrent(100, 1 << 20);
    assert_eq!(d.max_len(), (1 << 20) + 9);
    let d = MessageDecoder::for_torrent(100, 16384);
    assert_eq!(d.max_len(), shoal_wire::EXTENSION_MAX_MESSAGE_LEN);
}

#[test]
fn unknown_ids_are_kept_not_refused() {
    let msg = decode_one(100, &[0, 0, 0, 3, 99, 1, 2]).unwrap();
    assert_eq!(
        msg,
        Some(Message::Unknown {
            id: 99,
            payload: Bytes::from_static(&[1, 2])
        })
    );
}

#[test]
fn wrong_protocol_string_is_refused_at_the_first_wrong_byte() {
    assert_eq!(
        Handshake::decode(b"\x13BitTorrent protocoX"),
        Err(Error::BadProtocol {
            offset: 19,
            found: b'X',
            expected: b'l'
        })
    );
    let err = Handshake::decode(b"GET /announce").unwrap_err();
    assert!(err.to_string().contains("byte 0"), "{err}");
    assert_eq!(Handshake::decode(b"\x13BitTorrent"), Ok(None));
    assert_eq!(Handshake::peek_info_hash(&[0x13; 1]), Ok(None));
}

#[test]
fn bitfield_checks_length_and_spare_bits() {
    assert_eq!(
        Bitfield::from_bytes(&[0xff, 0xff], 17).unwrap_err(),
        Error::BitfieldLength {
            length: 2,
            expected: 3,
            num_pieces: 17
        }
    );
    assert_eq!(
        Bitfield::from_bytes(&[0xff, 0xff, 0x40], 17).unwrap_err(),
        Error::BitfieldSpareBits { num_pieces: 17 }
    );
    let b = Bitfield::from_bytes(&[0xff, 0xff, 0x80], 17).unwrap();
    assert!(b.is_full());
    assert_eq!(b, Bitfield::full(17));
    assert_eq!(b.iter_set().count(), 17);
    assert!(!b.get(17));
    let mut b = Bitfield::new(17);
    assert_eq!(
        b.set(17, true),
        Err(Error::PieceIndexOutOfRange {
            index: 17,
            num_pieces: 17
        })
    );
    b.set(16, true).unwrap();
    b.set(3, true).unwrap();
    assert_eq!(b.iter_set().collect::<Vec<_>>(), [3, 16]);
    assert_eq!(b.as_bytes(), [0x10, 0, 0x80]);
    assert_eq!(Bitfield::full(0).as_bytes(), b"");
    assert_eq!(Bitfield::full(8).as_bytes(), [0xff]);
}

#[test]
fn allowed_fast_matches_the_bep_6_example() {
    let ip = "80.4.4.200".parse().unwrap();
    let seven = allowed_fast_set(ip, [0xaa; 20], 1313, 7);
    assert_eq!(seven, [1059, 431, 808, 1217, 287, 376, 1188]);
    let nine = allowed_fast_set(ip, [0xaa; 20], 1313, 9);
    assert_eq!(nine, [1059, 431, 808, 1217, 287, 376, 1188, 353, 508]);
    // Only the /24 matters.
    assert_eq!(
        allowed_fast_set("80.4.4.1".parse().unwrap(), [0xaa; 20], 1313, 7),
        seven
    );
    // Never more indices than pieces, all distinct and in range, and it terminates.
    let all = allowed_fast_set(ip, [0xaa; 20], 5, 10);
    let mut sorted = all.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [0, 1, 2, 3, 4]);
    assert!(allowed_fast_set(ip, [0xaa; 20], 0, 10).is_empty());
}

#[test]
fn extension_payload_errors_name_the_payload_and_key() {
    let err = ExtendedHandshake::decode(b"li1ee").unwrap_err();
    assert!(
        err.to_string().starts_with("extension handshake payload"),
        "{err}"
    );
    let err = ExtendedHandshake::decode(b"d1:pi1e").unwrap_err();
    assert!(matches!(err, Error::Bencode { .. }), "{err}");

    let err = UtMetadata::decode(&Bytes::from_static(b"d8:msg_typei0ee")).unwrap_err();
    assert!(err.to_string().contains("no `piece` key"), "{err}");
    let err = UtMetadata::decode(&Bytes::from_static(b"d8:msg_typei7e5:piecei0ee")).unwrap_err();
    assert!(err.to_string().contains("unknown `msg_type` 7"), "{err}");
    let err = UtMetadata::decode(&Bytes::from_static(b"d8:msg_typei1e5:piecei0ee")).unwrap_err();
    assert!(err.to_string().contains("total_size"), "{err}");
    let err =
        UtMetadata::decode(&Bytes::from_static(b"d8:msg_typei0e5:piecei0eeextra")).unwrap_err();
    assert!(
        err.to_string().contains("5 bytes after the dictionary"),
        "{err}"
    );
    let mut big = b"d8:msg_typei1e5:piecei0e10:total_sizei99999ee".to_vec();
    big.extend(std::iter::repeat_n(0, 16385));
    let err = UtMetadata::decode(&Bytes::from(big)).unwrap_err();
    assert!(err.to_string().contains("16385 bytes"), "{err}");

    let err = Pex::decode(b"d5:added5:abcdee").unwrap_err();
    assert!(err.to_string().contains("`added` has 5 bytes"), "{err}");
    let err = Pex::decode(b"d7:droppedi1ee").unwrap_err();
    assert!(err.to_string().contains("`dropped` is a integer"), "{err}");
}

#[test]
fn extended_handshake_keeps_unknown_and_odd_keys() {
    // `p` out of range and `yourip` of 5 bytes are kept raw, as is the unknown `zz`.
    let payload = b"d1:md6:ut_pexi0e11:ut_metadatai2ee1:pi70000e6:yourip5:abcde2:zzli1eee";
    let hs = ExtendedHandshake::decode(payload).unwrap();
    assert_eq!(hs.extension_id("ut_metadata"), Some(2));
    assert_eq!(hs.extension_id("ut_pex"), None, "id 0 disables");
    assert_eq!(hs.m.get("ut_pex"), Some(&0));
    assert_eq!(hs.p, None);
    assert_eq!(hs.yourip, None);
    assert_eq!(
        hs.extra.get(&b"p"[..]).map(Vec::as_slice),
        Some(&b"i70000e"[..])
    );
    assert_eq!(
        hs.extra.get(&b"zz"[..]).map(Vec::as_slice),
        Some(&b"li1ee"[..])
    );
    assert_eq!(ExtendedHandshake::decode(&hs.to_bytes()).unwrap(), hs);
    assert!(!hs.upload_only());
    let seed = ExtendedHandshake::decode(b"d1:mde11:upload_onlyi1ee").unwrap();
    assert!(seed.upload_only());
    let not_seed = ExtendedHandshake::decode(b"d11:upload_onlyi0ee").unwrap();
    assert!(!not_seed.upload_only());
}

#[test]
fn pex_flags_shorter_than_peers_default_to_none() {
    let payload = b"d5:added12:\x7f\x00\x00\x01\x1a\xe1\x7f\x00\x00\x02\x1a\xe27:added.f1:\x02e";
    let pex = Pex::decode(payload).unwrap();
    assert_eq!(pex.added.len(), 2);
    assert!(pex.added[0].1.is_seed());
    assert_eq!(pex.added[1].1.0, 0);
    assert_eq!(pex.added[1].0.to_string(), "127.0.0.2:6882");
}
