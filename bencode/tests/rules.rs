//! Table tests: every strict BEP 3 rule, valid and invalid, with the exact error (variant
//! and offset); lenient mode; `decode_prefix`; nesting limits; hostile sizes.

use shoal_bencode::{
    DEFAULT_MAX_DEPTH, Decoder, Dict, Error, HARD_MAX_DEPTH, List, Value, decode, encode,
    encode_into, encoded_len,
};

fn list(items: Vec<Value<'static>>) -> Value<'static> {
    Value::List(List::from(items))
}

fn dict(entries: Vec<(&'static [u8], Value<'static>)>) -> Value<'static> {
    Value::Dict(entries.into_iter().collect::<Dict<'static>>())
}

fn bytes(b: &'static [u8]) -> Value<'static> {
    Value::Bytes(b)
}

/// `name: input => Ok(value)` or `name: input => Err(error)`, decoded strictly; one
/// `#[test]` per row. Accepted inputs must also encode back to exactly the input.
macro_rules! strict {
    ($($name:ident: $input:expr => $expected:expr;)*) => {$(
        #[test]
        fn $name() {
            let input: &[u8] = $input;
            let got = decode(input);
            assert_eq!(got, $expected, "input {:?}", String::from_utf8_lossy(input));
            if let Ok(value) = got {
                assert_eq!(encode(&value), input, "strict input must re-encode byte for byte");
            }
        }
    )*};
}

/// Same as `strict!`, with `Decoder::new().lenient(true)`.
macro_rules! lenient {
    ($($name:ident: $input:expr => $expected:expr;)*) => {$(
        #[test]
        fn $name() {
            let input: &[u8] = $input;
            let got = Decoder::new().lenient(true).decode(input);
            assert_eq!(got, $expected, "input {:?}", String::from_utf8_lossy(input));
        }
    )*};
}

use Error::*;

strict! {
    // integers
    int_zero: b"i0e" => Ok(Value::Int(0));
    int_positive: b"i42e" => Ok(Value::Int(42));
    int_negative: b"i-42e" => Ok(Value::Int(-42));
    int_max: b"i9223372036854775807e" => Ok(Value::Int(i64::MAX));
    int_min: b"i-9223372036854775808e" => Ok(Value::Int(i64::MIN));
    int_overflow: b"i9223372036854775808e" => Err(NumberOverflow { offset: 1 });
    int_underflow: b"i-9223372036854775809e" => Err(NumberOverflow { offset: 2 });
    int_huge: b"i99999999999999999999999999999e" => Err(NumberOverflow { offset: 1 });
    int_leading_zero: b"i03e" => Err(LeadingZero { offset: 1 });
    int_double_zero: b"i00e" => Err(LeadingZero { offset: 1 });
    int_negative_leading_zero: b"i-03e" => Err(LeadingZero { offset: 2 });
    int_negative_zero: b"i-0e" => Err(NegativeZero { offset: 1 });
    int_empty: b"ie" => Err(EmptyInteger { offset: 1 });
    int_minus_only: b"i-e" => Err(EmptyInteger { offset: 2 });
    int_plus: b"i+1e" => Err(InvalidByte { offset: 1, found: b'+', expected: "a digit" });
    int_space: b"i 1e" => Err(InvalidByte { offset: 1, found: b' ', expected: "a digit" });
    int_double_minus: b"i--1e" => Err(InvalidByte { offset: 2, found: b'-', expected: "a digit" });
    int_fraction: b"i1.5e" => Err(InvalidByte { offset: 2, found: b'.', expected: "a digit or 'e'" });
    int_unterminated: b"i12" => Err(UnexpectedEof { offset: 3, expected: "a digit or 'e'" });
    int_only_i: b"i" => Err(UnexpectedEof { offset: 1, expected: "a digit" });
    int_only_minus: b"i-" => Err(UnexpectedEof { offset: 2, expected: "a digit" });
    int_colon_instead_of_e: b"i62208002200000000:" => Err(InvalidByte { offset: 18, found: b':', expected: "a digit or 'e'" });

    // byte strings
    bytes_empty: b"0:" => Ok(bytes(b""));
    bytes_spam: b"4:spam" => Ok(bytes(b"spam"));
    bytes_binary: b"3:\x00\xff:" => Ok(bytes(b"\x00\xff:"));
    bytes_ten: b"10:0123456789" => Ok(bytes(b"0123456789"));
    bytes_leading_zero: b"03:abc" => Err(LeadingZero { offset: 0 });
    bytes_zero_zero: b"00:" => Err(LeadingZero { offset: 0 });
    bytes_too_long: b"5:abc" => Err(StringTooLong { offset: 0, length: 5, remaining: 3 });
    bytes_truncated_empty: b"1:" => Err(StringTooLong { offset: 0, length: 1, remaining: 0 });
    bytes_no_colon_eof: b"4" => Err(UnexpectedEof { offset: 1, expected: "a digit or ':'" });
    bytes_bad_separator: b"4xspam" => Err(InvalidByte { offset: 1, found: b'x', expected: "a digit or ':'" });
    bytes_negative_length: b"-1:a" => Err(InvalidByte { offset: 0, found: b'-', expected: "'i', 'l', 'd' or a digit" });
    // A length beyond u64 is refused before any allocation; so is one beyond the input.
    bytes_length_overflow: b"99999999999999999999:" => Err(NumberOverflow { offset: 0 });
    bytes_length_u64_max: b"18446744073709551615:" => Err(StringTooLong { offset: 0, length: u64::MAX, remaining: 0 });
    bytes_length_huge_in_dict: b"d10000000000" => Err(UnexpectedEof { offset: 12, expected: "a digit or ':'" });

    // lists
    list_empty: b"le" => Ok(list(vec![]));
    list_mixed: b"l4:spami42ee" => Ok(list(vec![bytes(b"spam"), Value::Int(42)]));
    list_nested: b"llelee" => Ok(list(vec![list(vec![]), list(vec![])]));
    list_unterminated: b"l" => Err(UnexpectedEof { offset: 1, expected: "a value or 'e'" });
    list_unterminated_after_item: b"li1e" => Err(UnexpectedEof { offset: 4, expected: "a value or 'e'" });
    list_bad_item: b"lxe" => Err(InvalidByte { offset: 1, found: b'x', expected: "'i', 'l', 'd' or a digit" });

    // dictionaries
    dict_empty: b"de" => Ok(dict(vec![]));
    dict_bep3_example: b"d3:cow3:moo4:spam4:eggse" => Ok(dict(vec![(b"cow", bytes(b"moo")), (b"spam", bytes(b"eggs"))]));
    dict_prefix_keys_sorted: b"d1:a0:2:aa0:e" => Ok(dict(vec![(b"a", bytes(b"")), (b"aa", bytes(b""))]));
    dict_binary_keys_sorted_unsigned: b"d1:\x7f0:1:\x800:e" => Ok(dict(vec![(b"\x7f", bytes(b"")), (b"\x80", bytes(b""))]));
    dict_nested: b"d1:ad1:bleee" => Ok(dict(vec![(b"a", dict(vec![(b"b", list(vec![]))]))]));
    dict_unsorted: b"d1:b0:1:a0:e" => Err(UnsortedKey { offset: 6 });
    dict_unsorted_prefix: b"d2:aa0:1:a0:e" => Err(UnsortedKey { offset: 7 });
    dict_unsorted_from_fuzz: b"d3:A005:000003:000i0ee" => Err(UnsortedKey { offset: 13 });
    dict_duplicate: b"d1:a0:1:a0:e" => Err(DuplicateKey { offset: 6 });
    dict_int_key: b"di1ei2ee" => Err(NonStringKey { offset: 1, found: b'i' });
    dict_list_key: b"dlei1ee" => Err(NonStringKey { offset: 1, found: b'l' });
    dict_key_without_value: b"d3:000e" => Err(InvalidByte { offset: 6, found: b'e', expected: "'i', 'l', 'd' or a digit" });
    dict_eof_after_key: b"d1:a" => Err(UnexpectedEof { offset: 4, expected: "a dictionary value" });
    dict_unterminated: b"d" => Err(UnexpectedEof { offset: 1, expected: "dictionary key or 'e'" });
    dict_unterminated_after_entry: b"d1:ai1e" => Err(UnexpectedEof { offset: 7, expected: "dictionary key or 'e'" });
    dict_bad_key_length: b"d01:a0:e" => Err(LeadingZero { offset: 1 });

    // exactly one value
    empty_input: b"" => Err(UnexpectedEof { offset: 0, expected: "a value" });
    stray_end: b"e" => Err(InvalidByte { offset: 0, found: b'e', expected: "'i', 'l', 'd' or a digit" });
    two_values: b"i1ei2e" => Err(TrailingBytes { offset: 3 });
    trailing_newline: b"le\n" => Err(TrailingBytes { offset: 2 });
    trailing_end: b"dee" => Err(TrailingBytes { offset: 2 });
}

lenient! {
    lenient_unsorted: b"d1:b0:1:a0:e" => Ok(dict(vec![(b"b", bytes(b"")), (b"a", bytes(b""))]));
    lenient_adjacent_duplicate: b"d1:a0:1:a0:e" => Err(DuplicateKey { offset: 6 });
    lenient_distant_duplicate: b"d1:b0:1:a0:1:b0:e" => Err(DuplicateKey { offset: 11 });
    lenient_distant_duplicate_long_key: b"d10:bbbbbbbbbb0:1:a0:10:bbbbbbbbbb0:e" => Err(DuplicateKey { offset: 21 });
    lenient_nested_duplicate: b"d1:zd1:b0:1:a0:1:b0:ee" => Err(DuplicateKey { offset: 15 });
    lenient_leading_zero_still_rejected: b"i03e" => Err(LeadingZero { offset: 1 });
    lenient_negative_zero_still_rejected: b"i-0e" => Err(NegativeZero { offset: 1 });
    lenient_string_length_still_strict: b"00:" => Err(LeadingZero { offset: 0 });
    lenient_trailing_still_rejected: b"lee" => Err(TrailingBytes { offset: 2 });
    lenient_trailing_space_then_junk: b"le\nx" => Err(TrailingBytes { offset: 2 });
    lenient_trailing_whitespace: b"le\r\n \t" => Ok(list(vec![]));
    lenient_non_string_key_rejected: b"di1e0:e" => Err(NonStringKey { offset: 1, found: b'i' });
}

#[test]
fn lenient_dict_keeps_order_and_raw_span_and_encodes_sorted() {
    let input = b"d4:infod4:name1:x6:lengthi3ee8:announce0:e";
    let value = Decoder::new().lenient(true).decode(input).unwrap();
    let top = value.as_dict().unwrap();
    assert!(!top.is_sorted());
    let keys: Vec<&[u8]> = top.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, [&b"info"[..], b"announce"]);
    let info = top.get(b"info").unwrap();
    assert_eq!(&*info.raw(), b"d4:name1:x6:lengthi3ee");
    assert_eq!(
        info.as_dict().unwrap().get(b"length").unwrap().as_int(),
        Some(3)
    );
    assert_eq!(&*value.raw(), &input[..]);
    // The encoder is canonical: keys sorted at every level, and strict decode accepts it.
    let canonical = encode(&value);
    assert_eq!(canonical, b"d8:announce0:4:infod6:lengthi3e4:name1:xee");
    assert_eq!(decode(&canonical).unwrap(), {
        let mut expected_info = Dict::new();
        expected_info.insert(b"length", Value::Int(3));
        expected_info.insert(b"name", Value::Bytes(b"x"));
        let mut expected = Dict::new();
        expected.insert(b"announce", Value::Bytes(b""));
        expected.insert(b"info", Value::Dict(expected_info));
        Value::Dict(expected)
    });
}

#[test]
fn raw_span_of_list_and_scalars() {
    let input = b"l4:spami-7eli1eee";
    let value = decode(input).unwrap();
    let items = value.as_list().unwrap();
    assert_eq!(items.raw_span(), Some(&input[..]));
    assert_eq!(&*items.get(0).unwrap().raw(), b"4:spam");
    assert_eq!(&*items.get(1).unwrap().raw(), b"i-7e");
    assert_eq!(
        items.get(2).unwrap().as_list().unwrap().raw_span(),
        Some(&b"li1ee"[..])
    );
    // A raw span points into the input itself (zero copy).
    let span = items.raw_span().unwrap();
    assert_eq!(span.as_ptr(), input.as_ptr());
    let spam = items.get(0).unwrap().as_bytes().unwrap();
    assert_eq!(spam.as_ptr(), input[3..].as_ptr());
}

#[test]
fn decode_prefix_returns_the_rest() {
    let d = Decoder::new();
    let (v, rest) = d
        .decode_prefix(b"d8:msg_typei1e5:piecei0ee\x00\x01binary")
        .unwrap();
    assert_eq!(
        v.as_dict().unwrap().get(b"piece").unwrap().as_int(),
        Some(0)
    );
    assert_eq!(rest, b"\x00\x01binary");

    let (v, rest) = d.decode_prefix(b"i1ei2e").unwrap();
    assert_eq!((v, rest), (Value::Int(1), &b"i2e"[..]));

    let (v, rest) = d.decode_prefix(b"4:spam").unwrap();
    assert_eq!((v, rest), (bytes(b"spam"), &b""[..]));

    // Errors inside the prefix are still errors, with offsets into the whole input.
    assert_eq!(
        d.decode_prefix(b"d1:b0:1:a0:eREST"),
        Err(UnsortedKey { offset: 6 })
    );
    assert_eq!(
        d.lenient(true)
            .decode_prefix(b"d1:b0:1:a0:eREST")
            .map(|(_, r)| r),
        Ok(&b"REST"[..])
    );
    assert_eq!(
        d.decode_prefix(b""),
        Err(UnexpectedEof {
            offset: 0,
            expected: "a value"
        })
    );
    assert_eq!(
        d.decode_prefix(b"l"),
        Err(UnexpectedEof {
            offset: 1,
            expected: "a value or 'e'"
        })
    );
}

fn nested_lists(depth: usize) -> Vec<u8> {
    let mut v = vec![b'l'; depth];
    v.extend(std::iter::repeat_n(b'e', depth));
    v
}

#[test]
fn default_depth_limit() {
    assert_eq!(DEFAULT_MAX_DEPTH, 256);
    assert!(decode(&nested_lists(DEFAULT_MAX_DEPTH)).is_ok());
    assert_eq!(
        decode(&nested_lists(DEFAULT_MAX_DEPTH + 1)),
        Err(DepthLimit {
            offset: 256,
            max_depth: 256
        })
    );
    // Dictionaries count too.
    let mut mixed = Vec::new();
    for _ in 0..DEFAULT_MAX_DEPTH {
        mixed.extend_from_slice(b"d1:a");
    }
    mixed.extend_from_slice(b"le");
    mixed.extend(std::iter::repeat_n(b'e', DEFAULT_MAX_DEPTH));
    assert_eq!(
        decode(&mixed),
        Err(DepthLimit {
            offset: 4 * 256,
            max_depth: 256
        })
    );
}

#[test]
fn configured_depth_limit() {
    let d = Decoder::new().max_depth(2);
    assert!(d.decode(b"llee").is_ok());
    assert_eq!(
        d.decode(b"llleee"),
        Err(DepthLimit {
            offset: 2,
            max_depth: 2
        })
    );
    let flat = Decoder::new().max_depth(0);
    assert_eq!(flat.decode(b"i1e"), Ok(Value::Int(1)));
    assert_eq!(
        flat.decode(b"le"),
        Err(DepthLimit {
            offset: 0,
            max_depth: 0
        })
    );
}

#[test]
fn depth_limit_is_clamped_to_hard_max() {
    let d = Decoder::new().max_depth(usize::MAX);
    assert_eq!(d, Decoder::new().max_depth(HARD_MAX_DEPTH));
    // The deepest value there can be still encodes (recursively) and drops.
    let deepest = nested_lists(HARD_MAX_DEPTH);
    let value = d.decode(&deepest).unwrap();
    assert_eq!(encode(&value), deepest);
    assert_eq!(encoded_len(&value), deepest.len());
    drop(value);
    assert_eq!(
        d.decode(&nested_lists(HARD_MAX_DEPTH + 1)),
        Err(DepthLimit {
            offset: HARD_MAX_DEPTH,
            max_depth: HARD_MAX_DEPTH
        })
    );
}

#[test]
fn a_million_nested_lists_is_an_error_not_a_stack_overflow() {
    let input = vec![b'l'; 1_000_000];
    assert_eq!(
        decode(&input),
        Err(DepthLimit {
            offset: 256,
            max_depth: 256
        })
    );
    let widest = Decoder::new().max_depth(usize::MAX).lenient(true);
    assert_eq!(
        widest.decode(&input),
        Err(DepthLimit {
            offset: 2048,
            max_depth: 2048
        })
    );
    let closed = nested_lists(1_000_000);
    assert_eq!(
        widest.decode_prefix(&closed).map(|(_, rest)| rest.len()),
        Err(DepthLimit {
            offset: 2048,
            max_depth: 2048
        })
    );
}

/// Big dictionaries with keys in decreasing order: lenient mode must stay n·log n, and
/// still find a duplicate far from its first occurrence.
#[test]
fn megabyte_unsorted_dict_is_checked_for_duplicates() {
    let count = 100_000;
    let key = |i: usize| format!("key{:07}", count - i);
    let mut input = b"d".to_vec();
    for i in 0..count {
        let k = key(i);
        input.extend_from_slice(format!("{}:{k}i{i}e", k.len()).as_bytes());
    }
    let mut with_dup = input.clone();
    input.push(b'e');
    assert!(input.len() > 1_000_000);

    let lenient = Decoder::new().lenient(true);
    let value = lenient.decode(&input).unwrap();
    let d = value.as_dict().unwrap();
    assert_eq!(d.len(), count);
    assert_eq!(d.get(key(123).as_bytes()).unwrap().as_int(), Some(123));
    assert_eq!(decode(&input), Err(UnsortedKey { offset: 17 }));

    // Repeat the very first key at the end.
    let dup_offset = with_dup.len();
    let k = key(0);
    with_dup.extend_from_slice(format!("{}:{k}i0ee", k.len()).as_bytes());
    assert_eq!(
        lenient.decode(&with_dup),
        Err(DuplicateKey { offset: dup_offset })
    );
}

#[test]
fn many_small_values_and_huge_claimed_lengths_do_not_allocate_by_prefix() {
    // Each string claims far more than remains: an error at once, whatever the claim.
    for claim in ["4294967296:", "1000000000000:", "18446744073709551615:x"] {
        let err = decode(claim.as_bytes()).unwrap_err();
        assert!(
            matches!(err, StringTooLong { offset: 0, .. }),
            "{claim}: {err:?}"
        );
    }
    let mut input = b"l".to_vec();
    for _ in 0..200_000 {
        input.extend_from_slice(b"0:");
    }
    input.push(b'e');
    assert_eq!(decode(&input).unwrap().as_list().unwrap().len(), 200_000);
}

#[test]
fn errors_say_what_and_where() {
    let msg = decode(b"d1:b0:1:a0:e").unwrap_err().to_string();
    assert!(msg.contains("byte 6"), "{msg}");
    let msg = decode(b"i1x").unwrap_err().to_string();
    assert!(
        msg.contains("0x78") && msg.contains("byte 2") && msg.contains("'e'"),
        "{msg}"
    );
    assert_eq!(decode(b"i03e").unwrap_err().offset(), Some(1));
}

#[test]
fn encoder_is_canonical_and_len_is_exact() {
    let mut d = Dict::new();
    d.insert(b"zeta", Value::Int(0));
    d.insert(b"alpha", list(vec![Value::Int(-1), bytes(b"")]));
    d.insert(b"mid", Value::Int(i64::MIN));
    d.insert(b"alpha", Value::Int(7)); // replaces
    let value = Value::Dict(d);
    let out = encode(&value);
    assert_eq!(out, b"d5:alphai7e3:midi-9223372036854775808e4:zetai0ee");
    assert_eq!(encoded_len(&value), out.len());
    let mut buf = bytes::BytesMut::new();
    encode_into(&value, &mut buf);
    assert_eq!(&buf[..], &out[..]);
    assert_eq!(
        encode(&Value::Bytes(&[0u8; 10])),
        b"10:\0\0\0\0\0\0\0\0\0\0"
    );
}
