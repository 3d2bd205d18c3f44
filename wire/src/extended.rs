//! Payloads of BEP 10 extended messages: the extension handshake, BEP 9 ut_metadata and
//! BEP 11 ut_pex.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use bencode::{Dict, Value};
use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{Error, Result};
use crate::message::Message;

/// The extended message id of the extension handshake.
pub const EXTENDED_HANDSHAKE_ID: u8 = 0;

/// The name of the BEP 9 metadata extension in `m`.
pub const UT_METADATA: &str = "ut_metadata";

/// The name of the BEP 11 peer exchange extension in `m`.
pub const UT_PEX: &str = "ut_pex";

/// The size of a metadata piece in ut_metadata (all but the last are this long).
pub const METADATA_PIECE_LEN: u32 = 16 * 1024;

const WHAT_HANDSHAKE: &str = "extension handshake";
const WHAT_METADATA: &str = "ut_metadata";
const WHAT_PEX: &str = "ut_pex";

fn decode_dict<'a>(what: &'static str, payload: &'a [u8]) -> Result<(Dict<'a>, &'a [u8])> {
    let (value, rest) = bencode::Decoder::new()
        .lenient(true)
        .decode_prefix(payload)
        .map_err(|source| Error::Bencode { what, source })?;
    match value {
        Value::Dict(d) => Ok((d, rest)),
        other => Err(Error::extension(
            what,
            format!("expected a dictionary, found a {}", other.kind()),
        )),
    }
}

/// The BEP 10 extension handshake (extended message id 0).
///
/// Keys this crate knows are typed fields; every other key, and a known key whose value
/// has an unexpected type or range, is kept as raw bencode in `extra`, so decoding then
/// encoding loses nothing.
///
/// ```
/// use shoal_wire::{ExtendedHandshake, UT_METADATA};
///
/// let mut ours = ExtendedHandshake::default();
/// ours.m.insert(UT_METADATA.to_string(), 3);
/// ours.v = Some("shoal 0.1".into());
/// ours.reqq = Some(250);
/// let payload = ours.to_bytes();
/// assert_eq!(&payload[..], b"d1:md11:ut_metadatai3ee4:reqqi250e1:v9:shoal 0.1e");
/// let theirs = ExtendedHandshake::decode(&payload).unwrap();
/// assert_eq!(theirs.extension_id(UT_METADATA), Some(3));
/// assert_eq!(theirs, ours);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ExtendedHandshake {
    /// `m`: extension name to the id the sender wants to receive it under; 0 means the
    /// sender disables it. Entries whose name is not UTF-8 or whose id is not 0..=255
    /// are dropped.
    pub m: BTreeMap<String, u8>,
    /// `v`: client name and version.
    pub v: Option<String>,
    /// `p`: the sender's listening TCP port.
    pub p: Option<u16>,
    /// `reqq`: how many outstanding requests the sender accepts.
    pub reqq: Option<u32>,
    /// `yourip`: the receiver's address as the sender sees it (4 or 16 bytes).
    pub yourip: Option<IpAddr>,
    /// `metadata_size` (BEP 9): size of the info dictionary in bytes.
    pub metadata_size: Option<u64>,
    /// Every other key, with its value's raw bencode. When a typed field is set (for
    /// `m`: not empty), an entry here with the same key is not encoded.
    pub extra: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl ExtendedHandshake {
    /// Parses the payload of an extended message with id 0.
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let (dict, rest) = decode_dict(WHAT_HANDSHAKE, payload)?;
        if !rest.is_empty() {
            return Err(Error::extension(
                WHAT_HANDSHAKE,
                format!(
                    "{} bytes after the dictionary at byte {}",
                    rest.len(),
                    payload.len() - rest.len()
                ),
            ));
        }
        let mut hs = ExtendedHandshake::default();
        for (key, value) in dict.iter() {
            let known = match key {
                b"m" => value.as_dict().map(|m| {
                    hs.m = m
                        .iter()
                        .filter_map(|(name, id)| {
                            let name = std::str::from_utf8(name).ok()?;
                            let id = u8::try_from(id.as_int()?).ok()?;
                            Some((name.to_string(), id))
                        })
                        .collect();
                }),
                b"v" => value.as_str().map(|v| hs.v = Some(v.to_string())),
                b"p" => int_in(value).map(|p| hs.p = Some(p)),
                b"reqq" => int_in(value).map(|n| hs.reqq = Some(n)),
                b"metadata_size" => int_in(value).map(|n| hs.metadata_size = Some(n)),
                b"yourip" => value.as_bytes().and_then(ip_from_bytes).map(|ip| {
                    hs.yourip = Some(ip);
                }),
                _ => None,
            };
            if known.is_none() {
                hs.extra.insert(key.to_vec(), value.raw().into_owned());
            }
        }
        Ok(hs)
    }

    /// The id the sender assigned to extension `name`, if it supports it (not 0).
    pub fn extension_id(&self, name: &str) -> Option<u8> {
        self.m.get(name).copied().filter(|&id| id != 0)
    }

    /// BEP 21 `upload_only` (kept in `extra`): the sender only uploads (a seed, or a
    /// peer that wants nothing more). `false` when absent or not a non-zero integer.
    pub fn upload_only(&self) -> bool {
        self.extra
            .get(&b"upload_only"[..])
            .and_then(|raw| bencode::decode(raw).ok().and_then(|v| v.as_int()))
            .is_some_and(|n| n != 0)
    }

    /// Writes the bencoded payload (keys sorted).
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        let mut entries: Vec<(&[u8], Vec<u8>)> = Vec::new();
        // An empty `m` gives way to a raw one kept in `extra` (a peer's `m` that was not
        // a dictionary); otherwise `m` is always written, as BEP 10 peers expect it.
        if !self.m.is_empty() || !self.extra.contains_key(&b"m"[..]) {
            let mut m = Dict::new();
            for (name, id) in &self.m {
                m.insert(name.as_bytes(), Value::Int(i64::from(*id)));
            }
            entries.push((b"m", bencode::encode(&Value::Dict(m))));
        }
        if let Some(v) = &self.v {
            entries.push((b"v", bencode::encode(&Value::Bytes(v.as_bytes()))));
        }
        let ints = [
            (&b"p"[..], self.p.map(i64::from)),
            (b"reqq", self.reqq.map(i64::from)),
            (
                b"metadata_size",
                self.metadata_size.and_then(|n| i64::try_from(n).ok()),
            ),
        ];
        for (key, n) in ints {
            if let Some(n) = n {
                entries.push((key, bencode::encode(&Value::Int(n))));
            }
        }
        let ip_bytes;
        if let Some(ip) = self.yourip {
            ip_bytes = match ip {
                IpAddr::V4(ip) => ip.octets().to_vec(),
                IpAddr::V6(ip) => ip.octets().to_vec(),
            };
            entries.push((b"yourip", bencode::encode(&Value::Bytes(&ip_bytes))));
        }
        for (key, raw) in &self.extra {
            if !entries.iter().any(|(k, _)| *k == key.as_slice()) {
                entries.push((key, raw.clone()));
            }
        }
        entries.sort_by(|a, b| a.0.cmp(b.0));
        out.put_u8(b'd');
        for (key, value) in entries {
            out.put_slice(key.len().to_string().as_bytes());
            out.put_u8(b':');
            out.put_slice(key);
            out.put_slice(&value);
        }
        out.put_u8(b'e');
    }

    /// The bencoded payload.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }

    /// The extended message (id 0) carrying this handshake.
    pub fn to_message(&self) -> Message {
        Message::Extended {
            id: EXTENDED_HANDSHAKE_ID,
            payload: self.to_bytes(),
        }
    }
}

impl std::fmt::Debug for ExtendedHandshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Extra keys and raw values are bencode, mostly text: show them as such.
        let extra: BTreeMap<_, _> = self
            .extra
            .iter()
            .map(|(k, v)| (String::from_utf8_lossy(k), String::from_utf8_lossy(v)))
            .collect();
        f.debug_struct("ExtendedHandshake")
            .field("m", &self.m)
            .field("v", &self.v)
            .field("p", &self.p)
            .field("reqq", &self.reqq)
            .field("yourip", &self.yourip)
            .field("metadata_size", &self.metadata_size)
            .field("extra", &extra)
            .finish()
    }
}

/// An integer that fits `T`.
fn int_in<T: TryFrom<i64>>(value: &Value<'_>) -> Option<T> {
    value.as_int().and_then(|n| T::try_from(n).ok())
}

fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(b) {
        Some(IpAddr::V4(Ipv4Addr::from(v4)))
    } else if let Ok(v6) = <[u8; 16]>::try_from(b) {
        Some(IpAddr::V6(Ipv6Addr::from(v6)))
    } else {
        None
    }
}

/// A BEP 9 ut_metadata message: asking for, sending, or refusing a 16 KiB piece of the
/// info dictionary.
///
/// ```
/// use bytes::Bytes;
/// use shoal_wire::UtMetadata;
///
/// let data = UtMetadata::Data { piece: 0, total_size: 5, data: Bytes::from_static(b"d1:xe") };
/// let payload = data.to_bytes();
/// assert_eq!(&payload[..], b"d8:msg_typei1e5:piecei0e10:total_sizei5eed1:xe");
/// assert_eq!(UtMetadata::decode(&payload).unwrap(), data);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UtMetadata {
    /// `msg_type` 0: please send this piece.
    Request {
        /// The metadata piece index.
        piece: u32,
    },
    /// `msg_type` 1: a piece, its bytes following the dictionary.
    Data {
        /// The metadata piece index.
        piece: u32,
        /// Size of the whole info dictionary.
        total_size: u64,
        /// The piece's bytes (sharing the message's buffer when decoded from `Bytes`).
        data: Bytes,
    },
    /// `msg_type` 2: the sender will not send this piece.
    Reject {
        /// The metadata piece index.
        piece: u32,
    },
}

impl UtMetadata {
    /// Parses the payload of a ut_metadata extended message. A data block longer than
    /// [`METADATA_PIECE_LEN`] is an error; whether it fits `total_size` is the caller's
    /// check, as it knows which piece is the last.
    pub fn decode(payload: &Bytes) -> Result<Self> {
        let (dict, rest) = decode_dict(WHAT_METADATA, payload)?;
        let field = |key: &'static str| -> Result<i64> {
            dict.get(key.as_bytes())
                .ok_or_else(|| Error::extension(WHAT_METADATA, format!("no `{key}` key")))?
                .as_int()
                .ok_or_else(|| {
                    Error::extension(WHAT_METADATA, format!("`{key}` is not an integer"))
                })
        };
        let msg_type = field("msg_type")?;
        let piece = field("piece")?;
        let piece = u32::try_from(piece).map_err(|_| {
            Error::extension(WHAT_METADATA, format!("`piece` {piece} out of range"))
        })?;
        let trailing_start = payload.len() - rest.len();
        let no_trailing = |msg| {
            if rest.is_empty() {
                Ok(msg)
            } else {
                Err(Error::extension(
                    WHAT_METADATA,
                    format!(
                        "{} bytes after the dictionary of a message without data, at byte {}",
                        rest.len(),
                        trailing_start
                    ),
                ))
            }
        };
        match msg_type {
            0 => no_trailing(UtMetadata::Request { piece }),
            2 => no_trailing(UtMetadata::Reject { piece }),
            1 => {
                let total_size = field("total_size")?;
                let total_size = u64::try_from(total_size).map_err(|_| {
                    Error::extension(
                        WHAT_METADATA,
                        format!("`total_size` {total_size} is negative"),
                    )
                })?;
                if rest.len() > METADATA_PIECE_LEN as usize {
                    return Err(Error::extension(
                        WHAT_METADATA,
                        format!(
                            "data block of piece {piece} has {} bytes, more than {METADATA_PIECE_LEN}",
                            rest.len()
                        ),
                    ));
                }
                Ok(UtMetadata::Data {
                    piece,
                    total_size,
                    data: payload.slice(trailing_start..),
                })
            }
            other => Err(Error::extension(
                WHAT_METADATA,
                format!("unknown `msg_type` {other}"),
            )),
        }
    }

    /// The metadata piece index the message is about.
    pub fn piece(&self) -> u32 {
        match self {
            UtMetadata::Request { piece }
            | UtMetadata::Data { piece, .. }
            | UtMetadata::Reject { piece } => *piece,
        }
    }

    /// Writes the payload: the dictionary, then the data block for `Data`.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        let mut dict = Dict::new();
        let (msg_type, data) = match self {
            UtMetadata::Request { .. } => (0, None),
            UtMetadata::Data {
                total_size, data, ..
            } => (1, Some((*total_size, data))),
            UtMetadata::Reject { .. } => (2, None),
        };
        dict.insert(b"msg_type", Value::Int(msg_type));
        dict.insert(b"piece", Value::Int(i64::from(self.piece())));
        if let Some((total_size, _)) = data {
            dict.insert(
                b"total_size",
                Value::Int(i64::try_from(total_size).unwrap_or(i64::MAX)),
            );
        }
        bencode::encode_into(&Value::Dict(dict), out);
        if let Some((_, data)) = data {
            out.put_slice(data);
        }
    }

    /// The payload.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }

    /// The extended message carrying this payload, under the id the receiver assigned
    /// to ut_metadata in its extension handshake.
    pub fn to_message(&self, id: u8) -> Message {
        Message::Extended {
            id,
            payload: self.to_bytes(),
        }
    }
}

/// The BEP 11 flags of a peer in `added.f` / `added6.f`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PexFlags(pub u8);

impl PexFlags {
    /// 0x01: prefers encrypted connections.
    pub const ENCRYPTION: u8 = 0x01;
    /// 0x02: a seed, or upload only.
    pub const SEED: u8 = 0x02;
    /// 0x04: supports uTP.
    pub const UTP: u8 = 0x04;
    /// 0x08: supports the ut_holepunch extension.
    pub const HOLEPUNCH: u8 = 0x08;
    /// 0x10: reachable: the sender connected to it (outgoing connection).
    pub const REACHABLE: u8 = 0x10;

    /// Prefers encryption.
    pub fn prefers_encryption(self) -> bool {
        self.0 & Self::ENCRYPTION != 0
    }
    /// Is a seed or upload-only.
    pub fn is_seed(self) -> bool {
        self.0 & Self::SEED != 0
    }
    /// Supports uTP.
    pub fn supports_utp(self) -> bool {
        self.0 & Self::UTP != 0
    }
    /// Supports holepunching.
    pub fn supports_holepunch(self) -> bool {
        self.0 & Self::HOLEPUNCH != 0
    }
    /// Is reachable.
    pub fn is_reachable(self) -> bool {
        self.0 & Self::REACHABLE != 0
    }
}

/// A BEP 11 ut_pex message: peers added and dropped since the last one.
///
/// A missing key means an empty list; a flags string shorter than its address list gives
/// the remaining peers no flags.
///
/// ```
/// use shoal_wire::{Pex, PexFlags};
///
/// let mut pex = Pex::default();
/// pex.added.push(("127.0.0.1:6881".parse().unwrap(), PexFlags(PexFlags::SEED)));
/// pex.dropped6.push("[::1]:6882".parse().unwrap());
/// let payload = pex.to_bytes();
/// assert_eq!(Pex::decode(&payload).unwrap(), pex);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Pex {
    /// `added` with `added.f`: IPv4 peers and their flags.
    pub added: Vec<(SocketAddrV4, PexFlags)>,
    /// `added6` with `added6.f`: IPv6 peers and their flags.
    pub added6: Vec<(SocketAddrV6, PexFlags)>,
    /// `dropped`: IPv4 peers gone.
    pub dropped: Vec<SocketAddrV4>,
    /// `dropped6`: IPv6 peers gone.
    pub dropped6: Vec<SocketAddrV6>,
}

impl Pex {
    /// Parses the payload of a ut_pex extended message.
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let (dict, rest) = decode_dict(WHAT_PEX, payload)?;
        if !rest.is_empty() {
            return Err(Error::extension(
                WHAT_PEX,
                format!(
                    "{} bytes after the dictionary at byte {}",
                    rest.len(),
                    payload.len() - rest.len()
                ),
            ));
        }
        let bytes_of = |key: &'static str| -> Result<&[u8]> {
            match dict.get(key.as_bytes()) {
                None => Ok(&[]),
                Some(v) => v.as_bytes().ok_or_else(|| {
                    Error::extension(
                        WHAT_PEX,
                        format!("`{key}` is a {}, expected a byte string", v.kind()),
                    )
                }),
            }
        };
        let compact = |key: &'static str, size: usize| -> Result<std::slice::ChunksExact<'_, u8>> {
            let b = bytes_of(key)?;
            if !b.len().is_multiple_of(size) {
                return Err(Error::extension(
                    WHAT_PEX,
                    format!("`{key}` has {} bytes, not a multiple of {size}", b.len()),
                ));
            }
            Ok(b.chunks_exact(size))
        };
        let flags_of = |key: &'static str| -> Result<Vec<PexFlags>> {
            Ok(bytes_of(key)?.iter().map(|&f| PexFlags(f)).collect())
        };
        let flags = flags_of("added.f")?;
        let added = compact("added", 6)?
            .map(v4)
            .enumerate()
            .map(|(i, a)| (a, flags.get(i).copied().unwrap_or_default()))
            .collect();
        let flags6 = flags_of("added6.f")?;
        let added6 = compact("added6", 18)?
            .map(v6)
            .enumerate()
            .map(|(i, a)| (a, flags6.get(i).copied().unwrap_or_default()))
            .collect();
        Ok(Pex {
            added,
            added6,
            dropped: compact("dropped", 6)?.map(v4).collect(),
            dropped6: compact("dropped6", 18)?.map(v6).collect(),
        })
    }

    /// Writes the bencoded payload; every key is written, empty lists as empty strings.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        let mut added = Vec::with_capacity(self.added.len() * 6);
        let mut added_f = Vec::with_capacity(self.added.len());
        for (addr, flags) in &self.added {
            put_v4(&mut added, addr);
            added_f.push(flags.0);
        }
        let mut added6 = Vec::with_capacity(self.added6.len() * 18);
        let mut added6_f = Vec::with_capacity(self.added6.len());
        for (addr, flags) in &self.added6 {
            put_v6(&mut added6, addr);
            added6_f.push(flags.0);
        }
        let mut dropped = Vec::with_capacity(self.dropped.len() * 6);
        for addr in &self.dropped {
            put_v4(&mut dropped, addr);
        }
        let mut dropped6 = Vec::with_capacity(self.dropped6.len() * 18);
        for addr in &self.dropped6 {
            put_v6(&mut dropped6, addr);
        }
        let dict: Dict<'_> = [
            (&b"added"[..], &added),
            (b"added.f", &added_f),
            (b"added6", &added6),
            (b"added6.f", &added6_f),
            (b"dropped", &dropped),
            (b"dropped6", &dropped6),
        ]
        .into_iter()
        .map(|(k, v)| (k, Value::Bytes(v)))
        .collect();
        bencode::encode_into(&Value::Dict(dict), out);
    }

    /// The payload.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }

    /// The extended message carrying this payload, under the id the receiver assigned
    /// to ut_pex in its extension handshake.
    pub fn to_message(&self, id: u8) -> Message {
        Message::Extended {
            id,
            payload: self.to_bytes(),
        }
    }
}

fn v4(b: &[u8]) -> SocketAddrV4 {
    SocketAddrV4::new(
        Ipv4Addr::new(b[0], b[1], b[2], b[3]),
        u16::from_be_bytes([b[4], b[5]]),
    )
}

fn v6(b: &[u8]) -> SocketAddrV6 {
    let mut ip = [0u8; 16];
    ip.copy_from_slice(&b[..16]);
    SocketAddrV6::new(Ipv6Addr::from(ip), u16::from_be_bytes([b[16], b[17]]), 0, 0)
}

fn put_v4(out: &mut Vec<u8>, addr: &SocketAddrV4) {
    out.extend_from_slice(&addr.ip().octets());
    out.extend_from_slice(&addr.port().to_be_bytes());
}

fn put_v6(out: &mut Vec<u8>, addr: &SocketAddrV6) {
    out.extend_from_slice(&addr.ip().octets());
    out.extend_from_slice(&addr.port().to_be_bytes());
}
