//! Changing decoded values and building new ones. Decoded lists and dictionaries share one
//! array per nesting level; these tests check that a change to one value never shows in
//! another, and that the raw span and the sortedness flag follow the changes.

use shoal_bencode::{Decoder, Dict, List, Value, decode, encode};

#[test]
fn pushing_onto_a_decoded_list_leaves_its_siblings_and_clones_alone() {
    let input = b"ll1:ael1:bel1:cee";
    let value = decode(input).unwrap();
    let before = value.clone();
    let mut middle = value
        .as_list()
        .unwrap()
        .get(1)
        .unwrap()
        .as_list()
        .unwrap()
        .clone();
    assert_eq!(middle.raw_span(), Some(&b"l1:be"[..]));
    middle.push(Value::Bytes(b"x"));
    middle.push(Value::Int(7));
    assert_eq!(
        middle.items(),
        [Value::Bytes(b"b"), Value::Bytes(b"x"), Value::Int(7)]
    );
    // Changed: the raw span no longer applies, the encoding is the new content.
    assert_eq!(middle.raw_span(), None);
    assert_eq!(encode(&Value::List(middle.clone())), b"l1:b1:xi7ee");
    // The decoded tree and its clone are untouched.
    assert_eq!(value, before);
    assert_eq!(encode(&value), input);
    let top = value.as_list().unwrap();
    assert_eq!(
        top.get(0).unwrap().as_list().unwrap().items(),
        [Value::Bytes(b"a")]
    );
    assert_eq!(
        top.get(2).unwrap().as_list().unwrap().items(),
        [Value::Bytes(b"c")]
    );
    // A decoded value outlives the tree it came from.
    drop(value);
    drop(before);
    assert_eq!(middle.len(), 3);
}

#[test]
fn a_list_left_alone_with_its_level_reuses_the_free_slots_after_it() {
    let value = decode(b"ll1:ael1:bel1:cee").unwrap();
    let mut first = value
        .as_list()
        .unwrap()
        .get(0)
        .unwrap()
        .as_list()
        .unwrap()
        .clone();
    let last = value.as_list().unwrap().get(2).unwrap().clone();
    drop(value);
    // `last` still shares the level, so `first` must not write over it.
    first.push(Value::Int(9));
    assert_eq!(first.items(), [Value::Bytes(b"a"), Value::Int(9)]);
    assert_eq!(encode(&last), b"l1:ce");
    drop(last);
    let mut alone = decode(b"ll1:ael1:bee")
        .unwrap()
        .as_list()
        .unwrap()
        .get(0)
        .unwrap()
        .clone();
    let Value::List(list) = &mut alone else {
        panic!("a list")
    };
    list.push(Value::Int(1));
    list.push(Value::Int(2));
    assert_eq!(encode(&alone), b"l1:ai1ei2ee");
}

#[test]
fn a_clone_changed_later_does_not_change_the_original() {
    let mut a = List::from(vec![Value::Int(1), Value::Int(2)]);
    let b = a.clone();
    a.push(Value::Int(3));
    assert_eq!(a.len(), 3);
    assert_eq!(b.items(), [Value::Int(1), Value::Int(2)]);
    let mut d: Dict<'_> = [(&b"a"[..], Value::Int(1))].into_iter().collect();
    let e = d.clone();
    d.insert(b"a", Value::Int(2));
    assert_eq!(d.get(b"a"), Some(&Value::Int(2)));
    assert_eq!(e.get(b"a"), Some(&Value::Int(1)));
}

#[test]
fn inserting_into_a_decoded_dict_keeps_order_flags_right() {
    let input = b"d1:ad1:xi1e1:zi3ee1:bi2ee";
    let value = decode(input).unwrap();
    let mut inner = value
        .as_dict()
        .unwrap()
        .get(b"a")
        .unwrap()
        .as_dict()
        .unwrap()
        .clone();
    assert!(inner.is_sorted());
    assert_eq!(inner.raw_span(), Some(&b"d1:xi1e1:zi3ee"[..]));

    // Replacing a value keeps the keys sorted; the raw span is gone.
    inner.insert(b"z", Value::Int(30));
    assert!(inner.is_sorted());
    assert_eq!(inner.raw_span(), None);
    assert_eq!(inner.get(b"z"), Some(&Value::Int(30)));
    // A key after the last one keeps it sorted; one before it does not.
    inner.insert(b"zz", Value::Int(4));
    assert!(inner.is_sorted());
    inner.insert(b"y", Value::Int(5));
    assert!(!inner.is_sorted());
    assert_eq!(inner.get(b"y"), Some(&Value::Int(5)));
    assert_eq!(inner.get(b"zz"), Some(&Value::Int(4)));
    // Replacing in an unsorted dictionary finds the key by scanning.
    inner.insert(b"x", Value::Int(10));
    assert_eq!(inner.len(), 4);
    assert_eq!(
        encode(&Value::Dict(inner)),
        b"d1:xi10e1:yi5e1:zi30e2:zzi4ee"
    );
    // The sibling entry and the original tree are untouched.
    assert_eq!(encode(&value), input);
}

#[test]
fn lenient_unsorted_dict_stays_unsorted_when_changed() {
    let value = Decoder::new()
        .lenient(true)
        .decode(b"d1:bi1e1:ai2ee")
        .unwrap();
    let mut dict = value.as_dict().unwrap().clone();
    assert!(!dict.is_sorted());
    dict.insert(b"c", Value::Int(3));
    assert!(!dict.is_sorted());
    assert_eq!(dict.get(b"a"), Some(&Value::Int(2)));
    assert_eq!(encode(&Value::Dict(dict)), b"d1:ai2e1:bi1e1:ci3ee");
}

#[test]
fn into_items_and_into_entries_give_the_decoded_children() {
    let value = decode(b"d1:ali1eli2eee1:bi3ee").unwrap();
    let Value::Dict(dict) = value else {
        panic!("a dictionary")
    };
    let entries = dict.into_entries();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1], (&b"b"[..], Value::Int(3)));
    let Value::List(list) = entries[0].1.clone() else {
        panic!("a list")
    };
    let items = list.into_items();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].as_list().unwrap().items(), [Value::Int(2)]);
    assert_eq!(&*items[1].raw(), b"li2ee");
}

#[test]
fn building_many_items_matches_decoding_them() {
    let mut list = List::new();
    let mut dict = Dict::new();
    let keys: Vec<String> = (0..1000).map(|i| format!("k{i:04}")).collect();
    for (i, key) in keys.iter().enumerate() {
        list.push(Value::Int(i as i64));
        dict.insert(key.as_bytes(), Value::Int(i as i64));
    }
    assert!(dict.is_sorted());
    let encoded = encode(&Value::List(List::from(vec![
        Value::List(list.clone()),
        Value::Dict(dict.clone()),
    ])));
    let decoded = decode(&encoded).unwrap();
    let both = decoded.as_list().unwrap();
    assert_eq!(both.get(0), Some(&Value::List(list)));
    assert_eq!(both.get(1), Some(&Value::Dict(dict)));
    assert_eq!(
        both.get(1).unwrap().as_dict().unwrap().get(b"k0999"),
        Some(&Value::Int(999))
    );
}

#[test]
fn empty_containers_built_and_decoded() {
    assert!(Dict::default().is_sorted());
    assert!(Dict::new().is_empty());
    assert_eq!(List::default().raw_span(), None);
    assert_eq!(Dict::new().raw_span(), None);
    let value = decode(b"ldelee").unwrap();
    let items = value.as_list().unwrap();
    assert_eq!(
        items.get(0).unwrap().as_dict().unwrap().raw_span(),
        Some(&b"de"[..])
    );
    assert_eq!(
        items.get(1).unwrap().as_list().unwrap().raw_span(),
        Some(&b"le"[..])
    );
    assert_eq!(items.get(0), Some(&Value::Dict(Dict::new())));
    assert_eq!(items.get(1), Some(&Value::List(List::new())));
}

#[test]
fn values_are_small_and_shareable_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Value<'static>>();
    // Four words: a tag and a list or dictionary (shared array, start, length).
    assert_eq!(std::mem::size_of::<Value<'_>>(), 32);
    let input = b"ld1:ai1eee".to_vec();
    let value = decode(&input).unwrap();
    let copy = value.clone();
    std::thread::scope(|s| {
        s.spawn(|| assert_eq!(encode(&copy), input));
    });
    assert_eq!(encode(&value), input);
}
