//! Creating torrents: [`TorrentBuilder`] hashes a file or folder on all cores.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use bencode::{Dict, List, Value};
use sha1::{Digest, Sha1};

use crate::error::{Error, Result};
use crate::merkle::{self, BLOCK_SIZE};
use crate::metainfo::{Metainfo, TorrentVersion};
use crate::parse::MAX_PIECES;

/// Bytes each hashing thread reads at a time: small enough to stay in cache while it
/// is hashed, a multiple of the 16 KiB v2 block.
const CHUNK: usize = 64 * 1024;

/// How far a [`TorrentBuilder`] has got, as given to its progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of file data hashed so far.
    pub hashed_bytes: u64,
    /// Bytes of file data in all.
    pub total_bytes: u64,
}

/// Creates a torrent from a file or a folder.
///
/// Files are taken in a stable order (path components compared as bytes), hashed on
/// all cores with memory bounded by `threads × 64 KiB`, and the result is a
/// [`Metainfo`] whose [`Metainfo::to_torrent_bytes`] is the .torrent. Without
/// [`TorrentBuilder::creation_date`] the output is the same bytes on every run.
/// Symbolic links and special files inside a folder are skipped.
///
/// ```no_run
/// use shoal_metainfo::{TorrentBuilder, TorrentVersion};
/// let meta = TorrentBuilder::new("some/folder")
///     .version(TorrentVersion::Hybrid)
///     .tracker("http://127.0.0.1:6969/announce")
///     .build_with_progress(|p| eprintln!("{}/{}", p.hashed_bytes, p.total_bytes))?;
/// std::fs::write("folder.torrent", meta.to_torrent_bytes())?;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TorrentBuilder {
    root: PathBuf,
    version: TorrentVersion,
    piece_length: Option<u64>,
    trackers: Vec<Vec<String>>,
    web_seeds: Vec<String>,
    private: bool,
    comment: Option<String>,
    created_by: Option<String>,
    creation_date: Option<i64>,
    name: Option<String>,
    threads: Option<usize>,
}

/// A file found on disk, to be hashed.
#[derive(Debug)]
struct SourceFile {
    disk_path: PathBuf,
    /// Components inside the torrent (empty for a single-file torrent).
    components: Vec<String>,
    length: u64,
    executable: bool,
}

/// One unit of hashing work: one piece.
#[derive(Debug)]
struct Job {
    /// `(source file, offset, length)` spans, in order.
    spans: Vec<(usize, u64, u64)>,
    /// For v2/hybrid: the file the piece belongs to, and its length.
    v2_file: Option<(usize, u64)>,
    /// Zero bytes that follow the data in the v1 piece (hybrid pad).
    v1_pad: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct PieceHashes {
    v1: [u8; 20],
    v2: [u8; 32],
}

/// The piece length chosen for `total` bytes when none is given: about 1500 pieces,
/// a power of two between 16 KiB and 16 MiB.
pub fn auto_piece_length(total: u64) -> u64 {
    (total / 1500)
        .max(1)
        .next_power_of_two()
        .clamp(16 * 1024, 16 * 1024 * 1024)
}

impl TorrentBuilder {
    /// A builder for the file or folder at `path` (v1, automatic piece length).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TorrentBuilder {
            root: path.into(),
            version: TorrentVersion::V1,
            piece_length: None,
            trackers: Vec::new(),
            web_seeds: Vec::new(),
            private: false,
            comment: None,
            created_by: Some(concat!("shoal/", env!("CARGO_PKG_VERSION")).to_owned()),
            creation_date: None,
            name: None,
            threads: None,
        }
    }

    /// v1, v2 or hybrid (default v1).
    pub fn version(mut self, version: TorrentVersion) -> Self {
        self.version = version;
        self
    }

    /// Bytes per piece: a power of two of at least 16 KiB (default: [`auto_piece_length`]).
    pub fn piece_length(mut self, piece_length: u64) -> Self {
        self.piece_length = Some(piece_length);
        self
    }

    /// Adds a tracker in a tier of its own.
    pub fn tracker(mut self, url: impl Into<String>) -> Self {
        self.trackers.push(vec![url.into()]);
        self
    }

    /// Adds a tier of trackers (BEP 12).
    pub fn tracker_tier(mut self, urls: Vec<String>) -> Self {
        if !urls.is_empty() {
            self.trackers.push(urls);
        }
        self
    }

    /// Adds a web seed (BEP 19).
    pub fn web_seed(mut self, url: impl Into<String>) -> Self {
        self.web_seeds.push(url.into());
        self
    }

    /// Sets the BEP 27 private flag.
    pub fn private(mut self, private: bool) -> Self {
        self.private = private;
        self
    }

    /// Sets the comment.
    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// Sets (or with `None` removes) `created by` (default `shoal/<version>`).
    pub fn created_by(mut self, created_by: Option<String>) -> Self {
        self.created_by = created_by;
        self
    }

    /// Sets the creation date in seconds since the Unix epoch (default: none, so the
    /// output is deterministic; this crate reads no clock).
    pub fn creation_date(mut self, date: Option<i64>) -> Self {
        self.creation_date = date;
        self
    }

    /// Overrides the torrent's name (default: the file or folder name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Number of hashing threads (default: one more than the cores, so a thread waiting
    /// for the disk does not leave a core idle).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    /// Hashes the data and returns the torrent.
    pub fn build(&self) -> Result<Metainfo> {
        self.build_with_progress(|_| {})
    }

    /// Like [`TorrentBuilder::build`], calling `progress` now and then (on the calling
    /// thread) and once at the end.
    pub fn build_with_progress(&self, mut progress: impl FnMut(Progress)) -> Result<Metainfo> {
        let (single, files) = scan(&self.root)?;
        let total: u64 = files.iter().map(|f| f.length).sum();
        if total == 0 {
            return Err(Error::Build {
                reason: format!(
                    "{} holds no data (all files are empty)",
                    self.root.display()
                ),
            });
        }
        let piece_length = self
            .piece_length
            .unwrap_or_else(|| auto_piece_length(total));
        if !piece_length.is_power_of_two() || piece_length < BLOCK_SIZE {
            return Err(Error::Build {
                reason: format!("piece length {piece_length} is not a power of two ≥ 16384"),
            });
        }
        let name = match &self.name {
            Some(n) => n.clone(),
            None => root_name(&self.root)?,
        };
        let v1 = self.version != TorrentVersion::V2;
        let v2 = self.version != TorrentVersion::V1;
        let jobs = plan_jobs(&files, piece_length, self.version)?;
        let hashes = hash_jobs(
            &files,
            &jobs,
            HashPlan {
                threads: self.threads,
                total,
                piece_length,
                v1,
            },
            &mut progress,
        )?;

        // Per-file v2 layers and roots.
        let mut layers: Vec<Vec<[u8; 32]>> = vec![Vec::new(); files.len()];
        if v2 {
            for (job, h) in jobs.iter().zip(&hashes) {
                if let Some((f, _)) = job.v2_file {
                    layers[f].push(h.v2);
                }
            }
        }
        let roots: Vec<Option<[u8; 32]>> = files
            .iter()
            .zip(&layers)
            .map(|(f, layer)| match f.length {
                0 => None,
                n if n <= piece_length => layer.first().copied(),
                _ => Some(merkle::root_from_layer(layer, piece_length)),
            })
            .collect();
        let pieces: Vec<u8> = if v1 {
            hashes.iter().flat_map(|h| h.v1).collect()
        } else {
            Vec::new()
        };

        let info = encode_info(&InfoParts {
            name: &name,
            single,
            files: &files,
            roots: &roots,
            piece_length,
            pieces: &pieces,
            version: self.version,
            private: self.private,
        });
        let mut meta = Metainfo::from_info_bytes(&info)?;
        let indices: Vec<usize> = meta
            .files()
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.pad)
            .map(|(i, _)| i)
            .collect();
        // The parsed file list has pad files too; source files map to the others in order.
        for ((i, f), meta_index) in files.iter().enumerate().zip(indices) {
            if v2 && f.length > piece_length {
                meta.set_piece_layer(meta_index, std::mem::take(&mut layers[i]))?;
            }
        }
        meta.set_trackers(self.trackers.clone());
        meta.set_web_seeds(self.web_seeds.clone());
        meta.comment = self.comment.clone();
        meta.created_by = self.created_by.clone();
        meta.creation_date = self.creation_date;
        progress(Progress {
            hashed_bytes: total,
            total_bytes: total,
        });
        Ok(meta)
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |error| Error::Io {
        path: path.to_owned(),
        error,
    }
}

fn root_name(root: &Path) -> Result<String> {
    let canonical = root.canonicalize().map_err(io_err(root))?;
    canonical
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Build {
            reason: format!("{} has no file name to name the torrent", root.display()),
        })
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// Finds the files to hash: `(single-file?, files sorted by components)`.
fn scan(root: &Path) -> Result<(bool, Vec<SourceFile>)> {
    let meta = std::fs::metadata(root).map_err(io_err(root))?;
    if meta.is_file() {
        return Ok((
            true,
            vec![SourceFile {
                disk_path: root.to_owned(),
                components: Vec::new(),
                length: meta.len(),
                executable: is_executable(&meta),
            }],
        ));
    }
    let mut files = Vec::new();
    let mut stack: Vec<(PathBuf, Vec<String>)> = vec![(root.to_owned(), Vec::new())];
    while let Some((dir, components)) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let path = entry.path();
            // symlink_metadata: links are not followed (they could point anywhere).
            let meta = std::fs::symlink_metadata(&path).map_err(io_err(&path))?;
            let mut comps = components.clone();
            comps.push(entry.file_name().to_string_lossy().into_owned());
            if meta.is_dir() {
                stack.push((path, comps));
            } else if meta.is_file() {
                files.push(SourceFile {
                    disk_path: path,
                    components: comps,
                    length: meta.len(),
                    executable: is_executable(&meta),
                });
            }
        }
    }
    if files.is_empty() {
        return Err(Error::Build {
            reason: format!("{} contains no files", root.display()),
        });
    }
    // The v2 file tree is a dictionary: its order (components as bytes) is the order.
    files.sort_by(|a, b| a.components.cmp(&b.components));
    Ok((false, files))
}

fn plan_jobs(files: &[SourceFile], piece_length: u64, version: TorrentVersion) -> Result<Vec<Job>> {
    let mut jobs = Vec::new();
    let too_many = || Error::Build {
        reason: format!("more than {MAX_PIECES} pieces: use a larger piece length"),
    };
    if version == TorrentVersion::V1 {
        let mut current = Job {
            spans: Vec::new(),
            v2_file: None,
            v1_pad: 0,
        };
        let mut filled = 0;
        for (i, f) in files.iter().enumerate() {
            let mut offset = 0;
            while offset < f.length {
                let take = (piece_length - filled).min(f.length - offset);
                current.spans.push((i, offset, take));
                offset += take;
                filled += take;
                if filled == piece_length {
                    jobs.push(std::mem::replace(
                        &mut current,
                        Job {
                            spans: Vec::new(),
                            v2_file: None,
                            v1_pad: 0,
                        },
                    ));
                    filled = 0;
                    if jobs.len() as u64 > MAX_PIECES {
                        return Err(too_many());
                    }
                }
            }
        }
        if filled > 0 {
            jobs.push(current);
        }
    } else {
        let last_data_file = files.iter().rposition(|f| f.length > 0);
        for (i, f) in files.iter().enumerate() {
            let mut offset = 0;
            while offset < f.length {
                let take = piece_length.min(f.length - offset);
                let tail_pad = if Some(i) != last_data_file && version == TorrentVersion::Hybrid {
                    piece_length - take
                } else {
                    0
                };
                jobs.push(Job {
                    spans: vec![(i, offset, take)],
                    v2_file: Some((i, f.length)),
                    v1_pad: tail_pad,
                });
                offset += take;
                if jobs.len() as u64 > MAX_PIECES {
                    return Err(too_many());
                }
            }
        }
    }
    Ok(jobs)
}

/// Reads `buf.len()` bytes at `offset`, failing if the file got shorter.
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        file.read_exact_at(buf, offset)
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::FileExt;
        let mut done = 0;
        while done < buf.len() {
            let n = file.seek_read(&mut buf[done..], offset + done as u64)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            done += n;
        }
        Ok(())
    }
}

/// One hashing thread's state: its buffer and the file it has open.
struct Worker<'a> {
    files: &'a [SourceFile],
    buf: Vec<u8>,
    blocks: Vec<[u8; 32]>,
    open: Option<(usize, File)>,
    /// Whether pieces need SHA-1 (v1 and hybrid).
    v1: bool,
}

impl Worker<'_> {
    fn file(&mut self, index: usize) -> Result<&File> {
        if self.open.as_ref().map(|(i, _)| *i) != Some(index) {
            let path = &self.files[index].disk_path;
            let file = File::open(path).map_err(io_err(path))?;
            self.open = Some((index, file));
        }
        Ok(&self.open.as_ref().expect("just opened").1)
    }

    fn hash(&mut self, job: &Job, piece_length: u64) -> Result<PieceHashes> {
        let want_v1 = self.v1;
        let mut sha1 = Sha1::new();
        self.blocks.clear();
        for &(f, offset, len) in &job.spans {
            let mut done = 0;
            while done < len {
                let n = (len - done).min(CHUNK as u64) as usize;
                let mut buf = std::mem::take(&mut self.buf);
                let files = self.files;
                let result = self.file(f).and_then(|file| {
                    read_exact_at(file, &mut buf[..n], offset + done).map_err(|e| {
                        let path = &files[f].disk_path;
                        Error::Io {
                            path: path.clone(),
                            error: if e.kind() == std::io::ErrorKind::UnexpectedEof {
                                std::io::Error::other("file got shorter while hashing")
                            } else {
                                e
                            },
                        }
                    })
                });
                if let Err(e) = result {
                    self.buf = buf;
                    return Err(e);
                }
                if want_v1 {
                    sha1.update(&buf[..n]);
                }
                if job.v2_file.is_some() {
                    merkle::block_hashes(&buf[..n], &mut self.blocks);
                }
                self.buf = buf;
                done += n as u64;
            }
        }
        let mut out = PieceHashes::default();
        if want_v1 {
            let mut pad = job.v1_pad;
            let zeros = [0u8; 4096];
            while pad > 0 {
                let n = pad.min(zeros.len() as u64) as usize;
                sha1.update(&zeros[..n]);
                pad -= n as u64;
            }
            out.v1 = sha1.finalize().into();
        }
        if let Some((_, file_length)) = job.v2_file {
            out.v2 = merkle::piece_hash_from_blocks(&self.blocks, piece_length, file_length);
        }
        Ok(out)
    }
}

/// What [`hash_jobs`] needs besides the files and jobs.
#[derive(Debug, Clone, Copy)]
struct HashPlan {
    threads: Option<usize>,
    total: u64,
    piece_length: u64,
    v1: bool,
}

fn hash_jobs(
    files: &[SourceFile],
    jobs: &[Job],
    plan: HashPlan,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<PieceHashes>> {
    let HashPlan {
        threads,
        total,
        piece_length,
        v1,
    } = plan;
    // One thread more than cores: a thread blocked in a read (a real disk, a cold
    // cache) leaves its core to the others, as mktorrent's extra reader thread does.
    let threads = threads
        .or_else(|| {
            std::thread::available_parallelism()
                .ok()
                .map(|n| n.get() + 1)
        })
        .unwrap_or(1)
        .clamp(1, jobs.len().max(1));
    let piece_length_of = |job: &Job| job.spans.iter().map(|s| s.2).sum::<u64>();
    let next = AtomicUsize::new(0);
    let hashed = AtomicU64::new(0);
    let failed = AtomicBool::new(false);

    let run = |worker: &mut Worker<'_>,
               results: &mut Vec<(usize, PieceHashes)>,
               mut tick: Option<&mut dyn FnMut(Progress)>|
     -> Result<()> {
        loop {
            if failed.load(Ordering::Relaxed) {
                return Ok(());
            }
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(job) = jobs.get(i) else {
                return Ok(());
            };
            match worker.hash(job, piece_length) {
                Ok(h) => results.push((i, h)),
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
            let done =
                hashed.fetch_add(piece_length_of(job), Ordering::Relaxed) + piece_length_of(job);
            if let Some(tick) = tick.as_mut() {
                tick(Progress {
                    hashed_bytes: done.min(total),
                    total_bytes: total,
                });
            }
        }
    };
    let new_worker = || Worker {
        files,
        buf: vec![0u8; CHUNK],
        blocks: Vec::new(),
        open: None,
        v1,
    };

    let mut all: Vec<(usize, PieceHashes)> = Vec::with_capacity(jobs.len());
    std::thread::scope(|scope| -> Result<()> {
        let handles: Vec<_> = (1..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut results = Vec::new();
                    let mut worker = new_worker();
                    run(&mut worker, &mut results, None).map(|()| results)
                })
            })
            .collect();
        let mut worker = new_worker();
        let mine = run(&mut worker, &mut all, Some(progress));
        let mut first_err = mine.err();
        for h in handles {
            match h.join() {
                Ok(Ok(results)) => all.extend(results),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        first_err.map_or(Ok(()), Err)
    })?;
    all.sort_unstable_by_key(|(i, _)| *i);
    debug_assert_eq!(all.len(), jobs.len());
    Ok(all.into_iter().map(|(_, h)| h).collect())
}

struct InfoParts<'a> {
    name: &'a str,
    single: bool,
    files: &'a [SourceFile],
    roots: &'a [Option<[u8; 32]>],
    piece_length: u64,
    pieces: &'a [u8],
    version: TorrentVersion,
    private: bool,
}

/// A folder of the v2 file tree being built.
#[derive(Default)]
struct TreeDir<'a> {
    entries: std::collections::BTreeMap<&'a str, TreeNode<'a>>,
}

enum TreeNode<'a> {
    Dir(TreeDir<'a>),
    File(u64, Option<&'a [u8; 32]>),
}

fn tree_value<'a>(dir: &'a TreeDir<'a>) -> Value<'a> {
    let mut dict = Dict::new();
    for (name, node) in &dir.entries {
        let value = match node {
            TreeNode::Dir(d) => tree_value(d),
            TreeNode::File(length, root) => {
                let mut props = Dict::new();
                props.insert(b"length", Value::Int(*length as i64));
                if let Some(root) = root {
                    props.insert(b"pieces root", Value::Bytes(&root[..]));
                }
                let mut leaf = Dict::new();
                leaf.insert(b"", Value::Dict(props));
                Value::Dict(leaf)
            }
        };
        dict.insert(name.as_bytes(), value);
    }
    Value::Dict(dict)
}

fn encode_info(p: &InfoParts<'_>) -> Vec<u8> {
    let v1 = p.version != TorrentVersion::V2;
    let v2 = p.version != TorrentVersion::V1;
    let pad_names: Vec<String> = {
        // Pad lengths of a hybrid folder torrent, as strings the values can borrow.
        let mut names = Vec::new();
        if p.version == TorrentVersion::Hybrid && !p.single {
            let mut offset = 0u64;
            for f in p.files {
                if f.length > 0 && !offset.is_multiple_of(p.piece_length) {
                    let pad = p.piece_length - offset % p.piece_length;
                    names.push(pad.to_string());
                    offset += pad;
                }
                offset += f.length;
            }
        }
        names
    };

    let mut tree = TreeDir::default();
    if v2 {
        for (f, root) in p.files.iter().zip(p.roots) {
            let mut dir = &mut tree;
            let comps: Vec<&str> = if p.single {
                vec![p.name]
            } else {
                f.components.iter().map(String::as_str).collect()
            };
            let (last, parents) = comps.split_last().expect("a file has a name");
            for c in parents {
                let node = dir
                    .entries
                    .entry(c)
                    .or_insert_with(|| TreeNode::Dir(TreeDir::default()));
                dir = match node {
                    TreeNode::Dir(d) => d,
                    TreeNode::File(..) => unreachable!("a file path is never a folder on disk"),
                };
            }
            dir.entries
                .insert(last, TreeNode::File(f.length, root.as_ref()));
        }
    }

    let mut info = Dict::new();
    if v2 {
        info.insert(b"file tree", tree_value(&tree));
    }
    if v1 {
        if p.single {
            info.insert(b"length", Value::Int(p.files[0].length as i64));
        } else {
            let mut list = List::new();
            let mut offset = 0u64;
            let mut pads = pad_names.iter();
            for f in p.files {
                if p.version == TorrentVersion::Hybrid
                    && f.length > 0
                    && !offset.is_multiple_of(p.piece_length)
                {
                    let pad = p.piece_length - offset % p.piece_length;
                    let name = pads.next().expect("pad names were computed the same way");
                    let mut d = Dict::new();
                    d.insert(b"attr", Value::Bytes(b"p"));
                    d.insert(b"length", Value::Int(pad as i64));
                    d.insert(
                        b"path",
                        Value::List(List::from(vec![
                            Value::Bytes(b".pad"),
                            Value::Bytes(name.as_bytes()),
                        ])),
                    );
                    list.push(Value::Dict(d));
                    offset += pad;
                }
                let mut d = Dict::new();
                if f.executable {
                    d.insert(b"attr", Value::Bytes(b"x"));
                }
                d.insert(b"length", Value::Int(f.length as i64));
                d.insert(
                    b"path",
                    Value::List(List::from(
                        f.components
                            .iter()
                            .map(|c| Value::Bytes(c.as_bytes()))
                            .collect::<Vec<_>>(),
                    )),
                );
                list.push(Value::Dict(d));
                offset += f.length;
            }
            info.insert(b"files", Value::List(list));
        }
    }
    if v2 {
        info.insert(b"meta version", Value::Int(2));
    }
    info.insert(b"name", Value::Bytes(p.name.as_bytes()));
    info.insert(b"piece length", Value::Int(p.piece_length as i64));
    if v1 {
        info.insert(b"pieces", Value::Bytes(p.pieces));
    }
    if p.private {
        info.insert(b"private", Value::Int(1));
    }
    bencode::encode(&Value::Dict(info))
}
