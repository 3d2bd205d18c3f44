//! A magnet link: metadata over ut_metadata (BEP 9) from a shoal seeder, then the data.

mod common;

use common::*;
use metainfo::Magnet;
use shoal::{AddTorrent, Event, Source};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_download_fetches_metadata_then_data() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "payload", &[200_000, 90_000, 1]);
    let meta = make_torrent(&payload, 16 * 1024, &[]);

    let seeder = session(false).await;
    let seed = add(&seeder, &meta, &src, vec![]).await;
    wait_completed(&seed, 20).await;

    let leecher = session(false).await;
    let out = dir.path().join("out");
    let uri = Magnet::from_metainfo(&meta).to_string();
    let mut a = AddTorrent::new(Source::Magnet(uri), &out);
    a.peers = vec![seeder.listen_addr().unwrap()];
    let h = leecher.add(a).await.unwrap();
    assert_eq!(h.stats().total_len, 0);
    let mut events = h.events();
    let first = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            if let Some(Event::MetadataReceived {
                name, total_len, ..
            }) = events.next().await
            {
                return (name, total_len);
            }
        }
    })
    .await
    .expect("no metadata");
    assert_eq!(first.0, "payload");
    assert_eq!(first.1, meta.total_length());
    wait_completed(&h, 30).await;
    assert_same_tree(&payload, &out.join("payload"));
    leecher.shutdown().await;
    seeder.shutdown().await;
}
