//! The canonical encoder: dictionary keys sorted as raw bytes, shortest number forms.

use bytes::BufMut;

use crate::value::{Dict, Value};

/// Encodes a value canonically (dictionary keys sorted) into a new buffer.
///
/// ```
/// use shoal_bencode::{Dict, Value, encode};
///
/// let mut d = Dict::new();
/// d.insert(b"spam", Value::Int(-3));
/// d.insert(b"cow", Value::Bytes(b"moo"));
/// assert_eq!(encode(&Value::Dict(d)), b"d3:cow3:moo4:spami-3ee");
/// ```
pub fn encode(value: &Value<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(value));
    encode_into(value, &mut out);
    out
}

/// Encodes a value canonically into any [`BufMut`] (a `Vec<u8>`, a `BytesMut`, ...).
///
/// ```
/// use shoal_bencode::{Decoder, encode_into, encoded_len};
///
/// // A lenient (unsorted) input comes out sorted.
/// let v = Decoder::new().lenient(true).decode(b"d1:bi2e1:ai1ee").unwrap();
/// let mut out = bytes::BytesMut::with_capacity(encoded_len(&v));
/// out.extend_from_slice(b"prefix:");
/// encode_into(&v, &mut out);
/// assert_eq!(&out[..], b"prefix:d1:ai1e1:bi2ee");
/// ```
pub fn encode_into<B: BufMut + ?Sized>(value: &Value<'_>, out: &mut B) {
    match value {
        Value::Int(n) => put_int(out, *n),
        Value::Bytes(b) => put_bytes(out, b),
        Value::List(list) => {
            out.put_u8(b'l');
            for item in list.iter() {
                encode_into(item, out);
            }
            out.put_u8(b'e');
        }
        Value::Dict(dict) => {
            out.put_u8(b'd');
            if dict.is_sorted() {
                for (k, v) in dict.iter() {
                    put_bytes(out, k);
                    encode_into(v, out);
                }
            } else {
                for (k, v) in sorted_entries(dict) {
                    put_bytes(out, k);
                    encode_into(v, out);
                }
            }
            out.put_u8(b'e');
        }
    }
}

/// The number of bytes [`encode`] produces for `value`.
pub fn encoded_len(value: &Value<'_>) -> usize {
    match value {
        Value::Int(n) => int_len(*n) + 2,
        Value::Bytes(b) => bytes_len(b),
        Value::List(list) => 2 + list.iter().map(encoded_len).sum::<usize>(),
        Value::Dict(dict) => {
            2 + dict
                .iter()
                .map(|(k, v)| bytes_len(k) + encoded_len(v))
                .sum::<usize>()
        }
    }
}

fn sorted_entries<'d, 'a>(dict: &'d Dict<'a>) -> Vec<(&'a [u8], &'d Value<'a>)> {
    let mut entries: Vec<_> = dict.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

fn bytes_len(b: &[u8]) -> usize {
    digits_u64(b.len() as u64) + 1 + b.len()
}

fn int_len(n: i64) -> usize {
    digits_u64(n.unsigned_abs()) + usize::from(n < 0)
}

fn digits_u64(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Writes the decimal digits of `n` (no allocation).
fn put_decimal<B: BufMut + ?Sized>(out: &mut B, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&buf[i..]);
}

pub(crate) fn put_int<B: BufMut + ?Sized>(out: &mut B, n: i64) {
    out.put_u8(b'i');
    if n < 0 {
        out.put_u8(b'-');
    }
    put_decimal(out, n.unsigned_abs());
    out.put_u8(b'e');
}

pub(crate) fn put_bytes<B: BufMut + ?Sized>(out: &mut B, b: &[u8]) {
    put_decimal(out, b.len() as u64);
    out.put_u8(b':');
    out.put_slice(b);
}
