//! A validating one-pass walk over bencode that hands out byte spans instead of building
//! a tree.
//!
//! The large parts of a .torrent are the v1 `files` list (thousands of small dicts) and
//! the `pieces` string: decoding them into a [`bencode::Value`] tree costs an allocation
//! per list and dict, more than everything else a parse does. This walk checks the same
//! rules as `bencode::Decoder::new().lenient(true).max_depth(MAX_DEPTH)` (strict integers
//! and lengths, unique keys in any order, the nesting limit) and lets the caller read the
//! values it wants on the way. On malformed input it says only [`Malformed`]: the caller
//! asks the decoder for the precise error (the tests check both agree on every input).

use std::cmp::Ordering;

/// Nesting limit for untrusted .torrent input (libtorrent uses 100 as well).
pub(crate) const MAX_DEPTH: usize = 100;

/// The input is not valid bencode; `bencode::Decoder` says where and why.
#[derive(Debug)]
pub(crate) struct Malformed;

/// The result of a step of the walk.
pub(crate) type Scan<T> = std::result::Result<T, Malformed>;

/// `i<digits>e` at `pos` (the `i`): the value and the offset after it.
#[inline]
pub(crate) fn int(input: &[u8], pos: usize) -> Scan<(i64, usize)> {
    // Fast path: a non-negative number of up to 18 digits cannot overflow.
    let mut p = pos + 1;
    let mut value: i64 = 0;
    while let Some(&b) = input.get(p)
        && b.is_ascii_digit()
        && p - pos <= 18
    {
        value = value * 10 + i64::from(b - b'0');
        p += 1;
    }
    let digits = p - pos - 1;
    if input.get(p) == Some(&b'e') && digits > 0 && (digits == 1 || input[pos + 1] != b'0') {
        return Ok((value, p + 1));
    }
    int_slow(input, pos)
}

/// [`int`] for negative, long or malformed integers.
fn int_slow(input: &[u8], pos: usize) -> Scan<(i64, usize)> {
    let mut p = pos + 1;
    let negative = input.get(p) == Some(&b'-');
    if negative {
        p += 1;
    }
    let first = p;
    let mut value: i64 = 0;
    while let Some(&b) = input.get(p) {
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
            .ok_or(Malformed)?;
        p += 1;
    }
    let digits = p - first;
    if digits == 0 || (input[first] == b'0' && (digits > 1 || negative)) {
        return Err(Malformed);
    }
    match input.get(p) {
        Some(b'e') => Ok((value, p + 1)),
        _ => Err(Malformed),
    }
}

/// `<length>:<bytes>` at `pos` (the first digit): the bytes and the offset after them.
#[inline]
pub(crate) fn bytes(input: &[u8], pos: usize) -> Scan<(&[u8], usize)> {
    // Fast path: lengths of one or two digits (keys and file names).
    let digit = |i: usize| {
        input
            .get(i)
            .filter(|b| b.is_ascii_digit())
            .map(|b| b - b'0')
    };
    let (length, colon) = match (digit(pos), digit(pos + 1)) {
        (Some(d), None) => (usize::from(d), pos + 1),
        (Some(d @ 1..), Some(e)) if digit(pos + 2).is_none() => {
            (usize::from(d) * 10 + usize::from(e), pos + 2)
        }
        _ => return bytes_slow(input, pos),
    };
    if input.get(colon) == Some(&b':') && length < input.len() - colon {
        let start = colon + 1;
        return Ok((&input[start..start + length], start + length));
    }
    bytes_slow(input, pos)
}

/// [`bytes`] for long lengths and malformed input.
fn bytes_slow(input: &[u8], pos: usize) -> Scan<(&[u8], usize)> {
    let mut p = pos;
    let mut length: u64 = 0;
    while let Some(&b) = input.get(p) {
        if !b.is_ascii_digit() {
            break;
        }
        length = length
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(Malformed)?;
        p += 1;
    }
    if p == pos || (input[pos] == b'0' && p - pos > 1) || input.get(p) != Some(&b':') {
        return Err(Malformed);
    }
    p += 1;
    if length > (input.len() - p) as u64 {
        return Err(Malformed);
    }
    let end = p + length as usize;
    Ok((&input[p..end], end))
}

/// Checks the value at `pos`, which sits inside `open` containers; returns its end.
pub(crate) fn skip(input: &[u8], pos: usize, open: usize) -> Scan<usize> {
    match input.get(pos) {
        Some(b'0'..=b'9') => bytes(input, pos).map(|(_, end)| end),
        Some(b'i') => int(input, pos).map(|(_, end)| end),
        Some(b'l') => list(input, pos, open, |_, p| skip(input, p, open + 1)),
        Some(b'd') => dict(input, pos, open, |_, p| skip(input, p, open + 1)),
        _ => Err(Malformed),
    }
}

/// Walks the list at `pos` (the `l`), inside `open` containers. `item(index, offset)`
/// must check the item at `offset` (nested in `open + 1` containers) and return its end.
#[inline]
pub(crate) fn list(
    input: &[u8],
    pos: usize,
    open: usize,
    mut item: impl FnMut(usize, usize) -> Scan<usize>,
) -> Scan<usize> {
    if open >= MAX_DEPTH || input.get(pos) != Some(&b'l') {
        return Err(Malformed);
    }
    let mut p = pos + 1;
    let mut index = 0;
    loop {
        match input.get(p) {
            Some(b'e') => return Ok(p + 1),
            Some(_) => {
                p = item(index, p)?;
                index += 1;
            }
            None => return Err(Malformed),
        }
    }
}

/// Walks the dictionary at `pos` (the `d`), inside `open` containers. `value(key,
/// offset)` must check the value at `offset` (nested in `open + 1` containers) and return
/// its end. Keys may come in any order but must be unique.
#[inline]
pub(crate) fn dict<'a>(
    input: &'a [u8],
    pos: usize,
    open: usize,
    mut value: impl FnMut(&'a [u8], usize) -> Scan<usize>,
) -> Scan<usize> {
    if open >= MAX_DEPTH || input.get(pos) != Some(&b'd') {
        return Err(Malformed);
    }
    let mut p = pos + 1;
    let mut last: Option<&[u8]> = None;
    let mut sorted = true;
    loop {
        match input.get(p) {
            Some(b'e') => {
                if !sorted {
                    keys_unique(input, pos)?;
                }
                return Ok(p + 1);
            }
            Some(b'0'..=b'9') => {
                let (key, next) = bytes(input, p)?;
                if let Some(last) = last {
                    match cmp_keys(last, key) {
                        Ordering::Less => {}
                        Ordering::Equal => return Err(Malformed),
                        Ordering::Greater => sorted = false,
                    }
                }
                last = Some(key);
                p = value(key, next)?;
            }
            _ => return Err(Malformed),
        }
    }
}

/// `a.cmp(b)`, deciding on the first byte without a call when it differs (as for the
/// keys of a file entry, `length` and `path`).
#[inline]
fn cmp_keys(a: &[u8], b: &[u8]) -> Ordering {
    match (a.first(), b.first()) {
        (Some(x), Some(y)) if x != y => x.cmp(y),
        _ => a.cmp(b),
    }
}

/// Rejects duplicate keys in the (already checked) dictionary at `pos` whose keys are
/// out of order: rare, so it may walk the dictionary again and allocate.
fn keys_unique(input: &[u8], pos: usize) -> Scan<()> {
    let mut keys = Vec::new();
    let mut p = pos + 1;
    while input.get(p) != Some(&b'e') {
        let (key, next) = bytes(input, p)?;
        keys.push(key);
        p = skip(input, next, 0)?;
    }
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(Malformed);
    }
    Ok(())
}

/// The kind of the (checked) value starting at `pos`, in the words of
/// [`bencode::Value::kind`].
pub(crate) fn kind_at(input: &[u8], pos: usize) -> &'static str {
    match input.get(pos) {
        Some(b'i') => "integer",
        Some(b'l') => "list",
        Some(b'd') => "dictionary",
        _ => "byte string",
    }
}

/// A checked value: its exact bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span<'a>(pub(crate) &'a [u8]);

impl<'a> Span<'a> {
    /// What kind of value it is.
    pub(crate) fn kind(self) -> &'static str {
        kind_at(self.0, 0)
    }

    /// The integer, if it is one.
    pub(crate) fn as_int(self) -> Option<i64> {
        match self.0.first() {
            Some(b'i') => int(self.0, 0).ok().map(|(n, _)| n),
            _ => None,
        }
    }

    /// The byte string, if it is one.
    pub(crate) fn as_bytes(self) -> Option<&'a [u8]> {
        match self.0.first() {
            Some(b'0'..=b'9') => bytes(self.0, 0).ok().map(|(b, _)| b),
            _ => None,
        }
    }

    /// The value as a decoded tree (for the rare and small values read that way).
    pub(crate) fn value(self) -> bencode::Result<bencode::Value<'a>> {
        bencode::Decoder::new()
            .lenient(true)
            .max_depth(MAX_DEPTH)
            .decode(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn accepts(input: &[u8]) -> bool {
        skip(input, 0, 0).is_ok_and(|end| end == input.len())
    }

    fn decoder_accepts(input: &[u8]) -> bool {
        bencode::Decoder::new()
            .lenient(true)
            .max_depth(MAX_DEPTH)
            .decode_prefix(input)
            .is_ok_and(|(_, rest)| rest.is_empty())
    }

    #[test]
    fn same_verdicts_as_the_decoder() {
        let cases: &[&[u8]] = &[
            b"i0e", b"i-0e", b"i01e", b"ie", b"i-e", b"i9223372036854775807e",
            b"i9223372036854775808e", b"i-9223372036854775808e", b"i-9223372036854775809e",
            b"0:", b"00:", b"1:", b"1:a", b"01:a", b":", b"le", b"de", b"d1:ai1ee",
            b"d1:bi1e1:ai2ee", b"d1:ai1e1:ai2ee", b"d1:bi1e1:ai2e1:bi3ee",
            b"d1:ai1e1:bi2e1:ai3ee", b"di1ei2ee", b"l", b"d", b"d1:a", b"lie", b"e",
            b"d1:ae", b"li1e", b"x", b"", b"18446744073709551616:a",
            b"d8:announce3:abc4:infod6:lengthi1e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee",
        ];
        for case in cases {
            assert_eq!(
                accepts(case),
                decoder_accepts(case),
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
        let deep = |n: usize| {
            let mut v = vec![b'l'; n];
            v.extend(std::iter::repeat_n(b'e', n));
            v
        };
        assert!(accepts(&deep(MAX_DEPTH)) && decoder_accepts(&deep(MAX_DEPTH)));
        assert!(!accepts(&deep(MAX_DEPTH + 1)) && !decoder_accepts(&deep(MAX_DEPTH + 1)));
    }

    fn mutated() -> impl Strategy<Value = Vec<u8>> {
        let base = b"d8:announce3:abc4:infod5:filesld6:lengthi1e4:pathl1:a1:beed4:attr1:p6:lengthi-2e4:pathl1:ceee4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae1:zli1ei2eee".to_vec();
        let n = base.len();
        proptest::collection::vec((0..n, any::<u8>(), 0u8..3), 1..4).prop_map(move |edits| {
            let mut v = base.clone();
            for (at, byte, op) in edits {
                let at = at.min(v.len());
                match op {
                    0 if at < v.len() => v[at] = byte,
                    1 => v.insert(at, byte),
                    _ if at < v.len() => {
                        v.remove(at);
                    }
                    _ => {}
                }
            }
            v
        })
    }

    proptest! {
        #[test]
        fn mutations_get_the_decoders_verdict(input in mutated()) {
            prop_assert_eq!(accepts(&input), decoder_accepts(&input));
        }

        #[test]
        fn random_bytes_get_the_decoders_verdict(
            input in proptest::collection::vec(
                prop_oneof![Just(b'd'), Just(b'l'), Just(b'e'), Just(b'i'), Just(b'1'),
                            Just(b'0'), Just(b':'), Just(b'-'), Just(b'a'), Just(b'2')],
                0..24,
            )
        ) {
            prop_assert_eq!(accepts(&input), decoder_accepts(&input));
        }
    }
}
