//! Making file paths from a .torrent safe to join under a download folder.
//!
//! The rules follow what libtorrent 2.0 does on load, plus the Windows hazards:
//! - separators (`/`, `\`) inside a component are removed; a component that was only
//!   separators is dropped, so `["/foobar"]` becomes `["foobar"]`;
//! - `.` and `..` components are dropped; an empty component becomes `_`;
//!   a path left with no component becomes `["_"]`;
//! - control characters and invalid UTF-8 become `_`; `:` of a drive prefix (`C:`) becomes
//!   `_`; Windows reserved device names (`CON`, `nul.txt`, `COM1`...) get a `_` suffix;
//! - components longer than 240 bytes are shortened to 240 bytes plus the extension;
//! - duplicate paths get `.1`, `.2`, ... before the extension (at most 100 tries); pad
//!   files take no part.

use std::collections::HashSet;
use std::sync::Arc;

/// Longest stem kept, in bytes (plus an extension of up to 15; file systems allow 255).
const MAX_COMPONENT: usize = 240;

/// How many renames are tried for one duplicate path before giving up.
pub(crate) const MAX_DUPLICATE_TRIES: usize = 100;

/// Bytes kept as they are on the fast path: printable ASCII but `/`, `\\` and `:`.
const PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0x20;
    while b < 0x7f {
        table[b] = !matches!(b as u8, b'/' | b'\\' | b':');
        b += 1;
    }
    table
};

/// Makes one path component safe. `None` means the component is dropped (it was `.`,
/// `..` or only separators).
///
/// ```
/// use shoal_metainfo::sanitize_component;
/// assert_eq!(sanitize_component(b"a/../b").as_deref(), Some("a..b"));
/// assert_eq!(sanitize_component(b"..").as_deref(), None);
/// assert_eq!(sanitize_component(b"").as_deref(), Some("_"));
/// assert_eq!(sanitize_component(b"CON").as_deref(), Some("CON_"));
/// assert_eq!(sanitize_component(b"C:").as_deref(), Some("C_"));
/// ```
pub fn sanitize_component(raw: &[u8]) -> Option<String> {
    if raw.is_empty() {
        return Some("_".to_owned());
    }
    if is_already_safe(raw) {
        return std::str::from_utf8(raw).ok().map(str::to_owned);
    }
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '/' | '\\' => {}
            '\u{FFFD}' => out.push('_'),
            c if c.is_control() => out.push('_'),
            c => out.push(c),
        }
    }
    if out.is_empty() || out == "." || out == ".." {
        return None;
    }
    // A drive prefix such as `C:` or `c:foo`.
    let bytes = out.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        out.replace_range(1..2, "_");
    }
    if is_windows_reserved(out.as_bytes()) {
        let dot = out.find('.').unwrap_or(out.len());
        out.insert(dot, '_');
    }
    if out.len() > MAX_COMPONENT {
        out = shorten(&out);
    }
    Some(out)
}

/// Whether every byte is in [`PLAIN`], eight bytes at a time.
#[inline]
fn all_plain(raw: &[u8]) -> bool {
    all_plain_but::<false>(raw)
}

/// Whether every byte is in [`PLAIN`] or, with `COLON`, is `:`.
#[inline]
fn all_plain_but<const COLON: bool>(raw: &[u8]) -> bool {
    let plain = |b: u8| PLAIN[usize::from(b)] || (COLON && b == b':');
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte of `x` is flagged (high bit set) if it is zero; bytes above a zero one may
    // be flagged too, which only sends the word to the exact check below.
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let word_ok = |word: [u8; 8]| {
        let x = u64::from_le_bytes(word);
        // Below 0x20, above 0x7e, or one of `/`, `\`, `:`.
        let suspect = x.wrapping_sub(ONES * 0x20) & !x & HIGH
            | (x.wrapping_add(ONES) | x) & HIGH
            | has_zero(x ^ (ONES * u64::from(b'/')))
            | has_zero(x ^ (ONES * u64::from(b'\\')))
            | if COLON {
                0
            } else {
                has_zero(x ^ (ONES * u64::from(b':')))
            };
        suspect == 0 || word.iter().all(|&b| plain(b))
    };
    let mut words = raw.chunks_exact(8);
    for word in &mut words {
        if !word_ok(word.try_into().unwrap_or([0; 8])) {
            return false;
        }
    }
    let rest = words.remainder();
    if rest.is_empty() {
        return true;
    }
    // The last bytes as one word: the last eight (again checking some), or the rest
    // padded with a plain byte.
    let mut last = [b'a'; 8];
    match raw.len().checked_sub(8) {
        Some(from) => last.copy_from_slice(&raw[from..]),
        None => last[..rest.len()].copy_from_slice(rest),
    }
    word_ok(last)
}

/// The common case: a short printable ASCII component with nothing to change.
#[inline]
fn is_already_safe(raw: &[u8]) -> bool {
    raw.len() <= MAX_COMPONENT
        && raw != b"."
        && raw != b".."
        && all_plain(raw)
        // Only names starting with c, p, a, n or l can be reserved (`| 0x20` lowercases).
        && !(matches!(raw[0] | 0x20, b'c' | b'p' | b'a' | b'n' | b'l') && is_windows_reserved(raw))
}

/// Appends `/` and the sanitised `raw` to `out`, or nothing if the component is dropped
/// (see [`sanitize_component`]); a component already safe is copied as it is. What is
/// appended is always UTF-8.
pub(crate) fn push_component(out: &mut Vec<u8>, raw: &[u8]) {
    if !raw.is_empty() && is_already_safe(raw) {
        out.push(b'/');
        out.extend_from_slice(raw);
    } else if let Some(safe) = sanitize_component(raw) {
        out.push(b'/');
        out.extend_from_slice(safe.as_bytes());
    }
}

/// Appends `/` and each sanitised component of `list` to `out`, as [`push_component`]
/// does for each. `list` is a checked bencode list of byte strings (`l4:spam1:ae`).
pub(crate) fn push_list(out: &mut Vec<u8>, list: &[u8]) {
    // Fast path: when the whole list is printable ASCII without separators (but the `:`
    // of the bencoding), a component needs only the checks of its whole name. A `:` in a
    // component changes it only as a drive prefix (`C:`), which goes the slow way.
    let plain = all_plain_but::<true>(list);
    let mut p = 1;
    while let Some(&first) = list.get(p)
        && first != b'e'
    {
        let mut length = 0usize;
        while let Some(&d) = list.get(p)
            && d.is_ascii_digit()
        {
            length = length
                .saturating_mul(10)
                .saturating_add(usize::from(d - b'0'));
            p += 1;
        }
        // Past the `:`; a list that was not checked ends here.
        let start = p + 1;
        let Some(part) = start
            .checked_add(length)
            .and_then(|end| list.get(start..end))
        else {
            return;
        };
        p = start + length;
        if plain
            && !part.is_empty()
            && part.len() <= MAX_COMPONENT
            && part != b"."
            && part != b".."
            && part.get(1) != Some(&b':')
            && !(matches!(part[0] | 0x20, b'c' | b'p' | b'a' | b'n' | b'l')
                && is_windows_reserved(part))
        {
            out.push(b'/');
            out.extend_from_slice(part);
        } else {
            push_component(out, part);
        }
    }
}

fn is_windows_reserved(name: &[u8]) -> bool {
    let stem = name.split(|&b| b == b'.').next().unwrap_or(name);
    let stem = stem.trim_ascii_end();
    match stem.len() {
        3 => ["CON", "PRN", "AUX", "NUL"]
            .iter()
            .any(|r| stem.eq_ignore_ascii_case(r.as_bytes())),
        4 => {
            (stem[..3].eq_ignore_ascii_case(b"COM") || stem[..3].eq_ignore_ascii_case(b"LPT"))
                && (b'1'..=b'9').contains(&stem[3])
        }
        _ => false,
    }
}

/// Shortens a long component: the stem to `MAX_COMPONENT` bytes, keeping an extension
/// of up to 15 bytes (so the result stays within the 255 bytes file systems allow).
fn shorten(name: &str) -> String {
    let ext = match name.rfind('.') {
        Some(i) if name.len() - i <= 15 && i > 0 => &name[i..],
        _ => "",
    };
    let stem = &name[..name.len() - ext.len()];
    if stem.len() <= MAX_COMPONENT {
        return name.to_owned();
    }
    let mut cut = MAX_COMPONENT;
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", &stem[..cut])
}

/// Sanitises a list of raw components (see the module rules).
pub(crate) fn sanitize_path<'a>(raw: impl IntoIterator<Item = &'a [u8]>) -> Vec<String> {
    let mut out: Vec<String> = raw.into_iter().filter_map(sanitize_component).collect();
    if out.is_empty() {
        out.push("_".to_owned());
    }
    out
}

/// `path` (components joined by `/`) with `.N` before the extension of its last component.
fn with_suffix(path: &str, n: usize) -> String {
    let last_start = path.rfind('/').map_or(0, |i| i + 1);
    let last = &path[last_start..];
    match last.rfind('.') {
        Some(i) if i > 0 => format!("{}{}.{n}{}", &path[..last_start], &last[..i], &last[i..]),
        _ => format!("{path}.{n}"),
    }
}

/// How many leading bytes `a` and `b` share (eight at a time).
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let mut n = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let diff = u64::from_le_bytes(x.try_into().unwrap_or_default())
            ^ u64::from_le_bytes(y.try_into().unwrap_or_default());
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + a[n..]
        .iter()
        .zip(&b[n..])
        .take_while(|(x, y)| x == y)
        .count()
}

/// Orders `/`-joined paths as their component lists would be ordered (`/` sorts before
/// every byte a component can hold).
fn cmp_components(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let key = |c: u8| if c == b'/' { 0 } else { c };
    let n = common_prefix(a, b);
    match (a.get(n), b.get(n)) {
        (Some(&x), Some(&y)) => key(x).cmp(&key(y)),
        _ => a.len().cmp(&b.len()),
    }
}

/// Whether `a` comes before `b` in component order and is not a folder of it: for
/// neighbours in a file list, what makes both unique.
pub(crate) fn before_and_apart(a: &[u8], b: &[u8]) -> bool {
    let n = common_prefix(a, b);
    match (a.get(n), b.get(n)) {
        // Where a component of `a` ends first, `a` is first (its component is shorter).
        (Some(&x), Some(&y)) => x == b'/' || (y != b'/' && x < y),
        // `a` is a prefix of `b`: a folder of it if `b` goes on with a separator.
        (None, Some(&y)) => y != b'/',
        _ => false,
    }
}

/// Makes every path unique: a path equal to an earlier file's, or to a folder of an
/// earlier file, gets a `.N` suffix. `path_of(i)` is the `i`th of `count` paths,
/// components joined by `/`, or `None` for a path that takes no part: pad files, which
/// are never written to disk and may share a name (libtorrent 2.0.8 leaves them as they
/// are too). Returns the renames `(index, new path)`; errors (with the path) when a path
/// needs more than [`MAX_DUPLICATE_TRIES`] renames.
pub(crate) fn unique_renames<'p>(
    count: usize,
    path_of: impl Fn(usize) -> Option<&'p str>,
) -> Result<Vec<(usize, String)>, String> {
    let paths = || (0..count).filter_map(|i| path_of(i).map(|p| (i, p)));
    // Comparison is exact (case-sensitive), as libtorrent's. Fast path: paths in strictly
    // increasing component order with no path a folder of the next are unique, and no
    // file is a folder of another (paths sharing a folder are contiguous in this order).
    let mut last: Option<&str> = None;
    let sorted_and_clear = paths().all(|(_, path)| {
        let clear = last.is_none_or(|before| before_and_apart(before.as_bytes(), path.as_bytes()));
        last = Some(path);
        clear
    });
    if sorted_and_clear {
        return Ok(Vec::new());
    }
    // Keys borrow the paths; only renamed paths are owned.
    let mut dirs: HashSet<&str> = HashSet::new();
    let mut previous = "";
    for (_, path) in paths() {
        for (end, _) in path.match_indices('/') {
            // Sorted file lists repeat the folders of the previous path: skip those.
            if previous.len() > end
                && previous.as_bytes()[end] == b'/'
                && previous[..end] == path[..end]
            {
                continue;
            }
            dirs.insert(&path[..end]);
        }
        previous = path;
    }
    let mut files: HashSet<&str> = HashSet::with_capacity(count);
    let mut renamed: HashSet<String> = HashSet::new();
    let mut renames = Vec::new();
    for (i, path) in paths() {
        let taken = |p: &str| files.contains(p) || dirs.contains(p) || renamed.contains(p);
        if !taken(path) {
            files.insert(path);
            continue;
        }
        let candidate = (1..=MAX_DUPLICATE_TRIES)
            .map(|n| with_suffix(path, n))
            .find(|c| !taken(c));
        match candidate {
            Some(c) => {
                renamed.insert(c.clone());
                renames.push((i, c));
            }
            None => {
                return Err(format!(
                    "too many files named {path:?} (more than {MAX_DUPLICATE_TRIES} duplicates)"
                ));
            }
        }
    }
    Ok(renames)
}

/// A file's path inside a torrent: safe components (see
/// [`sanitize_component`](crate::sanitize_component)), never empty.
///
/// It is stored as the components joined by `/` (lossless: no component holds a
/// separator) in a buffer shared by all paths of a torrent, so parsing a torrent of many
/// files allocates once for all of them. Use [`FilePath::iter`] for the components, or
/// [`FilePath::to_path_buf`] to join them under a download folder.
///
/// ```
/// # use shoal_metainfo::Metainfo;
/// let torrent = b"d4:infod5:filesld6:lengthi5e4:pathl3:dir5:a.txteee4:name3:top\
/// 12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee";
/// let meta = Metainfo::from_bytes(torrent).unwrap();
/// let path = &meta.files()[0].path;
/// assert_eq!(path.as_str(), "top/dir/a.txt");
/// assert_eq!(*path, ["top", "dir", "a.txt"]);
/// assert_eq!(path.len(), 3);
/// assert_eq!(path.file_name(), "a.txt");
/// assert_eq!(path.to_path_buf(), std::path::Path::new("top").join("dir").join("a.txt"));
/// ```
#[derive(Clone)]
pub struct FilePath {
    buf: Arc<String>,
    /// 32-bit offsets keep a torrent's list of files smaller (the parser refuses paths
    /// of more than 4 GiB in all).
    start: u32,
    end: u32,
}

/// The components of a [`FilePath`].
pub type Components<'a> = std::str::Split<'a, char>;

impl FilePath {
    /// The path at `range` of `buf` (components joined by `/`).
    pub(crate) fn in_buffer(buf: Arc<String>, range: std::ops::Range<usize>) -> Self {
        debug_assert!(buf.get(range.clone()).is_some_and(|p| !p.is_empty()));
        debug_assert!(u32::try_from(buf.len()).is_ok());
        FilePath {
            buf,
            start: range.start as u32,
            end: range.end as u32,
        }
    }

    /// The buffer the path is in (shared by all paths of a torrent).
    pub(crate) fn buffer(&self) -> &Arc<String> {
        &self.buf
    }

    /// The components joined by `/`.
    pub fn as_str(&self) -> &str {
        &self.buf[self.start as usize..self.end as usize]
    }

    /// The components, first to last.
    pub fn iter(&self) -> Components<'_> {
        self.as_str().split('/')
    }

    /// The components, first to last (same as [`FilePath::iter`]).
    pub fn components(&self) -> Components<'_> {
        self.iter()
    }

    /// How many components the path has (at least one).
    pub fn len(&self) -> usize {
        self.as_str().bytes().filter(|&b| b == b'/').count() + 1
    }

    /// Always `false`: a path has at least one component.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The last component: the file's name.
    pub fn file_name(&self) -> &str {
        let path = self.as_str();
        &path[path.rfind('/').map_or(0, |i| i + 1)..]
    }

    /// The components joined with the platform's separator, to join under a folder.
    pub fn to_path_buf(&self) -> std::path::PathBuf {
        self.iter().collect()
    }
}

impl<'a> IntoIterator for &'a FilePath {
    type Item = &'a str;
    type IntoIter = Components<'a>;

    fn into_iter(self) -> Components<'a> {
        self.iter()
    }
}

impl std::fmt::Display for FilePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for FilePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for FilePath {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for FilePath {}

impl std::hash::Hash for FilePath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for FilePath {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Component by component, as a list of component strings would compare.
impl Ord for FilePath {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        cmp_components(self.as_str(), other.as_str())
    }
}

/// Equal when the components are.
impl<S: AsRef<str>> PartialEq<[S]> for FilePath {
    fn eq(&self, other: &[S]) -> bool {
        self.iter().eq(other.iter().map(AsRef::as_ref))
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for FilePath {
    fn eq(&self, other: &[S; N]) -> bool {
        *self == other[..]
    }
}

impl<S: AsRef<str>> PartialEq<&[S]> for FilePath {
    fn eq(&self, other: &&[S]) -> bool {
        *self == **other
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for FilePath {
    fn eq(&self, other: &Vec<S>) -> bool {
        *self == other[..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn san(parts: &[&[u8]]) -> Vec<String> {
        sanitize_path(parts.iter().copied())
    }

    #[test]
    fn like_libtorrent() {
        assert_eq!(san(&[b"/foobar"]), ["foobar"]);
        assert_eq!(san(&[b"\\", b"\\", b"bar"]), ["bar"]);
        assert_eq!(san(&[b"", b""]), ["_", "_"]);
        assert_eq!(san(&[b"foo/../../../bar"]), ["foo......bar"]);
        assert_eq!(san(&[b"."]), ["_"]);
        assert_eq!(san(&[b"..", b"bar"]), ["bar"]);
        assert_eq!(san(&[b"a\x00b"]), ["a_b"]);
        assert_eq!(san(&[b"\xff.txt"]), ["_.txt"]);
        assert_eq!(san(&[b"nul.txt", b"com1"]), ["nul_.txt", "com1_"]);
        assert_eq!(san(&[b"com0", b"console"]), ["com0", "console"]);
    }

    #[test]
    fn component_order_of_joined_paths() {
        let paths = [
            "t",
            "t/a",
            "t/a/b",
            "t/a-x",
            "t/a.b/c",
            "t/ab",
            "t/a/b/c",
            "u",
            "t/b",
            "t/a!",
            "t/abcdefghij/k",
            "t/abcdefghij-k",
            "t/abcdefghij",
            "t/abcdefghi/j",
        ];
        for a in paths {
            for b in paths {
                let split = |p: &str| p.split('/').map(str::to_owned).collect::<Vec<_>>();
                let expected = split(a).cmp(&split(b));
                assert_eq!(cmp_components(a, b), expected, "{a} {b}");
                let folder = b.starts_with(a) && b.as_bytes().get(a.len()) == Some(&b'/');
                assert_eq!(
                    before_and_apart(a.as_bytes(), b.as_bytes()),
                    expected.is_lt() && !folder,
                    "{a} {b}"
                );
            }
        }
    }

    #[test]
    fn plain_words_are_checked_like_bytes() {
        let mut cases: Vec<Vec<u8>> = vec![b"file-00001.bin".to_vec(), b"abcdefgh".to_vec()];
        for bad in [
            0u8, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xff, b'/', b'\\', b':', b'.', b'0',
        ] {
            for at in 0..17 {
                let mut v = b"abcdefghijklmnopq".to_vec();
                v[at] = bad;
                cases.push(v);
            }
        }
        for case in cases {
            let expected = case.iter().all(|&b| PLAIN[usize::from(b)]);
            assert_eq!(all_plain(&case), expected, "{case:?}");
        }
    }

    fn bencoded_list(parts: &[Vec<u8>]) -> Vec<u8> {
        let mut list = b"l".to_vec();
        for part in parts {
            list.extend_from_slice(format!("{}:", part.len()).as_bytes());
            list.extend_from_slice(part);
        }
        list.push(b'e');
        list
    }

    fn one_by_one(parts: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for part in parts {
            push_component(&mut out, part);
        }
        out
    }

    #[test]
    fn a_list_is_sanitised_as_its_components() {
        let tricky: &[&[u8]] = &[
            b"file-00001.bin",
            b"",
            b".",
            b"..",
            b"C:",
            b"c:foo",
            b"a:b",
            b":",
            b"::x",
            b"CON",
            b"con.txt",
            b"lpt1",
            b"Aux ",
            b"nul.tar.gz",
            b"pr",
            b"a/b",
            b"\\",
            b"x\x00y",
            b"\xff.txt",
            b"caf\xc3\xa9",
            b"~tilde",
            b"sp ace",
            b"l",
            b"e",
            b"10:",
            b"1",
        ];
        let mut cases: Vec<Vec<Vec<u8>>> = tricky.iter().map(|p| vec![p.to_vec()]).collect();
        cases.push(tricky.iter().map(|p| p.to_vec()).collect());
        cases.push(vec![b"a".repeat(241), b"b".repeat(240)]);
        cases.push(vec![b"d".to_vec(), b"C:".to_vec(), b"x".to_vec()]);
        for parts in cases {
            let mut out = Vec::new();
            push_list(&mut out, &bencoded_list(&parts));
            assert_eq!(out, one_by_one(&parts), "{parts:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_list_is_sanitised_as_its_components(
            parts in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::prop_oneof![
                        proptest::sample::select(b"aAcClLnNoOpPrRuUxX019.: -/\\e".to_vec()),
                        proptest::prelude::any::<u8>(),
                    ],
                    0..12,
                ),
                0..5,
            )
        ) {
            let mut out = Vec::new();
            push_list(&mut out, &bencoded_list(&parts));
            proptest::prop_assert_eq!(out, one_by_one(&parts));
        }
    }

    #[test]
    fn long_component_keeps_extension() {
        let long = "a".repeat(300) + ".mkv";
        let out = sanitize_component(long.as_bytes()).unwrap();
        assert_eq!(out.len(), MAX_COMPONENT + 4);
        assert!(out.ends_with("a.mkv"));
        let wide = "é".repeat(200);
        assert!(sanitize_component(wide.as_bytes()).unwrap().len() <= 255);
    }

    fn unique(paths: &mut [String]) -> Result<(), String> {
        let renames = unique_renames(paths.len(), |i| Some(paths[i].as_str()))?;
        for (i, new) in renames {
            paths[i] = new;
        }
        Ok(())
    }

    #[test]
    fn duplicates_get_suffixes() {
        let p = |s: &str| s.to_owned();
        let mut paths = vec![p("t/foo/bar.txt"), p("t/foo/bar.txt"), p("t/foo"), p("t/x")];
        unique(&mut paths).unwrap();
        assert_eq!(paths[1], p("t/foo/bar.1.txt"));
        assert_eq!(paths[2], p("t/foo.1"));
        // Sorted input takes the fast path unless a file is also a folder.
        let mut sorted = vec![p("t/a"), p("t/a/b"), p("t/b")];
        unique(&mut sorted).unwrap();
        assert_eq!(sorted, [p("t/a.1"), p("t/a/b"), p("t/b")]);
        // Sorted by bytes but not by components: `t/a-x` comes between `t/a` and `t/a/b`.
        let mut bytewise = vec![p("t/a"), p("t/a-x"), p("t/a/b")];
        unique(&mut bytewise).unwrap();
        assert_eq!(bytewise, [p("t/a.1"), p("t/a-x"), p("t/a/b")]);
        let mut clean = vec![p("t/a"), p("t/a.txt"), p("t/b/c")];
        unique(&mut clean).unwrap();
        assert_eq!(clean, [p("t/a"), p("t/a.txt"), p("t/b/c")]);
        let mut dotted = vec![p("t/.x/a"), p("t/.x/a")];
        unique(&mut dotted).unwrap();
        assert_eq!(dotted, [p("t/.x/a"), p("t/.x/a.1")]);
        let mut many = vec![p("a/b"); MAX_DUPLICATE_TRIES + 2];
        assert!(unique(&mut many).is_err());
    }
}
