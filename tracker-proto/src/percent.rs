//! Percent-encoding of query-string values (RFC 3986), binary-safe.

use std::borrow::Cow;

use crate::error::{Error, Result};

/// Appends `bytes` to `out`, keeping RFC 3986 unreserved characters and writing every
/// other byte as `%XX` (uppercase hex).
pub(crate) fn encode_into(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

/// Decodes `%XX` escapes; `offset` is where `input` starts in the whole query, for errors.
///
/// `+` stays a literal `+`: BitTorrent clients percent-encode every byte that is not
/// unreserved, and reading `+` as a space would corrupt a binary info-hash sent raw.
pub(crate) fn decode(input: &[u8], offset: usize) -> Result<Cow<'_, [u8]>> {
    if !input.contains(&b'%') {
        return Ok(Cow::Borrowed(input));
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%' {
            let hi = input.get(i + 1).and_then(|&c| hex_value(c));
            let lo = input.get(i + 2).and_then(|&c| hex_value(c));
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                _ => return Err(Error::BadPercentEncoding { offset: offset + i }),
            }
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Ok(Cow::Owned(out))
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_and_binary_bytes() {
        let mut s = String::new();
        encode_into(&mut s, b"a-Z_.~ /%\x00\xff+");
        assert_eq!(s, "a-Z_.~%20%2F%25%00%FF%2B");
    }

    #[test]
    fn decodes_and_reports_bad_escapes() {
        assert_eq!(&*decode(b"%41b%2b+", 0).unwrap(), b"Ab++");
        assert_eq!(
            decode(b"ab%4", 10).unwrap_err(),
            Error::BadPercentEncoding { offset: 12 }
        );
        assert_eq!(
            decode(b"%G0", 0).unwrap_err(),
            Error::BadPercentEncoding { offset: 0 }
        );
    }
}
