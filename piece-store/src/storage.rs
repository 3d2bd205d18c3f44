//! The `Storage` trait and its in-memory implementation.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::error::{Error, FileOp, Result};
use crate::layout::Layout;

/// A file's size and modification time, recorded in resume data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileStamp {
    /// Size in bytes.
    pub length: u64,
    /// Modification time in nanoseconds since the Unix epoch (a change counter for
    /// storages without clocks).
    pub mtime_ns: i64,
}

/// Where the bytes of a layout's files live. Files are addressed by their index in the
/// layout the storage was built for. Implementations lock internally: every method takes
/// `&self` and may be called from several threads at once.
///
/// Pad files are never passed to a storage by [`crate::PieceStore`].
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Fill `buf` from file `file` at `offset`. Bytes that are not there (missing file,
    /// read past the end) give [`Error::MissingData`] (or a not-found [`Error::Io`]).
    fn read_at(&self, file: usize, offset: u64, buf: &mut [u8]) -> Result<()>;

    /// Write `data` to file `file` at `offset`, creating the file (at its full length) and
    /// its folders first if needed.
    fn write_at(&self, file: usize, offset: u64, data: &[u8]) -> Result<()>;

    /// Create file `file` at its full length if it does not exist yet (used for
    /// zero-length files, which no write ever touches).
    fn create(&self, file: usize) -> Result<()>;

    /// Make every write so far durable (`fdatasync` of each file written since the last
    /// flush).
    fn flush(&self) -> Result<()>;

    /// The file's size and modification time, `None` when it does not exist.
    fn stamp(&self, file: usize) -> Result<Option<FileStamp>>;
}

/// Files held in memory: for tests, and for callers that want no disk at all.
/// A file exists once written or created; until then reads give [`Error::MissingData`].
#[derive(Debug)]
pub struct MemStorage {
    files: Vec<MemFile>,
    clock: AtomicI64,
}

#[derive(Debug)]
struct MemFile {
    path: PathBuf,
    length: u64,
    data: Mutex<Option<Vec<u8>>>,
    mtime: AtomicI64,
    fail: Mutex<Option<std::io::ErrorKind>>,
}

impl MemStorage {
    /// Empty storage for the files of `layout` (nothing allocated until written).
    pub fn new(layout: &Layout) -> Self {
        MemStorage {
            files: layout
                .files()
                .iter()
                .map(|f| MemFile {
                    path: f.path.clone(),
                    length: f.length,
                    data: Mutex::new(None),
                    mtime: AtomicI64::new(0),
                    fail: Mutex::new(None),
                })
                .collect(),
            clock: AtomicI64::new(1),
        }
    }

    /// A copy of a file's contents, `None` when it was never written.
    pub fn file_contents(&self, file: usize) -> Option<Vec<u8>> {
        self.files.get(file)?.data.lock().ok()?.clone()
    }

    /// Make every later read and write of `file` fail with `kind` (`None` heals it):
    /// fault injection for tests of error paths.
    pub fn inject_error(&self, file: usize, kind: Option<std::io::ErrorKind>) {
        if let Some(f) = self.files.get(file) {
            *lock(&f.fail) = kind;
        }
    }

    fn file(&self, file: usize) -> Result<&MemFile> {
        self.files.get(file).ok_or(Error::FileOutOfRange {
            index: file,
            num_files: self.files.len(),
        })
    }

    fn check_fault(f: &MemFile, op: FileOp) -> Result<()> {
        match *lock(&f.fail) {
            Some(kind) => Err(Error::io(op, &f.path, kind.into())),
            None => Ok(()),
        }
    }

    fn range(f: &MemFile, offset: u64, len: usize) -> Result<std::ops::Range<usize>> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= f.length => Ok(offset as usize..end as usize),
            _ => Err(Error::RangeOutOfBounds {
                what: format!("file {:?}", f.path),
                offset,
                len: len as u64,
                size: f.length,
            }),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Storage for MemStorage {
    fn read_at(&self, file: usize, offset: u64, buf: &mut [u8]) -> Result<()> {
        let f = self.file(file)?;
        Self::check_fault(f, FileOp::Read)?;
        let range = Self::range(f, offset, buf.len())?;
        match &*lock(&f.data) {
            Some(data) => {
                buf.copy_from_slice(&data[range]);
                Ok(())
            }
            None => Err(Error::MissingData {
                path: f.path.clone(),
                offset,
            }),
        }
    }

    fn write_at(&self, file: usize, offset: u64, data: &[u8]) -> Result<()> {
        let f = self.file(file)?;
        Self::check_fault(f, FileOp::Write)?;
        let range = Self::range(f, offset, data.len())?;
        let mut guard = lock(&f.data);
        let bytes = guard.get_or_insert_with(|| vec![0; f.length as usize]);
        bytes[range].copy_from_slice(data);
        f.mtime.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        Ok(())
    }

    fn create(&self, file: usize) -> Result<()> {
        let f = self.file(file)?;
        Self::check_fault(f, FileOp::Open)?;
        let mut guard = lock(&f.data);
        if guard.is_none() {
            *guard = Some(vec![0; f.length as usize]);
            f.mtime.store(
                self.clock.fetch_add(1, Ordering::Relaxed),
                Ordering::Relaxed,
            );
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }

    fn stamp(&self, file: usize) -> Result<Option<FileStamp>> {
        let f = self.file(file)?;
        Ok(lock(&f.data).as_ref().map(|d| FileStamp {
            length: d.len() as u64,
            mtime_ns: f.mtime.load(Ordering::Relaxed),
        }))
    }
}
