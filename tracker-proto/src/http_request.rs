//! HTTP announce and scrape requests (BEP 3, 7, 23, 48): build and parse query strings.

use std::borrow::Cow;
use std::fmt::Write as _;

use metainfo::PeerId;

use crate::common::Event;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::percent;

/// An HTTP announce: what a client tells the tracker in the query string of `GET /announce`.
///
/// ```
/// use shoal_tracker_proto::{AnnounceRequest, Event, Limits};
/// use metainfo::PeerId;
///
/// let mut req = AnnounceRequest::new([0xab; 20], PeerId([b'x'; 20]), 6881);
/// req.left = 1000;
/// req.event = Some(Event::Started);
/// let url = req.announce_url("http://tracker.example/announce?passkey=s3cret");
/// assert!(url.starts_with("http://tracker.example/announce?passkey=s3cret&info_hash=%AB%AB"));
///
/// // The tracker parses the part after `?` back into the same request.
/// let query = req.to_query_string();
/// assert_eq!(AnnounceRequest::parse_query(query.as_bytes(), &Limits::default()).unwrap(), req);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AnnounceRequest {
    /// The torrent's 20-byte info-hash (v1, or truncated v2).
    pub info_hash: [u8; 20],
    /// The announcing client's peer id.
    pub peer_id: PeerId,
    /// The port the client accepts peer connections on.
    pub port: u16,
    /// Bytes uploaded since the `started` event.
    pub uploaded: u64,
    /// Bytes downloaded since the `started` event.
    pub downloaded: u64,
    /// Bytes still needed to complete the torrent (0 for a seeder).
    pub left: u64,
    /// `started`, `completed`, `stopped`, or `None` for a regular update.
    pub event: Option<Event>,
    /// Whether the client accepts the compact peer list (BEP 23). Absent in a query: false.
    pub compact: bool,
    /// Whether the client asks to leave peer ids out of dictionary-model peers.
    pub no_peer_id: bool,
    /// How many peers the client wants (`None`: the tracker's default).
    pub numwant: Option<u32>,
    /// An opaque key identifying the client across IP changes. Raw bytes: clients such
    /// as aria2 send arbitrary binary keys.
    pub key: Option<Vec<u8>>,
    /// The `tracker id` a previous response gave (sent as `trackerid`).
    pub tracker_id: Option<Vec<u8>>,
    /// The address the client wants to be reached at (`ip`): an IP literal or a DNS name.
    pub ip: Option<String>,
}

impl AnnounceRequest {
    /// A request for `info_hash` from `peer_id` listening on `port`, with zero transfer
    /// counts, no event, `compact=1`, and every optional field absent.
    pub fn new(info_hash: [u8; 20], peer_id: PeerId, port: u16) -> Self {
        AnnounceRequest {
            info_hash,
            peer_id,
            port,
            uploaded: 0,
            downloaded: 0,
            left: 0,
            event: None,
            compact: true,
            no_peer_id: false,
            numwant: None,
            key: None,
            tracker_id: None,
            ip: None,
        }
    }

    /// The query string (without `?`): binary fields percent-encoded, every field present
    /// in the request written, `compact` always written.
    pub fn to_query_string(&self) -> String {
        let mut q = String::with_capacity(256);
        q.push_str("info_hash=");
        metainfo::percent_encode_into(&mut q, &self.info_hash);
        q.push_str("&peer_id=");
        metainfo::percent_encode_into(&mut q, &self.peer_id.0);
        // Writing to a String cannot fail.
        let _ = write!(
            q,
            "&port={}&uploaded={}&downloaded={}&left={}&compact={}",
            self.port,
            self.uploaded,
            self.downloaded,
            self.left,
            u8::from(self.compact)
        );
        if self.no_peer_id {
            q.push_str("&no_peer_id=1");
        }
        if let Some(event) = self.event {
            q.push_str("&event=");
            q.push_str(event.as_str());
        }
        if let Some(n) = self.numwant {
            let _ = write!(q, "&numwant={n}");
        }
        if let Some(key) = &self.key {
            q.push_str("&key=");
            metainfo::percent_encode_into(&mut q, key);
        }
        if let Some(id) = &self.tracker_id {
            q.push_str("&trackerid=");
            metainfo::percent_encode_into(&mut q, id);
        }
        if let Some(ip) = &self.ip {
            q.push_str("&ip=");
            metainfo::percent_encode_into(&mut q, ip.as_bytes());
        }
        q
    }

    /// The full announce URL: `base` with the query appended (after `&` when `base`
    /// already has a query, as private trackers' passkey URLs do).
    pub fn announce_url(&self, base: &str) -> String {
        append_query(base, &self.to_query_string())
    }

    /// Parses the query string of an announce (the part after `?`, still percent-encoded).
    ///
    /// Required: `info_hash` and `peer_id` (20 bytes each), `port`, `uploaded`,
    /// `downloaded`, `left`. Unknown parameters are ignored; a known one given twice is an
    /// error. A negative `numwant` means "tracker's default".
    pub fn parse_query(query: &[u8], limits: &Limits) -> Result<Self> {
        check_len(query, limits)?;
        let mut info_hash = None;
        let mut peer_id = None;
        let mut port = None;
        let mut uploaded = None;
        let mut downloaded = None;
        let mut left = None;
        let mut event = None;
        let mut compact = None;
        let mut no_peer_id = None;
        let mut numwant = None;
        let mut key = None;
        let mut tracker_id = None;
        let mut ip = None;

        for pair in pairs(query) {
            let Param {
                name,
                value,
                offset,
            } = pair?;
            let off = offset;
            match &*name {
                b"info_hash" => set(
                    &mut info_hash,
                    "info_hash",
                    off,
                    bytes20(&value, "info_hash", off)?,
                )?,
                b"peer_id" => set(
                    &mut peer_id,
                    "peer_id",
                    off,
                    bytes20(&value, "peer_id", off)?,
                )?,
                b"port" => set(&mut port, "port", off, number::<u16>(&value, "port", off)?)?,
                b"uploaded" => set(
                    &mut uploaded,
                    "uploaded",
                    off,
                    number::<u64>(&value, "uploaded", off)?,
                )?,
                b"downloaded" => set(
                    &mut downloaded,
                    "downloaded",
                    off,
                    number::<u64>(&value, "downloaded", off)?,
                )?,
                b"left" => set(&mut left, "left", off, number::<u64>(&value, "left", off)?)?,
                b"event" => {
                    let e = match &*value {
                        b"" => None,
                        b"started" => Some(Event::Started),
                        b"completed" => Some(Event::Completed),
                        b"stopped" => Some(Event::Stopped),
                        other => {
                            return Err(invalid(
                                "event",
                                off,
                                format!("unknown event {:?}", show(other)),
                            ));
                        }
                    };
                    set(&mut event, "event", off, e)?;
                }
                b"compact" => set(&mut compact, "compact", off, flag(&value, "compact", off)?)?,
                b"no_peer_id" => set(
                    &mut no_peer_id,
                    "no_peer_id",
                    off,
                    flag(&value, "no_peer_id", off)?,
                )?,
                b"numwant" => {
                    let n = number::<i64>(&value, "numwant", off)?;
                    // Some clients send -1 for "default"; beyond u32 is as good as "all".
                    let n = (n >= 0).then(|| u32::try_from(n).unwrap_or(u32::MAX));
                    set(&mut numwant, "numwant", off, n)?;
                }
                b"key" => set(&mut key, "key", off, value.into_owned())?,
                b"trackerid" => set(&mut tracker_id, "trackerid", off, value.into_owned())?,
                b"ip" => set(&mut ip, "ip", off, text(value, "ip", off)?)?,
                _ => {}
            }
        }

        Ok(AnnounceRequest {
            info_hash: info_hash.ok_or(Error::MissingParam { name: "info_hash" })?,
            peer_id: PeerId(peer_id.ok_or(Error::MissingParam { name: "peer_id" })?),
            port: port.ok_or(Error::MissingParam { name: "port" })?,
            uploaded: uploaded.ok_or(Error::MissingParam { name: "uploaded" })?,
            downloaded: downloaded.ok_or(Error::MissingParam { name: "downloaded" })?,
            left: left.ok_or(Error::MissingParam { name: "left" })?,
            event: event.flatten(),
            compact: compact.unwrap_or(false),
            no_peer_id: no_peer_id.unwrap_or(false),
            numwant: numwant.flatten(),
            key,
            tracker_id,
            ip,
        })
    }
}

/// An HTTP scrape: the info-hashes to report on (`info_hash` repeated; none means "all",
/// which trackers may refuse).
///
/// ```
/// use shoal_tracker_proto::{Limits, ScrapeRequest};
///
/// let req = ScrapeRequest { info_hashes: vec![[1; 20], [2; 20]] };
/// let url = req.scrape_url("http://t.example/scrape");
/// let query = url.split_once('?').unwrap().1;
/// assert_eq!(ScrapeRequest::parse_query(query.as_bytes(), &Limits::default()).unwrap(), req);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ScrapeRequest {
    /// The torrents asked about, in query order.
    pub info_hashes: Vec<[u8; 20]>,
}

impl ScrapeRequest {
    /// The query string (without `?`): one `info_hash=` per hash.
    pub fn to_query_string(&self) -> String {
        let mut q = String::with_capacity(self.info_hashes.len() * 71);
        for (i, hash) in self.info_hashes.iter().enumerate() {
            if i > 0 {
                q.push('&');
            }
            q.push_str("info_hash=");
            metainfo::percent_encode_into(&mut q, hash);
        }
        q
    }

    /// The full scrape URL: `base` (a scrape URL, see [`scrape_url_from_announce`]) with
    /// the query appended.
    pub fn scrape_url(&self, base: &str) -> String {
        append_query(base, &self.to_query_string())
    }

    /// Parses the query string of a scrape; other parameters than `info_hash` are ignored.
    pub fn parse_query(query: &[u8], limits: &Limits) -> Result<Self> {
        check_len(query, limits)?;
        let mut info_hashes = Vec::new();
        for pair in pairs(query) {
            let Param {
                name,
                value,
                offset,
            } = pair?;
            if &*name == b"info_hash" {
                if info_hashes.len() == limits.max_scrape_hashes {
                    return Err(Error::TooMany {
                        what: "info hashes",
                        count: info_hashes.len() + 1,
                        max: limits.max_scrape_hashes,
                    });
                }
                info_hashes.push(bytes20(&value, "info_hash", offset)?);
            }
        }
        Ok(ScrapeRequest { info_hashes })
    }
}

/// The scrape URL of an announce URL by the BEP 48 convention: the last path segment must
/// begin with `announce`, which is replaced by `scrape` (the query is kept). `None` when the
/// tracker does not follow the convention, so it cannot be scraped.
///
/// ```
/// use shoal_tracker_proto::scrape_url_from_announce;
///
/// assert_eq!(
///     scrape_url_from_announce("http://t.example/x/announce.php?pk=1").as_deref(),
///     Some("http://t.example/x/scrape.php?pk=1")
/// );
/// assert_eq!(scrape_url_from_announce("http://t.example/a"), None);
/// ```
pub fn scrape_url_from_announce(announce: &str) -> Option<String> {
    let path_end = announce.find(['?', '#']).unwrap_or(announce.len());
    let (before_query, rest) = announce.split_at(path_end);
    // The path starts at the first `/` after the authority (`scheme://host:port`); a
    // host named `announce.example` is not a path segment.
    let authority_start = before_query.find("://").map_or(0, |i| i + 3);
    let path_start = authority_start + before_query[authority_start..].find('/')?;
    let slash = path_start + before_query[path_start..].rfind('/')?;
    let tail = before_query[slash + 1..].strip_prefix("announce")?;
    Some(format!("{}scrape{tail}{rest}", &before_query[..=slash]))
}

/// `base` with `query` appended: after `?`, or after `&` when `base` already has a query;
/// a `#fragment` of `base` stays at the end.
fn append_query(base: &str, query: &str) -> String {
    let (base, fragment) = base.split_at(base.find('#').unwrap_or(base.len()));
    let mut url = String::with_capacity(base.len() + 1 + query.len() + fragment.len());
    url.push_str(base);
    if !base.contains('?') {
        url.push('?');
    } else if !(base.ends_with('?') || base.ends_with('&')) {
        url.push('&');
    }
    url.push_str(query);
    url.push_str(fragment);
    url
}

fn check_len(query: &[u8], limits: &Limits) -> Result<()> {
    if query.len() > limits.max_query_len {
        return Err(Error::QueryTooLong {
            len: query.len(),
            max: limits.max_query_len,
        });
    }
    Ok(())
}

/// One `name=value` pair of a query, both percent-decoded.
struct Param<'q> {
    name: Cow<'q, [u8]>,
    value: Cow<'q, [u8]>,
    /// Where the value starts in the query.
    offset: usize,
}

/// The non-empty `&`-separated pairs of a query; a pair without `=` has an empty value.
fn pairs(query: &[u8]) -> impl Iterator<Item = Result<Param<'_>>> {
    let mut start = 0;
    query
        .split(|&b| b == b'&')
        .map(move |pair| {
            let pair_start = start;
            start += pair.len() + 1;
            (pair_start, pair)
        })
        .filter(|(_, pair)| !pair.is_empty())
        .map(|(pair_start, pair)| {
            let eq = pair.iter().position(|&b| b == b'=');
            let (name, value, value_start) = match eq {
                Some(i) => (&pair[..i], &pair[i + 1..], pair_start + i + 1),
                None => (pair, &pair[pair.len()..], pair_start + pair.len()),
            };
            Ok(Param {
                name: percent::decode(name, pair_start)?,
                value: percent::decode(value, value_start)?,
                offset: value_start,
            })
        })
}

fn set<T>(slot: &mut Option<T>, name: &'static str, offset: usize, value: T) -> Result<()> {
    if slot.is_some() {
        return Err(Error::DuplicateParam { name, offset });
    }
    *slot = Some(value);
    Ok(())
}

fn invalid(name: &'static str, offset: usize, reason: String) -> Error {
    Error::InvalidParam {
        name,
        offset,
        reason,
    }
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(64)]).into_owned()
}

fn bytes20(value: &[u8], name: &'static str, offset: usize) -> Result<[u8; 20]> {
    value.try_into().map_err(|_| {
        invalid(
            name,
            offset,
            format!("expected 20 bytes after decoding, found {}", value.len()),
        )
    })
}

fn number<T: std::str::FromStr>(value: &[u8], name: &'static str, offset: usize) -> Result<T> {
    std::str::from_utf8(value)
        .ok()
        .filter(|s| !s.starts_with('+'))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            invalid(
                name,
                offset,
                format!(
                    "expected a number in range of {}, found {:?}",
                    std::any::type_name::<T>(),
                    show(value)
                ),
            )
        })
}

fn flag(value: &[u8], name: &'static str, offset: usize) -> Result<bool> {
    match value {
        b"1" => Ok(true),
        b"0" => Ok(false),
        other => Err(invalid(
            name,
            offset,
            format!("expected 0 or 1, found {:?}", show(other)),
        )),
    }
}

fn text(value: Cow<'_, [u8]>, name: &'static str, offset: usize) -> Result<String> {
    String::from_utf8(value.into_owned())
        .map_err(|e| invalid(name, offset, format!("not UTF-8: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_url_follows_bep_48() {
        let cases = [
            (
                "http://example.com/announce",
                Some("http://example.com/scrape"),
            ),
            (
                "http://example.com/x/announce",
                Some("http://example.com/x/scrape"),
            ),
            (
                "http://example.com/announce.php",
                Some("http://example.com/scrape.php"),
            ),
            ("http://example.com/a", None),
            (
                "http://example.com/announce?x2%0644",
                Some("http://example.com/scrape?x2%0644"),
            ),
            (
                "http://example.com/announce?x=2/4",
                Some("http://example.com/scrape?x=2/4"),
            ),
            ("http://example.com/x%064announce", None),
            ("http://announce.example", None),
            ("http://announce.example/", None),
            ("udp://tracker.example:1337", None),
            ("http://example.com/announce/x", None),
        ];
        for (announce, scrape) in cases {
            assert_eq!(
                scrape_url_from_announce(announce).as_deref(),
                scrape,
                "{announce}"
            );
        }
    }

    #[test]
    fn query_is_appended_before_a_fragment() {
        assert_eq!(append_query("http://t/a", "q=1"), "http://t/a?q=1");
        assert_eq!(append_query("http://t/a?k=v", "q=1"), "http://t/a?k=v&q=1");
        assert_eq!(append_query("http://t/a?k=v&", "q=1"), "http://t/a?k=v&q=1");
        assert_eq!(append_query("http://t/a?", "q=1"), "http://t/a?q=1");
        assert_eq!(append_query("http://t/a#f", "q=1"), "http://t/a?q=1#f");
    }
}
