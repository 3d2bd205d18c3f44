//! HTTP announce and scrape responses (BEP 3, 7, 23, 24, 48): bencoded bodies both ways.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use bencode::{Decoder, Dict, List, Value};

use crate::common::SwarmStats;
use crate::error::{Error, Result};
use crate::limits::Limits;

/// A successful HTTP announce response.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AnnounceResponse {
    /// Seconds the client should wait before the next regular announce.
    pub interval: u32,
    /// Seconds the client must wait at least (`min interval`).
    pub min_interval: Option<u32>,
    /// An id the client must send back as `trackerid` (`tracker id`).
    pub tracker_id: Option<Vec<u8>>,
    /// Number of seeders (`complete`).
    pub complete: Option<u32>,
    /// Number of leechers (`incomplete`).
    pub incomplete: Option<u32>,
    /// A message to show the user (`warning message`).
    pub warning_message: Option<String>,
    /// The client's address as the tracker sees it (BEP 24 `external ip`).
    pub external_ip: Option<IpAddr>,
    /// Peers: IPv4 and IPv6. Compact encoding puts IPv4 in `peers` and IPv6 in `peers6`;
    /// the dictionary model lists both in `peers` (without peer ids). IPv4-mapped IPv6
    /// addresses are written, and decoded, as IPv4.
    pub peers: Vec<SocketAddr>,
}

/// What an HTTP tracker answers to an announce: peers, or a `failure reason`.
///
/// ```
/// use shoal_tracker_proto::{AnnounceReply, AnnounceResponse, Limits};
///
/// let reply = AnnounceReply::Ok(AnnounceResponse {
///     interval: 1800,
///     peers: vec!["10.0.0.1:6881".parse().unwrap(), "[::1]:51413".parse().unwrap()],
///     ..Default::default()
/// });
/// let body = reply.encode(true);
/// assert!(body.starts_with(b"d8:intervali1800e5:peers6:\x0a\x00\x00\x01\x1a\xe1"));
/// assert_eq!(AnnounceReply::decode(&body, &Limits::default()).unwrap(), reply);
///
/// let refused = AnnounceReply::Failure("unregistered torrent".into()).encode(true);
/// assert_eq!(refused, b"d14:failure reason20:unregistered torrente");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AnnounceReply {
    /// The announce was accepted.
    Ok(AnnounceResponse),
    /// The tracker refused it (`failure reason`).
    Failure(String),
}

impl AnnounceReply {
    /// The bencoded body. `compact` chooses BEP 23/7 compact peer strings (`peers`,
    /// `peers6`) or the BEP 3 dictionary model.
    pub fn encode(&self, compact: bool) -> Vec<u8> {
        match self {
            AnnounceReply::Failure(reason) => encode_failure(reason),
            AnnounceReply::Ok(r) => r.encode(compact),
        }
    }

    /// Decodes a body: `failure reason` if present, else the response. Accepts compact
    /// and dictionary-model peers (dictionary entries whose `ip` is a DNS name are
    /// skipped), and keys in any order.
    pub fn decode(body: &[u8], limits: &Limits) -> Result<Self> {
        let value = Decoder::new().lenient(true).decode(body)?;
        let dict = as_dict(&value, "body")?;
        if let Some(reason) = dict.get(b"failure reason") {
            return Ok(AnnounceReply::Failure(text(reason, "failure reason")?));
        }
        AnnounceResponse::from_dict(dict, limits).map(AnnounceReply::Ok)
    }
}

impl AnnounceResponse {
    /// The bencoded body (see [`AnnounceReply::encode`]).
    pub fn encode(&self, compact: bool) -> Vec<u8> {
        let ip_texts: Vec<String>;
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let mut dict_peers = List::new();
        if compact {
            for peer in self.peers.iter().map(canonical) {
                match peer {
                    SocketAddr::V4(a) => {
                        v4.extend_from_slice(&a.ip().octets());
                        v4.extend_from_slice(&a.port().to_be_bytes());
                    }
                    SocketAddr::V6(a) => {
                        v6.extend_from_slice(&a.ip().octets());
                        v6.extend_from_slice(&a.port().to_be_bytes());
                    }
                }
            }
        } else {
            ip_texts = self
                .peers
                .iter()
                .map(|p| canonical(p).ip().to_string())
                .collect();
            for (peer, ip) in self.peers.iter().zip(&ip_texts) {
                let mut d = Dict::new();
                d.insert(b"ip", Value::Bytes(ip.as_bytes()));
                d.insert(b"port", Value::Int(i64::from(peer.port())));
                dict_peers.push(Value::Dict(d));
            }
        }
        let external;
        let mut d = Dict::new();
        if let Some(n) = self.complete {
            d.insert(b"complete", Value::Int(n.into()));
        }
        if let Some(ip) = self.external_ip {
            external = match ip {
                IpAddr::V4(ip) => ip.octets().to_vec(),
                IpAddr::V6(ip) => ip.octets().to_vec(),
            };
            d.insert(b"external ip", Value::Bytes(&external));
        }
        if let Some(n) = self.incomplete {
            d.insert(b"incomplete", Value::Int(n.into()));
        }
        d.insert(b"interval", Value::Int(self.interval.into()));
        if let Some(n) = self.min_interval {
            d.insert(b"min interval", Value::Int(n.into()));
        }
        if compact {
            d.insert(b"peers", Value::Bytes(&v4));
            if !v6.is_empty() {
                d.insert(b"peers6", Value::Bytes(&v6));
            }
        } else {
            d.insert(b"peers", Value::List(dict_peers));
        }
        if let Some(id) = &self.tracker_id {
            d.insert(b"tracker id", Value::Bytes(id));
        }
        if let Some(w) = &self.warning_message {
            d.insert(b"warning message", Value::Bytes(w.as_bytes()));
        }
        bencode::encode(&Value::Dict(d))
    }

    fn from_dict(dict: &Dict<'_>, limits: &Limits) -> Result<Self> {
        let mut peers = Vec::new();
        match dict.get(b"peers") {
            None => {}
            Some(Value::Bytes(b)) => compact_peers(b, "peers", 6, &mut peers, limits)?,
            Some(Value::List(list)) => dict_peers(list, &mut peers, limits)?,
            Some(other) => {
                return Err(wrong_type("peers", "byte string or list", other));
            }
        }
        if let Some(v) = dict.get(b"peers6") {
            let b = v
                .as_bytes()
                .ok_or_else(|| wrong_type("peers6", "byte string", v))?;
            compact_peers(b, "peers6", 18, &mut peers, limits)?;
        }
        let external_ip = match dict.get(b"external ip") {
            None => None,
            Some(v) => {
                let b = v
                    .as_bytes()
                    .ok_or_else(|| wrong_type("external ip", "byte string", v))?;
                Some(match b.len() {
                    4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(b).unwrap_or_default())),
                    16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(b).unwrap_or_default())),
                    len => {
                        return Err(Error::BadCompactLength {
                            key: "external ip".into(),
                            len,
                            entry: 4,
                        });
                    }
                })
            }
        };
        Ok(AnnounceResponse {
            interval: required_u32(dict, "interval")?,
            min_interval: optional_u32(dict, "min interval")?,
            tracker_id: match dict.get(b"tracker id") {
                None => None,
                Some(v) => Some(
                    v.as_bytes()
                        .ok_or_else(|| wrong_type("tracker id", "byte string", v))?
                        .to_vec(),
                ),
            },
            complete: optional_u32(dict, "complete")?,
            incomplete: optional_u32(dict, "incomplete")?,
            warning_message: match dict.get(b"warning message") {
                None => None,
                Some(v) => Some(text(v, "warning message")?),
            },
            external_ip,
            peers,
        })
    }
}

/// A successful HTTP scrape response: counts per info-hash (`files`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ScrapeResponse {
    /// Counts per torrent, keyed by the 20-byte info-hash.
    pub files: BTreeMap<[u8; 20], SwarmStats>,
    /// Seconds the client should wait before scraping again (`flags` / `min_request_interval`).
    pub min_request_interval: Option<u32>,
}

/// What an HTTP tracker answers to a scrape: counts, or a `failure reason`.
///
/// ```
/// use shoal_tracker_proto::{Limits, ScrapeReply, ScrapeResponse, SwarmStats};
///
/// let mut resp = ScrapeResponse::default();
/// resp.files.insert([7; 20], SwarmStats { seeders: 3, completed: 10, leechers: 1 });
/// let body = ScrapeReply::Ok(resp.clone()).encode();
/// assert_eq!(ScrapeReply::decode(&body, &Limits::default()).unwrap(), ScrapeReply::Ok(resp));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ScrapeReply {
    /// The counts.
    Ok(ScrapeResponse),
    /// The tracker refused (`failure reason`).
    Failure(String),
}

impl ScrapeReply {
    /// The bencoded body.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ScrapeReply::Failure(reason) => encode_failure(reason),
            ScrapeReply::Ok(r) => r.encode(),
        }
    }

    /// Decodes a body; at most `limits.max_scrape_hashes` entries in `files`.
    pub fn decode(body: &[u8], limits: &Limits) -> Result<Self> {
        let value = Decoder::new().lenient(true).decode(body)?;
        let dict = as_dict(&value, "body")?;
        if let Some(reason) = dict.get(b"failure reason") {
            return Ok(ScrapeReply::Failure(text(reason, "failure reason")?));
        }
        ScrapeResponse::from_dict(dict, limits).map(ScrapeReply::Ok)
    }
}

impl ScrapeResponse {
    /// The bencoded body.
    pub fn encode(&self) -> Vec<u8> {
        let mut files = Dict::new();
        for (hash, stats) in &self.files {
            let mut d = Dict::new();
            d.insert(b"complete", Value::Int(stats.seeders.into()));
            d.insert(b"downloaded", Value::Int(stats.completed.into()));
            d.insert(b"incomplete", Value::Int(stats.leechers.into()));
            files.insert(hash, Value::Dict(d));
        }
        let mut d = Dict::new();
        d.insert(b"files", Value::Dict(files));
        if let Some(n) = self.min_request_interval {
            let mut flags = Dict::new();
            flags.insert(b"min_request_interval", Value::Int(n.into()));
            d.insert(b"flags", Value::Dict(flags));
        }
        bencode::encode(&Value::Dict(d))
    }

    fn from_dict(dict: &Dict<'_>, limits: &Limits) -> Result<Self> {
        let mut files = BTreeMap::new();
        if let Some(v) = dict.get(b"files") {
            let entries = as_dict(v, "files")?;
            if entries.len() > limits.max_scrape_hashes {
                return Err(Error::TooMany {
                    what: "scrape entries",
                    count: entries.len(),
                    max: limits.max_scrape_hashes,
                });
            }
            for (key, stats) in entries.iter() {
                let hash: [u8; 20] = key.try_into().map_err(|_| Error::BadCompactLength {
                    key: "files key".into(),
                    len: key.len(),
                    entry: 20,
                })?;
                let path = format!("files.{}", metainfo::to_hex(&hash));
                let stats = as_dict(stats, &path)?;
                let count = |name: &str| -> Result<u32> {
                    let key = format!("{path}.{name}");
                    Ok(optional_u32_at(stats.get(name.as_bytes()), &key)?.unwrap_or(0))
                };
                files.insert(
                    hash,
                    SwarmStats {
                        seeders: count("complete")?,
                        completed: count("downloaded")?,
                        leechers: count("incomplete")?,
                    },
                );
            }
        }
        let min_request_interval = match dict.get(b"flags") {
            None => None,
            Some(flags) => optional_u32(as_dict(flags, "flags")?, "min_request_interval")?,
        };
        Ok(ScrapeResponse {
            files,
            min_request_interval,
        })
    }
}

fn encode_failure(reason: &str) -> Vec<u8> {
    let mut d = Dict::new();
    d.insert(b"failure reason", Value::Bytes(reason.as_bytes()));
    bencode::encode(&Value::Dict(d))
}

fn wrong_type(key: &str, expected: &'static str, found: &Value<'_>) -> Error {
    Error::WrongType {
        key: key.to_owned(),
        expected,
        found: found.kind(),
    }
}

fn as_dict<'v, 'a>(value: &'v Value<'a>, key: &str) -> Result<&'v Dict<'a>> {
    value
        .as_dict()
        .ok_or_else(|| wrong_type(key, "dictionary", value))
}

/// Text fields are shown to people: invalid UTF-8 is replaced, not an error.
fn text(value: &Value<'_>, key: &str) -> Result<String> {
    let b = value
        .as_bytes()
        .ok_or_else(|| wrong_type(key, "byte string", value))?;
    Ok(String::from_utf8_lossy(b).into_owned())
}

fn optional_u32_at(value: Option<&Value<'_>>, key: &str) -> Result<Option<u32>> {
    match value {
        None => Ok(None),
        Some(v) => {
            let n = v.as_int().ok_or_else(|| wrong_type(key, "integer", v))?;
            u32::try_from(n).map(Some).map_err(|_| Error::OutOfRange {
                key: key.to_owned(),
                value: n,
            })
        }
    }
}

fn optional_u32(dict: &Dict<'_>, key: &str) -> Result<Option<u32>> {
    optional_u32_at(dict.get(key.as_bytes()), key)
}

fn required_u32(dict: &Dict<'_>, key: &str) -> Result<u32> {
    optional_u32(dict, key)?.ok_or_else(|| Error::MissingKey {
        key: key.to_owned(),
    })
}

fn compact_peers(
    bytes: &[u8],
    key: &str,
    entry: usize,
    peers: &mut Vec<SocketAddr>,
    limits: &Limits,
) -> Result<()> {
    if !bytes.len().is_multiple_of(entry) {
        return Err(Error::BadCompactLength {
            key: key.to_owned(),
            len: bytes.len(),
            entry,
        });
    }
    check_peer_count(peers.len() + bytes.len() / entry, limits)?;
    peers.reserve(bytes.len() / entry);
    for chunk in bytes.chunks_exact(entry) {
        peers.push(compact_peer(chunk));
    }
    Ok(())
}

/// One 6-byte (IPv4) or 18-byte (IPv6) compact peer; `chunk` has one of those lengths.
fn compact_peer(chunk: &[u8]) -> SocketAddr {
    let (ip, port) = chunk.split_at(chunk.len() - 2);
    let port = u16::from_be_bytes([port[0], port[1]]);
    if let Ok(v4) = <[u8; 4]>::try_from(ip) {
        SocketAddr::V4(SocketAddrV4::new(v4.into(), port))
    } else {
        let v6 = <[u8; 16]>::try_from(ip).unwrap_or_default();
        canonical(&SocketAddr::V6(SocketAddrV6::new(v6.into(), port, 0, 0)))
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack socket reports for
/// an IPv4 client) as the IPv4 address it is: it belongs in `peers`, not `peers6`.
fn canonical(addr: &SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

fn check_peer_count(count: usize, limits: &Limits) -> Result<()> {
    if count > limits.max_peers {
        return Err(Error::TooMany {
            what: "peers",
            count,
            max: limits.max_peers,
        });
    }
    Ok(())
}

fn dict_peers(list: &List<'_>, peers: &mut Vec<SocketAddr>, limits: &Limits) -> Result<()> {
    check_peer_count(peers.len() + list.len(), limits)?;
    for (i, item) in list.iter().enumerate() {
        let path = format!("peers[{i}]");
        let d = as_dict(item, &path)?;
        let ip_value = d.get(b"ip").ok_or_else(|| Error::MissingKey {
            key: format!("{path}.ip"),
        })?;
        let ip_bytes = ip_value
            .as_bytes()
            .ok_or_else(|| wrong_type(&format!("{path}.ip"), "byte string", ip_value))?;
        let port_key = format!("{path}.port");
        let port_value = d.get(b"port").ok_or_else(|| Error::MissingKey {
            key: port_key.clone(),
        })?;
        let port = port_value
            .as_int()
            .ok_or_else(|| wrong_type(&port_key, "integer", port_value))?;
        let port = u16::try_from(port).map_err(|_| Error::OutOfRange {
            key: port_key,
            value: port,
        })?;
        // BEP 3 allows a DNS name here; resolving is the caller's business, and one such
        // entry should not cost the other peers, so it is skipped.
        let ip = std::str::from_utf8(ip_bytes)
            .ok()
            .and_then(|s| s.parse::<IpAddr>().ok());
        if let Some(ip) = ip {
            peers.push(SocketAddr::new(ip.to_canonical(), port));
        }
    }
    Ok(())
}
