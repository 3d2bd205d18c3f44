//! Magnet URIs (BEP 9, BEP 53): `xt` (btih, btmh), `dn`, `tr`, `ws`, `x.pe`, `so`.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::id::{InfoHash, from_hex, to_hex};
use crate::metainfo::Metainfo;

/// A parsed magnet link.
///
/// ```
/// use shoal_metainfo::Magnet;
/// let m: Magnet = "magnet:?xt=urn:btih:c9e15763f722f23e98a29decdfae341b98d53056\
///     &dn=Cosmos%20Laundromat&tr=udp%3A%2F%2Ftracker.example%3A1337"
///     .parse()
///     .unwrap();
/// assert_eq!(m.name.as_deref(), Some("Cosmos Laundromat"));
/// assert_eq!(m.trackers, ["udp://tracker.example:1337"]);
/// assert_eq!(m.to_string().parse::<Magnet>().unwrap(), m);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Magnet {
    /// From `xt=urn:btih:` (v1, hex or base32) and/or `xt=urn:btmh:1220...` (v2).
    pub info_hash: InfoHash,
    /// `dn`: the display name.
    pub name: Option<String>,
    /// `tr`: tracker URLs, in order.
    pub trackers: Vec<String>,
    /// `ws`: web seed URLs (BEP 19).
    pub web_seeds: Vec<String>,
    /// `x.pe`: peer addresses (`host:port`).
    pub peers: Vec<String>,
    /// `so`: indices of the files to download (BEP 53), as inclusive ranges.
    pub select_only: Vec<(u32, u32)>,
    /// Other parameters, kept in order (`key`, decoded value).
    pub extra: Vec<(String, String)>,
}

impl Magnet {
    /// A magnet link with just an info-hash.
    pub fn new(info_hash: InfoHash) -> Self {
        Magnet {
            info_hash,
            name: None,
            trackers: Vec::new(),
            web_seeds: Vec::new(),
            peers: Vec::new(),
            select_only: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// The BEP 53 `so` value (`0,2,4-6`) for [`Magnet::select_only`], or `None` when no
    /// files are selected.
    pub fn select_only_spec(&self) -> Option<String> {
        if self.select_only.is_empty() {
            return None;
        }
        let ranges: Vec<String> = self
            .select_only
            .iter()
            .map(|&(first, last)| {
                if first == last {
                    first.to_string()
                } else {
                    format!("{first}-{last}")
                }
            })
            .collect();
        Some(ranges.join(","))
    }

    /// The magnet link of a torrent: its info-hash(es), name, trackers and web seeds.
    pub fn from_metainfo(meta: &Metainfo) -> Self {
        let mut m = Magnet::new(meta.info_hash());
        m.name = Some(meta.name().to_owned());
        m.trackers = meta.trackers().iter().flatten().cloned().collect();
        m.web_seeds = meta.web_seeds().to_vec();
        m
    }

    /// Parses a `magnet:?` URI. Work and memory are linear in its length.
    pub fn parse(uri: &str) -> Result<Magnet> {
        let query = strip_prefix_ci(uri.trim(), "magnet:?")
            .ok_or_else(|| Error::magnet("does not start with \"magnet:?\""))?;
        let mut v1: Option<[u8; 20]> = None;
        let mut v2: Option<[u8; 32]> = None;
        let mut m = Magnet::new(InfoHash::V1([0; 20]));
        for param in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            let key = percent_decode(key)
                .ok_or_else(|| Error::magnet(format!("bad percent-encoding in key {key:?}")))?;
            let key = key.as_str();
            let value = percent_decode(value)
                .ok_or_else(|| Error::magnet(format!("bad percent-encoding in {key:?}")))?;
            // `tr.1`, `xt.2` ... are numbered forms of the same keys.
            let base = match key.split_once('.') {
                Some((b, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => b,
                _ => key,
            };
            match base {
                "xt" => {
                    if let Some(h) = strip_prefix_ci(&value, "urn:btih:") {
                        let hash = parse_btih(h)?;
                        if v1.is_some_and(|old| old != hash) {
                            return Err(Error::magnet("two different btih info-hashes"));
                        }
                        v1 = Some(hash);
                    } else if let Some(h) = strip_prefix_ci(&value, "urn:btmh:") {
                        let hash = parse_btmh(h)?;
                        if v2.is_some_and(|old| old != hash) {
                            return Err(Error::magnet("two different btmh info-hashes"));
                        }
                        v2 = Some(hash);
                    } else {
                        m.extra.push((key.to_owned(), value));
                    }
                }
                "dn" => m.name = Some(value),
                "tr" => m.trackers.push(value),
                "ws" => m.web_seeds.push(value),
                "x.pe" => m.peers.push(value),
                "so" => m.select_only.extend(parse_select_only(&value)?),
                _ => m.extra.push((key.to_owned(), value)),
            }
        }
        m.info_hash = match (v1, v2) {
            (Some(v1), Some(v2)) => InfoHash::Hybrid { v1, v2 },
            (Some(v1), None) => InfoHash::V1(v1),
            (None, Some(v2)) => InfoHash::V2(v2),
            (None, None) => {
                return Err(Error::magnet(
                    "no info-hash (xt=urn:btih:... or xt=urn:btmh:...)",
                ));
            }
        };
        Ok(m)
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn parse_btih(h: &str) -> Result<[u8; 20]> {
    if let Some(hash) = from_hex::<20>(h) {
        return Ok(hash);
    }
    if h.len() == 32
        && let Some(hash) = base32_decode(h)
    {
        return Ok(hash);
    }
    Err(Error::magnet(format!(
        "btih {h:?} is neither 40 hex digits nor 32 base32 characters"
    )))
}

fn parse_btmh(h: &str) -> Result<[u8; 32]> {
    // A multihash: 0x12 (sha2-256), 0x20 (32 bytes), then the digest.
    let digest = strip_prefix_ci(h, "1220").ok_or_else(|| {
        Error::magnet(format!("btmh {h:?} is not a sha2-256 multihash (1220...)"))
    })?;
    from_hex::<32>(digest)
        .ok_or_else(|| Error::magnet(format!("btmh digest {digest:?} is not 64 hex digits")))
}

fn base32_decode(s: &str) -> Option<[u8; 20]> {
    let mut out = [0u8; 20];
    let mut acc: u64 = 0;
    let mut bits = 0;
    let mut n = 0;
    for c in s.bytes() {
        let v = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(n)? = (acc >> bits) as u8;
            n += 1;
        }
    }
    (n == 20).then_some(out)
}

fn parse_select_only(s: &str) -> Result<Vec<(u32, u32)>> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let bad = || Error::magnet(format!("so: {part:?} is not an index or a range a-b"));
        let num = |t: &str| t.trim().parse::<u32>().map_err(|_| bad());
        let range = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let i = num(part)?;
                (i, i)
            }
        };
        if range.0 > range.1 {
            return Err(bad());
        }
        out.push(range);
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(from_hex::<1>(hex)?[0]);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn percent_encode(s: &str, out: &mut fmt::Formatter<'_>) -> fmt::Result {
    out.write_str(&crate::percent::percent_encode(s.as_bytes()))
}

impl fmt::Display for Magnet {
    /// Prints hashes as hex (`btih` 40 digits, `btmh` `1220` + 64 digits) and
    /// percent-encodes every value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("magnet:?")?;
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            let s = if first { "" } else { "&" };
            first = false;
            f.write_str(s)
        };
        if let Some(v1) = self.info_hash.v1() {
            sep(f)?;
            write!(f, "xt=urn:btih:{}", to_hex(&v1))?;
        }
        if let Some(v2) = self.info_hash.v2() {
            sep(f)?;
            write!(f, "xt=urn:btmh:1220{}", to_hex(&v2))?;
        }
        let mut param = |f: &mut fmt::Formatter<'_>, key: &str, value: &str| {
            sep(f)?;
            f.write_str(key)?;
            f.write_str("=")?;
            percent_encode(value, f)
        };
        if let Some(name) = &self.name {
            param(f, "dn", name)?;
        }
        for t in &self.trackers {
            param(f, "tr", t)?;
        }
        for w in &self.web_seeds {
            param(f, "ws", w)?;
        }
        for p in &self.peers {
            param(f, "x.pe", p)?;
        }
        if let Some(so) = self.select_only_spec() {
            param(f, "so", &so)?;
        }
        for (k, v) in &self.extra {
            // Keys are printed as received; a key that needs escaping is escaped.
            sep(f)?;
            percent_encode(k, f)?;
            f.write_str("=")?;
            percent_encode(v, f)?;
        }
        Ok(())
    }
}

impl FromStr for Magnet {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Magnet::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn base32_and_hex_give_the_same_hash() {
        let hex = "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a";
        let b32 = "magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK";
        assert_eq!(Magnet::parse(hex).unwrap(), Magnet::parse(b32).unwrap());
    }

    #[test]
    fn hybrid_v2_and_so() {
        let v2 = "caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e";
        let uri = format!(
            "magnet:?xt=urn:btih:631a31dd0a46257d5078c0dee4e66e26f73e42ac\
             &xt=urn:btmh:1220{v2}&dn=x+y&so=0,2,4-6&x.pe=127.0.0.1:6881&foo=bar"
        );
        let m = Magnet::parse(&uri).unwrap();
        assert_eq!(m.info_hash.v2().map(|h| to_hex(&h)).as_deref(), Some(v2));
        assert!(m.info_hash.v1().is_some());
        assert_eq!(m.name.as_deref(), Some("x y"));
        assert_eq!(m.select_only, [(0, 0), (2, 2), (4, 6)]);
        assert_eq!(m.peers, ["127.0.0.1:6881"]);
        assert_eq!(m.extra, [("foo".to_owned(), "bar".to_owned())]);
        assert_eq!(Magnet::parse(&m.to_string()).unwrap(), m);
    }

    fn any_info_hash() -> impl Strategy<Value = InfoHash> {
        prop_oneof![
            any::<[u8; 20]>().prop_map(InfoHash::V1),
            any::<[u8; 32]>().prop_map(InfoHash::V2),
            (any::<[u8; 20]>(), any::<[u8; 32]>()).prop_map(|(v1, v2)| InfoHash::Hybrid { v1, v2 }),
        ]
    }

    fn any_magnet() -> impl Strategy<Value = Magnet> {
        let text = || proptest::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter);
        (
            any_info_hash(),
            proptest::option::of(text()),
            proptest::collection::vec(text(), 0..3),
            proptest::collection::vec(text(), 0..3),
            proptest::collection::vec(text(), 0..2),
            proptest::collection::vec((0u32..100, 0u32..100), 0..3),
            proptest::collection::vec(("[a-z]{1,4}(\\.[a-z0-9]{1,3})?", text()), 0..3),
        )
            .prop_map(
                |(info_hash, name, trackers, web_seeds, peers, so, extra)| Magnet {
                    info_hash,
                    name,
                    trackers,
                    web_seeds,
                    peers,
                    select_only: so.into_iter().map(|(a, b)| (a.min(b), a.max(b))).collect(),
                    extra: extra
                        .into_iter()
                        .filter(|(k, _)| {
                            let base = k.split('.').next().unwrap_or_default();
                            !["xt", "dn", "tr", "ws", "so"].contains(&base) && k != "x.pe"
                        })
                        .collect(),
                },
            )
    }

    proptest! {
        #[test]
        fn print_then_parse_gives_the_same_magnet(m in any_magnet()) {
            let printed = m.to_string();
            prop_assert_eq!(Magnet::parse(&printed).unwrap(), m);
        }

        #[test]
        fn parse_never_panics(s in "magnet:\\?[ -~]{0,200}") {
            let _ = Magnet::parse(&s);
        }
    }

    #[test]
    fn rejects_bad_links() {
        for bad in [
            "http://x",
            "magnet:?dn=x",
            "magnet:?xt=urn:btih:123",
            "magnet:?xt=urn:btmh:1120aa",
            "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&so=3-1",
            "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=%zz",
        ] {
            assert!(Magnet::parse(bad).is_err(), "{bad}");
        }
    }
}
