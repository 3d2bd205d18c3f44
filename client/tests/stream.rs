//! Reading a file while it downloads: a seek to the end is served before the rest of the
//! file arrives, and reading from the start gives the whole file.

mod common;

use std::io::SeekFrom;
use std::time::{Duration, Instant};

use common::*;
use shoal::{Error, Limits};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seek_is_served_first_and_the_whole_file_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    std::fs::create_dir_all(&src).unwrap();
    const LEN: usize = 6 << 20;
    let payload = payload_bytes(LEN, 11);
    std::fs::write(src.join("movie.bin"), &payload).unwrap();
    let meta = make_torrent(&src.join("movie.bin"), 64 * 1024, &[]);

    let seeder = session(false).await;
    let seed = add(&seeder, &meta, &src, vec![]).await;
    wait_completed(&seed, 20).await;
    // 2 MB/s: the whole file takes about 3 s, one piece about 30 ms.
    seed.set_limits(Limits {
        down: None,
        up: Some(2_000_000),
    });

    let out = dir.path().join("out");
    let leecher = session(false).await;
    let h = add(&leecher, &meta, &out, vec![seeder.listen_addr().unwrap()]).await;
    let mut stream = h.stream_file(0).await.unwrap();
    assert_eq!(stream.len(), LEN as u64);

    // The last 100 kB (two pieces): fetched ahead of everything else.
    let started = Instant::now();
    let at = LEN - 100_000;
    stream.seek(SeekFrom::Start(at as u64)).await.unwrap();
    let mut tail = vec![0; 100_000];
    stream.read_exact(&mut tail).await.unwrap();
    let took = started.elapsed();
    let stats = h.stats();
    assert!(tail == payload[at..], "the tail read back wrong");
    assert!(
        stats.pieces_have < stats.pieces_total / 2,
        "the tail came only after {} of {} pieces ({took:?})",
        stats.pieces_have,
        stats.pieces_total
    );
    eprintln!(
        "tail in {took:?} with {}/{} pieces",
        stats.pieces_have, stats.pieces_total
    );

    // From the start, in the small reads a player makes.
    stream.seek(SeekFrom::Start(0)).await.unwrap();
    let mut all = Vec::with_capacity(LEN);
    let mut chunk = vec![0; 10_000];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
            .await
            .expect("a read stalled")
            .unwrap();
        if n == 0 {
            break;
        }
        all.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(all.len(), LEN);
    assert!(all == payload, "the file read back wrong");
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
