//! The decoded value tree.

use std::borrow::Cow;
use std::fmt;

/// A bencode value borrowed from the input it was decoded from.
///
/// Byte strings and dictionary keys point into the input; lists and dictionaries keep
/// their items in the order seen and remember the exact bytes they were decoded from
/// (see [`Value::raw`]).
///
/// Equality compares content only, not where a value came from.
#[derive(Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// An integer (`i42e`).
    Int(i64),
    /// A byte string (`4:spam`); not necessarily UTF-8.
    Bytes(&'a [u8]),
    /// A list (`l...e`).
    List(List<'a>),
    /// A dictionary (`d...e`).
    Dict(Dict<'a>),
}

/// A list of values, with the raw bytes it was decoded from.
///
/// Stored as one boxed slice whose first slot is a header: `Value::Bytes(raw)` for a
/// decoded list (the items are the rest of the slice, exactly sized), `Value::Int(len)`
/// for a built one (the items are the next `len` slots; slots after them are spare room,
/// so [`List::push`] is amortised O(1)). An empty slice is an empty built list. This keeps
/// [`Value`] at 24 bytes and a decoded list at one exactly-sized allocation.
#[derive(Clone, Default)]
pub struct List<'a> {
    slots: Box<[Value<'a>]>,
}

/// A dictionary: byte-string keys to values, in the order they were seen, with the raw
/// bytes it was decoded from.
///
/// Stored like [`List`]: the first slot is a header `(raw, Value::Int(meta))` with
/// `meta = len << 2 | decoded << 1 | sorted`; the entries follow it.
#[derive(Clone, Default)]
pub struct Dict<'a> {
    slots: Box<[(&'a [u8], Value<'a>)]>,
}

/// Header bit: keys are known to be strictly increasing, so lookups may binary-search.
const SORTED: i64 = 1;
/// Header bit: the header key is the raw span the dictionary was decoded from.
const DECODED: i64 = 2;

/// Appends to a header-first slot array, keeping spare room as filler slots so that
/// pushes are amortised O(1); `len` is the number of items before the push.
fn push_slot<T>(slots: &mut Box<[T]>, header: T, len: usize, item: T, filler: fn() -> T) {
    let mut v = std::mem::take(slots).into_vec();
    if v.is_empty() {
        v.push(header);
    } else {
        v[0] = header;
    }
    if 1 + len < v.len() {
        v[1 + len] = item;
    } else {
        v.push(item);
        let cap = v.capacity();
        v.resize_with(cap, filler);
    }
    *slots = v.into_boxed_slice();
}

/// The items of a header-first slot array, as an exactly-sized `Vec`.
fn take_slots<T>(slots: Box<[T]>, len: usize) -> Vec<T> {
    let mut v = slots.into_vec();
    if v.is_empty() {
        return v;
    }
    v.truncate(1 + len);
    v.remove(0);
    v
}

impl<'a> Value<'a> {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The byte string as UTF-8 text, if this is a byte string holding valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The list, if this is one.
    pub fn as_list(&self) -> Option<&List<'a>> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&Dict<'a>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// A short name of the kind of value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Int(_) => "integer",
            Value::Bytes(_) => "byte string",
            Value::List(_) => "list",
            Value::Dict(_) => "dictionary",
        }
    }

    /// The bytes of this value exactly as they were received.
    ///
    /// For a decoded list or dictionary this borrows the input span, so hashing it gives
    /// the info-hash of an `info` dictionary even when its keys were out of order. For
    /// integers and byte strings the decoder accepts only one spelling (no leading zeros,
    /// no `-0`), so their canonical encoding *is* the received bytes. Values built by hand
    /// give their canonical encoding.
    pub fn raw(&self) -> Cow<'a, [u8]> {
        match self {
            Value::List(list) => match list.raw_span() {
                Some(raw) => Cow::Borrowed(raw),
                None => Cow::Owned(crate::encode(self)),
            },
            Value::Dict(dict) => match dict.raw_span() {
                Some(raw) => Cow::Borrowed(raw),
                None => Cow::Owned(crate::encode(self)),
            },
            other => Cow::Owned(crate::encode(other)),
        }
    }
}

impl<'a> List<'a> {
    /// An empty list, for building values to encode.
    pub fn new() -> Self {
        List::default()
    }

    /// A decoded list: `slots[0]` is `Value::Bytes(raw)`, the items follow.
    pub(crate) fn from_decoded(slots: Box<[Value<'a>]>) -> Self {
        debug_assert!(matches!(slots.first(), Some(Value::Bytes(_))));
        List { slots }
    }

    /// Appends a value.
    pub fn push(&mut self, value: Value<'a>) {
        let len = self.len();
        let header = Value::Int(len as i64 + 1);
        push_slot(&mut self.slots, header, len, value, || Value::Int(0));
    }

    /// The items in order.
    #[inline]
    pub fn items(&self) -> &[Value<'a>] {
        match self.slots.split_first() {
            None => &[],
            Some((Value::Int(len), rest)) => &rest[..*len as usize],
            Some((_, rest)) => rest,
        }
    }

    /// The items, taken out of the list.
    pub fn into_items(self) -> Vec<Value<'a>> {
        let len = self.len();
        take_slots(self.slots, len)
    }

    /// Iterates over the items.
    pub fn iter(&self) -> std::slice::Iter<'_, Value<'a>> {
        self.items().iter()
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items().len()
    }

    /// Whether the list has no items.
    pub fn is_empty(&self) -> bool {
        self.items().is_empty()
    }

    /// The item at `index`.
    pub fn get(&self, index: usize) -> Option<&Value<'a>> {
        self.items().get(index)
    }

    /// The exact input bytes of this list, if it was decoded.
    pub fn raw_span(&self) -> Option<&'a [u8]> {
        match self.slots.first() {
            Some(Value::Bytes(raw)) => Some(raw),
            _ => None,
        }
    }
}

impl<'a> From<Vec<Value<'a>>> for List<'a> {
    fn from(items: Vec<Value<'a>>) -> Self {
        if items.is_empty() {
            return List::new();
        }
        let mut slots = Vec::with_capacity(items.len() + 1);
        slots.push(Value::Int(items.len() as i64));
        slots.extend(items);
        List {
            slots: slots.into_boxed_slice(),
        }
    }
}

impl<'a> Dict<'a> {
    /// An empty dictionary, for building values to encode.
    pub fn new() -> Self {
        Dict::default()
    }

    /// A decoded dictionary: `slots[0]` is `(raw, Value::Int(meta))` as made by
    /// [`Dict::decoded_header`], the entries follow.
    pub(crate) fn from_decoded(slots: Box<[(&'a [u8], Value<'a>)]>) -> Self {
        Dict { slots }
    }

    /// The header slot of a decoded dictionary of `len` entries.
    #[inline]
    pub(crate) fn decoded_header(raw: &'a [u8], len: usize, sorted: bool) -> (&'a [u8], Value<'a>) {
        (raw, Value::Int(Self::meta(len, true, sorted)))
    }

    /// A dictionary from entries already known to have unique keys.
    #[cfg(feature = "serde")]
    pub(crate) fn from_unique(entries: Vec<(&'a [u8], Value<'a>)>) -> Self {
        if entries.is_empty() {
            return Dict::new();
        }
        let sorted = entries.windows(2).all(|w| w[0].0 < w[1].0);
        let mut slots = Vec::with_capacity(entries.len() + 1);
        slots.push((
            &b""[..],
            Value::Int(Self::meta(entries.len(), false, sorted)),
        ));
        slots.extend(entries);
        Dict {
            slots: slots.into_boxed_slice(),
        }
    }

    fn meta(len: usize, decoded: bool, sorted: bool) -> i64 {
        (len as i64) << 2 | if decoded { DECODED } else { 0 } | i64::from(sorted)
    }

    /// The header's meta word (an empty dictionary is built and sorted).
    #[inline]
    fn meta_word(&self) -> i64 {
        match self.slots.first() {
            Some((_, Value::Int(meta))) => *meta,
            _ => SORTED,
        }
    }

    /// Sets `key` to `value`, replacing an earlier value for the same key.
    pub fn insert(&mut self, key: &'a [u8], value: Value<'a>) {
        let sorted = self.is_sorted();
        let entries = self.entries();
        // Appending in increasing key order (the common case when building) stays O(1).
        let after_last = entries.last().is_none_or(|(last, _)| *last < key);
        if !(sorted && after_last) {
            let found = if sorted {
                entries.binary_search_by(|(k, _)| (*k).cmp(key)).ok()
            } else {
                entries.iter().position(|(k, _)| *k == key)
            };
            if let Some(i) = found {
                self.forget_raw();
                self.slots[1 + i].1 = value;
                return;
            }
        }
        let len = entries.len();
        let header = (
            &b""[..],
            Value::Int(Self::meta(len + 1, false, sorted && after_last)),
        );
        push_slot(&mut self.slots, header, len, (key, value), || {
            (&b""[..], Value::Int(0))
        });
    }

    /// Turns a decoded dictionary into a built one (its raw span no longer applies).
    fn forget_raw(&mut self) {
        let meta = self.meta_word();
        if meta & DECODED != 0 {
            self.slots[0] = (&b""[..], Value::Int(meta & !DECODED));
        }
    }

    /// The value for `key`.
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        let entries = self.entries();
        if self.is_sorted() {
            entries
                .binary_search_by(|(k, _)| (*k).cmp(key))
                .ok()
                .map(|i| &entries[i].1)
        } else {
            entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
        }
    }

    /// The entries in the order they were seen (or inserted).
    #[inline]
    pub fn entries(&self) -> &[(&'a [u8], Value<'a>)] {
        match self.slots.split_first() {
            Some(((_, Value::Int(meta)), rest)) => &rest[..(*meta >> 2) as usize],
            _ => &[],
        }
    }

    /// The entries, taken out of the dictionary.
    pub fn into_entries(self) -> Vec<(&'a [u8], Value<'a>)> {
        let len = self.len();
        take_slots(self.slots, len)
    }

    /// Iterates over `(key, value)` in the order seen.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&'a [u8], &Value<'a>)> {
        self.entries().iter().map(|(k, v)| (*k, v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether the dictionary has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// Whether the keys are in canonical (sorted, unique) order.
    pub fn is_sorted(&self) -> bool {
        self.meta_word() & SORTED != 0
    }

    /// The exact input bytes of this dictionary, if it was decoded.
    pub fn raw_span(&self) -> Option<&'a [u8]> {
        match self.slots.first() {
            Some((raw, Value::Int(meta))) if meta & DECODED != 0 => Some(raw),
            _ => None,
        }
    }
}

impl<'a> FromIterator<(&'a [u8], Value<'a>)> for Dict<'a> {
    fn from_iter<I: IntoIterator<Item = (&'a [u8], Value<'a>)>>(iter: I) -> Self {
        let mut dict = Dict::new();
        for (k, v) in iter {
            dict.insert(k, v);
        }
        dict
    }
}

impl PartialEq for List<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.items() == other.items()
    }
}
impl Eq for List<'_> {}

impl PartialEq for Dict<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.entries() == other.entries()
    }
}
impl Eq for Dict<'_> {}

/// Byte strings print as text when they are printable UTF-8, else as hex.
struct ShowBytes<'b>(&'b [u8]);

impl fmt::Debug for ShowBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.0) {
            Ok(s) if !s.chars().any(char::is_control) => write!(f, "{s:?}"),
            _ => {
                f.write_str("0x")?;
                for b in self.0.iter().take(64) {
                    write!(f, "{b:02x}")?;
                }
                if self.0.len() > 64 {
                    write!(f, "..({} bytes)", self.0.len())?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Bytes(b) => ShowBytes(b).fmt(f),
            Value::List(l) => l.fmt(f),
            Value::Dict(d) => d.fmt(f),
        }
    }
}

impl fmt::Debug for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.items()).finish()
    }
}

impl fmt::Debug for Dict<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries().iter().map(|(k, v)| (ShowBytes(k), v)))
            .finish()
    }
}
