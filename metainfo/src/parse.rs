//! Reading a .torrent or an info dictionary into a [`Metainfo`].

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use bencode::{Decoder, Dict, List, Value};

use crate::error::{Error, Result};
use crate::hashing::InfoHasher;
use crate::id::to_hex;
use crate::merkle;
use crate::metainfo::{FileEntry, Metainfo, TorrentVersion};
use crate::path::{
    FilePath, before_and_apart, push_component, push_list, sanitize_component, sanitize_path,
    unique_renames,
};
use crate::recycle::Pool;
use crate::scan::{self, MAX_DEPTH, Malformed, Scan, Span, kind_at};

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

/// The decoder's precise error for input the scan found malformed.
fn decode_error(bytes: &[u8], whole: bool) -> Error {
    let result = if whole {
        decoder().decode(bytes).map(drop)
    } else {
        decoder().decode_prefix(bytes).map(drop)
    };
    match result {
        Err(e) => Error::Bencode(e),
        // The scan and the decoder agree on every input (tested); should they not, the
        // input is still refused.
        Ok(()) => Error::invalid("torrent", "malformed bencoding"),
    }
}

/// The info dictionary as found by the scan: its exact bytes, its entries (values not
/// decoded yet) but `files`, and the v1 `files` list read on the way.
struct InfoScan<'a> {
    raw: &'a [u8],
    /// `Err(kind)` when `info` is not a dictionary.
    entries: std::result::Result<Vec<(&'a [u8], Span<'a>)>, &'static str>,
    files: Option<Result<Vec<RawFile>>>,
}

impl<'a> InfoScan<'a> {
    /// Checks the info value at `pos` (inside `open` containers) and reads it.
    fn read(input: &'a [u8], pos: usize, open: usize) -> Scan<(usize, InfoScan<'a>)> {
        if input.get(pos) != Some(&b'd') {
            let end = scan::skip(input, pos, open)?;
            let info = InfoScan {
                raw: &input[pos..end],
                entries: Err(kind_at(input, pos)),
                files: None,
            };
            return Ok((end, info));
        }
        let mut entries = Vec::with_capacity(8);
        let mut files = None;
        let end = scan::dict(input, pos, open, |key, p| {
            if key == b"files" {
                let (end, list) = scan_files(input, pos, p, open + 1)?;
                files = Some(list);
                return Ok(end);
            }
            let end = scan::skip(input, p, open + 1)?;
            entries.push((key, Span(&input[p..end])));
            Ok(end)
        })?;
        let info = InfoScan {
            raw: &input[pos..end],
            entries: Ok(entries),
            files,
        };
        Ok((end, info))
    }

    fn parse(self, hasher: &InfoHasher) -> Result<Metainfo> {
        let entries = self.entries.map_err(|found| Error::NotADictionary {
            what: "info",
            found,
        })?;
        let dict = decoded(&entries)?;
        parse_info_dict(self.raw, &dict, self.files, hasher)
    }
}

/// A dictionary of the decoded values of checked entries.
fn decoded<'a>(entries: &[(&'a [u8], Span<'a>)]) -> Result<Dict<'a>> {
    let mut dict = Dict::new();
    for (key, value) in entries {
        dict.insert(key, value.value()?);
    }
    Ok(dict)
}

/// Parses a whole .torrent file. A large info dict is hashed on a second thread while
/// this one reads it (see [`InfoHasher`]).
pub(crate) fn parse_torrent(bytes: &[u8]) -> Result<Metainfo> {
    let hasher = InfoHasher::new();
    let result = parse_torrent_with(bytes, &hasher);
    hasher.stop();
    result
}

fn parse_torrent_with(bytes: &[u8], hasher: &InfoHasher) -> Result<Metainfo> {
    // libtorrent tolerates bytes after the top-level dictionary; so do we.
    if bytes.first() != Some(&b'd') {
        scan::skip(bytes, 0, 0).map_err(|Malformed| decode_error(bytes, false))?;
        return Err(Error::NotADictionary {
            what: "torrent file",
            found: kind_at(bytes, 0),
        });
    }
    let mut top = Vec::with_capacity(8);
    let mut info = None;
    scan::dict(bytes, 0, 0, |key, pos| {
        if key == b"info" && info.is_none() {
            hasher.start(bytes, pos);
            let (end, scanned) = InfoScan::read(bytes, pos, 1)?;
            hasher.found(scanned.raw);
            info = Some(scanned);
            return Ok(end);
        }
        let end = scan::skip(bytes, pos, 1)?;
        top.push((key, Span(&bytes[pos..end])));
        Ok(end)
    })
    .map_err(|Malformed| decode_error(bytes, false))?;
    let info = info.ok_or_else(|| Error::missing("info"))?;
    let mut meta = info.parse(hasher)?;
    read_top_level(&decoded(&top)?, &mut meta)?;
    Ok(meta)
}

/// Parses a bare info dictionary (from ut_metadata); the bytes must be exactly one dict.
pub(crate) fn parse_info_bytes(info: &[u8]) -> Result<Metainfo> {
    let hasher = InfoHasher::new();
    hasher.start(info, 0);
    let result = parse_info_bytes_with(info, &hasher);
    hasher.stop();
    result
}

fn parse_info_bytes_with(info: &[u8], hasher: &InfoHasher) -> Result<Metainfo> {
    let (end, scanned) =
        InfoScan::read(info, 0, 0).map_err(|Malformed| decode_error(info, true))?;
    // As `Decoder::decode` in lenient mode: only ASCII whitespace may follow.
    if !info[end..].iter().all(u8::is_ascii_whitespace) {
        return Err(decode_error(info, true));
    }
    let InfoScan { entries, files, .. } = scanned;
    hasher.found(info);
    InfoScan {
        raw: info,
        entries,
        files,
    }
    .parse(hasher)
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

/// A file's raw path components (without the name), as places in the info dict.
#[derive(Debug, Clone)]
enum RawPath {
    /// A checked bencode list (`l...e`) holding only byte strings, read in place.
    List {
        list: Range<usize>,
        /// Where the last item starts (its length), or the end of an empty list: the
        /// list up to there names the file's folder.
        last: usize,
    },
    /// Components gathered one by one (from a v2 file tree).
    Parts(Vec<Range<usize>>),
}

impl Default for RawPath {
    fn default() -> Self {
        RawPath::Parts(Vec::new())
    }
}

/// Where `part`, a slice of `base`, lies in it (`None` if it is not in it).
fn place(base: &[u8], part: &[u8]) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(base.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= base.len()).then_some(start..end)
}

impl RawPath {
    /// The components; `info` is the info dict the places are in.
    fn iter<'r>(&'r self, info: &'r [u8]) -> RawParts<'r> {
        match self {
            RawPath::List { list, .. } => RawParts::List(&info[list.clone()], 1),
            RawPath::Parts(parts) => RawParts::Parts(info, parts.iter()),
        }
    }

    /// About the length of the path made of these components.
    fn encoded_len(&self) -> usize {
        match self {
            RawPath::List { list, .. } => list.len(),
            RawPath::Parts(parts) => parts.iter().map(|p| p.len() + 1).sum(),
        }
    }

    /// Appends `/` and each sanitised component (see [`push_component`]) to `out`.
    fn push_to(&self, info: &[u8], out: &mut Vec<u8>) {
        match self {
            RawPath::List { list, .. } => push_list(out, &info[list.clone()]),
            RawPath::Parts(parts) => {
                for c in parts {
                    push_component(out, &info[c.clone()]);
                }
            }
        }
    }

    fn texts(&self, info: &[u8]) -> Vec<String> {
        self.iter(info).map(text).collect()
    }
}

/// The components of a [`RawPath`].
enum RawParts<'r> {
    List(&'r [u8], usize),
    Parts(&'r [u8], std::slice::Iter<'r, Range<usize>>),
}

impl<'r> Iterator for RawParts<'r> {
    type Item = &'r [u8];

    fn next(&mut self) -> Option<&'r [u8]> {
        match self {
            RawParts::List(list, pos) => {
                let (part, end) = scan::bytes(list, *pos).ok()?;
                *pos = end;
                Some(part)
            }
            RawParts::Parts(info, parts) => parts.next().map(|p| &info[p.clone()]),
        }
    }
}

/// One file as listed by the v1 or v2 part, before paths are made unique.
#[derive(Debug)]
struct RawFile {
    /// Raw components inside the torrent (without the name), for hybrid comparison.
    raw_path: RawPath,
    length: u64,
    /// What most files do not have (v1) or not all (v2), boxed: a large torrent's list
    /// of files is smaller without it inline.
    extra: Option<Box<Extra>>,
    /// Where the file's final path ends in the buffer of all paths (it starts where the
    /// previous file's ends), once the paths are made.
    path_end: u32,
    pad: bool,
    executable: bool,
    hidden: bool,
    /// Pad file without a `path`.
    no_path: bool,
}

/// The rarer fields of a [`RawFile`].
#[derive(Debug, Default)]
struct Extra {
    symlink: Option<Vec<String>>,
    pieces_root: Option<[u8; 32]>,
    mtime: Option<i64>,
}

impl Extra {
    /// `None` when every field is.
    fn boxed(
        symlink: Option<Vec<String>>,
        pieces_root: Option<[u8; 32]>,
        mtime: Option<i64>,
    ) -> Option<Box<Extra>> {
        (symlink.is_some() || pieces_root.is_some() || mtime.is_some()).then(|| {
            Box::new(Extra {
                symlink,
                pieces_root,
                mtime,
            })
        })
    }
}

impl RawFile {
    fn pieces_root(&self) -> Option<[u8; 32]> {
        self.extra.as_ref().and_then(|e| e.pieces_root)
    }
}

fn string_list<'a, C: FromIterator<&'a [u8]>>(value: &Value<'a>, key: Key<'_>) -> Result<C> {
    let list = value
        .as_list()
        .ok_or_else(|| Error::wrong_type(key(), "list", value))?;
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_bytes()
                .ok_or_else(|| path_element_error(key, i, v.kind()))
        })
        .collect()
}

fn path_element_error(key: Key<'_>, i: usize, kind: &str) -> Error {
    Error::invalid(
        format!("{}[{i}]", key()),
        format!(
            "path element is {} (possible exploit attempt)",
            crate::error::with_article(kind)
        ),
    )
}

/// A v1 `path` list as read by the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ScannedPath<'a> {
    /// The list, as received.
    list: &'a [u8],
    /// The first item that is not a byte string: its index and kind.
    bad: Option<(usize, &'static str)>,
    /// The last item, if it is a byte string.
    last: Option<&'a [u8]>,
}

/// Reads the `path` value at `pos` while checking it; `Err(kind)` if it is not a list.
fn scan_path<'a>(
    input: &'a [u8],
    pos: usize,
    open: usize,
) -> Scan<(usize, std::result::Result<ScannedPath<'a>, &'static str>)> {
    if input.get(pos) != Some(&b'l') {
        let end = scan::skip(input, pos, open)?;
        return Ok((end, Err(kind_at(input, pos))));
    }
    let mut bad = None;
    let mut last = None;
    let end = scan::list(input, pos, open, |i, p| {
        if let Some(b'0'..=b'9') = input.get(p) {
            let (part, end) = scan::bytes(input, p)?;
            last = Some(part);
            return Ok(end);
        }
        let end = scan::skip(input, p, open + 1)?;
        bad.get_or_insert((i, kind_at(input, p)));
        last = None;
        Ok(end)
    })?;
    let path = ScannedPath {
        list: &input[pos..end],
        bad,
        last,
    };
    Ok((end, Ok(path)))
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

/// The list of files of the last parse, kept for the next (see `recycle`).
static RAW_FILES: Pool<RawFile> = Pool::new();

/// Reads the v1 `files` list at `pos` (inside `open` containers) of the info dict at
/// `info` while checking it. The outer result fails on malformed bencode; the inner one
/// says what is wrong with the list as a file list, reported only once the whole torrent
/// is known to be well-formed (as when it was decoded first).
fn scan_files(
    input: &[u8],
    info: usize,
    pos: usize,
    open: usize,
) -> Scan<(usize, Result<Vec<RawFile>>)> {
    if input.get(pos) != Some(&b'l') {
        let end = scan::skip(input, pos, open)?;
        let error = Error::WrongType {
            key: "info.files".into(),
            expected: "list",
            found: kind_at(input, pos),
        };
        return Ok((end, Err(error)));
    }
    let mut files = RAW_FILES.take_any();
    let mut problem = None;
    let mut count = 0usize;
    let end = scan::list(input, pos, open, |i, p| {
        count += 1;
        if problem.is_some() || count > MAX_FILES {
            return scan::skip(input, p, open + 1);
        }
        let end = scan_file(input, info, p, open + 1, i, &mut files, &mut problem)?;
        if i == 0 {
            // Room for as many files as the rest of the input would hold if they were all
            // as long as the first: the list is not copied as it grows.
            files.reserve(((input.len() - end) / (end - p)).min(MAX_FILES));
        }
        Ok(end)
    })?;
    let files = if count == 0 {
        Err(Error::invalid("info.files", "no files in torrent"))
    } else if count > MAX_FILES {
        Err(Error::invalid("info.files", "too many files"))
    } else if let Some(e) = problem {
        Err(e)
    } else {
        Ok(files)
    };
    Ok((end, files))
}

/// Reads entry `i` of the v1 `files` list, at `pos`, while checking it (see
/// [`scan_files`]), into `files`, or what is wrong with it into `problem`.
fn scan_file(
    input: &[u8],
    info: usize,
    pos: usize,
    open: usize,
    i: usize,
    files: &mut Vec<RawFile>,
    problem: &mut Option<Error>,
) -> Scan<usize> {
    if input.get(pos) != Some(&b'd') {
        let end = scan::skip(input, pos, open)?;
        *problem = Some(Error::WrongType {
            key: format!("info.files[{i}]"),
            expected: "dictionary",
            found: kind_at(input, pos),
        });
        return Ok(end);
    }
    let (end, fields) = match scan_plain_file(input, pos, open) {
        Some((end, fields)) => {
            // The common entry makes the common file, as `v1_file` would make it.
            if let Some((list, length, pad)) = plain_v1_fields(&input[info..], &fields) {
                files.push(RawFile::plain(list, length, pad));
                return Ok(end);
            }
            (end, fields)
        }
        None => scan_file_fields(input, pos, open)?,
    };
    match v1_file(&input[info..], i, &fields) {
        Ok(file) => files.push(file),
        Err(e) => *problem = Some(e),
    }
    Ok(end)
}

/// The common file entry, `d6:lengthi<n>e4:pathl<strings>ee`, read without the general
/// dictionary walk: its end and fields, as [`scan_file_fields`] would give them; `None`
/// for any other entry (which that then reads, or finds malformed).
fn scan_plain_file(input: &[u8], pos: usize, open: usize) -> Option<(usize, V1Fields<'_>)> {
    // The entry is inside `open` containers and holds a list: as the nesting check of
    // `scan::dict` and `scan::list`.
    if open + 1 >= MAX_DEPTH || !input.get(pos..)?.starts_with(b"d6:lengthi") {
        return None;
    }
    let (length, p) = scan::int(input, pos + 9).ok()?;
    if input.get(p..)?.starts_with(b"4:pathl") {
        let list = p + 6;
        let mut q = list + 1;
        let mut last = None;
        while *input.get(q)? != b'e' {
            if !input[q].is_ascii_digit() {
                return None;
            }
            let (part, end) = scan::bytes(input, q).ok()?;
            last = Some(part);
            q = end;
        }
        if input.get(q + 1) == Some(&b'e') {
            let path = ScannedPath {
                list: &input[list..=q],
                bad: None,
                last,
            };
            let fields = V1Fields {
                length: Some(Ok(length)),
                path: Some(Ok(path)),
                ..V1Fields::default()
            };
            return Some((q + 2, fields));
        }
    }
    None
}

/// The fields of the (v1) file entry dictionary at `pos`, and its end.
fn scan_file_fields(input: &[u8], pos: usize, open: usize) -> Scan<(usize, V1Fields<'_>)> {
    let mut fields = V1Fields::default();
    let end = scan::dict(input, pos, open, |key, p| match key {
        b"length" => {
            let (end, length) = match input.get(p) {
                Some(b'i') => scan::int(input, p).map(|(n, end)| (end, Ok(n)))?,
                _ => {
                    let end = scan::skip(input, p, open + 1)?;
                    (end, Err(Span(&input[p..end])))
                }
            };
            fields.length.get_or_insert(length);
            Ok(end)
        }
        b"path" | b"path.utf-8" => {
            let (end, path) = scan_path(input, p, open + 1)?;
            let slot = if key == b"path" {
                &mut fields.path
            } else {
                &mut fields.path_utf8
            };
            slot.get_or_insert(path);
            Ok(end)
        }
        _ => {
            let end = scan::skip(input, p, open + 1)?;
            let slot = match key {
                b"attr" => &mut fields.attr,
                b"symlink path" => &mut fields.symlink,
                b"mtime" => &mut fields.mtime,
                _ => return Ok(end),
            };
            slot.get_or_insert(Span(&input[p..end]));
            Ok(end)
        }
    })?;
    Ok((end, fields))
}

/// The values of the keys of a v1 file entry that are read (the first of each).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct V1Fields<'a> {
    attr: Option<Span<'a>>,
    /// An integer, or what was there instead.
    length: Option<std::result::Result<i64, Span<'a>>>,
    path: Option<std::result::Result<ScannedPath<'a>, &'static str>>,
    path_utf8: Option<std::result::Result<ScannedPath<'a>, &'static str>>,
    symlink: Option<Span<'a>>,
    mtime: Option<Span<'a>>,
}

/// The [`RawPath`] of a `path` list of byte strings, in the info dict `info`.
fn list_path(info: &[u8], path: &ScannedPath<'_>) -> Option<RawPath> {
    let (start, end, last) = list_place(info, path)?;
    Some(RawPath::List {
        list: start..end,
        last,
    })
}

/// The places of [`RawPath::List`]: start, end, last item.
#[inline]
fn list_place(info: &[u8], path: &ScannedPath<'_>) -> Option<(usize, usize, usize)> {
    let list = place(info, path.list)?;
    let last = match path.last {
        // Back over `<length>:` (the scan took the length as written, without zeros).
        Some(last) => {
            place(info, last)?.start - 1 - last.len().checked_ilog10().unwrap_or(0) as usize - 1
        }
        None => list.end - 1,
    };
    Some((list.start, list.end, last))
}

/// What [`v1_file`] makes of the fields of a plain entry (a length and a path of byte
/// strings, nothing else) when the length is valid; `None` for anything else.
#[cfg(test)]
fn plain_v1_file(info: &[u8], fields: &V1Fields<'_>) -> Option<RawFile> {
    let (list, length, pad) = plain_v1_fields(info, fields)?;
    Some(RawFile::plain(list, length, pad))
}

impl RawFile {
    /// A file with a path list (see [`list_place`]) and a length, and nothing else but
    /// the pad flag.
    #[inline]
    fn plain((start, end, last): (usize, usize, usize), length: u64, pad: bool) -> RawFile {
        RawFile {
            raw_path: RawPath::List {
                list: start..end,
                last,
            },
            length,
            extra: None,
            path_end: 0,
            pad,
            executable: false,
            hidden: false,
            no_path: false,
        }
    }
}

/// The path list, length and pad flag of [`plain_v1_file`].
#[inline]
fn plain_v1_fields(
    info: &[u8],
    fields: &V1Fields<'_>,
) -> Option<((usize, usize, usize), u64, bool)> {
    let (Some(Ok(length)), Some(Ok(path))) = (fields.length, fields.path) else {
        return None;
    };
    if !(0..=MAX_FILE_LENGTH as i64).contains(&length)
        || path.bad.is_some()
        || fields.attr.is_some()
        || fields.path_utf8.is_some()
        || fields.mtime.is_some()
    {
        return None;
    }
    // BitComet-era pad files carry no attribute, only this name (as in `v1_file`).
    let pad = path
        .last
        .is_some_and(|n| n.starts_with(b"_____padding_file_"));
    Some((list_place(info, &path)?, length as u64, pad))
}

/// A v1 file entry from the values of its keys; `info` is the info dict from its start
/// on, which holds them.
fn v1_file(info: &[u8], i: usize, fields: &V1Fields<'_>) -> Result<RawFile> {
    let key = || format!("info.files[{i}]");
    let attr = fields.attr.and_then(Span::as_bytes).unwrap_or_default();
    // BitComet-era pad files carry no attribute, only this name (libtorrent agrees).
    let legacy_pad = || match &fields.path {
        Some(Ok(path)) => path
            .last
            .is_some_and(|n| n.starts_with(b"_____padding_file_")),
        _ => false,
    };
    let pad = attr.contains(&b'p') || legacy_pad();
    let mut length = match fields.length {
        // The common case, without making a `Value`.
        Some(Ok(n)) if (0..=MAX_FILE_LENGTH as i64).contains(&n) => n as u64,
        length => {
            let length = length.map(|l| l.map_or_else(scalar, Value::Int));
            symlink_length_of(length.as_ref(), attr, &|| format!("{}.length", key()))?
        }
    };
    let (raw_path, no_path) = match fields.path_utf8.or(fields.path) {
        Some(Ok(path @ ScannedPath { bad: None, .. })) => {
            let path = list_path(info, &path).ok_or_else(|| {
                Error::invalid(format!("{}.path", key()), "not inside the info dictionary")
            })?;
            (path, false)
        }
        Some(Ok(ScannedPath {
            bad: Some((index, kind)),
            ..
        })) => {
            return Err(path_element_error(
                &|| format!("{}.path", key()),
                index,
                kind,
            ));
        }
        Some(Err(found)) => {
            return Err(Error::WrongType {
                key: format!("{}.path", key()),
                expected: "list",
                found,
            });
        }
        None if pad => (RawPath::default(), true),
        None => return Err(Error::missing(format!("{}.path", key()))),
    };
    let symlink = if attr.contains(&b'l') {
        let target = fields.symlink.map(Span::value).transpose()?;
        symlink_target_of(target.as_ref(), attr, &key)?
    } else {
        None
    };
    if symlink.is_some() {
        length = 0;
    }
    Ok(RawFile {
        raw_path,
        length,
        pad,
        executable: attr.contains(&b'x'),
        hidden: attr.contains(&b'h'),
        extra: Extra::boxed(symlink, None, fields.mtime.and_then(Span::as_int)),
        path_end: 0,
        no_path,
    })
}

/// A checked value for the helpers that take a [`Value`]: integers and byte strings as
/// they are; a list or dictionary (never valid where this is used) empty, for its kind.
fn scalar(span: Span<'_>) -> Value<'_> {
    match (span.as_int(), span.as_bytes()) {
        (Some(n), _) => Value::Int(n),
        (_, Some(b)) => Value::Bytes(b),
        _ if span.kind() == "list" => Value::List(List::new()),
        _ => Value::Dict(Dict::new()),
    }
}

/// The v1 file list: `files` as read by the scan, or the one file of `info.length`.
fn v1_files(info: &Dict<'_>, files: Option<Result<Vec<RawFile>>>) -> Result<Option<Vec<RawFile>>> {
    if let Some(files) = files {
        files.map(Some)
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
            extra: Extra::boxed(symlink, None, info.get(b"mtime").and_then(Value::as_int)),
            path_end: 0,
            no_path: false,
        }]))
    } else {
        Ok(None)
    }
}

/// Walks a v2 `file tree` of the info dict `info`, depth first in key order.
fn v2_files(info: &[u8], tree: &Dict<'_>) -> Result<Vec<RawFile>> {
    let mut out = Vec::new();
    let mut stack: Vec<&[u8]> = Vec::new();
    walk_tree(info, tree, &mut stack, &mut out)?;
    Ok(out)
}

fn tree_key(stack: &[&[u8]]) -> String {
    let parts: Vec<String> = stack.iter().map(|p| text(p)).collect();
    format!("info.file tree/{}", parts.join("/"))
}

fn walk_tree<'a>(
    info: &[u8],
    dir: &Dict<'a>,
    stack: &mut Vec<&'a [u8]>,
    out: &mut Vec<RawFile>,
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
            out.push(v2_file(info, props, stack)?);
            if out.len() > MAX_FILES {
                return Err(Error::invalid("info.file tree", "too many files"));
            }
        } else if node.is_empty() {
            return Err(Error::invalid(tree_key(stack), "empty directory"));
        } else {
            walk_tree(info, node, stack, out)?;
        }
        stack.pop();
    }
    Ok(())
}

fn v2_file(info: &[u8], props: &Dict<'_>, stack: &[&[u8]]) -> Result<RawFile> {
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
    let parts = stack
        .iter()
        .map(|part| place(info, part))
        .collect::<Option<_>>()
        .ok_or_else(|| Error::invalid(key(), "not inside the info dictionary"))?;
    Ok(RawFile {
        raw_path: RawPath::Parts(parts),
        length,
        pad: false,
        executable: attr.contains(&b'x'),
        hidden: attr.contains(&b'h'),
        extra: Extra::boxed(
            symlink,
            pieces_root,
            props.get(b"mtime").and_then(Value::as_int),
        ),
        path_end: 0,
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
fn parse_info_dict<'a>(
    raw: &'a [u8],
    info: &Dict<'a>,
    files: Option<Result<Vec<RawFile>>>,
    hasher: &InfoHasher,
) -> Result<Metainfo> {
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
    if version == TorrentVersion::V2 {
        // The helper thread computes SHA-1, which a v2-only torrent does not use.
        hasher.stop();
    }

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

    let has_files = files.is_some();
    let v1_list = if version == TorrentVersion::V2 {
        None
    } else {
        match v1_files(info, files)? {
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
        let list = v2_files(raw, tree)?;
        if list.is_empty() {
            return Err(Error::invalid("info.file tree", "no files in torrent"));
        }
        let single = tree.len() == 1 && list.len() == 1 && list[0].raw_path.iter(raw).count() == 1;
        (Some(list), single)
    } else {
        (None, false)
    };

    let multi_file = match &v1_list {
        Some(_) => has_files,
        None => !v2_single,
    };

    // Lay the files out in piece space.
    let mut raw_files: Vec<RawFile> = match (v1_list, v2_list) {
        (Some(v1), Some(v2)) => merge_hybrid(raw, v1, v2, raw_name, multi_file, piece_length)?,
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
                let hashed = hasher.finish(raw, version);
                (to_hex(&hashed.0.wire()), Some(hashed))
            }
        };

    // One pass: offsets, totals and final (safe, not yet unique) paths, all paths in one
    // buffer (components joined by `/`).
    let mut offset: u64 = 0;
    let mut total: u64 = 0;
    // Room for every path at once (a raw path list is about as long as the path made of
    // it), so the buffer is not copied as it grows.
    let room: usize = raw_files
        .iter()
        .map(|f| name.len() + 2 + f.raw_path.encoded_len())
        .sum();
    let mut paths = crate::recycle::PATHS.take(room);
    // The folder list and the path made of it (name and folders) of the last file read
    // from a v1 list: files in the same folder as the one before take its folders.
    let mut folder: Option<(&[u8], Range<usize>)> = None;
    // The last path of a file that is not a pad file, and whether every such path so
    // far comes after the one before and is not a folder of it: then no path needs a
    // new name (see `unique_renames`).
    let mut last_path: Option<Range<usize>> = None;
    let mut unique = true;
    for f in &mut raw_files {
        offset = offset
            .checked_add(f.length)
            .filter(|o| *o <= i64::MAX as u64)
            .ok_or_else(|| Error::invalid("info.files", "total length overflows"))?;
        if !f.pad {
            total += f.length;
        }
        let start = paths.len();
        // How many first bytes this path is known to share with the last one.
        let mut shared = 0;
        match &f.raw_path {
            RawPath::List { list, last } if multi_file && !f.no_path && *last < list.end - 1 => {
                let dir = &raw[list.start..*last];
                match &folder {
                    // The same folders make the same (sanitised) path.
                    Some((before, made)) if *before == dir => {
                        paths.extend_from_within(made.clone());
                        if last_path.as_ref().is_some_and(|p| p.start == made.start) {
                            shared = made.len();
                        }
                    }
                    _ => {
                        paths.extend_from_slice(name.as_bytes());
                        push_list(&mut paths, dir);
                    }
                }
                folder = Some((dir, start..paths.len()));
                let (part, _) = scan::bytes(raw, *last)
                    .map_err(|Malformed| Error::invalid("info.files", "malformed path"))?;
                push_component(&mut paths, part);
                if paths.len() == start + name.len() {
                    paths.extend_from_slice(b"/_");
                }
            }
            _ => {
                paths.extend_from_slice(name.as_bytes());
                if multi_file {
                    if f.no_path {
                        paths.extend_from_slice(b"/.pad/");
                        paths.extend_from_slice(f.length.to_string().as_bytes());
                    } else {
                        f.raw_path.push_to(raw, &mut paths);
                        if paths.len() == start + name.len() {
                            paths.extend_from_slice(b"/_");
                        }
                    }
                }
            }
        }
        f.path_end = u32::try_from(paths.len())
            .map_err(|_| Error::invalid("info.files", "the paths are too long"))?;
        if !f.pad {
            if let Some(before) = last_path {
                // (Past the bytes both share, the comparison is the same.)
                unique = unique
                    && before_and_apart(
                        &paths[before.start + shared..before.end],
                        &paths[start + shared..],
                    );
            }
            last_path = Some(start..paths.len());
        }
    }
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

    // Only UTF-8 was appended (one check here instead of one per component).
    let mut paths = String::from_utf8(paths)
        .map_err(|_| Error::invalid("info.files", "a sanitised path is not UTF-8"))?;
    let path_range = |i: usize| {
        let start = i
            .checked_sub(1)
            .map_or(0, |j| raw_files[j].path_end as usize);
        start..raw_files[i].path_end as usize
    };
    let renames = if unique {
        Vec::new()
    } else {
        unique_renames(raw_files.len(), |i| {
            (!raw_files[i].pad).then(|| &paths[path_range(i)])
        })
        .map_err(|reason| Error::invalid("info.files", reason))?
    };
    // Renamed paths go after the others; `renames` is in file order.
    let renamed: Vec<(usize, std::ops::Range<usize>)> = renames
        .into_iter()
        .map(|(i, path)| {
            let start = paths.len();
            paths.push_str(&path);
            (i, start..paths.len())
        })
        .collect();
    if u32::try_from(paths.len()).is_err() {
        return Err(Error::invalid("info.files", "the paths are too long"));
    }
    let mut renamed = renamed.into_iter().peekable();
    let paths = Arc::new(paths);
    let mut start = 0;
    let mut offset = 0;
    let mut files = crate::recycle::FILES.take(raw_files.len());
    files.extend(raw_files.drain(..).enumerate().map(|(i, f)| {
        let end = f.path_end as usize;
        let mut range = start..end;
        start = end;
        if let Some((_, new)) = renamed.next_if(|(j, _)| *j == i) {
            range = new;
        }
        let extra = f.extra.map(|e| *e).unwrap_or_default();
        let entry = FileEntry {
            path: FilePath::in_buffer(Arc::clone(&paths), range),
            length: f.length,
            offset,
            pad: f.pad,
            executable: f.executable,
            hidden: f.hidden,
            symlink: extra.symlink,
            pieces_root: extra.pieces_root,
            mtime: extra.mtime,
        };
        offset += f.length;
        entry
    }));
    RAW_FILES.keep(raw_files);

    let private = matches!(info.get(b"private"), Some(Value::Int(1)));
    let info_extra = info
        .iter()
        .filter(|(k, _)| !INFO_KEYS.contains(k))
        .map(|(k, v)| (k.to_vec(), v.raw().into_owned()))
        .collect();

    // Last, so a helper thread hashing the info dict had all this time.
    let (info_hash, info_bytes) = hashed.unwrap_or_else(|| hasher.finish(raw, version));
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

/// Inserts the alignment padding a v2-only torrent implies between files.
fn pad_v2(files: Vec<RawFile>, piece_length: u64) -> Vec<RawFile> {
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
                extra: None,
                path_end: 0,
                no_path: true,
            });
            offset += pad;
        }
        offset = offset.saturating_add(f.length);
        out.push(f);
    }
    out
}

/// Checks that the v1 file list of a hybrid torrent matches its v2 file tree (both in
/// the info dict `info`), and gives the v1 list (with its pad files) the v2 roots.
fn merge_hybrid(
    info: &[u8],
    mut v1: Vec<RawFile>,
    v2: Vec<RawFile>,
    raw_name: &[u8],
    multi_file: bool,
    piece_length: u64,
) -> Result<Vec<RawFile>> {
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
        let same = if multi_file {
            f.raw_path.iter(info).eq(other.raw_path.iter(info))
        } else {
            other.raw_path.iter(info).eq(std::iter::once(raw_name))
        };
        if !same {
            let v1_path = if multi_file {
                f.raw_path.texts(info)
            } else {
                vec![text(raw_name)]
            };
            return Err(Error::Inconsistent {
                reason: format!(
                    "v1 file {i} is {v1_path:?}, v2 has {:?}",
                    other.raw_path.texts(info)
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
        if let Some(root) = other.pieces_root() {
            f.extra.get_or_insert_default().pieces_root = Some(root);
        }
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

    /// Files listed after one in the same folder take its folders' sanitised path: each
    /// path is still the one its components sanitise to.
    #[test]
    fn files_in_the_same_folder_get_the_paths_of_their_components() {
        let dirs: &[&[u8]] = &[b"d", b"..", b"C:", b"con", b"", b"a/b", b"a\x01b", b"."];
        let mut files: Vec<(&[u8], &[u8])> = Vec::new();
        for dir in dirs {
            for file in [&b"x"[..], b"..", b"y", b"nul.txt"] {
                files.push((dir, file));
            }
        }
        let lists: [&[(&[u8], &[u8])]; 5] = [
            &files,
            &[(b"d", b"a"), (b"d", b"b"), (b"d", b"c"), (b"e", b"a")],
            &[(b"d", b"a"), (b"d", b"a"), (b"d", b"a.1")],
            &[(b"d", b"b"), (b"d", b"a"), (b"d", b"b")],
            &[(b"d", b"a"), (b"d", b""), (b"d", b"a-"), (b"d", b"..")],
        ];
        for files in lists {
            let meta = parse_torrent(&torrent(b"top", files)).unwrap();
            let mut expected: Vec<String> = files
                .iter()
                .map(|(dir, file)| format!("top/{}", sanitize_path([*dir, *file]).join("/")))
                .collect();
            // Names made unique the same way as before.
            for (i, new) in unique_renames(expected.len(), |i| Some(expected[i].as_str())).unwrap()
            {
                expected[i] = new;
            }
            assert_eq!(paths(&meta), expected);
        }
    }

    #[test]
    fn pad_files_may_share_a_path_as_in_libtorrent() {
        // 150 one-byte files, each followed by a pad file of 16383 bytes: libtorrent 2.0.8
        // loads this with 149 pad files named `padtest/.pad/16383`.
        let mut files = String::new();
        for i in 0..150 {
            let name = if i == 149 { 0 } else { i };
            files += &format!("d6:lengthi1e4:pathl4:f{name:03}ee");
            if i < 149 {
                files += "d4:attr1:p6:lengthi16383e4:pathl4:.pad5:16383ee";
            }
        }
        let info = format!(
            "d5:filesl{files}e4:name7:padtest12:piece lengthi16384e6:pieces{}:{}e",
            150 * 20,
            "a".repeat(150 * 20)
        );
        let meta = parse_torrent(format!("d4:info{info}e").as_bytes()).unwrap();
        let all = paths(&meta);
        assert_eq!(all.len(), 299);
        assert!(
            meta.files()
                .iter()
                .filter(|f| f.pad)
                .all(|f| f.path == ["padtest", ".pad", "16383"])
        );
        // Real files are still made unique: the last one repeats the first one's name.
        assert_eq!(all[0], "padtest/f000");
        assert_eq!(all[298], "padtest/f000.1");
    }

    proptest::proptest! {
        /// The fast read of a common file entry gives what the general one gives, and
        /// leaves every other entry to it.
        #[test]
        fn plain_entries_are_read_as_the_dictionary_walk_reads_them(
            edits in proptest::collection::vec((0usize..64, proptest::prelude::any::<u8>(), 0u8..3), 0..3),
            open in proptest::prop_oneof![proptest::strategy::Just(1usize), proptest::strategy::Just(MAX_DEPTH - 2), proptest::strategy::Just(MAX_DEPTH - 1)],
        ) {
            let mut entry = b"d6:lengthi1234e4:pathl3:dir0:8:file.binee".to_vec();
            for (at, byte, op) in edits {
                let at = at.min(entry.len());
                match op {
                    0 if at < entry.len() => entry[at] = byte,
                    1 => entry.insert(at, byte),
                    _ if at < entry.len() => {
                        entry.remove(at);
                    }
                    _ => {}
                }
            }
            entry.extend_from_slice(b"e4:name1:x");
            if let Some(fast) = scan_plain_file(&entry, 0, open) {
                let general = scan_file_fields(&entry, 0, open).ok();
                proptest::prop_assert_eq!(Some(fast), general);
                // And the file made of it is the one the general way makes.
                if let Some(file) = plain_v1_file(&entry, &fast.1) {
                    let general = v1_file(&entry, 0, &fast.1).map(|f| format!("{f:?}"));
                    proptest::prop_assert_eq!(Ok(format!("{file:?}")), general.map_err(|e| e.to_string()));
                }
            }
        }
    }

    #[test]
    fn the_common_entry_takes_the_fast_read() {
        let entry = b"d6:lengthi7e4:pathl1:a2:bcee";
        let (end, fields) = scan_plain_file(entry, 0, 1).unwrap();
        assert_eq!(end, entry.len());
        let file = plain_v1_file(entry, &fields).unwrap();
        assert_eq!(
            format!("{file:?}"),
            format!("{:?}", v1_file(entry, 0, &fields).unwrap())
        );
        assert_eq!(Some((end, fields)), scan_file_fields(entry, 0, 1).ok());
        let legacy_pad = b"d6:lengthi7e4:pathl1:a19:_____padding_file_0ee";
        let (_, fields) = scan_plain_file(legacy_pad, 0, 1).unwrap();
        let file = plain_v1_file(legacy_pad, &fields).unwrap();
        assert!(file.pad);
        assert_eq!(
            format!("{file:?}"),
            format!("{:?}", v1_file(legacy_pad, 0, &fields).unwrap())
        );
        assert!(scan_plain_file(b"d6:lengthi7e4:pathl1:ai1eee", 0, 1).is_none());
        assert!(scan_plain_file(b"d6:lengthi7e4:pathl1:ae1:xi1ee", 0, 1).is_none());
        assert!(scan_plain_file(entry, 0, MAX_DEPTH - 1).is_none());
    }

    #[test]
    fn a_name_that_sanitises_to_nothing_becomes_the_info_hash() {
        let meta = parse_torrent(&torrent(b"..", &[(b"d", b"a"), (b"e", b"b")])).unwrap();
        let hex = to_hex(&meta.info_hash().wire());
        assert_eq!(meta.name(), hex);
        assert_eq!(paths(&meta), [format!("{hex}/d/a"), format!("{hex}/e/b")]);
    }
}
