//! In-process tests of the tracker over real sockets on loopback.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use common::{UdpClient, eventually, get, http, pct, small_torrent};
use metainfo::PeerId;
use shoal_tracker::{RunningTracker, Tracker, TrackerConfig};
use tracker_proto::{
    AnnounceReply, AnnounceRequest, Event, Limits, ScrapeReply, ScrapeRequest, UdpAnnounceRequest,
    UdpPeers, UdpRequest, UdpResponse, UdpScrapeRequest,
};

fn loopback() -> Option<SocketAddr> {
    Some("127.0.0.1:0".parse().unwrap())
}

async fn start(config: TrackerConfig) -> RunningTracker {
    Tracker::start(TrackerConfig {
        http: loopback(),
        udp: loopback(),
        udp_workers: 2,
        ..config
    })
    .await
    .expect("tracker starts")
}

async fn http_announce(t: &RunningTracker, req: &AnnounceRequest) -> AnnounceReply {
    let target = format!("/announce?{}", req.to_query_string());
    let resp = get(t.http_addr().unwrap(), &target).await;
    assert_eq!(resp.status, 200);
    AnnounceReply::decode(&resp.body, &Limits::default()).expect("bencoded announce reply")
}

fn udp_announce(
    connection_id: u64,
    transaction_id: u32,
    hash: [u8; 20],
    peer: u8,
    port: u16,
    left: u64,
) -> UdpRequest {
    UdpRequest::Announce(UdpAnnounceRequest {
        connection_id,
        transaction_id,
        info_hash: hash,
        peer_id: PeerId([peer; 20]),
        downloaded: 0,
        left,
        uploaded: 0,
        event: Some(Event::Started),
        ip: None,
        key: 0,
        num_want: None,
        port,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_announce_scrape_and_bad_queries() {
    let t = start(TrackerConfig::default()).await;
    let hash = [0xa1; 20];
    let mut seeder = AnnounceRequest::new(hash, PeerId([1; 20]), 7001);
    seeder.event = Some(Event::Started);
    let AnnounceReply::Ok(r) = http_announce(&t, &seeder).await else {
        panic!("refused")
    };
    assert_eq!((r.complete, r.incomplete), (Some(1), Some(0)));
    assert!(r.peers.is_empty(), "alone in the swarm");
    assert_eq!(r.interval, 1800);

    let mut leecher = AnnounceRequest::new(hash, PeerId([2; 20]), 7002);
    leecher.left = 1000;
    let AnnounceReply::Ok(r) = http_announce(&t, &leecher).await else {
        panic!("refused")
    };
    assert_eq!((r.complete, r.incomplete), (Some(1), Some(1)));
    assert_eq!(
        r.peers,
        vec!["127.0.0.1:7001".parse::<SocketAddr>().unwrap()]
    );

    // aria2 sends `key` as raw bytes; the tracker does not need it and must not refuse.
    let aria2_style = format!(
        "/announce?info_hash={}&peer_id={}&uploaded=0&downloaded=0&left=5&compact=1&key=%EFm%F5i&numwant=50&no_peer_id=1&port=7003&event=started&supportcrypto=1",
        pct(&hash),
        pct(&[3; 20])
    );
    let resp = get(t.http_addr().unwrap(), &aria2_style).await;
    let AnnounceReply::Ok(r) = AnnounceReply::decode(&resp.body, &Limits::default()).unwrap()
    else {
        panic!("refused: {}", resp.text())
    };
    assert_eq!(r.incomplete, Some(2));

    // Dictionary model when compact is not asked for.
    leecher.compact = false;
    let resp = get(
        t.http_addr().unwrap(),
        &format!("/announce?{}", leecher.to_query_string()),
    )
    .await;
    assert!(resp.text().contains("2:ip9:127.0.0.1"), "{}", resp.text());

    let scrape = ScrapeRequest {
        info_hashes: vec![hash, [0xb2; 20]],
    };
    let resp = get(
        t.http_addr().unwrap(),
        &format!("/scrape?{}", scrape.to_query_string()),
    )
    .await;
    let ScrapeReply::Ok(s) = ScrapeReply::decode(&resp.body, &Limits::default()).unwrap() else {
        panic!("refused")
    };
    assert_eq!((s.files[&hash].seeders, s.files[&hash].leechers), (1, 2));
    assert_eq!(s.files[&[0xb2; 20]].seeders, 0);

    // Malformed queries get a bencoded failure reason; the server keeps serving.
    for bad in [
        "/announce",
        "/announce?info_hash=abc&peer_id=x",
        &format!(
            "/announce?info_hash={}&peer_id={}&port=99999&uploaded=0&downloaded=0&left=0",
            pct(&hash),
            pct(&[3; 20])
        ),
        &format!(
            "/announce?info_hash={}&peer_id={}&port=0&uploaded=0&downloaded=0&left=0",
            pct(&hash),
            pct(&[3; 20])
        ),
        "/announce?%%%%",
        "/scrape?info_hash=%ZZ",
        "/scrape",
    ] {
        let resp = get(t.http_addr().unwrap(), bad).await;
        assert_eq!(resp.status, 200, "{bad}");
        assert!(
            resp.body.starts_with(b"d14:failure reason"),
            "{bad}: {}",
            resp.text()
        );
    }
    let long = format!("/announce?x={}", "a".repeat(20_000));
    assert!(
        get(t.http_addr().unwrap(), &long)
            .await
            .body
            .starts_with(b"d14:failure reason")
    );

    // Stopped removes the peer.
    seeder.event = Some(Event::Stopped);
    http_announce(&t, &seeder).await;
    let stats = t.stats();
    assert_eq!(
        (stats.swarms, stats.peers, stats.seeders, stats.leechers),
        (1, 2, 0, 2)
    );
    assert_eq!(stats.http.announces, 5);
    assert_eq!(stats.http.scrapes, 1);
    assert_eq!(stats.http.errors, 8);
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_connect_announce_scrape_and_errors() {
    let t = start(TrackerConfig::default()).await;
    let tracker = t.udp_addr().unwrap();
    let hash = [0xc3; 20];
    let mut a = UdpClient::new("127.0.0.1:0", tracker).await;
    let mut b = UdpClient::new("127.0.0.1:0", tracker).await;

    // A made-up connection id is refused with an error reply to the transaction.
    let tx = a.tx();
    match a.request(&udp_announce(0x1234, tx, hash, 1, 7001, 0)).await {
        UdpResponse::Error { message, .. } => {
            assert!(message.contains("connection id"), "{message}")
        }
        other => panic!("expected an error, got {other:?}"),
    }
    let id_a = a.connect().await;
    let id_b = b.connect().await;
    // An id is bound to the address it was given to.
    let tx = b.tx();
    assert!(matches!(
        b.request(&udp_announce(id_a, tx, hash, 2, 7002, 5)).await,
        UdpResponse::Error { .. }
    ));

    let tx = a.tx();
    let UdpResponse::Announce(r) = a.request(&udp_announce(id_a, tx, hash, 1, 7001, 0)).await
    else {
        panic!()
    };
    assert_eq!((r.seeders, r.leechers), (1, 0));
    assert!(r.peers.is_empty());
    let tx = b.tx();
    let UdpResponse::Announce(r) = b.request(&udp_announce(id_b, tx, hash, 2, 7002, 5)).await
    else {
        panic!()
    };
    assert_eq!((r.seeders, r.leechers), (1, 1));
    assert_eq!(
        r.peers,
        UdpPeers::V4(vec!["127.0.0.1:7001".parse().unwrap()])
    );
    assert_eq!(r.interval, 1800);

    let tx = a.tx();
    let scrape = UdpRequest::Scrape(UdpScrapeRequest {
        connection_id: id_a,
        transaction_id: tx,
        info_hashes: vec![hash, [0; 20]],
    });
    let UdpResponse::Scrape(s) = a.request(&scrape).await else {
        panic!()
    };
    assert_eq!((s.stats[0].seeders, s.stats[0].leechers), (1, 1));
    assert_eq!((s.stats[1].seeders, s.stats[1].leechers), (0, 0));

    // A known header with a bad body gets an error reply no longer than the request.
    let mut bad = udp_announce(id_a, 77, hash, 1, 7001, 0).to_bytes();
    bad[80..84].copy_from_slice(&9u32.to_be_bytes()); // event 9 does not exist
    a.socket.send_to(&bad, tracker).await.unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = tokio::time::timeout(common::TIMEOUT, a.socket.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(n <= bad.len());
    match UdpResponse::parse(&buf[..n], false, &Limits::default()).unwrap() {
        UdpResponse::Error {
            transaction_id,
            message,
        } => {
            assert_eq!(transaction_id, 77);
            assert!(message.contains("event"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    let stats = t.stats();
    assert_eq!(stats.udp.connects, 2);
    assert_eq!(stats.udp.announces, 2);
    assert_eq!(stats.udp.scrapes, 1);
    assert_eq!(stats.udp.errors, 3);
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_over_ipv6_gets_ipv6_peers() {
    let t = Tracker::start(TrackerConfig {
        udp: Some("[::1]:0".parse().unwrap()),
        udp_workers: 1,
        ..Default::default()
    })
    .await
    .expect("tracker on ::1");
    let tracker = t.udp_addr().unwrap();
    let hash = [0xd4; 20];
    let mut a = UdpClient::new("[::1]:0", tracker).await;
    let mut b = UdpClient::new("[::1]:0", tracker).await;
    let (id_a, id_b) = (a.connect().await, b.connect().await);
    let tx = a.tx();
    a.request(&udp_announce(id_a, tx, hash, 1, 7001, 0)).await;
    let tx = b.tx();
    let UdpResponse::Announce(r) = b.request(&udp_announce(id_b, tx, hash, 2, 7002, 5)).await
    else {
        panic!()
    };
    assert_eq!(r.peers, UdpPeers::V6(vec!["[::1]:7001".parse().unwrap()]));
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_expire_after_the_timeout() {
    let t = start(TrackerConfig {
        interval: Duration::from_secs(1),
        peer_timeout: Some(Duration::from_millis(1500)),
        ..Default::default()
    })
    .await;
    let hash = [0xe5; 20];
    let mut req = AnnounceRequest::new(hash, PeerId([1; 20]), 7001);
    req.left = 1;
    http_announce(&t, &req).await;
    assert_eq!(t.stats().peers, 1);
    let addr = t.http_addr().unwrap();
    eventually("the peer to expire", || async {
        let resp = get(
            addr,
            &format!(
                "/scrape?{}",
                ScrapeRequest {
                    info_hashes: vec![hash]
                }
                .to_query_string()
            ),
        )
        .await;
        let ScrapeReply::Ok(s) = ScrapeReply::decode(&resp.body, &Limits::default()).unwrap()
        else {
            return None;
        };
        (s.files[&hash].leechers == 0).then_some(())
    })
    .await;
    assert_eq!((t.stats().peers, t.stats().swarms), (0, 0));
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_flood_does_not_stop_valid_announces() {
    let t = start(TrackerConfig::default()).await;
    let tracker = t.udp_addr().unwrap();
    let flooder = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_flood = stop.clone();
    // Garbage keeps coming (bounded: 1M packets at most) while a real client talks.
    let flood = tokio::spawn(async move {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut packet = [0u8; 1500];
        let mut sent = 0usize;
        while sent < 1_000_000 && !stop_flood.load(std::sync::atomic::Ordering::Relaxed) {
            for b in packet.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = seed as u8;
            }
            let len = [0, 1, 15, 16, 98, 1500][sent % 6];
            flooder.send_to(&packet[..len], tracker).await.unwrap();
            sent += 1;
        }
        sent
    });
    // Once the tracker is busy with the flood, a real client talks to it.
    eventually("the flood to reach the tracker", || async {
        let s = t.stats();
        (s.udp.ignored + s.udp.errors > 100).then_some(())
    })
    .await;
    let mut c = UdpClient::new("127.0.0.1:0", tracker).await;
    let id = c.connect().await;
    let tx = c.tx();
    let UdpResponse::Announce(r) = c
        .request(&udp_announce(id, tx, [0xf6; 20], 1, 7001, 5))
        .await
    else {
        panic!()
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = flood.await.unwrap();
    assert!(
        sent < 1_000_000,
        "the flood was still going when the client was answered"
    );
    assert_eq!(r.leechers, 1);
    let addr = t.http_addr().unwrap();
    assert_eq!(get(addr, "/stats.json").await.status, 200);
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_pages_in_three_formats() {
    let t = start(TrackerConfig::default()).await;
    let addr = t.http_addr().unwrap();
    http_announce(&t, &AnnounceRequest::new([1; 20], PeerId([1; 20]), 7001)).await;
    let html = get(addr, "/stats").await;
    assert!(
        html.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        html.text().contains("<th>Swarms</th><td>1</td>"),
        "{}",
        html.text()
    );
    for target in ["/stats?format=json", "/stats.json"] {
        let json: serde_json::Value =
            serde_json::from_slice(&get(addr, target).await.body).unwrap();
        assert_eq!(json["swarms"], 1);
        assert_eq!(json["http"]["announces"], 1);
    }
    let metrics = get(addr, "/metrics").await.text();
    assert!(
        metrics.contains("shoal_tracker_announces_total{protocol=\"http\"} 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("shoal_tracker_peers 1\n"), "{metrics}");
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_off_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let t = start(TrackerConfig {
        torrents_dir: Some(dir.path().into()),
        ..Default::default()
    })
    .await;
    let addr = t.http_addr().unwrap();
    let resp = http(
        addr,
        "POST",
        "/upload",
        &[("Authorization", "Bearer x")],
        &small_torrent("a", 1),
    )
    .await;
    assert_eq!(resp.status, 403);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_list_download_and_feed() {
    let dir = tempfile::tempdir().unwrap();
    let t = start(TrackerConfig {
        torrents_dir: Some(dir.path().into()),
        upload_token: Some("s3cret".into()),
        ..Default::default()
    })
    .await;
    let addr = t.http_addr().unwrap();
    let first = small_torrent("first.bin", 100);
    let second = small_torrent("second.bin", 200_000);

    for (headers, status) in [
        (vec![], 401),
        (vec![("Authorization", "Bearer wrong")], 401),
        (vec![("Authorization", "s3cret")], 401),
    ] {
        assert_eq!(
            http(addr, "POST", "/upload", &headers, &first).await.status,
            status
        );
    }
    let auth = [("Authorization", "Bearer s3cret")];
    let resp = http(addr, "POST", "/upload", &auth, b"d4:infod4:name1:xee").await;
    assert_eq!(resp.status, 400);
    assert!(resp.text().contains("invalid torrent"), "{}", resp.text());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing stored before a valid upload"
    );

    let resp = http(addr, "POST", "/upload", &auth, &first).await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    let json: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(json["file_name"], "first.bin.torrent");
    let resp = http(addr, "POST", "/upload?name=..%2Fescape", &auth, &second).await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    let second_file = serde_json::from_slice::<serde_json::Value>(&resp.body).unwrap()["file_name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!second_file.contains('/'));
    // The same name with other bytes is refused.
    assert_eq!(
        http(
            addr,
            "POST",
            "/upload",
            &auth,
            &small_torrent("first.bin", 5)
        )
        .await
        .status,
        409
    );
    // Make "first" clearly older, whatever the file system's time resolution.
    let old = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(dir.path().join("first.bin.torrent"))
        .unwrap()
        .set_modified(old)
        .unwrap();

    let page = get(addr, "/").await.text();
    assert!(
        page.contains("first.bin") && page.contains("second.bin"),
        "{page}"
    );
    assert!(page.contains("/torrents/first.bin.torrent"), "{page}");

    let feed = get(addr, "/feed.xml").await;
    assert!(
        feed.header("content-type")
            .unwrap()
            .starts_with("application/rss+xml")
    );
    let channel = rss::Channel::read_from(&feed.body[..]).expect("the feed parses as RSS");
    let titles: Vec<_> = channel
        .items()
        .iter()
        .map(|i| i.title().unwrap().to_owned())
        .collect();
    assert_eq!(titles, ["second.bin", "first.bin"], "newest first");
    for (item, bytes) in channel.items().iter().zip([&second, &first]) {
        let enclosure = item.enclosure().expect("enclosure");
        assert_eq!(enclosure.mime_type(), "application/x-bittorrent");
        assert_eq!(enclosure.length(), bytes.len().to_string());
        let path = enclosure
            .url()
            .strip_prefix(&format!("http://{addr}"))
            .expect("absolute URL on this tracker");
        let download = get(addr, path).await;
        assert_eq!(download.status, 200);
        assert_eq!(
            download.header("content-type"),
            Some("application/x-bittorrent")
        );
        assert_eq!(
            &download.body, bytes,
            "the listed .torrent downloads intact"
        );
        assert!(item.pub_date().is_some());
    }
    assert_eq!(get(addr, "/torrents/..%2Fsecret.torrent").await.status, 404);
    assert_eq!(get(addr, "/torrents/missing.torrent").await.status, 404);
    assert_eq!(t.stats().published_torrents, 2);
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_are_reported() {
    let err = Tracker::start(TrackerConfig::default()).await.unwrap_err();
    assert!(err.to_string().contains("neither HTTP nor UDP"), "{err}");
    let err = Tracker::start(TrackerConfig {
        http: loopback(),
        upload_token: Some("t".into()),
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("torrents directory"), "{err}");
    let t = start(TrackerConfig::default()).await;
    let busy = t.http_addr();
    let err = Tracker::start(TrackerConfig {
        http: busy,
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("cannot listen for HTTP"), "{err}");
    assert_eq!(
        t.announce_url_http(),
        Some(format!("http://{}/announce", busy.unwrap()))
    );
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dual_stack_socket_serves_ipv4_clients_as_ipv4() {
    let Ok(t) = Tracker::start(TrackerConfig {
        udp: Some("[::]:0".parse().unwrap()),
        udp_workers: 1,
        ..Default::default()
    })
    .await
    else {
        panic!("binding [::]:0 failed: this test needs IPv6 enabled");
    };
    let port = t.udp_addr().unwrap().port();
    let tracker: SocketAddr = ([127, 0, 0, 1], port).into();
    let hash = [0x77; 20];
    let mut a = UdpClient::new("127.0.0.1:0", tracker).await;
    let mut b = UdpClient::new("127.0.0.1:0", tracker).await;
    let (id_a, id_b) = (a.connect().await, b.connect().await);
    let tx = a.tx();
    a.request(&udp_announce(id_a, tx, hash, 1, 7001, 0)).await;
    let tx = b.tx();
    let UdpResponse::Announce(r) = b.request(&udp_announce(id_b, tx, hash, 2, 7002, 5)).await
    else {
        panic!()
    };
    // Arrived as ::ffff:127.0.0.1, stored and answered as IPv4 (6-byte peers).
    assert_eq!(
        r.peers,
        UdpPeers::V4(vec!["127.0.0.1:7001".parse().unwrap()])
    );
    assert!(t.announce_url_udp().unwrap().starts_with("udp://[::1]:"));
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_the_sockets() {
    let t = start(TrackerConfig::default()).await;
    let (http, udp) = (t.http_addr().unwrap(), t.udp_addr().unwrap());
    t.shutdown().await;
    // Without SO_REUSEPORT, these binds fail while any tracker socket is still open.
    std::net::UdpSocket::bind(udp).expect("UDP port free after shutdown");
    std::net::TcpListener::bind(http).expect("HTTP port free after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_over_ipv6_gives_peers6() {
    let t = Tracker::start(TrackerConfig {
        http: Some("[::1]:0".parse().unwrap()),
        ..Default::default()
    })
    .await
    .expect("tracker on ::1");
    let hash = [0x66; 20];
    http_announce(&t, &AnnounceRequest::new(hash, PeerId([1; 20]), 7001)).await;
    let mut second = AnnounceRequest::new(hash, PeerId([2; 20]), 7002);
    second.left = 5;
    let resp = get(
        t.http_addr().unwrap(),
        &format!("/announce?{}", second.to_query_string()),
    )
    .await;
    assert!(
        resp.text().contains("6:peers618:"),
        "compact IPv6 peers: {:?}",
        resp.text()
    );
    let AnnounceReply::Ok(r) = AnnounceReply::decode(&resp.body, &Limits::default()).unwrap()
    else {
        panic!("refused")
    };
    assert_eq!(r.peers, vec!["[::1]:7001".parse::<SocketAddr>().unwrap()]);
    assert_eq!(r.external_ip, Some("::1".parse().unwrap()));
    assert_eq!(
        t.announce_url_http().unwrap(),
        format!("http://{}/announce", t.http_addr().unwrap())
    );
    t.shutdown().await;
}
