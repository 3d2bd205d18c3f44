//! The resume file: which pieces are verified, and the size and modification time of every
//! file when that was recorded. Written atomically (temp file, fsync, rename, fsync folder).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use crate::bitfield::Bitfield;
use crate::error::{Error, FileOp, Result};
use crate::storage::FileStamp;

const MAGIC: &[u8; 8] = b"SHOALRES";
const VERSION: u32 = 1;
/// Refuse resume files above this size before reading them (a 10-million-piece,
/// 1-million-file torrent needs about 27 MB).
const MAX_RESUME_BYTES: u64 = 64 << 20;

/// What a resume file records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeData {
    /// [`crate::Layout::fingerprint`] of the layout it belongs to.
    pub layout_fingerprint: [u8; 20],
    /// Pieces verified and flushed to disk when the data was taken.
    pub pieces: Bitfield,
    /// Per layout file: size and modification time then (`None`: absent, or a pad file).
    pub files: Vec<Option<FileStamp>>,
}

impl ResumeData {
    /// Encode to the compact binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48 + self.pieces.as_bytes().len() + 17 * self.files.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.layout_fingerprint);
        out.extend_from_slice(&self.pieces.len().to_le_bytes());
        out.extend_from_slice(self.pieces.as_bytes());
        out.extend_from_slice(&(self.files.len() as u64).to_le_bytes());
        for f in &self.files {
            match f {
                Some(s) => {
                    out.push(1);
                    out.extend_from_slice(&s.length.to_le_bytes());
                    out.extend_from_slice(&s.mtime_ns.to_le_bytes());
                }
                None => {
                    out.push(0);
                    out.extend_from_slice(&[0; 16]);
                }
            }
        }
        let digest = Sha1::digest(&out);
        out.extend_from_slice(&digest);
        out
    }

    /// Decode; the error says what is wrong (`path` only names the file in it).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |reason: &str| Error::BadResume {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        if bytes.len() < MAGIC.len() + 4 + 20 + 4 + 8 + 20 {
            return Err(bad("too short"));
        }
        let (body, digest) = bytes.split_at(bytes.len() - 20);
        if Sha1::digest(body).as_slice() != digest {
            return Err(bad("checksum mismatch (truncated or corrupt)"));
        }
        let mut r = Reader { buf: body, pos: 0 };
        if r.take(8).ok_or_else(|| bad("short"))? != MAGIC {
            return Err(bad("not a shoal resume file"));
        }
        let version = r.u32().ok_or_else(|| bad("short"))?;
        if version != VERSION {
            return Err(bad(&format!("unknown version {version}")));
        }
        let mut layout_fingerprint = [0; 20];
        layout_fingerprint.copy_from_slice(r.take(20).ok_or_else(|| bad("short"))?);
        let n = r.u32().ok_or_else(|| bad("short"))?;
        let bits = r
            .take(n.div_ceil(8) as usize)
            .ok_or_else(|| bad("bitfield longer than the file"))?;
        let pieces =
            Bitfield::from_bytes(bits, n).ok_or_else(|| bad("spare bits set in bitfield"))?;
        let nfiles = r.u64().ok_or_else(|| bad("short"))?;
        if nfiles.checked_mul(17) != Some((body.len() - r.pos) as u64) {
            return Err(bad("file count does not match the file's size"));
        }
        let mut files = Vec::with_capacity(nfiles as usize);
        for _ in 0..nfiles {
            let flag = r.take(1).ok_or_else(|| bad("short"))?[0];
            let length = r.u64().ok_or_else(|| bad("short"))?;
            let mtime_ns = r.u64().ok_or_else(|| bad("short"))? as i64;
            files.push(match flag {
                0 => None,
                1 => Some(FileStamp { length, mtime_ns }),
                _ => return Err(bad("bad file flag")),
            });
        }
        Ok(ResumeData {
            layout_fingerprint,
            pieces,
            files,
        })
    }

    /// Read a resume file; `Ok(None)` when there is none.
    pub fn load(path: impl AsRef<Path>) -> Result<Option<Self>> {
        let path = path.as_ref();
        let mut f = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(FileOp::LoadResume, path, e)),
        };
        let mut bytes = Vec::new();
        (&mut f)
            .take(MAX_RESUME_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(FileOp::LoadResume, path, e))?;
        if bytes.len() as u64 > MAX_RESUME_BYTES {
            return Err(Error::BadResume {
                path: path.to_path_buf(),
                reason: format!("larger than {MAX_RESUME_BYTES} bytes"),
            });
        }
        Self::from_bytes(&bytes, path).map(Some)
    }

    /// Write atomically: a temp file beside `path`, fsync, rename over `path`, fsync the
    /// folder. A crash leaves either the old or the new file, never a mix.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let err = |e| Error::io(FileOp::SaveResume, path, e);
        let mut tmp = PathBuf::from(path);
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        // A fixed name: a temp file left by a crash is simply overwritten next time.
        name.push(".tmp");
        tmp.set_file_name(name);
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(err)?;
        let result = f
            .write_all(&self.to_bytes())
            .and_then(|()| f.sync_all())
            .and_then(|()| fs::rename(&tmp, path));
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(err(e));
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir).and_then(|d| d.sync_all()).map_err(err)
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary bytes, and valid files with a byte changed, never panic; a changed
        /// byte is always detected.
        #[test]
        fn garbage_is_rejected_without_panic(
            bytes in prop::collection::vec(any::<u8>(), 0..200),
            n in 0u32..100,
            at in any::<usize>(),
            flip in 1u8..=255,
        ) {
            let _ = ResumeData::from_bytes(&bytes, Path::new("r"));
            let data = ResumeData {
                layout_fingerprint: [1; 20],
                pieces: Bitfield::new(n),
                files: vec![None; (n % 7) as usize],
            };
            let mut good = data.to_bytes();
            prop_assert_eq!(ResumeData::from_bytes(&good, Path::new("r")).unwrap(), data);
            let i = at % good.len();
            good[i] ^= flip;
            prop_assert!(ResumeData::from_bytes(&good, Path::new("r")).is_err());
        }
    }

    #[test]
    fn round_trip_and_corruption_detected() {
        let mut pieces = Bitfield::new(11);
        pieces.set(3, true);
        pieces.set(10, true);
        let data = ResumeData {
            layout_fingerprint: [7; 20],
            pieces,
            files: vec![
                Some(FileStamp {
                    length: 5,
                    mtime_ns: -3,
                }),
                None,
            ],
        };
        let bytes = data.to_bytes();
        let p = Path::new("r");
        assert_eq!(ResumeData::from_bytes(&bytes, p).unwrap(), data);
        for cut in 0..bytes.len() {
            assert!(ResumeData::from_bytes(&bytes[..cut], p).is_err());
        }
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert!(matches!(
            ResumeData::from_bytes(&flipped, p),
            Err(Error::BadResume { .. })
        ));
    }
}
