//! Round-trip properties: any value survives encode → strict decode; any input strict
//! decode accepts re-encodes byte for byte; lenient decode of canonical output agrees.

use proptest::prelude::*;
use shoal_bencode::{Decoder, Dict, List, Value, decode, encode, encoded_len};

/// Owned byte storage so generated values can borrow from something that lives long enough.
#[derive(Debug, Clone)]
enum Tree {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Tree>),
    Dict(Vec<(Vec<u8>, Tree)>),
}

fn small_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..12),
        proptest::collection::vec(b'a'..=b'd', 0..4),
    ]
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Tree::Int),
        (-3i64..3).prop_map(Tree::Int),
        small_bytes().prop_map(Tree::Bytes),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Tree::List),
            proptest::collection::vec((small_bytes(), inner), 0..6).prop_map(Tree::Dict),
        ]
    })
}

fn to_value(t: &Tree) -> Value<'_> {
    match t {
        Tree::Int(n) => Value::Int(*n),
        Tree::Bytes(b) => Value::Bytes(b),
        Tree::List(items) => {
            Value::List(List::from(items.iter().map(to_value).collect::<Vec<_>>()))
        }
        // Insertion in generated (random) order; `insert` replaces repeated keys.
        Tree::Dict(entries) => {
            let mut d = Dict::new();
            for (k, v) in entries {
                d.insert(k, to_value(v));
            }
            Value::Dict(d)
        }
    }
}

/// The same value with every dictionary's entries in sorted key order (what decoding
/// canonical bytes yields).
fn sorted(v: &Value<'_>) -> Value<'static> {
    fn leak(b: &[u8]) -> &'static [u8] {
        Box::leak(b.to_vec().into_boxed_slice())
    }
    match v {
        Value::Int(n) => Value::Int(*n),
        Value::Bytes(b) => Value::Bytes(leak(b)),
        Value::List(l) => Value::List(List::from(l.iter().map(sorted).collect::<Vec<_>>())),
        Value::Dict(d) => {
            let mut entries: Vec<_> = d.iter().map(|(k, v)| (leak(k), sorted(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Dict(entries.into_iter().collect())
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decode_encode_is_identity_on_values(t in tree()) {
        let value = to_value(&t);
        let bytes = encode(&value);
        prop_assert_eq!(bytes.len(), encoded_len(&value));
        let decoded = decode(&bytes).expect("canonical output decodes strictly");
        prop_assert_eq!(&decoded, &sorted(&value));
        // Lenient decoding of canonical bytes agrees with strict decoding.
        let lenient = Decoder::new().lenient(true).decode(&bytes).unwrap();
        prop_assert_eq!(&lenient, &decoded);
        prop_assert_eq!(&*decoded.raw(), &bytes[..]);
    }

    #[test]
    fn serde_agrees_with_the_native_codec(t in tree()) {
        let value = to_value(&t);
        let bytes = encode(&value);
        prop_assert_eq!(shoal_bencode::to_bytes(&value).unwrap(), bytes.clone());
        let via_serde: Value<'_> = shoal_bencode::from_bytes(&bytes).unwrap();
        prop_assert_eq!(via_serde, decode(&bytes).unwrap());
    }

    #[test]
    fn strictly_accepted_bytes_reencode_identically(input in proptest::collection::vec(
        prop_oneof![
            Just(b'i'), Just(b'l'), Just(b'd'), Just(b'e'), Just(b':'), Just(b'-'),
            Just(b'0'), Just(b'1'), Just(b'2'), Just(b'a'), Just(b'b'),
        ],
        0..40,
    )) {
        if let Ok(value) = decode(&input) {
            prop_assert_eq!(encode(&value), input);
        }
    }

    #[test]
    fn mutated_canonical_bytes_reencode_identically_when_accepted(
        t in tree(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = encode(&to_value(&t));
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        if let Ok(value) = decode(&bytes) {
            prop_assert_eq!(encode(&value), bytes.clone());
        }
        // Lenient accept implies its canonical form is strictly valid and equal.
        if let Ok(value) = Decoder::new().lenient(true).decode(&bytes) {
            let canonical = encode(&value);
            prop_assert_eq!(decode(&canonical).unwrap(), sorted(&value));
        }
    }
}
