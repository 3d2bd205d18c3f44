//! The decoder: iterative (an explicit stack on the heap, so no input can overflow the
//! call stack), zero-copy, one pass, with the offset of every error.

use crate::error::{Error, Result};
use crate::value::{Dict, List, Value};

/// The nesting limit used by [`decode`] and [`Decoder::new`].
pub const DEFAULT_MAX_DEPTH: usize = 256;

/// The largest nesting a [`Decoder`] accepts whatever it is asked: decoded values are
/// dropped and encoded recursively, and this bound keeps that within a 2 MiB thread stack
/// (tested). `Clone`, `==` and `Debug` on a value recurse with bigger frames: in debug
/// builds on a 2 MiB stack they are safe to about 1,000 levels, so keep `max_depth` at or
/// below that if such values are cloned, compared or printed.
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

/// A list or dictionary still open. Its items wait in the shared scratch vectors from
/// index `base` on, and move into one exactly-sized allocation (after a header slot, see
/// [`List`]) when it closes: no per-container growth, and the scratch is reused from one
/// decode to the next.
#[derive(Clone, Copy)]
struct Open<'a> {
    /// Offset of the `l` or `d`.
    start: usize,
    /// Where this container's items (or entries) start in the scratch.
    base: usize,
    /// The parent dictionary's key this container is the value of (empty in a list).
    key: &'a [u8],
    dict: bool,
    /// Keys seen so far are strictly increasing.
    sorted: bool,
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

/// The decoder's working memory.
#[derive(Default)]
struct Scratch<'a> {
    stack: Vec<Open<'a>>,
    items: Vec<Value<'a>>,
    entries: Vec<(&'a [u8], Value<'a>)>,
}

/// Scratch larger than this many elements is freed after a decode rather than kept.
const SCRATCH_KEEP: usize = 16 * 1024;

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch<'static>> = std::cell::Cell::new(Scratch::default());
}

/// Gives an empty vector's allocation a new element type of the same layout (here: the same
/// type with another lifetime). The standard library collects `into_iter().map()` in place
/// when layouts match, so this moves the buffer without copying or allocating; if it ever
/// did not, it would merely allocate.
fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the vector was cleared"))
        .collect()
}

impl<'a> Scratch<'a> {
    fn take() -> Scratch<'a> {
        let s = SCRATCH.with(std::cell::Cell::take);
        Scratch {
            stack: recycle(s.stack),
            items: recycle(s.items),
            entries: recycle(s.entries),
        }
    }

    fn give_back(self) {
        let keep = |cap: usize| cap <= SCRATCH_KEEP;
        if keep(self.stack.capacity())
            && keep(self.items.capacity())
            && keep(self.entries.capacity())
        {
            let s = Scratch {
                stack: recycle(self.stack),
                items: recycle(self.items),
                entries: recycle(self.entries),
            };
            SCRATCH.with(|cell| cell.set(s));
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
        let mut scratch = Scratch::take();
        let result = self.parse_nested(input, pos, &mut scratch);
        scratch.give_back();
        result
    }

    fn parse_nested<'a>(
        &self,
        input: &'a [u8],
        mut pos: usize,
        scratch: &mut Scratch<'a>,
    ) -> Result<(Value<'a>, usize)> {
        let Scratch {
            stack,
            items,
            entries,
        } = scratch;
        let mut mode = Mode::Top;
        // The key waiting for its value while `mode` is `Value`.
        let mut key: &'a [u8] = &[];

        // Hands a finished value to whatever expects it; returns it if it is the whole value.
        macro_rules! put {
            ($value:expr) => {
                match mode {
                    Mode::Item => push_with(items, || $value),
                    Mode::Value => {
                        push_with(entries, || (key, $value));
                        mode = Mode::Key;
                    }
                    _ => return Ok(($value, pos)),
                }
            };
        }
        // Hands a closed container to its parent (the frame is already popped).
        macro_rules! finish {
            ($value:expr, $key:expr) => {
                match stack.last() {
                    None => return Ok(($value, pos)),
                    Some(parent) if parent.dict => {
                        push_with(entries, || ($key, $value));
                        mode = Mode::Key;
                    }
                    Some(_) => {
                        push_with(items, || $value);
                        mode = Mode::Item;
                    }
                }
            };
        }

        loop {
            if mode == Mode::Key {
                match input.get(pos) {
                    Some(b'0'..=b'9') => {
                        let (k, next) = parse_bytes(input, pos)?;
                        let Some(top) = stack.last_mut() else {
                            unreachable!("a key is only expected inside a dictionary")
                        };
                        // Only the previous key of this dictionary needs comparing
                        // (`entries[base]` is its header slot).
                        if entries.len() > top.base + 1
                            && let Some((last, _)) = entries.last()
                        {
                            match key_order(last, k) {
                                std::cmp::Ordering::Less => {}
                                std::cmp::Ordering::Equal => {
                                    return Err(Error::DuplicateKey { offset: pos });
                                }
                                std::cmp::Ordering::Greater => {
                                    if !self.lenient {
                                        return Err(Error::UnsortedKey { offset: pos });
                                    }
                                    top.sorted = false;
                                }
                            }
                        }
                        key = k;
                        mode = Mode::Value;
                        pos = next;
                    }
                    Some(b'e') => {
                        let Some(open) = stack.pop() else {
                            unreachable!("a key is only expected inside a dictionary")
                        };
                        pos += 1;
                        if !open.sorted {
                            check_unique(input, &entries[open.base + 1..])?;
                        }
                        let dict =
                            seal_dict(entries, open.base, &input[open.start..pos], open.sorted);
                        finish!(Value::Dict(dict), open.key);
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
                    put!(Value::Bytes(b));
                }
                Some(b'i') => {
                    let (n, next) = parse_int(input, pos)?;
                    pos = next;
                    put!(Value::Int(n));
                }
                Some(&open @ (b'l' | b'd')) => {
                    if stack.len() >= self.max_depth {
                        return Err(Error::DepthLimit {
                            offset: pos,
                            max_depth: self.max_depth,
                        });
                    }
                    let dict = open == b'd';
                    // The container's header slot, filled in when it closes.
                    let base = if dict {
                        push_with(entries, || (&[], Value::Int(0)));
                        entries.len() - 1
                    } else {
                        push_with(items, || Value::Int(0));
                        items.len() - 1
                    };
                    stack.push(Open {
                        start: pos,
                        base,
                        key: if mode == Mode::Value { key } else { &[] },
                        dict,
                        sorted: true,
                    });
                    mode = if dict { Mode::Key } else { Mode::Item };
                    pos += 1;
                }
                Some(b'e') if mode == Mode::Item => {
                    let Some(open) = stack.pop() else {
                        unreachable!("an item is only expected inside a list")
                    };
                    pos += 1;
                    let list = seal_list(items, open.base, &input[open.start..pos]);
                    finish!(Value::List(list), open.key);
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

/// Moves the items of a closing list out of the scratch; `items[base]` is its header slot.
#[inline(never)]
fn seal_list<'a>(items: &mut Vec<Value<'a>>, base: usize, raw: &'a [u8]) -> List<'a> {
    let mut slots = items.split_off(base);
    // The placeholder is a plain integer: nothing to drop.
    std::mem::forget(std::mem::replace(&mut slots[0], Value::Bytes(raw)));
    List::from_decoded(slots.into_boxed_slice())
}

/// Moves the entries of a closing dictionary out of the scratch; `entries[base]` is its
/// header slot.
#[inline(never)]
fn seal_dict<'a>(
    entries: &mut Vec<(&'a [u8], Value<'a>)>,
    base: usize,
    raw: &'a [u8],
    sorted: bool,
) -> Dict<'a> {
    let mut slots = entries.split_off(base);
    let header = Dict::decoded_header(raw, slots.len() - 1, sorted);
    std::mem::forget(std::mem::replace(&mut slots[0], header));
    Dict::from_decoded(slots.into_boxed_slice())
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
fn check_unique(input: &[u8], entries: &[(&[u8], Value<'_>)]) -> Result<()> {
    let mut keys: Vec<&[u8]> = entries.iter().map(|(k, _)| *k).collect();
    keys.sort_unstable();
    for pair in keys.windows(2) {
        if pair[0] == pair[1] {
            // Report the later of the occurrences, at its length prefix.
            let later = entries
                .iter()
                .filter(|(k, _)| *k == pair[0])
                .map(|(k, _)| k.as_ptr() as usize - input.as_ptr() as usize)
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
    fn recycle_keeps_the_allocation() {
        let mut v: Vec<Value<'static>> = Vec::with_capacity(100);
        v.push(Value::Int(1));
        let ptr = v.as_ptr() as usize;
        let input = b"x".to_vec();
        let mut w: Vec<Value<'_>> = recycle(v);
        assert!(w.capacity() >= 100);
        assert_eq!(w.as_ptr() as usize, ptr);
        w.push(Value::Bytes(&input));
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn scratch_is_reused_and_large_scratch_is_dropped() {
        decode(b"ld1:ai1eee").unwrap();
        let kept = SCRATCH.with(|c| {
            let s = c.take();
            let caps = (s.stack.capacity(), s.items.capacity(), s.entries.capacity());
            c.set(s);
            caps
        });
        assert!(kept.0 >= 2 && kept.1 >= 1 && kept.2 >= 1, "{kept:?}");
        let mut big = b"l".to_vec();
        big.extend(std::iter::repeat_n(b"i1e", SCRATCH_KEEP + 1).flatten());
        big.push(b'e');
        decode(&big).unwrap();
        let items_cap = SCRATCH.with(|c| {
            let s = c.take();
            let cap = s.items.capacity();
            c.set(s);
            cap
        });
        assert!(items_cap <= SCRATCH_KEEP, "{items_cap}");
    }
}
