//! Reading a file while it downloads: a seek to the end is served before the rest of the
//! file arrives, and reading from the start gives the whole file.

mod common;

use common::*;
use shoal::{Error, Limits};

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
