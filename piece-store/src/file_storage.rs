//! Files on disk under one root folder: sparse pre-sized files, positional IO, a bounded
//! cache of open handles.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::UNIX_EPOCH;

use crate::error::{Error, FileOp, Result};
use crate::layout::{Layout, check_relative};
use crate::storage::{FileStamp, Storage};

/// Settings of a [`FileStorage`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileStorageOptions {
    /// Most file handles kept open at once (least recently used are closed first).
    pub max_open_files: usize,
    /// Follow symbolic links found under the root (off: a symlink anywhere on a file's
    /// path is refused, so nothing can be written outside the root).
    pub follow_symlinks: bool,
}

impl FileStorageOptions {
    /// Set [`FileStorageOptions::max_open_files`].
    pub fn with_max_open_files(mut self, n: usize) -> Self {
        self.max_open_files = n;
        self
    }

    /// Set [`FileStorageOptions::follow_symlinks`].
    pub fn with_follow_symlinks(mut self, follow: bool) -> Self {
        self.follow_symlinks = follow;
        self
    }
}

impl Default for FileStorageOptions {
    fn default() -> Self {
        FileStorageOptions {
            max_open_files: 256,
            follow_symlinks: false,
        }
    }
}

/// The files of a layout under a root folder.
///
/// Files are created on their first write, sized to their full length at once (sparse,
/// no bytes allocated), with the folders on their path. Reads and writes are positional
/// (`pread`/`pwrite`), so threads never race on a file cursor. Pad files are never created.
#[derive(Debug)]
pub struct FileStorage {
    root: PathBuf,
    files: Vec<StoredFile>,
    options: FileStorageOptions,
    cache: Mutex<HandleCache>,
    dirty: Vec<AtomicBool>,
}

#[derive(Debug)]
struct StoredFile {
    rel: PathBuf,
    length: u64,
    pad: bool,
}

#[derive(Debug)]
struct Handle {
    file: Arc<File>,
    writable: bool,
    last_use: u64,
}

#[derive(Debug, Default)]
struct HandleCache {
    open: HashMap<usize, Handle>,
    tick: u64,
}

impl HandleCache {
    fn get(&mut self, index: usize, need_write: bool) -> Option<Arc<File>> {
        self.tick += 1;
        let h = self.open.get_mut(&index)?;
        if need_write && !h.writable {
            return None;
        }
        h.last_use = self.tick;
        Some(h.file.clone())
    }

    /// Insert a handle, closing the least recently used ones beyond `cap`. The scan is
    /// linear, but it only runs on a miss, which costs an `open` anyway.
    fn insert(&mut self, index: usize, file: Arc<File>, writable: bool, cap: usize) {
        self.open.remove(&index);
        while self.open.len() >= cap.max(1) {
            let Some(oldest) = self
                .open
                .iter()
                .min_by_key(|(_, h)| h.last_use)
                .map(|(&i, _)| i)
            else {
                break;
            };
            self.open.remove(&oldest);
        }
        self.tick += 1;
        self.open.insert(
            index,
            Handle {
                file,
                writable,
                last_use: self.tick,
            },
        );
    }

    fn remove(&mut self, index: usize) {
        self.open.remove(&index);
    }
}

impl FileStorage {
    /// Storage for `layout`'s files under `root` (created if missing). Every file path is
    /// checked to be relative and free of `..`; nothing is created until written.
    pub fn new(
        root: impl AsRef<Path>,
        layout: &Layout,
        options: FileStorageOptions,
    ) -> Result<Self> {
        let root = root.as_ref();
        fs::create_dir_all(root).map_err(|e| Error::io(FileOp::CreateDir, root, e))?;
        let root = fs::canonicalize(root).map_err(|e| Error::io(FileOp::Stat, root, e))?;
        let mut files = Vec::with_capacity(layout.num_files());
        for f in layout.files() {
            if !f.pad {
                check_relative(&f.path)?;
            }
            files.push(StoredFile {
                rel: f.path.clone(),
                length: f.length,
                pad: f.pad,
            });
        }
        Ok(FileStorage {
            root,
            files,
            options,
            cache: Mutex::new(HandleCache::default()),
            dirty: (0..layout.num_files())
                .map(|_| AtomicBool::new(false))
                .collect(),
        })
    }

    /// The (canonical) root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where file `index` lives on disk.
    pub fn path_of(&self, index: usize) -> Result<PathBuf> {
        Ok(self.root.join(&self.entry(index)?.rel))
    }

    /// Number of handles currently open (at most `max_open_files`).
    pub fn open_handles(&self) -> usize {
        lock(&self.cache).open.len()
    }

    /// Close every cached handle (they reopen on demand).
    pub fn close_all(&self) {
        lock(&self.cache).open.clear();
    }

    fn entry(&self, index: usize) -> Result<&StoredFile> {
        self.files.get(index).ok_or(Error::FileOutOfRange {
            index,
            num_files: self.files.len(),
        })
    }

    /// Resolve file `index` inside the root, refusing symlinks on the way (unless allowed)
    /// and creating folders when `create_dirs`.
    fn resolve(&self, index: usize, create_dirs: bool) -> Result<PathBuf> {
        let entry = self.entry(index)?;
        let mut path = self.root.clone();
        let mut comps = entry.rel.components().peekable();
        while let Some(c) = comps.next() {
            path.push(c);
            let last = comps.peek().is_none();
            match fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() && !self.options.follow_symlinks => {
                    return Err(Error::UnsafePath {
                        path,
                        reason: "a symbolic link on the way could lead outside the root",
                    });
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    if !last && create_dirs {
                        match fs::create_dir(&path) {
                            Ok(()) => {}
                            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                            Err(e) => return Err(Error::io(FileOp::CreateDir, path, e)),
                        }
                    } else if !last {
                        return Err(Error::io(FileOp::Open, self.root.join(&entry.rel), e));
                    }
                }
                Err(e) => return Err(Error::io(FileOp::Stat, path, e)),
            }
        }
        Ok(path)
    }

    /// An open handle for file `index`; for writing it is created and sized first.
    fn handle(&self, index: usize, for_write: bool) -> Result<Arc<File>> {
        if let Some(f) = lock(&self.cache).get(index, for_write) {
            return Ok(f);
        }
        let entry = self.entry(index)?;
        let path = self.resolve(index, for_write)?;
        let (file, writable) = if for_write {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| Error::io(FileOp::Open, &path, e))?;
            let len = f
                .metadata()
                .map_err(|e| Error::io(FileOp::Stat, &path, e))?
                .len();
            if len < entry.length {
                f.set_len(entry.length)
                    .map_err(|e| Error::io(FileOp::SetLen, &path, e))?;
            }
            (f, true)
        } else {
            match OpenOptions::new().read(true).write(true).open(&path) {
                Ok(f) => (f, true),
                Err(e) if e.kind() == ErrorKind::PermissionDenied => (
                    File::open(&path).map_err(|e| Error::io(FileOp::Open, &path, e))?,
                    false,
                ),
                Err(e) => return Err(Error::io(FileOp::Open, &path, e)),
            }
        };
        let file = Arc::new(file);
        lock(&self.cache).insert(index, file.clone(), writable, self.options.max_open_files);
        Ok(file)
    }

    fn forget(&self, index: usize) {
        lock(&self.cache).remove(index);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Storage for FileStorage {
    fn read_at(&self, index: usize, offset: u64, buf: &mut [u8]) -> Result<()> {
        let entry = self.entry(index)?;
        if entry.pad {
            buf.fill(0);
            return Ok(());
        }
        let file = self.handle(index, false)?;
        let mut done = 0;
        while done < buf.len() {
            match file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => {
                    return Err(Error::MissingData {
                        path: self.root.join(&entry.rel),
                        offset: offset + done as u64,
                    });
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.forget(index);
                    return Err(Error::io(FileOp::Read, self.root.join(&entry.rel), e));
                }
            }
        }
        Ok(())
    }

    fn write_at(&self, index: usize, offset: u64, data: &[u8]) -> Result<()> {
        let entry = self.entry(index)?;
        if entry.pad {
            return Ok(());
        }
        if offset
            .checked_add(data.len() as u64)
            .is_none_or(|end| end > entry.length)
        {
            return Err(Error::RangeOutOfBounds {
                what: format!("file {:?}", entry.rel),
                offset,
                len: data.len() as u64,
                size: entry.length,
            });
        }
        let file = self.handle(index, true)?;
        self.dirty[index].store(true, Ordering::Release);
        file.write_all_at(data, offset).map_err(|e| {
            self.forget(index);
            Error::io(FileOp::Write, self.root.join(&entry.rel), e)
        })
    }

    fn create(&self, index: usize) -> Result<()> {
        if self.entry(index)?.pad {
            return Ok(());
        }
        self.handle(index, true).map(drop)
    }

    fn flush(&self) -> Result<()> {
        for (index, dirty) in self.dirty.iter().enumerate() {
            // Clear first: a write racing with the sync sets it again.
            if !dirty.swap(false, Ordering::AcqRel) {
                continue;
            }
            let synced = self.handle(index, false).and_then(|file| {
                file.sync_data().map_err(|e| {
                    self.forget(index);
                    Error::io(FileOp::Sync, self.root.join(&self.files[index].rel), e)
                })
            });
            if let Err(e) = synced {
                dirty.store(true, Ordering::Release);
                return Err(e);
            }
        }
        Ok(())
    }

    fn stamp(&self, index: usize) -> Result<Option<FileStamp>> {
        let entry = self.entry(index)?;
        if entry.pad {
            return Ok(None);
        }
        let path = self.root.join(&entry.rel);
        let m = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(FileOp::Stat, path, e)),
        };
        if !m.is_file() {
            return Ok(None);
        }
        let mtime_ns = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        Ok(Some(FileStamp {
            length: m.len(),
            mtime_ns,
        }))
    }
}
