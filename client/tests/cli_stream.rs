//! `shoal stream`: the largest file of a torrent served over HTTP on loopback while it
//! downloads from a `shoal seed`, with the range requests a media player makes.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::*;

const SHOAL: &str = env!("CARGO_BIN_EXE_shoal");

/// One HTTP/1.1 request on a fresh connection: (status, headers lower-cased, body).
fn http_get(addr: &str, path: &str, range: Option<&str>) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let range = range.map_or(String::new(), |r| format!("Range: {r}\r\n"));
    write!(
        sock,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{range}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    sock.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of headers");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn stream_serves_the_largest_file_with_ranges() {
    stream_with_ranges(false);
}

#[test]
fn stream_of_a_magnet_link_serves_once_the_metadata_is_fetched() {
    stream_with_ranges(true);
}

fn stream_with_ranges(magnet: bool) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let folder = src.join("show");
    std::fs::create_dir_all(&folder).unwrap();
    let video = payload_bytes(1_500_000, 5);
    std::fs::write(folder.join("notes.txt"), payload_bytes(20_000, 6)).unwrap();
    std::fs::write(folder.join("episode 1.mp4"), &video).unwrap();
    let meta = make_torrent(&folder, 32 * 1024, &[]);
    let torrent = write_torrent(dir.path(), &meta);
    let (_seeder, peer) = start_shoal_seeder(&torrent, &src, "--quiet", 20);
    let source = if magnet {
        metainfo::Magnet::from_metainfo(&meta).to_string()
    } else {
        torrent.to_str().unwrap().to_string()
    };

    let out = dir.path().join("out");
    let mut streamer = ChildGuard::spawn(
        SHOAL,
        &[
            "stream",
            &source,
            "-o",
            out.to_str().unwrap(),
            "--peer",
            &peer,
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--json",
        ],
    );
    let line = streamer.wait_line("{\"event\":\"streaming\"", 30);
    let info: serde_json::Value =
        serde_json::from_str(&format!("{{\"event\":\"streaming\"{line}")).unwrap();
    assert_eq!(info["length"], video.len() as u64);
    assert_eq!(info["path"][1], "episode 1.mp4");
    let url = info["url"].as_str().unwrap();
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_at(rest.find('/').unwrap());
    assert_eq!(path, "/episode%201.mp4");

    // A seek near the end, the way players probe a file's index.
    let (status, headers, body) = http_get(addr, path, Some("bytes=1400000-"));
    assert_eq!(status, 206);
    assert_eq!(
        header(&headers, "content-range"),
        Some("bytes 1400000-1499999/1500000")
    );
    assert_eq!(header(&headers, "content-type"), Some("video/mp4"));
    assert!(body == video[1_400_000..], "tail differs");

    let (status, headers, body) = http_get(addr, path, Some("bytes=1000-1999"));
    assert_eq!(status, 206);
    assert_eq!(header(&headers, "content-length"), Some("1000"));
    assert!(body == video[1000..2000], "range differs");

    let (status, _, body) = http_get(addr, "/", None);
    assert_eq!(status, 200);
    assert!(body == video, "the whole file differs");

    let (status, headers, _) = http_get(addr, path, Some("bytes=1500000-"));
    assert_eq!(status, 416);
    assert_eq!(header(&headers, "content-range"), Some("bytes */1500000"));
    let (status, _, _) = http_get(addr, "/other.mp4", None);
    assert_eq!(status, 404);

    // Ctrl-C ends it cleanly, with the torrent downloaded and saved.
    let code = streamer.interrupt(20);
    assert!(code.success(), "exit status {code:?}");
    assert_same_sha256(&folder, &out.join("show"));
}

#[test]
fn a_file_index_that_does_not_exist_is_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a.bin"), payload_bytes(40_000, 1)).unwrap();
    let meta = make_torrent(&src.join("a.bin"), 16 * 1024, &[]);
    let torrent = write_torrent(dir.path(), &meta);
    let out = std::process::Command::new(SHOAL)
        .args([
            "stream",
            torrent.to_str().unwrap(),
            "-o",
            src.to_str().unwrap(),
            "--file",
            "3",
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no file 3"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
