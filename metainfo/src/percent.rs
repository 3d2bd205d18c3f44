//! Percent-encoding (RFC 3986), binary-safe: what magnet links, tracker queries and URL
//! path segments all need, in one place.

/// Appends `bytes` to `out`, keeping the RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _
/// ~`) and writing every other byte as `%XX` (uppercase hex).
///
/// ```
/// let mut s = String::from("dn=");
/// shoal_metainfo::percent_encode_into(&mut s, "a b/é".as_bytes());
/// assert_eq!(s, "dn=a%20b%2F%C3%A9");
/// ```
pub fn percent_encode_into(out: &mut String, bytes: &[u8]) {
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

/// [`percent_encode_into`] a new string.
pub fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    percent_encode_into(&mut out, bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_and_binary_bytes() {
        assert_eq!(
            percent_encode(b"a-Z_.~ /%\x00\xff+"),
            "a-Z_.~%20%2F%25%00%FF%2B"
        );
        assert_eq!(percent_encode("ü".as_bytes()), "%C3%BC");
    }
}
