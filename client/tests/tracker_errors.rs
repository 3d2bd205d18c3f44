//! Trackers that refuse or cannot be reached are reported (with the `failure reason`), and
//! the torrent keeps going with the peers it has.

mod common;

use std::time::Duration;

use common::*;
use shoal::Event;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A minimal HTTP tracker that refuses every announce.
async fn refusing_tracker() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await;
                let body = b"d14:failure reason20:unregistered torrente";
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(body).await;
            });
        }
    });
    format!("http://{addr}/announce")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusal_and_unreachable_tracker_are_reported_and_download_continues() {
    let refusing = refusing_tracker().await;
    // A closed port: connection refused.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        drop(l);
        format!("http://{a}/announce")
    };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "payload", &[100_000]);
    let meta = make_torrent(&payload, 16 * 1024, &[refusing.clone(), closed.clone()]);
    let seeder = session(false).await;
    let seed = add(&seeder, &meta, &src, vec![]).await;
    wait_completed(&seed, 20).await;

    let leecher = session(true).await;
    let out = dir.path().join("out");
    let h = add(&leecher, &meta, &out, vec![seeder.listen_addr().unwrap()]).await;
    let mut events = h.events();
    let (mut refused, mut unreachable) = (None, None);
    tokio::time::timeout(Duration::from_secs(20), async {
        while refused.is_none() || unreachable.is_none() {
            if let Some(Event::TrackerReply {
                url,
                error: Some(e),
                ..
            }) = events.next().await
            {
                if url == refusing {
                    refused = Some(e);
                } else if url == closed {
                    unreachable = Some(e);
                }
            }
        }
    })
    .await
    .expect("tracker errors not reported");
    assert!(refused.unwrap().contains("unregistered torrent"));
    assert!(unreachable.unwrap().contains("could not reach tracker"));
    wait_completed(&h, 30).await;
    leecher.shutdown().await;
    seeder.shutdown().await;
}
