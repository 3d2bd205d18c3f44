//! The published-torrents directory: listing, reading, and storing uploaded .torrent files.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use crate::error::{Error, Result};

/// Largest .torrent accepted by upload or listed from the directory.
pub const MAX_TORRENT_BYTES: usize = 10 * 1024 * 1024;

/// What the tracker knows about one published .torrent file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedTorrent {
    /// File name in the directory, ending in `.torrent`.
    pub file_name: String,
    /// The torrent's `info.name`.
    pub name: String,
    /// The v1 info-hash (SHA-1 of `info`), if the torrent has a v1 part.
    pub info_hash_v1: Option<[u8; 20]>,
    /// The v2 info-hash (SHA-256 of `info`), if the torrent has a v2 part.
    pub info_hash_v2: Option<[u8; 32]>,
    /// Total payload size in bytes, as far as the info dictionary says.
    pub total_size: u64,
    /// Size of the .torrent file itself.
    pub file_size: u64,
    /// When the file was last modified (published).
    pub modified: SystemTime,
}

impl PublishedTorrent {
    /// The 20-byte info-hash used on the wire: v1, else truncated v2.
    pub fn wire_hash(&self) -> [u8; 20] {
        match (self.info_hash_v1, self.info_hash_v2) {
            (Some(h), _) => h,
            (None, Some(h)) => {
                let mut t = [0; 20];
                t.copy_from_slice(&h[..20]);
                t
            }
            (None, None) => [0; 20],
        }
    }
}

/// The parts of a .torrent the listing shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TorrentSummary {
    pub(crate) name: String,
    pub(crate) v1: Option<[u8; 20]>,
    pub(crate) v2: Option<[u8; 32]>,
    pub(crate) total_size: u64,
}

/// Checks that `bytes` is a .torrent that `metainfo` accepts (v1, v2 or hybrid), and
/// summarises it.
pub(crate) fn inspect(bytes: &[u8]) -> Result<TorrentSummary> {
    if bytes.len() > MAX_TORRENT_BYTES {
        return Err(Error::InvalidTorrent(format!(
            "{} bytes, more than the {MAX_TORRENT_BYTES} allowed",
            bytes.len()
        )));
    }
    let m =
        metainfo::Metainfo::from_bytes(bytes).map_err(|e| Error::InvalidTorrent(e.to_string()))?;
    let hash = m.info_hash();
    Ok(TorrentSummary {
        name: m.name().to_owned(),
        v1: hash.v1(),
        v2: hash.v2(),
        total_size: m.total_length(),
    })
}

/// Whether `file_name` is a plain name we serve: `*.torrent`, no path separators, no
/// leading dot, printable ASCII from a small set.
pub(crate) fn is_safe_file_name(file_name: &str) -> bool {
    file_name.len() <= 200
        && file_name.len() > ".torrent".len()
        && file_name.ends_with(".torrent")
        && !file_name.starts_with('.')
        && file_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+,()[] ".contains(&b))
}

/// A safe file name for a torrent called `name`: unsafe characters become `_`.
pub(crate) fn file_name_for(name: &str) -> String {
    let stem: String = name
        .strip_suffix(".torrent")
        .unwrap_or(name)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-+,()[] ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(180)
        .collect();
    let stem = stem.trim_start_matches(['.', ' ']);
    let stem = if stem.trim().is_empty() {
        "torrent"
    } else {
        stem
    };
    format!("{stem}.torrent")
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CacheKey {
    modified: SystemTime,
    len: u64,
}

/// The directory of published torrents, with a cache of parsed summaries keyed by file
/// name, modification time and size (so listing does not re-parse unchanged files).
#[derive(Debug)]
pub(crate) struct Published {
    dir: PathBuf,
    cache: Mutex<HashMap<String, (CacheKey, Option<TorrentSummary>)>>,
}

impl Published {
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            context: format!("creating {}", dir.display()),
            source: e,
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// All valid torrents in the directory, newest first (files that do not parse are
    /// skipped).
    pub(crate) fn list(&self) -> Result<Vec<PublishedTorrent>> {
        let io = |e| Error::Io {
            context: format!("listing {}", self.dir.display()),
            source: e,
        };
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io)? {
            let Ok(entry) = entry else { continue };
            let Ok(file_name) = entry.file_name().into_string() else {
                continue;
            };
            if !is_safe_file_name(&file_name) {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() || meta.len() > MAX_TORRENT_BYTES as u64 {
                continue;
            }
            let key = CacheKey {
                modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                len: meta.len(),
            };
            let cached = {
                let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
                cache
                    .get(&file_name)
                    .filter(|(k, _)| *k == key)
                    .map(|(_, s)| s.clone())
            };
            let summary = match cached {
                Some(s) => s,
                None => {
                    let s = std::fs::read(entry.path())
                        .ok()
                        .and_then(|b| inspect(&b).ok());
                    let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
                    cache.insert(file_name.clone(), (key.clone(), s.clone()));
                    s
                }
            };
            seen.push(file_name.clone());
            if let Some(s) = summary {
                out.push(PublishedTorrent {
                    file_name,
                    name: s.name,
                    info_hash_v1: s.v1,
                    info_hash_v2: s.v2,
                    total_size: s.total_size,
                    file_size: key.len,
                    modified: key.modified,
                });
            }
        }
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|k, _| seen.contains(k));
        out.sort_by(|a, b| {
            b.modified
                .cmp(&a.modified)
                .then_with(|| a.file_name.cmp(&b.file_name))
        });
        Ok(out)
    }

    /// The bytes of a published .torrent, if `file_name` is safe and exists.
    pub(crate) fn read(&self, file_name: &str) -> Option<Vec<u8>> {
        if !is_safe_file_name(file_name) {
            return None;
        }
        let data = std::fs::read(self.dir.join(file_name)).ok()?;
        (data.len() <= MAX_TORRENT_BYTES).then_some(data)
    }

    /// Validates and stores an uploaded .torrent under `wanted_name` (or its `info.name`).
    /// Storing the same bytes again is fine; other bytes under an existing name are refused.
    pub(crate) fn store(
        &self,
        wanted_name: Option<&str>,
        bytes: &[u8],
    ) -> Result<PublishedTorrent> {
        let summary = inspect(bytes)?;
        let file_name = file_name_for(wanted_name.unwrap_or(&summary.name));
        let path = self.dir.join(&file_name);
        let io = |e| Error::Io {
            context: format!("writing {}", path.display()),
            source: e,
        };
        if let Ok(existing) = std::fs::read(&path) {
            if existing != bytes {
                return Err(Error::AlreadyPublished(file_name));
            }
        } else {
            // Write to a temporary name, then rename: a listing never sees half a file.
            let tmp = self
                .dir
                .join(format!(".upload-{}-{file_name}", std::process::id()));
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io)?;
            drop(f);
            std::fs::rename(&tmp, &path).map_err(io)?;
        }
        let modified = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .unwrap_or_else(|_| SystemTime::now());
        Ok(PublishedTorrent {
            file_name,
            name: summary.name,
            info_hash_v1: summary.v1,
            info_hash_v2: summary.v2,
            total_size: summary.total_size,
            file_size: bytes.len() as u64,
            modified,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha1::{Digest as _, Sha1};

    const TORRENT: &[u8] = b"d8:announce9:http://x/4:infod6:lengthi5e4:name5:a.txt12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee";

    #[test]
    fn inspect_accepts_a_torrent_and_rejects_others() {
        let s = inspect(TORRENT).unwrap();
        assert_eq!(s.name, "a.txt");
        assert_eq!(s.total_size, 5);
        let info = &TORRENT
            [TORRENT.windows(5).position(|w| w == b"infod").unwrap() + 4..TORRENT.len() - 1];
        assert_eq!(s.v1, Some(Sha1::digest(info).into()));
        assert_eq!(s.v2, None);
        for bad in [
            &b"not bencode"[..],
            b"le",
            b"d4:infoi1ee",
            b"d4:infod4:name1:aee",
            b"d4:infod4:name1:a12:piece lengthi1e6:pieces3:abcee",
        ] {
            assert!(
                matches!(inspect(bad), Err(Error::InvalidTorrent(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn file_names_are_made_safe() {
        assert_eq!(file_name_for("../../etc/passwd"), "_.._etc_passwd.torrent");
        assert_eq!(file_name_for(".hidden"), "hidden.torrent");
        assert_eq!(
            file_name_for("ubuntu 24.04.iso"),
            "ubuntu 24.04.iso.torrent"
        );
        assert_eq!(file_name_for("x.torrent"), "x.torrent");
        assert_eq!(file_name_for("é"), "_.torrent");
        assert!(is_safe_file_name("a b.torrent"));
        for bad in [
            "../a.torrent",
            "a/b.torrent",
            ".a.torrent",
            "a.txt",
            ".torrent",
            "a\\b.torrent",
        ] {
            assert!(!is_safe_file_name(bad), "{bad}");
        }
    }

    #[test]
    fn store_list_and_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = Published::open(dir.path()).unwrap();
        let t = p.store(None, TORRENT).unwrap();
        assert_eq!(t.file_name, "a.txt.torrent");
        assert!(p.store(None, TORRENT).is_ok(), "same bytes again");
        let other = b"d4:infod6:lengthi6e4:name5:a.txt12:piece lengthi16384e6:pieces20:bbbbbbbbbbbbbbbbbbbbee";
        assert!(matches!(
            p.store(None, other),
            Err(Error::AlreadyPublished(_))
        ));
        std::fs::write(dir.path().join("junk.torrent"), b"junk").unwrap();
        let list = p.list().unwrap();
        assert_eq!(list.len(), 1, "invalid files are not listed");
        assert_eq!(list[0], t);
        assert_eq!(p.read("a.txt.torrent").as_deref(), Some(TORRENT));
        assert_eq!(p.read("../a.txt.torrent"), None);
    }
}
