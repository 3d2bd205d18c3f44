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
//! - duplicate paths get `.1`, `.2`, ... before the extension (at most 100 tries).

use std::collections::HashSet;

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
    // The common case: short printable ASCII with nothing to change.
    if raw.len() <= MAX_COMPONENT
        && raw != b"."
        && raw != b".."
        && raw.iter().all(|&b| PLAIN[usize::from(b)])
        && !(b"CcPpAaNnLl".contains(&raw[0]) && is_windows_reserved(raw))
    {
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

/// Renames `path` (in place) with `.N` before the extension of its last component.
fn with_suffix(path: &[String], n: usize) -> Vec<String> {
    let mut p = path.to_vec();
    if let Some(last) = p.last_mut() {
        *last = match last.rfind('.') {
            Some(i) if i > 0 => format!("{}.{n}{}", &last[..i], &last[i..]),
            _ => format!("{last}.{n}"),
        };
    }
    p
}

/// Makes every path unique: a path equal to an earlier file's, or to a folder of an
/// earlier file, gets a `.N` suffix. Pad files take part so they never collide either.
/// Errors (with the path) when a path needs more than [`MAX_DUPLICATE_TRIES`] renames.
/// `path_of` reads an item's path and `rename` replaces it.
pub(crate) fn make_unique<T>(
    items: &mut [T],
    path_of: impl for<'x> Fn(&'x T) -> &'x [String],
    mut rename: impl FnMut(&mut T, Vec<String>),
) -> Result<(), String> {
    // Comparison is exact (case-sensitive), as libtorrent's. Fast path: paths in strictly
    // increasing order with no path the prefix of the next are unique, and no file is a
    // folder of another (paths sharing a prefix are contiguous in this order).
    let sorted_and_clear = items.windows(2).all(|w| {
        let (a, b) = (path_of(&w[0]), path_of(&w[1]));
        a < b && !(b.len() > a.len() && b[..a.len()] == a[..])
    });
    if sorted_and_clear {
        return Ok(());
    }
    // Keys borrow the paths; only renamed paths are owned.
    let mut renames: Vec<(usize, Vec<String>)> = Vec::new();
    {
        let mut dirs: HashSet<&[String]> = HashSet::new();
        let mut previous: &[String] = &[];
        for path in items.iter().map(&path_of) {
            for end in 1..path.len() {
                // Sorted file lists repeat the folders of the previous path: skip those.
                if previous.len() > end && previous[..end] == path[..end] {
                    continue;
                }
                dirs.insert(&path[..end]);
            }
            previous = path;
        }
        let mut files: HashSet<&[String]> = HashSet::with_capacity(items.len());
        let mut renamed: HashSet<Vec<String>> = HashSet::new();
        for (i, path) in items.iter().map(&path_of).enumerate() {
            let taken = |p: &[String]| files.contains(p) || dirs.contains(p) || renamed.contains(p);
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
                        "too many files named {:?} (more than {MAX_DUPLICATE_TRIES} duplicates)",
                        path.join("/")
                    ));
                }
            }
        }
    }
    for (i, path) in renames {
        rename(&mut items[i], path);
    }
    Ok(())
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
    fn long_component_keeps_extension() {
        let long = "a".repeat(300) + ".mkv";
        let out = sanitize_component(long.as_bytes()).unwrap();
        assert_eq!(out.len(), MAX_COMPONENT + 4);
        assert!(out.ends_with("a.mkv"));
        let wide = "é".repeat(200);
        assert!(sanitize_component(wide.as_bytes()).unwrap().len() <= 255);
    }

    fn unique(paths: &mut [Vec<String>]) -> Result<(), String> {
        make_unique(paths, |p| p, |p, new| *p = new)
    }

    #[test]
    fn duplicates_get_suffixes() {
        let p = |s: &str| s.split('/').map(String::from).collect::<Vec<_>>();
        let mut paths = vec![p("t/foo/bar.txt"), p("t/foo/bar.txt"), p("t/foo"), p("t/x")];
        unique(&mut paths).unwrap();
        assert_eq!(paths[1], p("t/foo/bar.1.txt"));
        assert_eq!(paths[2], p("t/foo.1"));
        // Sorted input takes the fast path unless a file is also a folder.
        let mut sorted = vec![p("t/a"), p("t/a/b"), p("t/b")];
        unique(&mut sorted).unwrap();
        assert_eq!(sorted, [p("t/a.1"), p("t/a/b"), p("t/b")]);
        let mut clean = vec![p("t/a"), p("t/a.txt"), p("t/b/c")];
        unique(&mut clean).unwrap();
        assert_eq!(clean, [p("t/a"), p("t/a.txt"), p("t/b/c")]);
        let mut many = vec![p("a/b"); MAX_DUPLICATE_TRIES + 2];
        assert!(unique(&mut many).is_err());
    }
}
