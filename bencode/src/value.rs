//! The decoded value tree.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

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
/// The items live in a shared slot array (`arena`): slot `start` is a header —
/// `Value::Bytes(raw)` for a decoded list, `Value::Int(_)` for a built one — and the `len`
/// items follow it. The decoder puts all lists of one nesting level into one array, so a
/// document costs one allocation per level instead of one per container; a built list owns
/// its array and keeps spare slots after its items, so [`List::push`] is amortised O(1).
/// Changing a list whose array is shared copies its items first (children are shared, not
/// copied). Cloning is O(1).
#[derive(Clone, Default)]
pub struct List<'a> {
    pub(crate) arena: Option<Arc<[Value<'a>]>>,
    start: u32,
    len: u32,
}

/// A dictionary: byte-string keys to values, in the order they were seen, with the raw
/// bytes it was decoded from.
///
/// Stored like [`List`]: the header slot is `(raw, Value::Int(meta))` with
/// `meta = decoded << 1 | sorted`, and the entries follow it.
#[derive(Clone, Default)]
pub struct Dict<'a> {
    arena: Option<Arc<[Entry<'a>]>>,
    start: u32,
    len: u32,
}

/// A dictionary entry (or header slot).
type Entry<'a> = (&'a [u8], Value<'a>);

/// Header bit: keys are known to be strictly increasing, so lookups may binary-search.
const SORTED: i64 = 1;
/// Header bit: the header key is the raw span the dictionary was decoded from.
const DECODED: i64 = 2;

/// A container size as stored; more than `u32::MAX` items would need over 128 GiB.
fn small(n: usize) -> u32 {
    u32::try_from(n).expect("a container holds fewer than 2^32 items")
}

/// The `len` items after the header slot at `start` (nothing for an empty container).
#[inline]
fn body<T>(arena: &Option<Arc<[T]>>, start: u32, len: u32) -> &[T] {
    match arena {
        None => &[],
        Some(slots) => {
            let from = start as usize + 1;
            slots.get(from..from + len as usize).unwrap_or_default()
        }
    }
}

/// The header and items of a container, `arena[start..=start + len]`, made uniquely owned
/// with at least `extra` free slots after them (spare slots hold `filler()`). Shared items
/// are cloned (O(1) each), owned ones moved; the arena grows by doubling.
fn writable<'s, T: Clone>(
    arena: &'s mut Option<Arc<[T]>>,
    start: &mut u32,
    len: usize,
    extra: usize,
    filler: fn() -> T,
) -> &'s mut [T] {
    let from = *start as usize;
    let used = from + 1 + len;
    let fits = matches!(arena.as_mut().map(Arc::get_mut), Some(Some(a)) if used + extra <= a.len());
    if !fits {
        let cap = ((1 + len + extra) * 2).max(4);
        let mut slots = Vec::with_capacity(cap);
        match arena {
            None => slots.push(filler()),
            Some(a) => match Arc::get_mut(a) {
                Some(owned) => slots.extend(
                    owned[from..used]
                        .iter_mut()
                        .map(|slot| std::mem::replace(slot, filler())),
                ),
                None => slots.extend_from_slice(&a[from..used]),
            },
        }
        slots.resize_with(cap, filler);
        *arena = Some(Arc::from(slots));
        *start = 0;
    }
    match arena.as_mut().and_then(Arc::get_mut) {
        Some(slots) => slots,
        None => unreachable!("the arena was made unique above"),
    }
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

    /// A decoded list: its header is slot `start` of its level's shared array.
    #[inline]
    pub(crate) fn decoded(arena: Option<Arc<[Value<'a>]>>, start: u32, len: u32) -> Self {
        List { arena, start, len }
    }

    /// Appends a value.
    pub fn push(&mut self, value: Value<'a>) {
        let len = self.len as usize;
        let filler = || Value::Int(0);
        let slots = writable(&mut self.arena, &mut self.start, len, 1, filler);
        let header = self.start as usize;
        // A header that is not a byte string marks a built list (no raw span).
        slots[header] = Value::Int(0);
        slots[header + 1 + len] = value;
        self.len = small(len + 1);
    }

    /// The items in order.
    #[inline]
    pub fn items(&self) -> &[Value<'a>] {
        body(&self.arena, self.start, self.len)
    }

    /// The items, taken out of the list (children are shared, not copied).
    pub fn into_items(self) -> Vec<Value<'a>> {
        self.items().to_vec()
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
        match self.arena.as_ref()?.get(self.start as usize) {
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
        let len = small(items.len());
        let mut slots = Vec::with_capacity(items.len() + 1);
        slots.push(Value::Int(0));
        slots.extend(items);
        List {
            arena: Some(Arc::from(slots)),
            start: 0,
            len,
        }
    }
}

impl<'a> Dict<'a> {
    /// An empty dictionary, for building values to encode.
    pub fn new() -> Self {
        Dict::default()
    }

    /// A decoded dictionary: its header is slot `start` of its level's shared array.
    #[inline]
    pub(crate) fn decoded(arena: Option<Arc<[Entry<'a>]>>, start: u32, len: u32) -> Self {
        Dict { arena, start, len }
    }

    /// The meta word of a decoded dictionary's header slot.
    #[inline]
    pub(crate) fn decoded_meta(sorted: bool) -> i64 {
        DECODED | i64::from(sorted)
    }

    /// A dictionary from entries already known to have unique keys.
    #[cfg(feature = "serde")]
    pub(crate) fn from_unique(entries: Vec<(&'a [u8], Value<'a>)>) -> Self {
        if entries.is_empty() {
            return Dict::new();
        }
        let sorted = entries.windows(2).all(|w| w[0].0 < w[1].0);
        let len = small(entries.len());
        let mut slots = Vec::with_capacity(entries.len() + 1);
        slots.push((&b""[..], Value::Int(i64::from(sorted))));
        slots.extend(entries);
        Dict {
            arena: Some(Arc::from(slots)),
            start: 0,
            len,
        }
    }

    /// The header's meta word (an empty dictionary is built and sorted).
    #[inline]
    fn meta(&self) -> i64 {
        match self.arena.as_ref().and_then(|a| a.get(self.start as usize)) {
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
        let found = if sorted && after_last {
            None
        } else if sorted {
            entries.binary_search_by(|(k, _)| (*k).cmp(key)).ok()
        } else {
            entries.iter().position(|(k, _)| *k == key)
        };
        let len = self.len as usize;
        let filler = || (&b""[..], Value::Int(0));
        let extra = usize::from(found.is_none());
        let slots = writable(&mut self.arena, &mut self.start, len, extra, filler);
        let header = self.start as usize;
        // Built now: the raw span no longer applies.
        let still_sorted = sorted && (found.is_some() || after_last);
        slots[header] = (&b""[..], Value::Int(i64::from(still_sorted)));
        match found {
            Some(i) => slots[header + 1 + i].1 = value,
            None => {
                slots[header + 1 + len] = (key, value);
                self.len = small(len + 1);
            }
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
        body(&self.arena, self.start, self.len)
    }

    /// The entries, taken out of the dictionary (children are shared, not copied).
    pub fn into_entries(self) -> Vec<(&'a [u8], Value<'a>)> {
        self.entries().to_vec()
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
        self.meta() & SORTED != 0
    }

    /// The exact input bytes of this dictionary, if it was decoded.
    pub fn raw_span(&self) -> Option<&'a [u8]> {
        match self.arena.as_ref()?.get(self.start as usize) {
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
