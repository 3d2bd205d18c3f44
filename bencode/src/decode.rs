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
/// index `base` on, and move into one exactly-sized `Vec` when it closes: no per-container
/// growth, and the scratch is reused from one decode to the next.
#[derive(Clone, Copy)]
struct Open<'a> {
    /// Offset of the `l` or `d`.
    start: usize,
    /// Where this container's items (or entries) start in the scratch.
    base: usize,
    dict: bool,
    /// The key read, waiting for its value (dictionaries only).
    pending: Option<&'a [u8]>,
    /// Keys seen so far are strictly increasing.
    sorted: bool,
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
        loop {
            // Inside a dictionary with no pending key, a key or the end comes next.
            if let Some(top) = stack.last_mut()
                && top.dict
                && top.pending.is_none()
            {
                match input.get(pos) {
                    Some(b'0'..=b'9') => {
                        let (key, next) = parse_bytes(input, pos)?;
                        if entries.len() > top.base
                            && let Some((last, _)) = entries.last()
                        {
                            match key_order(last, key) {
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
                        top.pending = Some(key);
                        pos = next;
                    }
                    Some(b'e') => {
                        let Open {
                            start,
                            base,
                            sorted,
                            ..
                        } = *top;
                        stack.pop();
                        pos += 1;
                        if !sorted {
                            check_unique(input, &entries[base..])?;
                        }
                        let dict =
                            Dict::from_decoded(entries.split_off(base), &input[start..pos], sorted);
                        match stack.last_mut() {
                            None => return Ok((Value::Dict(dict), pos)),
                            Some(top) => match top.pending.take() {
                                Some(key) => entries.push((key, Value::Dict(dict))),
                                None => items.push(Value::Dict(dict)),
                            },
                        }
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

            let value = match input.get(pos) {
                Some(b'0'..=b'9') => {
                    let (b, next) = parse_bytes(input, pos)?;
                    pos = next;
                    // Each branch hands its value over itself, so the value is written
                    // straight into the scratch instead of through a shared temporary.
                    if attach(stack, items, entries, || Value::Bytes(b)) {
                        continue;
                    }
                    Value::Bytes(b)
                }
                Some(b'i') => {
                    let (n, next) = parse_int(input, pos)?;
                    pos = next;
                    if attach(stack, items, entries, || Value::Int(n)) {
                        continue;
                    }
                    Value::Int(n)
                }
                Some(&open @ (b'l' | b'd')) => {
                    if stack.len() >= self.max_depth {
                        return Err(Error::DepthLimit {
                            offset: pos,
                            max_depth: self.max_depth,
                        });
                    }
                    let dict = open == b'd';
                    stack.push(Open {
                        start: pos,
                        base: if dict { entries.len() } else { items.len() },
                        dict,
                        pending: None,
                        sorted: true,
                    });
                    pos += 1;
                    continue;
                }
                Some(b'e') if stack.last().is_some_and(|top| !top.dict) => {
                    let Open { start, base, .. } = stack.pop().expect("checked just above");
                    pos += 1;
                    let list = List::from_decoded(items.split_off(base), &input[start..pos]);
                    match stack.last_mut() {
                        None => Value::List(list),
                        Some(top) => {
                            match top.pending.take() {
                                Some(key) => entries.push((key, Value::List(list))),
                                None => items.push(Value::List(list)),
                            }
                            continue;
                        }
                    }
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
                        expected: match stack.last() {
                            None => "a value",
                            Some(top) if top.dict => "a dictionary value",
                            Some(_) => "a value or 'e'",
                        },
                    });
                }
            };
            return Ok((value, pos));
        }
    }
}

/// Hands a scalar to the open container it belongs to; `false` when no container is
/// open (the scalar is the whole value).
#[inline(always)]
fn attach<'a>(
    stack: &mut [Open<'a>],
    items: &mut Vec<Value<'a>>,
    entries: &mut Vec<(&'a [u8], Value<'a>)>,
    value: impl FnOnce() -> Value<'a>,
) -> bool {
    // `extend(once_with(..))` reserves room first and builds the scalar in place; a plain
    // `push(value)` builds it on the stack and copies it, which stalls store forwarding.
    // (Finished containers are moved with `push`: they are built before anyway, and the
    // non-inlined `extend` call costs more there.)
    match stack.last_mut() {
        None => false,
        Some(top) => {
            match top.pending.take() {
                Some(key) => entries.extend(std::iter::once_with(|| (key, value()))),
                None => items.extend(std::iter::once_with(value)),
            }
            true
        }
    }
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
pub(crate) fn parse_int(input: &[u8], start: usize) -> Result<(i64, usize)> {
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

/// Parses `<length>:<bytes>` starting at the first digit; the bytes are borrowed.
pub(crate) fn parse_bytes(input: &[u8], start: usize) -> Result<(&[u8], usize)> {
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
