//! Percent-decoding of query-string values (RFC 3986), binary-safe. Encoding is
//! [`metainfo::percent_encode_into`].

use std::borrow::Cow;

use crate::error::{Error, Result};

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
