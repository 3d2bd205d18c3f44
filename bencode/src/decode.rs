//! The decoder: iterative (an explicit stack on the heap, so no input can overflow the
//! call stack), zero-copy, one pass, with the offset of every error.

use crate::error::{Error, Result};
use crate::value::{Dict, List, Value};
use std::sync::Arc;

/// The nesting limit used by [`decode`] and [`Decoder::new`].
pub const DEFAULT_MAX_DEPTH: usize = 256;

/// The largest nesting a [`Decoder`] accepts whatever it is asked: decoded values are
/// dropped (one level array after another) and encoded recursively, and this bound keeps
/// that within a 2 MiB thread stack (tested). `==` and `Debug` on a value recurse with
/// bigger frames: in debug builds on a 2 MiB stack they are safe to about 1,000 levels, so
/// keep `max_depth` at or below that if such values are compared or printed. (`Clone` is
/// shallow: it shares the level arrays.)
pub const HARD_MAX_DEPTH: usize = 2048;

/// Decodes exactly one value in strict BEP 3 form.
///
/// Strict means: integers without leading zeros or `-0` that fit an `i64`; string lengths
/// without leading zeros; dictionary keys are byte strings, sorted as raw bytes, unique;
/// nothing after the value. Nesting is limited to [`DEFAULT_MAX_DEPTH`].
///
/// ```
/// let v = shoal_bencode::decode(b"d3:cow3:moo4:spaml1:a1:bee").unwrap();
/// let dict = v.as_dict().unwrap();
/// assert_eq!(dict.get(b"cow").and_then(|v| v.as_str()), Some("moo"));
/// assert_eq!(dict.get(b"spam").unwrap().as_list().unwrap().len(), 2);
///
/// let err = shoal_bencode::decode(b"i03e").unwrap_err();
/// assert_eq!(err.offset(), Some(1));
/// ```
pub fn decode(input: &[u8]) -> Result<Value<'_>> {
    Decoder::new().decode(input)
}

/// A decoder with options: strict or lenient key order, and a nesting limit.
///
/// ```
/// use shoal_bencode::Decoder;
///
/// // Real .torrent files sometimes have unsorted keys: lenient mode accepts them.
/// let unsorted = b"d1:bi1e1:ai2ee";
/// assert!(shoal_bencode::decode(unsorted).is_err());
/// let v = Decoder::new().lenient(true).decode(unsorted).unwrap();
/// assert_eq!(v.as_dict().unwrap().get(b"a").unwrap().as_int(), Some(2));
///
/// // ut_metadata messages carry raw bytes after a dictionary.
/// let (msg, rest) = Decoder::new().decode_prefix(b"d8:msg_typei1ee<piece data>").unwrap();
/// assert_eq!(msg.as_dict().unwrap().len(), 1);
/// assert_eq!(rest, b"<piece data>");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoder {
    lenient: bool,
    max_depth: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

/// A list or dictionary still open. Its header slot and then its items wait at the end of
/// its level's scratch vector (`levels[depth]`) from index `base` on; only one container per
/// level is open at a time, so they stay contiguous, and nothing moves when it closes.
#[derive(Clone, Copy)]
struct Open {
    /// Offset of the `l` or `d`.
    start: usize,
    /// Where this container's header slot is in its level's scratch.
    base: usize,
    /// The parent dictionary's key this container is the value of (empty in a list).
    key: Span,
    dict: bool,
    /// Keys seen so far are strictly increasing.
    sorted: bool,
}

/// A byte range of the input: offset and length.
type Span = (usize, usize);

/// A value in the scratch: like [`Value`], but with input offsets instead of borrows, so
/// the scratch has no lifetime and is reused from one decode to the next as it is.
#[derive(Clone, Copy)]
enum Slot {
    Int(i64),
    /// A byte string, or the raw span in a list's header slot.
    Bytes(Span),
    /// A list (`dict` false) or dictionary: its header slot and length in the level below.
    /// (One variant for both keeps the conversion below at three cases, which compile to
    /// plain branches; four became a jump table whose indirect jump mispredicted.)
    Container {
        dict: bool,
        start: u32,
        len: u32,
    },
}

impl Slot {
    /// The value, borrowing from `input`; containers point at the level below.
    #[inline(always)]
    fn value<'a>(self, input: &'a [u8], lists: &Lists<'a>, dicts: &Dicts<'a>) -> Value<'a> {
        match self {
            Slot::Bytes(span) => Value::Bytes(slice(input, span)),
            Slot::Int(n) => Value::Int(n),
            Slot::Container {
                dict: true,
                start,
                len,
            } => Value::Dict(Dict::decoded(dicts.clone(), start, len)),
            Slot::Container { start, len, .. } => {
                Value::List(List::decoded(lists.clone(), start, len))
            }
        }
    }
}

type Lists<'a> = Option<Arc<[Value<'a>]>>;
type Dicts<'a> = Option<Arc<[(&'a [u8], Value<'a>)]>>;

/// The bytes of a span the decoder recorded (always within the input).
#[inline(always)]
fn slice(input: &[u8], (from, len): Span) -> &[u8] {
    input.get(from..from + len).unwrap_or_default()
}

/// What the decoder expects next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The whole value (nothing open yet).
    Top,
    /// An item of a list, or its `e`.
    Item,
    /// A dictionary key, or its `e`.
    Key,
    /// The value for the key just read.
    Value,
}

/// The slots of every list and dictionary at one nesting level, in the order they opened:
/// each container's header slot, then its items. When the whole value is read, each level
/// becomes one shared array (see [`List`]).
#[derive(Default)]
struct Level {
    items: Vec<Slot>,
    entries: Vec<(Span, Slot)>,
}

/// The decoder's working memory, kept per thread between decodes.
#[derive(Default)]
struct Scratch {
    stack: Vec<Open>,
    levels: Vec<Level>,
    /// The levels grew past [`SCRATCH_KEEP`] slots in all, or past [`LEVELS_KEEP`].
    grown: bool,
}

/// Scratch larger than this many slots, over all levels, is freed after a decode rather
/// than kept (about 2 MB).
const SCRATCH_KEEP: usize = 64 * 1024;
/// Levels kept between decodes.
const LEVELS_KEEP: usize = 64;

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = const {
        std::cell::RefCell::new(Scratch {
            stack: Vec::new(),
            levels: Vec::new(),
            grown: false,
        })
    };
}

impl Scratch {
    /// Empties the scratch for the next decode, freeing what grew too big to keep.
    fn tidy(&mut self) {
        self.grown = false;
        self.stack.clear();
        self.levels.truncate(LEVELS_KEEP);
        let mut kept = 0;
        for level in &mut self.levels {
            level.items.clear();
            level.entries.clear();
            kept += level.items.capacity();
            if kept > SCRATCH_KEEP {
                kept -= level.items.capacity();
                level.items = Vec::new();
            }
            kept += level.entries.capacity();
            if kept > SCRATCH_KEEP {
                kept -= level.entries.capacity();
                level.entries = Vec::new();
            }
        }
        if self.stack.capacity() > SCRATCH_KEEP {
            self.stack = Vec::new();
        }
    }
}

impl Decoder {
    /// A strict decoder with the default nesting limit.
    pub const fn new() -> Self {
        Decoder {
            lenient: false,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }

    /// Lenient mode accepts dictionary keys in any order (as many real .torrent files
    /// need) and, in [`Decoder::decode`], ASCII whitespace after the value (a final
    /// newline). Duplicate keys are still rejected, and integers and lengths are still strict.
    pub const fn lenient(mut self, lenient: bool) -> Self {
        self.lenient = lenient;
        self
    }

    /// How deep lists and dictionaries may nest (clamped to [`HARD_MAX_DEPTH`]).
    pub const fn max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = if max_depth > HARD_MAX_DEPTH {
            HARD_MAX_DEPTH
        } else {
            max_depth
        };
        self
    }

    /// Whether dictionary keys may come in any order.
    #[cfg(feature = "serde")]
    pub(crate) const fn is_lenient(&self) -> bool {
        self.lenient
    }

    /// The nesting limit in force.
    #[cfg(feature = "serde")]
    pub(crate) const fn max_depth_value(&self) -> usize {
        self.max_depth
    }

    /// Checks the value starting at `pos` with this decoder's rules and returns where it
    /// ends (used by serde to skip unknown fields).
    #[cfg(feature = "serde")]
    pub(crate) fn skip_value(&self, input: &[u8], pos: usize) -> Result<usize> {
        self.parse(input, pos).map(|(_, end)| end)
    }

    /// Decodes exactly one value; bytes after it are an error.
    pub fn decode<'a>(&self, input: &'a [u8]) -> Result<Value<'a>> {
        let (value, end) = self.parse(input, 0)?;
        if end != input.len() {
            // Lenient mode tolerates trailing whitespace (files saved with a final newline).
            let trailer_is_space = input[end..].iter().all(u8::is_ascii_whitespace);
            if !(self.lenient && trailer_is_space) {
                return Err(Error::TrailingBytes { offset: end });
            }
        }
        Ok(value)
    }

    /// Decodes one value from the start of `input` and returns it with the bytes after it.
    pub fn decode_prefix<'a>(&self, input: &'a [u8]) -> Result<(Value<'a>, &'a [u8])> {
        let (value, end) = self.parse(input, 0)?;
        Ok((value, &input[end..]))
    }

    fn parse<'a>(&self, input: &'a [u8], pos: usize) -> Result<(Value<'a>, usize)> {
        // A lone integer or string needs no scratch.
        match input.get(pos) {
            Some(b'i') => return parse_int(input, pos).map(|(n, end)| (Value::Int(n), end)),
            Some(b'0'..=b'9') => {
                return parse_bytes(input, pos).map(|(b, end)| (Value::Bytes(b), end));
            }
            _ => {}
        }
        // The thread's scratch, or a fresh one if it is in use or gone (thread exit).
        let shared = SCRATCH.try_with(|cell| {
            let mut scratch = cell.try_borrow_mut().ok()?;
            let result = self.parse_nested(input, pos, &mut scratch);
            // A successful decode leaves the scratch empty (`link_levels`), and small
            // enough unless it grew: then (or after an error) tidy it.
            if result.is_err() || scratch.grown {
                scratch.tidy();
            }
            Some(result)
        });
        match shared {
            Ok(Some(result)) => result,
            _ => self.parse_nested(input, pos, &mut Scratch::default()),
        }
    }

    fn parse_nested<'a>(
        &self,
        input: &'a [u8],
        mut pos: usize,
        scratch: &mut Scratch,
    ) -> Result<(Value<'a>, usize)> {
        let Scratch {
            stack,
            levels,
            grown,
        } = scratch;
        // Levels this decode has used.
        let mut used = 0;
        let mut mode = Mode::Top;
        // The key waiting for its value while `mode` is `Value`.
        let mut key: Span = (0, 0);
        // The innermost open dictionary's last key, if it has one.
        let mut prev: Option<&'a [u8]> = None;
        // The level of the innermost open container (its slots are in `levels[depth]`).
        let mut depth = 0;

        // Hands a finished value to whatever expects it; returns it if it is the whole value.
        macro_rules! put {
            ($value:expr) => {
                match mode {
                    Mode::Item => push_with(&mut levels[depth].items, || $value),
                    Mode::Value => {
                        push_with(&mut levels[depth].entries, || (key, $value));
                        mode = Mode::Key;
                    }
                    _ => return Ok(($value.value(input, &None, &None), pos)),
                }
            };
        }
        // Hands a closed container to its parent (the frame is already popped).
        macro_rules! finish {
            ($value:expr, $key:expr) => {
                match stack.last() {
                    None => {
                        let top = link_levels(input, &mut levels[..used], $value);
                        *grown = levels.len() > LEVELS_KEEP
                            || stack.capacity() > SCRATCH_KEEP
                            || levels
                                .iter()
                                .map(|l| l.items.capacity() + l.entries.capacity())
                                .sum::<usize>()
                                > SCRATCH_KEEP;
                        return Ok((top, pos));
                    }
                    Some(parent) => {
                        depth -= 1;
                        if parent.dict {
                            push_with(&mut levels[depth].entries, || ($key, $value));
                            prev = Some(slice(input, $key));
                            mode = Mode::Key;
                        } else {
                            push_with(&mut levels[depth].items, || $value);
                            mode = Mode::Item;
                        }
                    }
                }
            };
        }

        loop {
            if mode == Mode::Key {
                match input.get(pos) {
                    Some(b'0'..=b'9') => {
                        let (k, next) = parse_bytes(input, pos)?;
                        // Only the previous key of this dictionary needs comparing.
                        if let Some(last) = prev {
                            match key_order(last, k) {
                                std::cmp::Ordering::Less => {}
                                std::cmp::Ordering::Equal => {
                                    return Err(Error::DuplicateKey { offset: pos });
                                }
                                std::cmp::Ordering::Greater => {
                                    if !self.lenient {
                                        return Err(Error::UnsortedKey { offset: pos });
                                    }
                                    if let Some(top) = stack.last_mut() {
                                        top.sorted = false;
                                    }
                                }
                            }
                        }
                        prev = Some(k);
                        let k = (next - k.len(), k.len());
                        // Most values are scalars: read them here, without going round the
                        // loop (the general path below reads containers and gives errors).
                        let entries = &mut levels[depth].entries;
                        match input.get(next) {
                            Some(b'0'..=b'9') => {
                                let (b, end) = parse_bytes(input, next)?;
                                push_with(entries, || (k, Slot::Bytes((end - b.len(), b.len()))));
                                pos = end;
                            }
                            Some(b'i') => {
                                let (n, end) = parse_int(input, next)?;
                                push_with(entries, || (k, Slot::Int(n)));
                                pos = end;
                            }
                            _ => {
                                key = k;
                                mode = Mode::Value;
                                pos = next;
                            }
                        }
                    }
                    Some(b'e') => {
                        let Some(open) = stack.pop() else {
                            unreachable!("a key is only expected inside a dictionary")
                        };
                        pos += 1;
                        let entries = &mut levels[depth].entries;
                        if !open.sorted {
                            check_unique(input, &entries[open.base + 1..])?;
                        }
                        let raw = (open.start, pos - open.start);
                        let header = (raw, Slot::Int(Dict::decoded_meta(open.sorted)));
                        let (start, len) = seal(entries, open.base, header, pos)?;
                        finish!(
                            Slot::Container {
                                dict: true,
                                start,
                                len
                            },
                            open.key
                        );
                    }
                    Some(&found) => return Err(Error::NonStringKey { offset: pos, found }),
                    None => {
                        return Err(Error::UnexpectedEof {
                            offset: pos,
                            expected: "dictionary key or 'e'",
                        });
                    }
                }
                continue;
            }

            match input.get(pos) {
                Some(b'0'..=b'9') => {
                    let (b, next) = parse_bytes(input, pos)?;
                    pos = next;
                    put!(Slot::Bytes((next - b.len(), b.len())));
                }
                Some(b'i') => {
                    let (n, next) = parse_int(input, pos)?;
                    pos = next;
                    put!(Slot::Int(n));
                }
                Some(&open @ (b'l' | b'd')) => {
                    let level = stack.len();
                    if level >= self.max_depth {
                        return Err(Error::DepthLimit {
                            offset: pos,
                            max_depth: self.max_depth,
                        });
                    }
                    if levels.len() == level {
                        levels.push(Level::default());
                    }
                    used = used.max(level + 1);
                    let dict = open == b'd';
                    // The container's header slot, filled in when it closes.
                    let slots = &mut levels[level];
                    let base = if dict {
                        push_with(&mut slots.entries, || ((0, 0), Slot::Int(0)));
                        slots.entries.len() - 1
                    } else {
                        push_with(&mut slots.items, || Slot::Int(0));
                        slots.items.len() - 1
                    };
                    stack.push(Open {
                        start: pos,
                        base,
                        key: if mode == Mode::Value { key } else { (0, 0) },
                        dict,
                        sorted: true,
                    });
                    depth = level;
                    prev = None;
                    mode = if dict { Mode::Key } else { Mode::Item };
                    pos += 1;
                }
                Some(b'e') if mode == Mode::Item => {
                    let Some(open) = stack.pop() else {
                        unreachable!("an item is only expected inside a list")
                    };
                    pos += 1;
                    let header = Slot::Bytes((open.start, pos - open.start));
                    let (start, len) = seal(&mut levels[depth].items, open.base, header, pos)?;
                    finish!(
                        Slot::Container {
                            dict: false,
                            start,
                            len
                        },
                        open.key
                    );
                }
                Some(&found) => {
                    return Err(Error::InvalidByte {
                        offset: pos,
                        found,
                        expected: "'i', 'l', 'd' or a digit",
                    });
                }
                None => {
                    return Err(Error::UnexpectedEof {
                        offset: pos,
                        expected: match mode {
                            Mode::Value => "a dictionary value",
                            Mode::Item => "a value or 'e'",
                            _ => "a value",
                        },
                    });
                }
            }
        }
    }
}

/// Fills in the header slot `slots[base]` of a closing container and returns where it is
/// and how many items follow it, as stored in a [`List`] or [`Dict`].
#[inline(always)]
fn seal<T: Copy>(slots: &mut [T], base: usize, header: T, end: usize) -> Result<(u32, u32)> {
    let len = slots.len() - base - 1;
    slots[base] = header;
    match (u32::try_from(base), u32::try_from(len)) {
        (Ok(start), Ok(len)) => Ok((start, len)),
        _ => Err(Error::TooManyValues { offset: end - 1 }),
    }
}

/// Turns every level's scratch into one shared array, deepest first, with each container
/// pointing at the array of the level below it; returns `top` pointed at level 0.
#[inline(never)]
fn link_levels<'a>(input: &'a [u8], levels: &mut [Level], top: Slot) -> Value<'a> {
    let mut lists: Lists<'a> = None;
    let mut dicts: Dicts<'a> = None;
    for level in levels.iter_mut().rev() {
        let level_lists = (!level.items.is_empty()).then(|| {
            level
                .items
                .iter()
                .map(|slot| slot.value(input, &lists, &dicts))
                .collect()
        });
        let level_dicts = (!level.entries.is_empty()).then(|| {
            level
                .entries
                .iter()
                .map(|&(key, slot)| (slice(input, key), slot.value(input, &lists, &dicts)))
                .collect()
        });
        level.items.clear();
        level.entries.clear();
        lists = level_lists;
        dicts = level_dicts;
    }
    top.value(input, &lists, &dicts)
}

/// Pushes the value `make` builds. Unlike `push(make())`, this makes room first and then
/// builds the value straight in its slot: a value built before a possible reallocation
/// goes through the stack, and reading it back stalls on store forwarding.
#[inline(always)]
fn push_with<T>(v: &mut Vec<T>, make: impl FnOnce() -> T) {
    v.extend(std::iter::once_with(make));
}

/// Raw-byte order of two keys; most neighbouring keys differ in their first byte, which
/// settles it without a `memcmp` call.
#[inline(always)]
fn key_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    match (a.first(), b.first()) {
        (Some(x), Some(y)) if x != y => x.cmp(y),
        _ => a.cmp(b),
    }
}

/// Rejects duplicate keys in a dictionary whose keys were not in order, in n·log n.
fn check_unique(input: &[u8], entries: &[(Span, Slot)]) -> Result<()> {
    let mut keys: Vec<&[u8]> = entries.iter().map(|&(k, _)| slice(input, k)).collect();
    keys.sort_unstable();
    for pair in keys.windows(2) {
        if pair[0] == pair[1] {
            // Report the later of the occurrences, at its length prefix.
            let later = entries
                .iter()
                .filter(|&&(k, _)| slice(input, k) == pair[0])
                .map(|&((from, _), _)| from)
                .max()
                .unwrap_or(0);
            let prefix = decimal_digits(pair[0].len()) + 1;
            return Err(Error::DuplicateKey {
                offset: later - prefix,
            });
        }
    }
    Ok(())
}

fn decimal_digits(mut n: usize) -> usize {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

/// Parses `i<digits>e` starting at the `i`.
///
/// The common case (1 to 18 digits, canonical, `e` after them) takes a short loop with no
/// overflow checks (18 digits cannot overflow); anything else takes the careful path,
/// which gives the exact error.
#[inline(always)]
pub(crate) fn parse_int(input: &[u8], start: usize) -> Result<(i64, usize)> {
    let mut pos = start + 1;
    let negative = input.get(pos) == Some(&b'-');
    if negative {
        pos += 1;
    }
    let first = pos;
    let mut magnitude: u64 = 0;
    while let Some(&b) = input.get(pos) {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        magnitude = magnitude.wrapping_mul(10).wrapping_add(u64::from(digit));
        pos += 1;
    }
    let digits = pos - first;
    if digits == 0
        || digits > 18
        || input.get(pos) != Some(&b'e')
        || (input[first] == b'0' && (digits > 1 || negative))
    {
        return parse_int_careful(input, start);
    }
    let value = magnitude as i64;
    Ok((if negative { -value } else { value }, pos + 1))
}

/// Parses `<length>:<bytes>` starting at the first digit; the bytes are borrowed.
///
/// Fast path as in [`parse_int`]: 1 to 18 digits, canonical, `:` after them, and the
/// bytes present; anything else takes the careful path for the exact error.
#[inline(always)]
pub(crate) fn parse_bytes(input: &[u8], start: usize) -> Result<(&[u8], usize)> {
    // Most keys and many values have a one-digit length.
    if let Some(&[digit @ b'0'..=b'9', b':']) = input.get(start..start + 2) {
        let from = start + 2;
        let end = from + usize::from(digit - b'0');
        if let Some(bytes) = input.get(from..end) {
            return Ok((bytes, end));
        }
    }
    let mut pos = start;
    let mut length: u64 = 0;
    while let Some(&b) = input.get(pos) {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        length = length.wrapping_mul(10).wrapping_add(u64::from(digit));
        pos += 1;
    }
    let digits = pos - start;
    if digits == 0
        || digits > 18
        || input.get(pos) != Some(&b':')
        || (digits > 1 && input[start] == b'0')
    {
        return parse_bytes_careful(input, start);
    }
    let from = pos + 1;
    if length > (input.len() - from) as u64 {
        return parse_bytes_careful(input, start);
    }
    let end = from + length as usize;
    Ok((&input[from..end], end))
}

/// [`parse_int`] with every check, for the uncommon cases and errors.
#[cold]
#[inline(never)]
fn parse_int_careful(input: &[u8], start: usize) -> Result<(i64, usize)> {
    let mut pos = start + 1;
    let negative = input.get(pos) == Some(&b'-');
    if negative {
        pos += 1;
    }
    let first = pos;
    let mut value: i64 = 0;
    while let Some(&b) = input.get(pos) {
        if !b.is_ascii_digit() {
            break;
        }
        let digit = i64::from(b - b'0');
        value = value
            .checked_mul(10)
            .and_then(|v| {
                if negative {
                    v.checked_sub(digit)
                } else {
                    v.checked_add(digit)
                }
            })
            .ok_or(Error::NumberOverflow { offset: first })?;
        pos += 1;
    }
    if pos == first {
        return Err(match input.get(pos) {
            None => Error::UnexpectedEof {
                offset: pos,
                expected: "a digit",
            },
            Some(b'e') => Error::EmptyInteger { offset: pos },
            Some(&found) => Error::InvalidByte {
                offset: pos,
                found,
                expected: "a digit",
            },
        });
    }
    if input[first] == b'0' {
        if pos - first > 1 {
            return Err(Error::LeadingZero { offset: first });
        }
        if negative {
            return Err(Error::NegativeZero { offset: first - 1 });
        }
    }
    match input.get(pos) {
        Some(b'e') => Ok((value, pos + 1)),
        Some(&found) => Err(Error::InvalidByte {
            offset: pos,
            found,
            expected: "a digit or 'e'",
        }),
        None => Err(Error::UnexpectedEof {
            offset: pos,
            expected: "a digit or 'e'",
        }),
    }
}

/// [`parse_bytes`] with every check, for the uncommon cases and errors.
#[cold]
#[inline(never)]
fn parse_bytes_careful(input: &[u8], start: usize) -> Result<(&[u8], usize)> {
    let mut pos = start;
    let mut length: u64 = 0;
    while let Some(&b) = input.get(pos) {
        if !b.is_ascii_digit() {
            break;
        }
        length = length
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(Error::NumberOverflow { offset: start })?;
        pos += 1;
    }
    if input[start] == b'0' && pos - start > 1 {
        return Err(Error::LeadingZero { offset: start });
    }
    match input.get(pos) {
        Some(b':') => {}
        Some(&found) => {
            return Err(Error::InvalidByte {
                offset: pos,
                found,
                expected: "a digit or ':'",
            });
        }
        None => {
            return Err(Error::UnexpectedEof {
                offset: pos,
                expected: "a digit or ':'",
            });
        }
    }
    pos += 1;
    let remaining = input.len() - pos;
    if length > remaining as u64 {
        return Err(Error::StringTooLong {
            offset: start,
            length,
            remaining,
        });
    }
    let end = pos + length as usize;
    Ok((&input[pos..end], end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_is_reused_and_large_scratch_is_dropped() {
        let caps = || {
            SCRATCH.with(|c| {
                let s = c.borrow();
                let caps: Vec<(usize, usize)> = s
                    .levels
                    .iter()
                    .map(|l| (l.items.capacity(), l.entries.capacity()))
                    .collect();
                (s.stack.capacity(), caps)
            })
        };
        decode(b"ld1:ai1eee").unwrap();
        let (stack, levels) = caps();
        // Level 0 holds the list's slots, level 1 the dictionary's.
        assert!(stack >= 2 && levels.len() >= 2, "{stack} {levels:?}");
        assert!(levels[0].0 >= 2 && levels[1].1 >= 2, "{levels:?}");
        let mut big = b"l".to_vec();
        big.extend(std::iter::repeat_n(b"i1e", SCRATCH_KEEP + 1).flatten());
        big.push(b'e');
        decode(&big).unwrap();
        let (_, levels) = caps();
        assert!(levels[0].0 <= SCRATCH_KEEP, "{levels:?}");
        let total: usize = levels.iter().map(|(items, entries)| items + entries).sum();
        assert!(total <= SCRATCH_KEEP, "{levels:?}");
        // Deep input keeps at most LEVELS_KEEP levels.
        let deep = [vec![b'l'; 100], vec![b'e'; 100]].concat();
        decode(&deep).unwrap();
        let (_, levels) = caps();
        assert_eq!(levels.len(), LEVELS_KEEP);
    }

    #[test]
    fn siblings_share_one_array_per_level_and_outlive_the_top() {
        let input = b"ll1:ael1:bel1:cee";
        let value = decode(input).unwrap();
        let top = value.as_list().unwrap();
        let a = top.get(0).unwrap().as_list().unwrap();
        let c = top.get(2).unwrap().as_list().unwrap();
        assert!(Arc::ptr_eq(
            a.arena.as_ref().unwrap(),
            c.arena.as_ref().unwrap()
        ));
        let kept = top.get(1).unwrap().clone();
        drop(value);
        assert_eq!(
            kept.as_list().unwrap().get(0).unwrap().as_bytes(),
            Some(&b"b"[..])
        );
        assert_eq!(&*kept.raw(), b"l1:be");
    }
}
