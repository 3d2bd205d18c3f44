//! Reading one file of a torrent while it downloads: [`FileStream`].
//!
//! A read sets deadlines on the piece that holds its first byte (due now) and on the
//! pieces after it up to the read-ahead (due a little later each), then waits for the
//! piece if it is not verified yet. The picker fetches deadline pieces before anything
//! else, earliest first, so a player that seeks gets the bytes it asked for next, while
//! the rest of the torrent keeps downloading in the usual order.
//!
//! A stream owns its deadlines: each read's belong to that read (an owner id in the
//! picker), the last read's stay as the read-ahead, and those of an earlier read go once
//! it is done and a later one started, so after a seek the old position's read-ahead no
//! longer comes first. Dropping the stream removes what it still has. Other streams' and
//! the handle's own deadlines (`set_piece_deadline`) are never touched.

use std::collections::HashSet;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use metainfo::Metainfo;
use tokio::io::{AsyncRead, AsyncSeek, ReadBuf};

use crate::error::{Error, Result};
use crate::storage::Store;
use crate::torrent::Torrent;
use crate::types::TorrentState;

/// Default read-ahead: at least this many bytes past the read position get deadlines...
const READAHEAD_BYTES: u64 = 4 << 20;
/// ...and at least this many pieces.
const READAHEAD_PIECES: u64 = 4;
/// Each piece of the read-ahead is due this much later than the one before it.
const STAGGER: Duration = Duration::from_millis(100);
/// Most bytes one `poll_read` fetches (what a player's buffer usually asks for).
const MAX_READ: usize = 256 * 1024;
/// Waiting for a piece re-checks the torrent's state at least this often.
const RECHECK: Duration = Duration::from_secs(1);

/// Deadline owners for reads (0 is the handle's `set_piece_deadline`): unique in the
/// process, so reads of different streams and torrents never share one.
static NEXT_READ: AtomicU64 = AtomicU64::new(1);

/// What a stream reads from: the torrent, its storage, and where the file lies.
#[derive(Debug)]
struct Source {
    torrent: Arc<Torrent>,
    meta: Arc<Metainfo>,
    store: Arc<Store>,
    /// Offset of the file's first byte in piece space.
    start: u64,
    len: u64,
    /// Whose deadlines are in the picker. Locked inside the torrent's lock, never the
    /// other way round.
    reads: Mutex<Reads>,
}

impl Source {
    /// The stream's reads that own deadlines (taken inside the torrent's lock).
    fn reads(&self) -> std::sync::MutexGuard<'_, Reads> {
        self.reads.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The reads of one stream that own deadlines in the picker.
#[derive(Debug, Default)]
struct Reads {
    /// The last read started: its read-ahead stays after it returns.
    latest: Option<u64>,
    /// Reads not done yet (several at once through `read_at`): each keeps its deadlines
    /// until it is done.
    in_flight: HashSet<u64>,
}

impl Reads {
    /// Read `id` starts: it is the latest now. Returns the read whose deadlines go (the
    /// previous latest, if it is done).
    fn start(&mut self, id: u64) -> Option<u64> {
        self.in_flight.insert(id);
        let previous = self.latest.replace(id)?;
        (!self.in_flight.contains(&previous)).then_some(previous)
    }

    /// Read `id` is done (returned, failed, or its future was dropped): whether its
    /// deadlines go (a later read started meanwhile).
    fn finish(&mut self, id: u64) -> bool {
        self.in_flight.remove(&id);
        self.latest != Some(id)
    }

    /// The stream is dropped: the read whose deadlines go (reads in flight cannot outlive
    /// the stream; they remove theirs as they end).
    fn close(&mut self) -> Option<u64> {
        self.latest.take()
    }
}

/// Ends read `id` (when the read returns or its future is dropped, at a seek say).
struct ReadGuard<'a> {
    src: &'a Source,
    id: u64,
}

impl Drop for ReadGuard<'_> {
    fn drop(&mut self) {
        let mut st = self.src.torrent.lock();
        let gone = self.src.reads().finish(self.id);
        if gone && let Some(picker) = st.picker.as_mut() {
            picker.clear_deadlines(self.id);
        }
    }
}

type Pending = Pin<Box<dyn Future<Output = Result<Vec<u8>>> + Send + Sync>>;

/// One file of a torrent, readable (and seekable) while the torrent downloads.
///
/// Made by [`TorrentHandle::stream_file`](crate::TorrentHandle::stream_file). It
/// implements tokio's [`AsyncRead`] and [`AsyncSeek`], and [`read_at`](Self::read_at)
/// reads at any offset. A read returns as soon as the piece holding its first byte is
/// verified; it never returns unverified data. Reads fail once the torrent is removed,
/// and reads that would wait fail if it failed or was stopped; a paused torrent makes
/// them wait.
///
/// A read puts piece deadlines on its piece and its read-ahead
/// ([`set_readahead`](Self::set_readahead)); the stream owns them. When it reads
/// elsewhere (after a seek, say) the previous read's are removed once that read is done,
/// and dropping the stream removes the rest, so a player that jumps gets its new position
/// first. Other streams' deadlines and the handle's own
/// ([`TorrentHandle::set_piece_deadline`](crate::TorrentHandle::set_piece_deadline))
/// stay.
pub struct FileStream {
    src: Arc<Source>,
    pos: u64,
    readahead: u64,
    pending: Option<Pending>,
}

impl std::fmt::Debug for FileStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStream")
            .field("start", &self.src.start)
            .field("len", &self.src.len)
            .field("pos", &self.pos)
            .field("readahead", &self.readahead)
            .finish_non_exhaustive()
    }
}

impl FileStream {
    /// Waits for the torrent's metadata and storage, then opens file `file` (its index in
    /// [`Metainfo::files`]). A file set to be skipped gets the default priority back.
    pub(crate) async fn open(torrent: Arc<Torrent>, file: usize) -> Result<FileStream> {
        let (meta, store) = wait_active(&torrent).await?;
        let entry = meta.files().get(file).filter(|f| !f.pad).ok_or_else(|| {
            Error::BadTorrent(format!(
                "the torrent has no file {file} (it lists {} entries, pad files cannot be read)",
                meta.files().len()
            ))
        })?;
        let (start, len) = (entry.offset, entry.length);
        if torrent.lock().file_priorities.get(file) == Some(&0) {
            crate::session::set_file_priority(&torrent, file, crate::picker::DEFAULT_PRIORITY);
        }
        Ok(FileStream {
            src: Arc::new(Source {
                torrent,
                meta,
                store,
                start,
                len,
                reads: Mutex::new(Reads::default()),
            }),
            pos: 0,
            readahead: READAHEAD_BYTES,
            pending: None,
        })
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.src.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.src.len == 0
    }

    /// The position the next [`AsyncRead`] read starts at.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// How far past a read position deadlines reach, in bytes (default 4 MiB, and never
    /// fewer than 4 pieces). A player reading faster than that asks for more.
    pub fn set_readahead(&mut self, bytes: u64) {
        self.readahead = bytes;
    }

    /// Reads up to `max` bytes at `offset` in the file, waiting until they are verified
    /// (an empty result at or past the end of the file).
    pub async fn read_at(&self, offset: u64, max: usize) -> Result<Vec<u8>> {
        read_chunk(self.src.clone(), offset, max, self.readahead).await
    }
}

/// Waits until the torrent has its metadata and its storage is open (a magnet link's
/// metadata fetched, the data on disk checked).
pub(crate) async fn wait_active(torrent: &Torrent) -> Result<(Arc<Metainfo>, Arc<Store>)> {
    loop {
        let ready = torrent.piece_ready.notified();
        tokio::pin!(ready);
        ready.as_mut().enable();
        {
            let st = torrent.lock();
            if let (Some(a), Some(_)) = (st.active.as_ref(), st.picker.as_ref()) {
                return Ok((a.meta.clone(), a.store.clone()));
            }
            check_alive(st.status, torrent)?;
        }
        let _ = tokio::time::timeout(RECHECK, ready).await;
    }
}

/// An error if the torrent was removed (or its session closed).
fn check_present(torrent: &Torrent) -> Result<()> {
    if torrent.removed.load(Ordering::Relaxed) || torrent.driver_tx.is_closed() {
        return Err(Error::Closed);
    }
    Ok(())
}

/// An error if the torrent can no longer deliver pieces: removed, failed or stopped (a
/// paused torrent may be started again, so reads wait).
fn check_alive(status: TorrentState, torrent: &Torrent) -> Result<()> {
    check_present(torrent)?;
    match status {
        TorrentState::Error => Err(Error::Disk(
            "the torrent stopped on an error (see its Error event)".into(),
        )),
        TorrentState::Stopped => Err(Error::Closed),
        _ => Ok(()),
    }
}

async fn read_chunk(src: Arc<Source>, offset: u64, max: usize, readahead: u64) -> Result<Vec<u8>> {
    check_present(&src.torrent)?;
    if offset >= src.len || max == 0 {
        return Ok(Vec::new());
    }
    let plen = src.meta.piece_length();
    let abs = src.start + offset;
    let piece = (abs / plen) as u32;
    let in_piece = abs % plen;
    let piece_size = src.meta.piece_len(piece);
    let n = (max as u64)
        .min(piece_size - in_piece)
        .min(src.len - offset) as usize;

    // Deadlines: this piece now, the read-ahead after it, owned by this read; the
    // previous read's go unless it still waits.
    let last = {
        let ahead = readahead.max(READAHEAD_PIECES * plen);
        let end = (src.start + src.len).min(abs.saturating_add(ahead));
        ((end.saturating_sub(1)) / plen) as u32
    };
    let id = NEXT_READ.fetch_add(1, Ordering::Relaxed);
    let now = Instant::now();
    {
        let mut st = src.torrent.lock();
        let Some(picker) = st.picker.as_mut() else {
            return Err(Error::Closed);
        };
        let session = &src.torrent.session;
        picker.set_owned_deadlines(
            id,
            (piece..=last)
                .enumerate()
                .map(|(k, p)| (p, session.at_ms(now + STAGGER * k as u32))),
        );
        let previous = src.reads().start(id);
        if let Some(previous) = previous {
            picker.clear_deadlines(previous);
        }
    }
    let _read = ReadGuard { src: &src, id };
    let mut made_room = false;
    loop {
        let ready = src.torrent.piece_ready.notified();
        tokio::pin!(ready);
        ready.as_mut().enable();
        {
            let st = src.torrent.lock();
            let status = st.status;
            let Some(picker) = st.picker.as_ref() else {
                return Err(Error::Closed);
            };
            if picker.has(piece) {
                break;
            }
            check_alive(status, &src.torrent)?;
            if !made_room {
                // Peers make room once per piece; a peer that connects later does when
                // it sees the deadline late.
                made_room = true;
                st.broadcast(&crate::torrent::PeerCmd::MakeRoom(piece));
            }
        }
        let _ = tokio::time::timeout(RECHECK, ready).await;
    }

    let store = src.store.clone();
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0; n];
        store.read_into(piece, in_piece as u32, &mut buf)?;
        Ok(buf)
    })
    .await
    .map_err(|e| Error::Internal(format!("reading task failed: {e}")))?
}

fn io_error(e: Error) -> io::Error {
    let kind = match e {
        Error::Closed => io::ErrorKind::BrokenPipe,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

impl Drop for FileStream {
    /// Removes the deadlines the stream's last read left (its read-ahead).
    fn drop(&mut self) {
        // A read in flight (`poll_read`'s) ends first and removes its own.
        self.pending = None;
        let mut st = self.src.torrent.lock();
        let last = self.src.reads().close();
        if let (Some(last), Some(picker)) = (last, st.picker.as_mut()) {
            picker.clear_deadlines(last);
        }
    }
}

impl AsyncRead for FileStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let pending = match &mut this.pending {
            Some(p) => p,
            None => {
                let max = buf.remaining().min(MAX_READ);
                let fut = read_chunk(this.src.clone(), this.pos, max, this.readahead);
                this.pending.insert(Box::pin(fut))
            }
        };
        let data = match pending.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => {
                this.pending = None;
                r.map_err(io_error)?
            }
        };
        // A caller may offer a smaller buffer than the one the read was sized for: what
        // does not fit is read again next time.
        let n = data.len().min(buf.remaining());
        buf.put_slice(&data[..n]);
        this.pos += n as u64;
        Poll::Ready(Ok(()))
    }
}

impl AsyncSeek for FileStream {
    fn start_seek(mut self: Pin<&mut Self>, to: io::SeekFrom) -> io::Result<()> {
        let target = match to {
            io::SeekFrom::Start(p) => Some(p),
            io::SeekFrom::End(d) => self.src.len.checked_add_signed(d),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek to a negative or overflowing position",
            )
        })?;
        self.pending = None;
        self.pos = target;
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Poll::Ready(Ok(self.pos))
    }
}
