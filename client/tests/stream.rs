//! Reading a file while it downloads: a seek to the end is served before the rest of the
//! file arrives, and reading from the start gives the whole file.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures::FutureExt;
use shoal::{AddTorrent, Error, Event, Limits, Source};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seek_is_served_first_and_the_whole_file_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    const LEN: usize = 6 << 20;
    // 2 MB/s: the whole file takes about 3 s, one piece about 30 ms.
    let (payload, meta, seeder) = slow_seeder(dir.path(), LEN, 64 * 1024, 11).await;

    let out = dir.path().join("out");
    let leecher = session(false).await;
    let h = add(&leecher, &meta, &out, vec![seeder.listen_addr().unwrap()]).await;
    stream_tail_first(&h, &payload).await;
    let stream = h.stream_file(0).await.unwrap();
    assert!(stream.read_at(LEN as u64, 10).await.unwrap().is_empty());

    // A file that does not exist is a clear error; a removed torrent ends reads.
    let err = h.stream_file(5).await.unwrap_err();
    assert!(err.to_string().contains("no file 5"), "{err}");
    h.remove().await.unwrap();
    let closed = stream.read_at(0, 10).await.unwrap_err();
    assert!(matches!(closed, Error::Closed), "{closed:?}");

    leecher.shutdown().await;
    seeder.shutdown().await;
}

/// A file `movie.bin` of `len` pseudo-random bytes (from `seed`) under `dir/seed`, its
/// torrent, and a shoal session seeding it with uploads limited to 2 MB/s.
async fn slow_seeder(
    dir: &std::path::Path,
    len: usize,
    piece: u64,
    seed: u64,
) -> (Vec<u8>, metainfo::Metainfo, shoal::Session) {
    let src = dir.join("seed");
    std::fs::create_dir_all(&src).unwrap();
    let payload = payload_bytes(len, seed);
    std::fs::write(src.join("movie.bin"), &payload).unwrap();
    let meta = make_torrent(&src.join("movie.bin"), piece, &[]);
    let seeder = session(false).await;
    let h = add(&seeder, &meta, &src, vec![]).await;
    wait_completed(&h, 20).await;
    h.set_limits(Limits {
        down: None,
        up: Some(2_000_000),
    });
    (payload, meta, seeder)
}

/// A file of `LEN` bytes in 16 KiB pieces (one block each, so pieces verified count
/// blocks served), seeded by a shoal session limited to 2 MB/s (about 120 pieces a
/// second), and a leecher that downloads it in order: pieces far into the file are not
/// asked for unless something puts them first.
struct SlowSwarm {
    _dir: tempfile::TempDir,
    seeder: shoal::Session,
    leecher: shoal::Session,
    h: shoal::TorrentHandle,
    payload: Vec<u8>,
}

const LEN: usize = 8 << 20;
const PIECE: usize = 16 * 1024;
/// Pieces asked for (and queued at the seeder) since the start: more than half a second
/// of the queue is full by then.
const QUEUED_AFTER: u32 = 24;

impl SlowSwarm {
    async fn new(seed: u64) -> SlowSwarm {
        let dir = tempfile::tempdir().unwrap();
        let (payload, meta, seeder) = slow_seeder(dir.path(), LEN, PIECE as u64, seed).await;
        let leecher = session(false).await;
        let mut a = AddTorrent::new(
            Source::TorrentBytes(meta.to_torrent_bytes()),
            dir.path().join("out"),
        );
        a.peers = vec![seeder.listen_addr().unwrap()];
        a.sequential = true;
        let h = leecher.add(a).await.unwrap();
        SlowSwarm {
            _dir: dir,
            seeder,
            leecher,
            h,
            payload,
        }
    }

    /// Waits (up to 20 s) until at least `n` pieces are verified; returns how many are.
    async fn wait_pieces(&self, n: u32) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let have = self.h.stats().pieces_have;
            if have >= n {
                return have;
            }
            assert!(Instant::now() < deadline, "only {have} pieces in 20 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn shutdown(self) {
        self.leecher.shutdown().await;
        self.seeder.shutdown().await;
    }
}

/// The piece that holds byte `at` of the file.
fn piece_of(at: u64) -> u32 {
    (at / PIECE as u64) as u32
}

/// Far from the start: past the default read-ahead of a read at 0 (4 MiB).
const FAR: u64 = 7 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seek_leaves_the_old_read_ahead_behind() {
    let swarm = SlowSwarm::new(21).await;
    let mut stream = swarm.h.stream_file(0).await.unwrap();
    let mut buf = vec![0; 1000];
    stream.read_exact(&mut buf).await.unwrap();
    assert!(buf == swarm.payload[..1000]);
    // The read-ahead after position 0 (pieces 1..256) fills the seeder's queue.
    let before = swarm.wait_pieces(QUEUED_AFTER).await;

    stream.seek(std::io::SeekFrom::Start(FAR)).await.unwrap();
    let started = Instant::now();
    stream.read_exact(&mut buf).await.unwrap();
    let between = swarm.h.stats().pieces_have - before;
    assert!(buf == swarm.payload[FAR as usize..FAR as usize + 1000]);
    eprintln!(
        "after a seek: {between} pieces verified in {:?} until the new position's",
        started.elapsed()
    );
    // Behind the old read-ahead it would wait for the queue (over 150 pieces).
    assert!(
        between < 64,
        "the new position waited behind {between} pieces of the old read-ahead"
    );
    swarm.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_stream_takes_its_deadlines_with_it() {
    let swarm = SlowSwarm::new(22).await;
    let first = swarm.h.stream_file(0).await.unwrap();
    assert!(first.read_at(0, 1000).await.unwrap() == swarm.payload[..1000]);
    let before = swarm.wait_pieces(QUEUED_AFTER).await;
    drop(first);

    let second = swarm.h.stream_file(0).await.unwrap();
    let data = second.read_at(FAR, 1000).await.unwrap();
    let between = swarm.h.stats().pieces_have - before;
    assert!(data == swarm.payload[FAR as usize..FAR as usize + 1000]);
    eprintln!("after a dropped stream: {between} pieces until the new stream's");
    assert!(
        between < 64,
        "the second stream waited behind {between} pieces of the dropped one's read-ahead"
    );
    swarm.shutdown().await;
}

/// Waits (up to 20 s) for `PieceVerified { piece }` on `events`.
async fn wait_verified(events: &mut shoal::EventStream, piece: u32) {
    let wait = async {
        while let Some(e) = events.next().await {
            if e == (Event::PieceVerified { piece }) {
                return;
            }
        }
        panic!("event stream ended");
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| panic!("piece {piece} not verified within 20 s"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_piece_deadline_makes_room_as_a_stream_read_does() {
    let swarm = SlowSwarm::new(23).await;
    let mut events = swarm.h.events();
    let before = swarm.wait_pieces(QUEUED_AFTER).await;

    // Due now: room is made at once.
    let last = piece_of(LEN as u64 - 1);
    swarm.h.set_piece_deadline(last, Duration::ZERO);
    wait_verified(&mut events, last).await;
    let between = swarm.h.stats().pieces_have - before;
    eprintln!("a deadline due now: {between} pieces until it");
    assert!(
        between < 64,
        "a piece due now waited behind {between} pieces queued before it"
    );

    // Due in 200 ms: not late when set, and the queue ahead of it is longer than that;
    // room is made once it is due.
    let before = swarm.wait_pieces(before + between + QUEUED_AFTER).await;
    let target = last - 10;
    swarm
        .h
        .set_piece_deadline(target, Duration::from_millis(200));
    wait_verified(&mut events, target).await;
    let between = swarm.h.stats().pieces_have - before;
    eprintln!("a deadline due in 200 ms: {between} pieces until it");
    assert!(
        between < 120,
        "a piece due in 200 ms waited behind {between} pieces queued before it"
    );
    swarm.shutdown().await;
}

/// The pieces with deadlines, in index order.
fn deadlines(h: &shoal::TorrentHandle) -> Vec<u32> {
    let mut d = h.piece_deadlines();
    d.sort_unstable();
    d
}

/// Starts a read (polls it once: it sets its deadlines, then waits) and gives it back.
fn start<F: std::future::Future + Unpin>(mut read: F) -> F {
    assert!(
        (&mut read).now_or_never().is_none(),
        "a read returned with no peer to give its piece"
    );
    read
}

/// Who owns which deadlines, with no peer (every read waits): a stream's reads replace
/// its own deadlines and nobody else's, reads in flight keep theirs, a dropped stream
/// leaves none, and the handle's deadlines are cleared on their own.
#[tokio::test]
async fn each_stream_owns_its_deadlines() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("movie.bin"), payload_bytes(LEN, 24)).unwrap();
    let meta = make_torrent(&src.join("movie.bin"), PIECE as u64, &[]);
    let s = session(false).await;
    let h = add(&s, &meta, &dir.path().join("out"), vec![]).await;
    h.set_piece_deadline(300, Duration::from_secs(60));
    h.set_piece_deadline(301, Duration::from_secs(60));
    h.reset_piece_deadline(301);
    // Kept until the metadata is known.
    assert_eq!(h.piece_deadlines(), vec![300]);
    h.wait_metainfo().await.unwrap();
    assert_eq!(h.piece_deadlines(), vec![300]);

    // The smallest read-ahead: 4 pieces.
    let mut a = h.stream_file(0).await.unwrap();
    a.set_readahead(0);
    let b = h.stream_file(0).await.unwrap();
    drop(start(Box::pin(a.read_at(0, 10))));
    // A read that gave up (a seek) keeps its read-ahead until the stream reads elsewhere.
    assert_eq!(deadlines(&h), vec![0, 1, 2, 3, 300]);
    drop(start(Box::pin(b.read_at(FAR, 10))));
    let far = piece_of(FAR);
    // To the end of the file (less than the 4 MiB read-ahead).
    let b_window: Vec<u32> = (far..=piece_of(LEN as u64 - 1)).collect();
    let with = |own: &[u32]| {
        let mut v: Vec<u32> = own.iter().chain(&b_window).copied().collect();
        v.push(300);
        v.sort_unstable();
        v
    };
    assert_eq!(deadlines(&h), with(&[0, 1, 2, 3]));

    // Stream a moves on: its old window goes, b's and the handle's stay.
    drop(start(Box::pin(a.read_at(10 * PIECE as u64, 10))));
    assert_eq!(deadlines(&h), with(&[10, 11, 12, 13]));

    // Two reads of a at once: each keeps its deadlines while it waits; the earlier one's
    // go when it ends, the later one's stay as the read-ahead.
    let first = start(Box::pin(a.read_at(20 * PIECE as u64, 10)));
    let second = start(Box::pin(a.read_at(30 * PIECE as u64, 10)));
    assert_eq!(deadlines(&h), with(&[20, 21, 22, 23, 30, 31, 32, 33]));
    drop(first);
    assert_eq!(deadlines(&h), with(&[30, 31, 32, 33]));
    drop(second);
    assert_eq!(deadlines(&h), with(&[30, 31, 32, 33]));

    // The handle clears its own only.
    h.clear_piece_deadlines();
    let mut expected: Vec<u32> = [30, 31, 32, 33].into_iter().chain(b_window).collect();
    expected.sort_unstable();
    assert_eq!(deadlines(&h), expected);
    // Dropped streams take theirs.
    drop(b);
    assert_eq!(deadlines(&h), vec![30, 31, 32, 33]);
    drop(a);
    assert!(h.piece_deadlines().is_empty(), "{:?}", h.piece_deadlines());
    s.shutdown().await;
}
