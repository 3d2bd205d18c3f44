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
#[derive(Clone, Default)]
pub struct List<'a> {
    items: Vec<Value<'a>>,
    raw: Option<&'a [u8]>,
}

/// A dictionary: byte-string keys to values, in the order they were seen, with the raw
/// bytes it was decoded from.
#[derive(Clone, Default)]
pub struct Dict<'a> {
    entries: Vec<(&'a [u8], Value<'a>)>,
    raw: Option<&'a [u8]>,
    /// Keys are known to be strictly increasing, so lookups may binary-search.
    sorted: bool,
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
            Value::List(List { raw: Some(raw), .. }) | Value::Dict(Dict { raw: Some(raw), .. }) => {
                Cow::Borrowed(raw)
            }
            other => Cow::Owned(crate::encode(other)),
        }
    }
}

impl<'a> List<'a> {
    /// An empty list, for building values to encode.
    pub fn new() -> Self {
        List::default()
    }

    pub(crate) fn from_decoded(items: Vec<Value<'a>>, raw: &'a [u8]) -> Self {
        List {
            items,
            raw: Some(raw),
        }
    }

    /// Appends a value.
    pub fn push(&mut self, value: Value<'a>) {
        self.raw = None;
        self.items.push(value);
    }

    /// The items in order.
    pub fn items(&self) -> &[Value<'a>] {
        &self.items
    }

    /// The items, taken out of the list.
    pub fn into_items(self) -> Vec<Value<'a>> {
        self.items
    }

    /// Iterates over the items.
    pub fn iter(&self) -> std::slice::Iter<'_, Value<'a>> {
        self.items.iter()
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the list has no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The item at `index`.
    pub fn get(&self, index: usize) -> Option<&Value<'a>> {
        self.items.get(index)
    }

    /// The exact input bytes of this list, if it was decoded.
    pub fn raw_span(&self) -> Option<&'a [u8]> {
        self.raw
    }
}

impl<'a> From<Vec<Value<'a>>> for List<'a> {
    fn from(items: Vec<Value<'a>>) -> Self {
        List { items, raw: None }
    }
}

impl<'a> Dict<'a> {
    /// An empty dictionary, for building values to encode.
    pub fn new() -> Self {
        Dict {
            entries: Vec::new(),
            raw: None,
            sorted: true,
        }
    }

    pub(crate) fn from_decoded(
        entries: Vec<(&'a [u8], Value<'a>)>,
        raw: &'a [u8],
        sorted: bool,
    ) -> Self {
        Dict {
            entries,
            raw: Some(raw),
            sorted,
        }
    }

    /// A dictionary from entries already known to have unique keys.
    #[cfg(feature = "serde")]
    pub(crate) fn from_unique(entries: Vec<(&'a [u8], Value<'a>)>) -> Self {
        let sorted = entries.windows(2).all(|w| w[0].0 < w[1].0);
        Dict {
            entries,
            raw: None,
            sorted,
        }
    }

    /// Sets `key` to `value`, replacing an earlier value for the same key.
    pub fn insert(&mut self, key: &'a [u8], value: Value<'a>) {
        self.raw = None;
        // Appending in increasing key order (the common case when building) stays O(1).
        let after_last = self.entries.last().is_none_or(|(last, _)| *last < key);
        if !(self.sorted && after_last) {
            let found = if self.sorted {
                self.entries.binary_search_by(|(k, _)| (*k).cmp(key)).ok()
            } else {
                self.entries.iter().position(|(k, _)| *k == key)
            };
            if let Some(i) = found {
                self.entries[i].1 = value;
                return;
            }
            if !after_last {
                self.sorted = false;
            }
        }
        self.entries.push((key, value));
    }

    /// The value for `key`.
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        if self.sorted {
            self.entries
                .binary_search_by(|(k, _)| (*k).cmp(key))
                .ok()
                .map(|i| &self.entries[i].1)
        } else {
            self.entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
        }
    }

    /// The entries in the order they were seen (or inserted).
    pub fn entries(&self) -> &[(&'a [u8], Value<'a>)] {
        &self.entries
    }

    /// The entries, taken out of the dictionary.
    pub fn into_entries(self) -> Vec<(&'a [u8], Value<'a>)> {
        self.entries
    }

    /// Iterates over `(key, value)` in the order seen.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&'a [u8], &Value<'a>)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the dictionary has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the keys are in canonical (sorted, unique) order.
    pub fn is_sorted(&self) -> bool {
        self.sorted
    }

    /// The exact input bytes of this dictionary, if it was decoded.
    pub fn raw_span(&self) -> Option<&'a [u8]> {
        self.raw
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
        self.items == other.items
    }
}
impl Eq for List<'_> {}

impl PartialEq for Dict<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
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
        f.debug_list().entries(&self.items).finish()
    }
}

impl fmt::Debug for Dict<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (ShowBytes(k), v)))
            .finish()
    }
}
