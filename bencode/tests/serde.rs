//! The `serde` feature: `from_bytes` / `Decoder::deserialize` / `to_bytes`.
#![cfg(feature = "serde")]

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use shoal_bencode::{ByteBuf, ByteSlice, Decoder, Error, decode, from_bytes, to_bytes};

/// Fields deliberately declared out of key order: output must still be canonical.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Torrent {
    info: Info,
    announce: String,
    #[serde(rename = "announce-list")]
    announce_list: Option<Vec<Vec<String>>>,
    comment: Option<String>,
    #[serde(rename = "creation date")]
    creation_date: Option<i64>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Info {
    pieces: ByteBuf,
    name: String,
    #[serde(rename = "piece length")]
    piece_length: u32,
    length: Option<u64>,
    files: Option<Vec<FileEntry>>,
    private: Option<bool>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct FileEntry {
    path: Vec<String>,
    length: u64,
}

fn sample() -> Torrent {
    Torrent {
        info: Info {
            pieces: ByteBuf((0..40u8).map(|i| i.wrapping_mul(37)).collect()),
            name: "shoal".into(),
            piece_length: 16384,
            length: None,
            files: Some(vec![
                FileEntry {
                    path: vec!["a".into(), "b.txt".into()],
                    length: 5,
                },
                FileEntry {
                    path: vec!["c".into()],
                    length: 1 << 40,
                },
            ]),
            private: Some(true),
        },
        announce: "http://127.0.0.1:6969/announce".into(),
        announce_list: None,
        comment: Some("hi".into()),
        creation_date: None,
    }
}

#[test]
fn torrent_like_struct_round_trips_canonically() {
    let t = sample();
    let bytes = to_bytes(&t).unwrap();
    let expected: &[u8] = b"d8:announce30:http://127.0.0.1:6969/announce7:comment2:hi4:infod5:filesld6:lengthi5e4:pathl1:a5:b.txteed6:lengthi1099511627776e4:pathl1:ceee4:name5:shoal12:piece lengthi16384e6:pieces40:";
    assert_eq!(&bytes[..expected.len()], expected);
    assert_eq!(
        &bytes[expected.len()..expected.len() + 40],
        &t.info.pieces[..]
    );
    assert_eq!(&bytes[expected.len() + 40..], b"7:privatei1eee");
    // Canonical: strict decode accepts it and the generic encoder agrees byte for byte.
    let value = decode(&bytes).unwrap();
    assert_eq!(shoal_bencode::encode(&value), bytes);
    // And back.
    assert_eq!(from_bytes::<Torrent>(&bytes).unwrap(), t);
}

#[test]
fn borrowed_fields_point_into_the_input() {
    #[derive(Deserialize)]
    struct Peer<'a> {
        ip: &'a str,
        #[serde(rename = "peer id", borrow)]
        peer_id: ByteSlice<'a>,
        port: u16,
    }
    let input = b"d2:ip9:127.0.0.17:peer id20:-SH0001-\xff\xfe\x00abcdefghi4:porti6881ee";
    let peer: Peer<'_> = from_bytes(input).unwrap();
    assert_eq!(peer.ip, "127.0.0.1");
    assert_eq!(peer.ip.as_ptr(), input[7..].as_ptr());
    assert_eq!(peer.peer_id.len(), 20);
    assert_eq!(peer.peer_id.as_ptr(), input[28..].as_ptr());
    assert_eq!(peer.port, 6881);
}

#[test]
fn options_are_omitted_or_present() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Reply {
        interval: Option<u32>,
        #[serde(rename = "failure reason")]
        failure: Option<String>,
    }
    let none = Reply {
        interval: None,
        failure: None,
    };
    assert_eq!(to_bytes(&none).unwrap(), b"de");
    assert_eq!(from_bytes::<Reply>(b"de").unwrap(), none);
    let some = Reply {
        interval: Some(1800),
        failure: Some("no".into()),
    };
    let bytes = to_bytes(&some).unwrap();
    assert_eq!(bytes, b"d14:failure reason2:no8:intervali1800ee");
    assert_eq!(from_bytes::<Reply>(&bytes).unwrap(), some);
}

#[test]
fn unknown_keys_are_skipped_but_still_checked() {
    #[derive(Debug, PartialEq, Deserialize)]
    struct Small {
        b: i64,
    }
    let input = b"d1:ad1:xll4:deepee1:yi-1ee1:bi7e1:cleeXX";
    assert_eq!(
        from_bytes::<Small>(&input[..input.len() - 2]).unwrap(),
        Small { b: 7 }
    );
    assert_eq!(
        from_bytes::<Small>(input),
        Err(Error::TrailingBytes { offset: 38 })
    );
    // A skipped value must still be valid bencode under the same rules.
    assert_eq!(
        from_bytes::<Small>(b"d1:ad1:y0:1:x0:e1:bi7ee"),
        Err(Error::UnsortedKey { offset: 10 })
    );
    assert_eq!(
        from_bytes::<Small>(b"d1:ai03e1:bi7ee"),
        Err(Error::LeadingZero { offset: 5 })
    );
}

#[test]
fn strict_and_lenient_key_order() {
    let unsorted = b"d1:bi2e1:ai1ee";
    assert_eq!(
        from_bytes::<BTreeMap<String, i64>>(unsorted),
        Err(Error::UnsortedKey { offset: 7 })
    );
    let lenient = Decoder::new().lenient(true);
    let map: BTreeMap<String, i64> = lenient.deserialize(unsorted).unwrap();
    assert_eq!(map, BTreeMap::from([("a".into(), 1), ("b".into(), 2)]));
    assert_eq!(
        lenient.deserialize::<HashMap<String, i64>>(b"d1:bi2e1:ai1e1:bi3ee"),
        Err(Error::DuplicateKey { offset: 13 })
    );
    assert_eq!(
        from_bytes::<BTreeMap<String, i64>>(b"d1:ai1e1:ai2ee"),
        Err(Error::DuplicateKey { offset: 7 })
    );
}

#[test]
fn type_mismatches_carry_the_offset() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)] // fields are read by Debug in failure messages only
    struct Named {
        name: String,
        size: u8,
    }
    let err = from_bytes::<Named>(b"d4:namei1e4:sizei1ee").unwrap_err();
    assert!(
        matches!(err, Error::Deserialize { offset: 7, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("at byte 7"), "{err}");

    let err = from_bytes::<Named>(b"d4:name1:x4:sizei300ee").unwrap_err();
    assert!(
        matches!(err, Error::Deserialize { offset: 16, .. }),
        "{err:?}"
    );

    // A missing field is reported at the dictionary that lacks it.
    let err = from_bytes::<Vec<Named>>(b"lde").unwrap_err();
    assert!(
        matches!(&err, Error::Deserialize { offset: 1, message } if message.contains("name")),
        "{err:?}"
    );

    let err = from_bytes::<Named>(b"d4:name2:\xc3\x284:sizei1ee").unwrap_err();
    assert!(
        matches!(err, Error::Deserialize { offset: 9, .. }),
        "{err:?}"
    );

    // Decoder errors come through unchanged.
    assert_eq!(
        from_bytes::<Named>(b"d4:name").unwrap_err(),
        Error::UnexpectedEof {
            offset: 7,
            expected: "a value"
        }
    );
    assert_eq!(
        from_bytes::<u32>(b"i-0e"),
        Err(Error::NegativeZero { offset: 1 })
    );
    let err = from_bytes::<(i64, i64)>(b"li1ei2ei3ee").unwrap_err();
    assert!(
        matches!(err, Error::Deserialize { offset: 7, .. }),
        "{err:?}"
    );
}

#[test]
fn nesting_limits_hold_through_serde() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Node(Vec<Node>);
    let deep: Vec<u8> = std::iter::repeat_n(b'l', 1_000_000).collect();
    assert_eq!(
        from_bytes::<Node>(&deep).unwrap_err(),
        Error::DepthLimit {
            offset: 256,
            max_depth: 256
        }
    );
    assert_eq!(
        from_bytes::<serde::de::IgnoredAny>(&deep).unwrap_err(),
        Error::DepthLimit {
            offset: 256,
            max_depth: 256
        }
    );
    // Skipping an unknown field respects the limit counted from the top.
    #[derive(Debug, Deserialize)]
    struct Outer {}
    let mut input = b"d1:x".to_vec();
    input.extend(std::iter::repeat_n(b'l', 300));
    assert_eq!(
        from_bytes::<Outer>(&input).unwrap_err(),
        Error::DepthLimit {
            offset: 4 + 255,
            max_depth: 256
        }
    );
}

#[test]
fn enums_and_scalars() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Event {
        Started,
        Stopped,
        Progress(u32),
        Moved { from: String, to: String },
        Pair(i64, i64),
    }
    for (event, bytes) in [
        (Event::Started, &b"7:Started"[..]),
        (Event::Progress(5), b"d8:Progressi5ee"),
        (
            Event::Moved {
                to: "b".into(),
                from: "a".into(),
            },
            b"d5:Movedd4:from1:a2:to1:bee",
        ),
        (Event::Pair(1, -1), b"d4:Pairli1ei-1eee"),
    ] {
        assert_eq!(to_bytes(&event).unwrap(), bytes);
        assert_eq!(from_bytes::<Event>(bytes).unwrap(), event);
    }
    assert!(from_bytes::<Event>(b"7:Unknown").is_err());
    assert_eq!(from_bytes::<Event>(b"7:Stopped").unwrap(), Event::Stopped);

    assert_eq!(to_bytes(&true).unwrap(), b"i1e");
    assert!(from_bytes::<bool>(b"i1e").unwrap());
    assert!(from_bytes::<bool>(b"i2e").is_err());
    assert_eq!(to_bytes(&'é').unwrap(), "2:é".as_bytes());
    assert_eq!(to_bytes(&u64::MAX).unwrap_err().offset(), None);
    assert!(to_bytes(&1.5f64).is_err());
    assert!(to_bytes(&vec![Some(1), None]).is_err());
    assert!(to_bytes(&None::<i32>).is_err());
    assert!(to_bytes(&BTreeMap::from([(1, 2)])).is_err());
    let map = HashMap::from([("zz", 1), ("a", 2), ("m", 3)]);
    assert_eq!(to_bytes(&map).unwrap(), b"d1:ai2e1:mi3e2:zzi1ee");
    let bytes_map = BTreeMap::from([(ByteBuf(vec![0xff]), ByteBuf(vec![]))]);
    assert_eq!(to_bytes(&bytes_map).unwrap(), b"d1:\xff0:e");
}

#[test]
fn byte_strings_round_trip_and_borrow() {
    let pieces = ByteBuf((0..=255u8).collect());
    let bytes = to_bytes(&pieces).unwrap();
    assert_eq!(&bytes[..4], b"256:");
    assert_eq!(from_bytes::<ByteBuf>(&bytes).unwrap(), pieces);
    let borrowed: ByteSlice<'_> = from_bytes(&bytes).unwrap();
    assert_eq!(borrowed.as_ptr(), bytes[4..].as_ptr());
    assert_eq!(to_bytes(&borrowed).unwrap(), bytes);
    let text: &str = from_bytes(b"4:spam").unwrap();
    assert_eq!(text, "spam");
}

#[test]
fn value_is_a_serde_type() {
    use shoal_bencode::Value;
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Message<'a> {
        y: &'a str,
        #[serde(borrow)]
        r: Value<'a>,
    }
    let input = b"d1:rd2:id3:abc5:nodesli1eleee1:y1:re";
    let msg: Message<'_> = from_bytes(input).unwrap();
    assert_eq!(msg.y, "r");
    let r = msg.r.as_dict().unwrap();
    assert_eq!(r.get(b"id").and_then(Value::as_bytes), Some(&b"abc"[..]));
    assert_eq!(to_bytes(&msg).unwrap(), input);

    // The same content as the native decoder, and the same canonical bytes.
    let v: Value<'_> = from_bytes(input).unwrap();
    assert_eq!(v, decode(input).unwrap());
    assert_eq!(to_bytes(&v).unwrap(), shoal_bencode::encode(&v));

    // Lenient input: order kept, encoding sorted, duplicates refused.
    let lenient = Decoder::new().lenient(true);
    let v: Value<'_> = lenient.deserialize(b"d1:bi1e1:ai2ee").unwrap();
    assert!(!v.as_dict().unwrap().is_sorted());
    assert_eq!(to_bytes(&v).unwrap(), b"d1:ai2e1:bi1ee");
    assert_eq!(
        lenient.deserialize::<Value<'_>>(b"d1:bi1e1:ai2e1:bi3ee"),
        Err(Error::DuplicateKey { offset: 13 })
    );
}

#[test]
fn large_unsorted_dict_into_value_is_not_quadratic() {
    use shoal_bencode::Value;
    let count = 50_000;
    let mut input = b"d".to_vec();
    for i in (0..count).rev() {
        let k = format!("{i:08}");
        input.extend_from_slice(format!("8:{k}i{i}e").as_bytes());
    }
    input.push(b'e');
    let v: Value<'_> = Decoder::new().lenient(true).deserialize(&input).unwrap();
    let d = v.as_dict().unwrap();
    assert_eq!(d.len(), count);
    assert_eq!(d.get(b"00000007").and_then(Value::as_int), Some(7));
}

#[test]
fn serde_nesting_is_capped_so_the_stack_holds() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Node(Vec<Node>);
    // Even when the decoder allows 2048 levels, serde (which recurses) stops at 256.
    let widest = Decoder::new().max_depth(usize::MAX);
    let nested = |depth: usize| {
        let mut input = vec![b'l'; depth];
        input.extend(vec![b'e'; depth]);
        input
    };
    let input = nested(256);
    let node: Node = widest.deserialize(&input).unwrap();
    drop(node);
    let v: shoal_bencode::Value<'_> = widest.deserialize(&input).unwrap();
    assert_eq!(to_bytes(&v).unwrap(), input);
    assert_eq!(
        widest.deserialize::<Node>(&nested(2048)).unwrap_err(),
        Error::DepthLimit {
            offset: 256,
            max_depth: 256
        }
    );
    // Serializing is capped the same way (`encode` is the way to write deeper values).
    let deepest = nested(shoal_bencode::HARD_MAX_DEPTH);
    let v = widest.decode(&deepest).unwrap();
    let err = to_bytes(&v).unwrap_err();
    assert!(err.to_string().contains("deeper than 256"), "{err}");
    assert_eq!(shoal_bencode::encode(&v), deepest);
    // A smaller limit still applies.
    assert_eq!(
        Decoder::new()
            .max_depth(3)
            .deserialize::<Node>(&nested(4))
            .unwrap_err(),
        Error::DepthLimit {
            offset: 3,
            max_depth: 3
        }
    );
}
