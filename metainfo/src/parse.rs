//! Reading a .torrent or an info dictionary into a [`Metainfo`].

use std::collections::{BTreeMap, HashSet};

use bencode::{Decoder, Dict, Value};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::id::{InfoHash, to_hex};
use crate::merkle;
use crate::metainfo::{FileEntry, Metainfo, TorrentVersion};
use crate::path::{make_unique, sanitize_component, sanitize_path};

/// Nesting limit for untrusted .torrent input (libtorrent uses 100 as well).
const MAX_DEPTH: usize = 100;

/// The largest number of pieces accepted (libtorrent's limit: 2^21).
pub const MAX_PIECES: u64 = 1 << 21;

/// The largest file accepted: just under 16 TiB (libtorrent's limit).
pub const MAX_FILE_LENGTH: u64 = (1 << 44) - 16385;

/// The largest piece length accepted: 512 MiB.
pub const MAX_PIECE_LENGTH: u64 = 512 * 1024 * 1024;

/// How many files a torrent may list.
pub const MAX_FILES: usize = 1_000_000;

const TOP_KEYS: &[&[u8]] = &[
    b"announce",
    b"announce-list",
    b"comment",
    b"comment.utf-8",
    b"created by",
    b"created by.utf-8",
    b"creation date",
    b"info",
    b"piece layers",
    b"url-list",
];

const INFO_KEYS: &[&[u8]] = &[
    b"file tree",
    b"files",
    b"length",
    b"meta version",
    b"name",
    b"name.utf-8",
    b"piece length",
    b"pieces",
    b"private",
];

fn decoder() -> Decoder {
    Decoder::new().lenient(true).max_depth(MAX_DEPTH)
}

/// Parses a whole .torrent file.
pub(crate) fn parse_torrent(bytes: &[u8]) -> Result<Metainfo> {
    // libtorrent tolerates bytes after the top-level dictionary; so do we.
    let (value, _rest) = decoder().decode_prefix(bytes)?;
    let top = value.as_dict().ok_or(Error::NotADictionary {
        what: "torrent file",
        found: value.kind(),
    })?;
    let info = top.get(b"info").ok_or_else(|| Error::missing("info"))?;
    let info_dict = info.as_dict().ok_or(Error::NotADictionary {
        what: "info",
        found: info.kind(),
    })?;
    let raw = info_dict.raw_span().unwrap_or_default();
    let mut meta = parse_info_dict(raw, info_dict)?;
    read_top_level(top, &mut meta)?;
    Ok(meta)
}

/// Parses a bare info dictionary (from ut_metadata); the bytes must be exactly one dict.
pub(crate) fn parse_info_bytes(info: &[u8]) -> Result<Metainfo> {
    let value = decoder().decode(info)?;
    let dict = value.as_dict().ok_or(Error::NotADictionary {
        what: "info",
        found: value.kind(),
    })?;
    parse_info_dict(info, dict)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A byte string under `key`, preferring `key.utf-8` when it is a byte string.
fn utf8_or_plain<'a>(dict: &Dict<'a>, key: &str) -> Option<&'a [u8]> {
    let utf8 = format!("{key}.utf-8");
    dict.get(utf8.as_bytes())
        .and_then(Value::as_bytes)
        .or_else(|| dict.get(key.as_bytes()).and_then(Value::as_bytes))
}

fn int_at(dict: &Dict<'_>, key: &[u8], name: &str) -> Result<Option<i64>> {
    match dict.get(key) {
        None => Ok(None),
        Some(Value::Int(n)) => Ok(Some(*n)),
        Some(other) => Err(Error::wrong_type(name, "integer", other)),
    }
}

/// The name of a key, made only when an error needs it (parsing stays allocation-light).
type Key<'k> = &'k dyn Fn() -> String;

/// A non-negative length from the value of a `length` key (`None`: missing); `name`
/// names it in errors.
fn length_of(value: Option<&Value<'_>>, name: Key<'_>) -> Result<u64> {
    match value {
        None => Err(Error::missing(name())),
        Some(Value::Int(n)) if *n < 0 => {
            Err(Error::invalid(name(), format!("negative length {n}")))
        }
        Some(Value::Int(n)) => {
            let n = *n as u64;
            if n > MAX_FILE_LENGTH {
                Err(Error::invalid(
                    name(),
                    format!("{n} bytes is more than the {MAX_FILE_LENGTH} allowed"),
                ))
            } else {
                Ok(n)
            }
        }
        Some(other) => Err(Error::wrong_type(name(), "integer", other)),
    }
}

/// The length of a file entry; a symlink (attribute `l`) may leave it out.
fn symlink_length(dict: &Dict<'_>, attr: &[u8], name: Key<'_>) -> Result<u64> {
    symlink_length_of(dict.get(b"length"), attr, name)
}

/// [`symlink_length`] from the value of the `length` key.
fn symlink_length_of(length: Option<&Value<'_>>, attr: &[u8], name: Key<'_>) -> Result<u64> {
    if attr.contains(&b'l') && length.is_none() {
        return Ok(0);
    }
    length_of(length, name)
}

/// A file's raw path components: up to four inline (most torrents), more on the heap.
#[derive(Debug, Clone)]
enum RawPath<'a> {
    Inline([&'a [u8]; 4], u8),
    Heap(Vec<&'a [u8]>),
}

impl Default for RawPath<'_> {
    fn default() -> Self {
        RawPath::Inline([&[]; 4], 0)
    }
}

impl<'a> RawPath<'a> {
    fn as_slice(&self) -> &[&'a [u8]] {
        match self {
            RawPath::Inline(parts, n) => &parts[..usize::from(*n)],
            RawPath::Heap(v) => v,
        }
    }
}

impl<'a> FromIterator<&'a [u8]> for RawPath<'a> {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(iter: I) -> Self {
        let mut path = RawPath::default();
        for part in iter {
            match &mut path {
                RawPath::Inline(parts, n) if usize::from(*n) < parts.len() => {
                    parts[usize::from(*n)] = part;
                    *n += 1;
                }
                RawPath::Inline(parts, _) => {
                    let mut v = parts.to_vec();
                    v.push(part);
                    path = RawPath::Heap(v);
                }
                RawPath::Heap(v) => v.push(part),
            }
        }
        path
    }
}

/// One file as listed by the v1 or v2 part, before paths are made unique.
#[derive(Debug)]
struct RawFile<'a> {
    /// Raw components inside the torrent (without the name), for hybrid comparison.
    raw_path: RawPath<'a>,
    length: u64,
    pad: bool,
    executable: bool,
    hidden: bool,
    symlink: Option<Vec<String>>,
    pieces_root: Option<[u8; 32]>,
    mtime: Option<i64>,
    /// Pad file without a `path`.
    no_path: bool,
}

fn string_list<'a, C: FromIterator<&'a [u8]>>(value: &Value<'a>, key: Key<'_>) -> Result<C> {
    let list = value
        .as_list()
        .ok_or_else(|| Error::wrong_type(key(), "list", value))?;
    list.iter()
        .enumerate()
        .map(|(i, v)| v.as_bytes().ok_or_else(|| path_element_error(key, i, v)))
        .collect()
}

fn path_element_error(key: Key<'_>, i: usize, v: &Value<'_>) -> Error {
    Error::invalid(
        format!("{}[{i}]", key()),
        format!(
            "path element is {} (possible exploit attempt)",
            crate::error::with_article(v.kind())
        ),
    )
}

/// A v1 `path` list; paths of up to four components (most) are read without a `Vec`.
fn raw_path<'a>(value: &Value<'a>, key: Key<'_>) -> Result<RawPath<'a>> {
    if let Some(list) = value.as_list()
        && list.len() <= 4
    {
        let mut parts: [&[u8]; 4] = [&[]; 4];
        for (i, (part, v)) in parts.iter_mut().zip(list.iter()).enumerate() {
            *part = v.as_bytes().ok_or_else(|| path_element_error(key, i, v))?;
        }
        return Ok(RawPath::Inline(parts, list.len() as u8));
    }
    string_list(value, key)
}

fn attributes<'a>(dict: &Dict<'a>) -> &'a [u8] {
    dict.get(b"attr")
        .and_then(Value::as_bytes)
        .unwrap_or_default()
}

fn symlink_target(dict: &Dict<'_>, attr: &[u8], key: Key<'_>) -> Result<Option<Vec<String>>> {
    if !attr.contains(&b'l') {
        return Ok(None);
    }
    symlink_target_of(dict.get(b"symlink path"), attr, key)
}

/// [`symlink_target`] from the value of the `symlink path` key.
fn symlink_target_of(
    target: Option<&Value<'_>>,
    attr: &[u8],
    key: Key<'_>,
) -> Result<Option<Vec<String>>> {
    if !attr.contains(&b'l') {
        return Ok(None);
    }
    match target {
        None => Ok(None),
        Some(v) => {
            let parts: Vec<&[u8]> = string_list(v, &|| format!("{}.symlink path", key()))?;
            Ok(Some(sanitize_path(parts)))
        }
    }
}

fn v1_files<'a>(info: &Dict<'a>) -> Result<Option<Vec<RawFile<'a>>>> {
    if let Some(files) = info.get(b"files") {
        let list = files
            .as_list()
            .ok_or_else(|| Error::wrong_type("info.files", "list", files))?;
        if list.is_empty() {
            return Err(Error::invalid("info.files", "no files in torrent"));
        }
        if list.len() > MAX_FILES {
            return Err(Error::invalid("info.files", "too many files"));
        }
        let mut out = Vec::with_capacity(list.len());
        for (i, entry) in list.iter().enumerate() {
            let key = || format!("info.files[{i}]");
            let dict = entry
                .as_dict()
                .ok_or_else(|| Error::wrong_type(key(), "dictionary", entry))?;
            // One walk over the entry's keys instead of a lookup per key; the first of
            // duplicate keys wins, as with `Dict::get`.
            let mut fields: [Option<&Value<'a>>; 6] = [None; 6];
            for (k, v) in dict.iter() {
                let slot = match k {
                    b"attr" => 0,
                    b"length" => 1,
                    b"path" => 2,
                    b"path.utf-8" => 3,
                    b"symlink path" => 4,
                    b"mtime" => 5,
                    _ => continue,
                };
                fields[slot].get_or_insert(v);
            }
            let [attr_v, length_v, path_v, path_utf8_v, symlink_v, mtime_v] = fields;
            let attr = attr_v.and_then(Value::as_bytes).unwrap_or_default();
            // BitComet-era pad files carry no attribute, only this name (libtorrent agrees).
            let legacy_pad = path_v
                .and_then(Value::as_list)
                .and_then(|l| l.items().last())
                .and_then(Value::as_bytes)
                .is_some_and(|n| n.starts_with(b"_____padding_file_"));
            let pad = attr.contains(&b'p') || legacy_pad;
            let mut length = symlink_length_of(length_v, attr, &|| format!("{}.length", key()))?;
            let (raw_path, no_path) = match path_utf8_v.or(path_v) {
                Some(v) => (raw_path(v, &|| format!("{}.path", key()))?, false),
                None if pad => (RawPath::default(), true),
                None => return Err(Error::missing(format!("{}.path", key()))),
            };
            let symlink = symlink_target_of(symlink_v, attr, &key)?;
            if symlink.is_some() {
                length = 0;
            }
            out.push(RawFile {
                raw_path,
                length,
                pad,
                executable: attr.contains(&b'x'),
                hidden: attr.contains(&b'h'),
                symlink,
                pieces_root: None,
                mtime: mtime_v.and_then(Value::as_int),
                no_path,
            });
        }
        Ok(Some(out))
    } else if info.get(b"length").is_some() {
        let attr = attributes(info);
        let mut length = symlink_length(info, attr, &|| "info.length".into())?;
        let symlink = symlink_target(info, attr, &|| "info".into())?;
        if symlink.is_some() {
            length = 0;
        }
        Ok(Some(vec![RawFile {
            raw_path: RawPath::default(),
            length,
            pad: false,
            executable: attr.contains(&b'x'),
            hidden: attr.contains(&b'h'),
            symlink,
            pieces_root: None,
            mtime: info.get(b"mtime").and_then(Value::as_int),
            no_path: false,
        }]))
    } else {
        Ok(None)
    }
}

/// Walks a v2 `file tree`, depth first in key order.
fn v2_files<'a>(tree: &Dict<'a>) -> Result<Vec<RawFile<'a>>> {
    let mut out = Vec::new();
    let mut stack: Vec<&[u8]> = Vec::new();
    walk_tree(tree, &mut stack, &mut out)?;
    Ok(out)
}

fn tree_key(stack: &[&[u8]]) -> String {
    let parts: Vec<String> = stack.iter().map(|p| text(p)).collect();
    format!("info.file tree/{}", parts.join("/"))
}

fn walk_tree<'a>(
    dir: &Dict<'a>,
    stack: &mut Vec<&'a [u8]>,
    out: &mut Vec<RawFile<'a>>,
) -> Result<()> {
    if !dir.is_sorted() {
        return Err(Error::invalid(
            tree_key(stack),
            "file tree keys are not in sorted order",
        ));
    }
    for (name, node) in dir.iter() {
        stack.push(name);
        if name.is_empty() {
            return Err(Error::invalid(tree_key(stack), "empty file name"));
        }
        let node = node
            .as_dict()
            .ok_or_else(|| Error::wrong_type(tree_key(stack), "dictionary", node))?;
        if let Some(props) = node.get(b"") {
            if node.len() != 1 {
                return Err(Error::invalid(
                    tree_key(stack),
                    "a file entry may not also be a directory",
                ));
            }
            let props = props
                .as_dict()
                .ok_or_else(|| Error::wrong_type(tree_key(stack), "dictionary", props))?;
            out.push(v2_file(props, stack)?);
            if out.len() > MAX_FILES {
                return Err(Error::invalid("info.file tree", "too many files"));
            }
        } else if node.is_empty() {
            return Err(Error::invalid(tree_key(stack), "empty directory"));
        } else {
            walk_tree(node, stack, out)?;
        }
        stack.pop();
    }
    Ok(())
}

fn v2_file<'a>(props: &Dict<'a>, stack: &[&'a [u8]]) -> Result<RawFile<'a>> {
    let key = || tree_key(stack);
    let attr = attributes(props);
    if attr.contains(&b'p') {
        return Err(Error::invalid(
            key(),
            "a file in the v2 file tree has the pad attribute",
        ));
    }
    let mut length = symlink_length(props, attr, &|| format!("{}.length", key()))?;
    let symlink = symlink_target(props, attr, &key)?;
    if symlink.is_some() {
        length = 0;
    }
    let pieces_root = match props.get(b"pieces root") {
        Some(Value::Bytes(b)) if b.len() == 32 => {
            let mut root = [0u8; 32];
            root.copy_from_slice(b);
            Some(root)
        }
        Some(Value::Bytes(b)) => {
            return Err(Error::invalid(
                format!("{}.pieces root", key()),
                format!("{} bytes, expected 32", b.len()),
            ));
        }
        Some(other) => {
            return Err(Error::wrong_type(
                format!("{}.pieces root", key()),
                "byte string",
                other,
            ));
        }
        None => None,
    };
    let pieces_root = if length > 0 {
        match pieces_root {
            Some(root) if root != [0; 32] => Some(root),
            Some(_) => {
                return Err(Error::invalid(
                    format!("{}.pieces root", key()),
                    "all zeros (a file with data needs a root hash)",
                ));
            }
            None => return Err(Error::missing(format!("{}.pieces root", key()))),
        }
    } else {
        None
    };
    Ok(RawFile {
        raw_path: stack.iter().copied().collect(),
        length,
        pad: false,
        executable: attr.contains(&b'x'),
        hidden: attr.contains(&b'h'),
        symlink,
        pieces_root,
        mtime: props.get(b"mtime").and_then(Value::as_int),
        no_path: false,
    })
}

fn piece_count(space: u64, piece_length: u64) -> Result<u32> {
    let n = space.div_ceil(piece_length);
    if n > MAX_PIECES {
        return Err(Error::invalid(
            "info.piece length",
            format!("{n} pieces is more than the {MAX_PIECES} allowed (too many pieces)"),
        ));
    }
    Ok(n as u32)
}

/// Parses an info dictionary; `raw` is its exact bytes (hashed for the info-hash).
pub(crate) fn parse_info_dict(raw: &[u8], info: &Dict<'_>) -> Result<Metainfo> {
    let v2 = match int_at(info, b"meta version", "info.meta version")? {
        None => false,
        Some(2) => true,
        Some(n) => {
            return Err(Error::invalid(
                "info.meta version",
                format!("unsupported version {n}"),
            ));
        }
    };
    let has_pieces = info.get(b"pieces").is_some();
    let version = match (v2, has_pieces) {
        (false, _) => TorrentVersion::V1,
        (true, false) => TorrentVersion::V2,
        (true, true) => TorrentVersion::Hybrid,
    };

    let piece_length = match int_at(info, b"piece length", "info.piece length")? {
        None => return Err(Error::missing("info.piece length")),
        Some(n) if n <= 0 => {
            return Err(Error::invalid(
                "info.piece length",
                format!("{n} is not positive"),
            ));
        }
        Some(n) => n as u64,
    };
    if piece_length > MAX_PIECE_LENGTH {
        return Err(Error::invalid(
            "info.piece length",
            format!("{piece_length} is more than {MAX_PIECE_LENGTH}"),
        ));
    }
    if v2 && (!piece_length.is_power_of_two() || piece_length < merkle::BLOCK_SIZE) {
        return Err(Error::invalid(
            "info.piece length",
            format!("{piece_length} is not a power of two of at least 16 KiB (required for v2)"),
        ));
    }

    let raw_name = match utf8_or_plain(info, "name") {
        Some(n) => n,
        None => return Err(Error::missing("info.name")),
    };

    let v1_list = if version == TorrentVersion::V2 {
        None
    } else {
        match v1_files(info)? {
            Some(list) => Some(list),
            None => return Err(Error::missing("info.length or info.files")),
        }
    };
    let (v2_list, v2_single) = if v2 {
        let tree = info
            .get(b"file tree")
            .ok_or_else(|| Error::missing("info.file tree"))?;
        let tree = tree
            .as_dict()
            .ok_or_else(|| Error::wrong_type("info.file tree", "dictionary", tree))?;
        let list = v2_files(tree)?;
        if list.is_empty() {
            return Err(Error::invalid("info.file tree", "no files in torrent"));
        }
        let single = tree.len() == 1 && list.len() == 1 && list[0].raw_path.as_slice().len() == 1;
        (Some(list), single)
    } else {
        (None, false)
    };

    let multi_file = match &v1_list {
        Some(_) => info.get(b"files").is_some(),
        None => !v2_single,
    };

    // Lay the files out in piece space.
    let mut raw_files: Vec<RawFile<'_>> = match (v1_list, v2_list) {
        (Some(v1), Some(v2)) => merge_hybrid(v1, v2, raw_name, multi_file, piece_length)?,
        (Some(v1), None) => v1,
        (None, Some(v2)) => pad_v2(v2, piece_length),
        (None, None) => unreachable!("v1 or v2 files were read"),
    };

    // The name comes first: every path starts with it. A name that sanitises to nothing
    // is replaced by the info-hash; otherwise hashing waits until the files are read,
    // while the decoded tree is still in cache.
    let (name, hashed) =
        match sanitize_component(raw_name).filter(|n| n != "_" || !raw_name.is_empty()) {
            Some(name) => (name, None),
            None => {
                let hashed = hash_and_copy(raw, version);
                (to_hex(&hashed.0.wire()), Some(hashed))
            }
        };

    // One pass: offsets, totals and final (safe, not yet unique) paths, straight into
    // the entries that are returned.
    let mut offset: u64 = 0;
    let mut total: u64 = 0;
    let mut files: Vec<FileEntry> = Vec::with_capacity(raw_files.len());
    for f in raw_files.iter_mut() {
        let file_offset = offset;
        offset = offset
            .checked_add(f.length)
            .filter(|o| *o <= i64::MAX as u64)
            .ok_or_else(|| Error::invalid("info.files", "total length overflows"))?;
        if !f.pad {
            total += f.length;
        }
        let path = if multi_file {
            let raw = f.raw_path.as_slice();
            let mut p = Vec::with_capacity(raw.len() + 1);
            p.push(name.clone());
            if f.no_path {
                p.push(".pad".to_owned());
                p.push(f.length.to_string());
            } else {
                p.extend(raw.iter().filter_map(|c| sanitize_component(c)));
                if p.len() == 1 {
                    p.push("_".to_owned());
                }
            }
            p
        } else {
            vec![name.clone()]
        };
        files.push(FileEntry {
            path,
            length: f.length,
            offset: file_offset,
            pad: f.pad,
            executable: f.executable,
            hidden: f.hidden,
            symlink: f.symlink.take(),
            pieces_root: f.pieces_root,
            mtime: f.mtime,
        });
    }
    drop(raw_files);
    let space = offset;
    if space == 0 {
        return Err(Error::invalid(
            "info",
            "total length is 0 (invalid length of torrent)",
        ));
    }
    let num_pieces = piece_count(space, piece_length)?;

    let pieces_v1 = if version == TorrentVersion::V2 {
        0..0
    } else {
        let pieces = info
            .get(b"pieces")
            .ok_or_else(|| Error::missing("info.pieces"))?;
        let pieces = pieces
            .as_bytes()
            .ok_or_else(|| Error::wrong_type("info.pieces", "byte string", pieces))?;
        if pieces.len() % 20 != 0 {
            return Err(Error::invalid(
                "info.pieces",
                format!("{} bytes is not a multiple of 20", pieces.len()),
            ));
        }
        if pieces.len() / 20 != num_pieces as usize {
            return Err(Error::invalid(
                "info.pieces",
                format!(
                    "{} piece hashes, expected {num_pieces} for {space} bytes in pieces of {piece_length}",
                    pieces.len() / 20
                ),
            ));
        }
        // `pieces` borrows from `raw`: keep its place, not a copy.
        let start = (pieces.as_ptr() as usize)
            .checked_sub(raw.as_ptr() as usize)
            .filter(|s| s + pieces.len() <= raw.len())
            .ok_or_else(|| Error::invalid("info.pieces", "not inside the info dictionary"))?;
        start..start + pieces.len()
    };

    let (info_hash, info_bytes) = hashed.unwrap_or_else(|| hash_and_copy(raw, version));

    make_unique(&mut files, |f| &f.path, |f, p| f.path = p)
        .map_err(|reason| Error::invalid("info.files", reason))?;

    let private = matches!(info.get(b"private"), Some(Value::Int(1)));
    let info_extra = info
        .iter()
        .filter(|(k, _)| !INFO_KEYS.contains(k))
        .map(|(k, v)| (k.to_vec(), v.raw().into_owned()))
        .collect();

    Ok(Metainfo {
        info_hash,
        info_bytes,
        name,
        piece_length,
        files,
        multi_file,
        piece_space: space,
        total_length: total,
        num_pieces,
        pieces_v1,
        piece_layers: BTreeMap::new(),
        trackers: Vec::new(),
        web_seeds: Vec::new(),
        private,
        comment: None,
        created_by: None,
        creation_date: None,
        extra: BTreeMap::new(),
        info_extra,
    })
}

/// The info-hash(es) of `raw` and an owned copy of it.
fn hash_and_copy(raw: &[u8], version: TorrentVersion) -> (InfoHash, Vec<u8>) {
    let hash = match version {
        TorrentVersion::V1 => InfoHash::V1(Sha1::digest(raw).into()),
        TorrentVersion::V2 => InfoHash::V2(Sha256::digest(raw).into()),
        TorrentVersion::Hybrid => InfoHash::Hybrid {
            v1: Sha1::digest(raw).into(),
            v2: Sha256::digest(raw).into(),
        },
    };
    (hash, raw.to_vec())
}

/// Inserts the alignment padding a v2-only torrent implies between files.
fn pad_v2(files: Vec<RawFile<'_>>, piece_length: u64) -> Vec<RawFile<'_>> {
    let mut out = Vec::with_capacity(files.len());
    let mut offset: u64 = 0;
    for f in files {
        if f.length > 0 && !offset.is_multiple_of(piece_length) {
            let pad = piece_length - offset % piece_length;
            out.push(RawFile {
                raw_path: RawPath::default(),
                length: pad,
                pad: true,
                executable: false,
                hidden: false,
                symlink: None,
                pieces_root: None,
                mtime: None,
                no_path: true,
            });
            offset += pad;
        }
        offset = offset.saturating_add(f.length);
        out.push(f);
    }
    out
}

/// Checks that the v1 file list of a hybrid torrent matches its v2 file tree, and
/// gives the v1 list (with its pad files) the v2 roots.
fn merge_hybrid<'a>(
    mut v1: Vec<RawFile<'a>>,
    v2: Vec<RawFile<'a>>,
    raw_name: &[u8],
    multi_file: bool,
    piece_length: u64,
) -> Result<Vec<RawFile<'a>>> {
    let mut v2_iter = v2.into_iter();
    let mut offset: u64 = 0;
    for (i, f) in v1.iter_mut().enumerate() {
        if f.pad {
            offset = offset.saturating_add(f.length);
            continue;
        }
        let Some(other) = v2_iter.next() else {
            return Err(Error::Inconsistent {
                reason: format!("v1 file {i} has no v2 counterpart"),
            });
        };
        let v1_path: &[&[u8]] = if multi_file {
            f.raw_path.as_slice()
        } else {
            std::slice::from_ref(&raw_name)
        };
        if v1_path != other.raw_path.as_slice() {
            return Err(Error::Inconsistent {
                reason: format!(
                    "v1 file {i} is {:?}, v2 has {:?}",
                    v1_path.iter().map(|p| text(p)).collect::<Vec<_>>(),
                    other
                        .raw_path
                        .as_slice()
                        .iter()
                        .map(|p| text(p))
                        .collect::<Vec<_>>()
                ),
            });
        }
        if f.length != other.length {
            return Err(Error::Inconsistent {
                reason: format!(
                    "v1 file {i} has {} bytes, v2 has {}",
                    f.length, other.length
                ),
            });
        }
        if f.length > 0 && !offset.is_multiple_of(piece_length) {
            return Err(Error::Inconsistent {
                reason: format!("v1 file {i} does not start on a piece boundary"),
            });
        }
        f.pieces_root = other.pieces_root;
        offset = offset.saturating_add(f.length);
    }
    if v2_iter.next().is_some() {
        return Err(Error::Inconsistent {
            reason: "the v2 file tree has more files than the v1 file list".into(),
        });
    }
    Ok(v1)
}

fn trimmed_url(bytes: &[u8]) -> Option<String> {
    let s = text(bytes);
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

fn read_top_level(top: &Dict<'_>, meta: &mut Metainfo) -> Result<()> {
    // Trackers (BEP 12): announce-list wins when usable, else announce.
    let mut seen = HashSet::new();
    let mut tiers: Vec<Vec<String>> = Vec::new();
    if let Some(list) = top.get(b"announce-list").and_then(Value::as_list) {
        for tier in list.iter() {
            let Some(tier) = tier.as_list() else { continue };
            let urls: Vec<String> = tier
                .iter()
                .filter_map(Value::as_bytes)
                .filter_map(trimmed_url)
                .filter(|u| seen.insert(u.clone()))
                .collect();
            if !urls.is_empty() {
                tiers.push(urls);
            }
        }
    }
    if tiers.is_empty()
        && let Some(url) = top
            .get(b"announce")
            .and_then(Value::as_bytes)
            .and_then(trimmed_url)
    {
        tiers.push(vec![url]);
    }
    meta.trackers = tiers;

    // Web seeds (BEP 19): a string or a list of strings; anything else is ignored.
    let mut seeds = Vec::new();
    match top.get(b"url-list") {
        Some(Value::Bytes(b)) => seeds.extend(trimmed_url(b)),
        Some(Value::List(l)) => {
            for url in l.iter().filter_map(Value::as_bytes).filter_map(trimmed_url) {
                if !seeds.contains(&url) {
                    seeds.push(url);
                }
            }
        }
        _ => {}
    }
    meta.web_seeds = seeds;

    meta.comment = utf8_or_plain(top, "comment").map(text);
    meta.created_by = utf8_or_plain(top, "created by").map(text);
    meta.creation_date = top.get(b"creation date").and_then(Value::as_int);
    meta.extra = top
        .iter()
        .filter(|(k, _)| !TOP_KEYS.contains(k))
        .map(|(k, v)| (k.to_vec(), v.raw().into_owned()))
        .collect();

    if meta.version() != TorrentVersion::V1
        && let Some(layers) = top.get(b"piece layers")
    {
        let layers = layers
            .as_dict()
            .ok_or_else(|| Error::wrong_type("piece layers", "dictionary", layers))?;
        read_piece_layers(layers, meta)?;
    }
    Ok(())
}

fn read_piece_layers(layers: &Dict<'_>, meta: &mut Metainfo) -> Result<()> {
    for (root, value) in layers.iter() {
        let root_hex = to_hex(root);
        let bytes = value.as_bytes().ok_or_else(|| Error::PieceLayer {
            file: root_hex.clone(),
            reason: format!(
                "layer is {}, expected a byte string",
                crate::error::with_article(value.kind())
            ),
        })?;
        if root.len() != 32 {
            return Err(Error::PieceLayer {
                file: root_hex,
                reason: format!(
                    "key is {} bytes, expected a 32-byte pieces root",
                    root.len()
                ),
            });
        }
        if bytes.len() % 32 != 0 {
            return Err(Error::PieceLayer {
                file: root_hex,
                reason: format!("{} bytes is not a multiple of 32", bytes.len()),
            });
        }
        let layer: Vec<[u8; 32]> = bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect();
        let owners: Vec<usize> = meta
            .files
            .iter()
            .enumerate()
            .filter(|(_, f)| f.pieces_root.as_ref().map(|r| &r[..]) == Some(root))
            .map(|(i, _)| i)
            .collect();
        let Some(&first) = owners.first() else {
            return Err(Error::PieceLayer {
                file: root_hex,
                reason: "no file has this pieces root".into(),
            });
        };
        if meta.files[first].length <= meta.piece_length {
            return Err(Error::PieceLayer {
                file: meta.files[first].display_path(),
                reason: "a file of one piece has no piece layer".into(),
            });
        }
        for i in owners {
            meta.set_piece_layer(i, layer.clone())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn torrent(name: &[u8], files: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut info = b"d5:filesl".to_vec();
        for (dir, file) in files {
            let entry = format!(
                "d6:lengthi1e4:pathl{}:{}{}:{}ee",
                dir.len(),
                String::from_utf8_lossy(dir),
                file.len(),
                String::from_utf8_lossy(file)
            );
            info.extend_from_slice(entry.as_bytes());
        }
        info.extend_from_slice(format!("e4:name{}:", name.len()).as_bytes());
        info.extend_from_slice(name);
        info.extend_from_slice(b"12:piece lengthi16384e6:pieces20:");
        info.extend_from_slice(&[7; 20]);
        info.push(b'e');
        let mut out = b"d4:info".to_vec();
        out.extend_from_slice(&info);
        out.push(b'e');
        out
    }

    fn paths(meta: &Metainfo) -> Vec<String> {
        meta.files().iter().map(FileEntry::display_path).collect()
    }

    #[test]
    fn every_path_starts_with_the_sanitised_name_and_is_unique() {
        let meta = parse_torrent(&torrent(
            b"C:top",
            &[(b"d", b"a"), (b"d", b"a"), (b"..", b"b")],
        ))
        .unwrap();
        assert_eq!(meta.name(), "C_top");
        assert_eq!(paths(&meta), ["C_top/d/a", "C_top/d/a.1", "C_top/b"]);
        assert_eq!(meta.files()[2].offset, 2);
    }

    #[test]
    fn a_name_that_sanitises_to_nothing_becomes_the_info_hash() {
        let meta = parse_torrent(&torrent(b"..", &[(b"d", b"a"), (b"e", b"b")])).unwrap();
        let hex = to_hex(&meta.info_hash().wire());
        assert_eq!(meta.name(), hex);
        assert_eq!(paths(&meta), [format!("{hex}/d/a"), format!("{hex}/e/b")]);
    }
}
