//! Helpers shared by the tracker's integration tests: a minimal HTTP/1.1 client and a UDP
//! tracker client over tracker-proto, both with timeouts.
#![allow(dead_code)] // each test target uses a different subset

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tracker_proto::{Limits, UdpRequest, UdpResponse};

pub const TIMEOUT: Duration = Duration::from_secs(5);

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request with `Connection: close` and reads the whole response.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    tokio::time::timeout(TIMEOUT, async {
        let mut s = TcpStream::connect(addr).await.expect("connect to tracker");
        let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        s.write_all(body).await.unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.unwrap();
        parse_response(&raw)
    })
    .await
    .expect("HTTP response within the timeout")
}

pub async fn get(addr: SocketAddr, target: &str) -> HttpResponse {
    http(addr, "GET", target, &[], b"").await
}

fn parse_response(raw: &[u8]) -> HttpResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = std::str::from_utf8(&raw[..split]).expect("ASCII headers");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size =
            usize::from_str_radix(std::str::from_utf8(&b[..line_end]).unwrap().trim(), 16).unwrap();
        b = &b[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// Percent-encodes every byte (what clients do with binary info-hashes).
pub fn pct(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

/// A UDP tracker client over tracker-proto.
pub struct UdpClient {
    pub socket: UdpSocket,
    pub tracker: SocketAddr,
    next_tx: u32,
}

impl UdpClient {
    pub async fn new(bind: &str, tracker: SocketAddr) -> Self {
        let socket = UdpSocket::bind(bind).await.expect("bind UDP client");
        Self {
            socket,
            tracker,
            next_tx: 1,
        }
    }

    pub fn tx(&mut self) -> u32 {
        self.next_tx += 1;
        self.next_tx
    }

    /// Sends `req` and waits for the reply with the same transaction id (others are
    /// skipped; a reply is retried up to 3 times, as UDP may drop).
    pub async fn request(&mut self, req: &UdpRequest) -> UdpResponse {
        let bytes = req.to_bytes();
        let want_tx = req.transaction_id();
        let ipv6 = self.socket.local_addr().unwrap().is_ipv6();
        for _ in 0..3 {
            self.socket.send_to(&bytes, self.tracker).await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(2);
            let mut buf = vec![0u8; 4096];
            while let Ok(Ok((n, _))) =
                tokio::time::timeout_at(deadline.into(), self.socket.recv_from(&mut buf)).await
            {
                if let Ok(resp) = UdpResponse::parse(&buf[..n], ipv6, &Limits::default())
                    && resp.transaction_id() == want_tx
                {
                    return resp;
                }
            }
        }
        panic!("no UDP reply to transaction {want_tx}");
    }

    pub async fn connect(&mut self) -> u64 {
        let transaction_id = self.tx();
        match self.request(&UdpRequest::Connect { transaction_id }).await {
            UdpResponse::Connect { connection_id, .. } => connection_id,
            other => panic!("connect answered with {other:?}"),
        }
    }
}

/// Polls `f` until it returns `Some`, or panics after `TIMEOUT`.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A small single-file v1 .torrent (piece hashes are made up; only their count matters).
pub fn small_torrent(name: &str, length: u64) -> Vec<u8> {
    let pieces = length.div_ceil(16384).max(1) as usize;
    let info = format!(
        "d6:lengthi{length}e4:name{}:{name}12:piece lengthi16384e6:pieces{}:",
        name.len(),
        pieces * 20
    );
    let mut t = b"d8:announce22:http://127.0.0.1/annou4:info".to_vec();
    t.extend_from_slice(info.as_bytes());
    t.extend_from_slice(&vec![7u8; pieces * 20]);
    t.extend_from_slice(b"ee");
    t
}
