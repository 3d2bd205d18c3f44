//! Files on disk under one root folder: sparse pre-sized files, positional IO, a bounded
//! cache of open handles.

use std::collections::HashMap;
use std::fs::{self, File};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{Mode, SFlag, fstatat, mkdirat};
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
    /// Default 64: a client holding many torrents multiplies it.
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
            max_open_files: 64,
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
    /// The root folder, held open: every file is opened relative to it.
    root_fd: OwnedFd,
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
        let root_fd =
            OwnedFd::from(File::open(&root).map_err(|e| Error::io(FileOp::Open, &root, e))?);
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
            root_fd,
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

    /// Open file `index` by walking from the root folder's descriptor one component at a
    /// time with `openat(O_NOFOLLOW)`: a symbolic link anywhere on the way (unless
    /// allowed) is refused, even one swapped in while we walk, so nothing outside the root
    /// is ever opened. Folders are created on the way when `for_write`.
    fn open_inside_root(&self, index: usize, for_write: bool) -> Result<(File, bool)> {
        let entry = self.entry(index)?;
        let full = self.root.join(&entry.rel);
        let nofollow = if self.options.follow_symlinks {
            OFlag::empty()
        } else {
            OFlag::O_NOFOLLOW
        };
        let comps: Vec<&std::ffi::OsStr> = entry.rel.iter().collect();
        let Some((name, dirs)) = comps.split_last() else {
            return Err(Error::UnsafePath {
                path: entry.rel.clone(),
                reason: "empty path",
            });
        };
        let mut dir: Option<OwnedFd> = None;
        let mut here = self.root.clone();
        for comp in dirs {
            here.push(comp);
            let parent = dir.as_ref().map_or(self.root_fd.as_fd(), |d| d.as_fd());
            let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC | nofollow;
            let opened = match openat(parent, *comp, flags, Mode::empty()) {
                Err(Errno::ENOENT) if for_write => {
                    match mkdirat(parent, *comp, Mode::from_bits_truncate(0o755)) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(Error::io(FileOp::CreateDir, here, e.into())),
                    }
                    openat(parent, *comp, flags, Mode::empty())
                }
                other => other,
            };
            dir = Some(opened.map_err(|e| self.open_error(parent, comp, &here, FileOp::Open, e))?);
        }
        let parent = dir.as_ref().map_or(self.root_fd.as_fd(), |d| d.as_fd());
        let base = OFlag::O_CLOEXEC | nofollow;
        let (fd, writable) = if for_write {
            let fd = openat(
                parent,
                *name,
                base | OFlag::O_RDWR | OFlag::O_CREAT,
                Mode::from_bits_truncate(0o644),
            )
            .map_err(|e| self.open_error(parent, name, &full, FileOp::Open, e))?;
            (fd, true)
        } else {
            match openat(parent, *name, base | OFlag::O_RDWR, Mode::empty()) {
                Ok(fd) => (fd, true),
                Err(Errno::EACCES | Errno::EPERM | Errno::EROFS) => (
                    openat(parent, *name, base | OFlag::O_RDONLY, Mode::empty())
                        .map_err(|e| self.open_error(parent, name, &full, FileOp::Open, e))?,
                    false,
                ),
                Err(e) => return Err(self.open_error(parent, name, &full, FileOp::Open, e)),
            }
        };
        Ok((File::from(fd), writable))
    }

    /// The error for a failed `openat`: a refused symbolic link, or the system's error.
    fn open_error(
        &self,
        parent: BorrowedFd<'_>,
        name: &std::ffi::OsStr,
        path: &Path,
        op: FileOp,
        e: Errno,
    ) -> Error {
        if matches!(e, Errno::ELOOP | Errno::ENOTDIR) && !self.options.follow_symlinks {
            let is_link = fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok_and(|st| {
                SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK
            });
            if is_link {
                return Error::UnsafePath {
                    path: path.to_path_buf(),
                    reason: "a symbolic link on the way could lead outside the root",
                };
            }
        }
        Error::io(op, path, e.into())
    }

    /// An open handle for file `index`; for writing it is created and sized first.
    fn handle(&self, index: usize, for_write: bool) -> Result<Arc<File>> {
        if let Some(f) = lock(&self.cache).get(index, for_write) {
            return Ok(f);
        }
        let entry = self.entry(index)?;
        let (file, writable) = self.open_inside_root(index, for_write)?;
        if for_write {
            let path = || self.root.join(&entry.rel);
            let meta = file
                .metadata()
                .map_err(|e| Error::io(FileOp::Stat, path(), e))?;
            if !meta.is_file() {
                return Err(Error::io(
                    FileOp::Open,
                    path(),
                    std::io::Error::new(ErrorKind::IsADirectory, "not a regular file"),
                ));
            }
            if meta.len() < entry.length {
                file.set_len(entry.length)
                    .map_err(|e| Error::io(FileOp::SetLen, path(), e))?;
                self.dirty[index].store(true, Ordering::Release);
            }
        }
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
        let written = file.write_all_at(data, offset);
        // Marked dirty after the write: a flush that clears the mark before this point
        // may have synced before these bytes arrived, so they must be marked again.
        self.dirty[index].store(true, Ordering::Release);
        written.map_err(|e| {
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
