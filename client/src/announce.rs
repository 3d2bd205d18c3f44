//! Announcing to trackers: HTTP(S) with reqwest, UDP (BEP 15) by driving
//! `tracker_proto::UdpAnnouncer` over a tokio socket.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use metainfo::PeerId;
use tokio::net::UdpSocket;
use tracker_proto::{
    AnnounceOutcome, AnnounceReply, AnnounceRequest, AnnouncerOptions, Event, Limits,
    UdpAnnounceRequest, UdpAnnouncer,
};

/// What an announce needs to say.
#[derive(Debug, Clone)]
pub(crate) struct AnnounceParams {
    pub info_hash: [u8; 20],
    pub peer_id: PeerId,
    pub port: u16,
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: u64,
    pub event: Option<Event>,
    pub key: u32,
}

/// A tracker's answer.
#[derive(Debug, Clone)]
pub(crate) struct Announced {
    pub interval: Duration,
    pub peers: Vec<SocketAddr>,
}

/// Why an announce failed, in one sentence.
#[derive(Debug, Clone)]
pub(crate) enum AnnounceError {
    /// The tracker refused (`failure reason`).
    Refused(String),
    /// Could not reach it or could not read its answer.
    Unreachable(String),
}

impl std::fmt::Display for AnnounceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnnounceError::Refused(r) => write!(f, "the tracker refused: {r}"),
            AnnounceError::Unreachable(r) => write!(f, "{r}"),
        }
    }
}

/// Announces once to `url` (http://, https:// or udp://), within `timeout`.
pub(crate) async fn announce(
    http: &reqwest::Client,
    url: &str,
    p: &AnnounceParams,
    timeout: Duration,
) -> Result<Announced, AnnounceError> {
    let work = async {
        if let Some(rest) = url.strip_prefix("udp://") {
            announce_udp(rest, p).await
        } else if url.starts_with("http://") || url.starts_with("https://") {
            announce_http(http, url, p).await
        } else {
            Err(AnnounceError::Unreachable(format!(
                "tracker {url} uses a scheme shoal does not speak"
            )))
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| {
            Err(AnnounceError::Unreachable(format!(
                "tracker {url} did not answer within {} s",
                timeout.as_secs()
            )))
        })
}

async fn announce_http(
    http: &reqwest::Client,
    url: &str,
    p: &AnnounceParams,
) -> Result<Announced, AnnounceError> {
    let mut req = AnnounceRequest::new(p.info_hash, p.peer_id, p.port);
    req.uploaded = p.uploaded;
    req.downloaded = p.downloaded;
    req.left = p.left;
    req.event = p.event;
    req.compact = true;
    req.numwant = Some(80);
    req.key = Some(format!("{:08x}", p.key).into_bytes());
    let full = req.announce_url(url);
    let resp = http.get(&full).send().await.map_err(|e| {
        AnnounceError::Unreachable(format!("could not reach tracker {url}: {}", plain(&e)))
    })?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| {
        AnnounceError::Unreachable(format!("tracker {url} broke off its answer: {e}"))
    })?;
    match AnnounceReply::decode(&body, &Limits::default()) {
        Ok(AnnounceReply::Ok(r)) => Ok(Announced {
            interval: Duration::from_secs(u64::from(r.interval.max(1))),
            peers: r.peers,
        }),
        Ok(AnnounceReply::Failure(reason)) => Err(AnnounceError::Refused(reason)),
        Err(_) if !status.is_success() => Err(AnnounceError::Unreachable(format!(
            "tracker {url} answered HTTP {status}"
        ))),
        Err(e) => Err(AnnounceError::Unreachable(format!(
            "tracker {url} sent an answer shoal cannot read: {e}"
        ))),
    }
}

fn plain(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection refused or no route".to_string()
    } else if e.is_timeout() {
        "timed out".to_string()
    } else {
        e.to_string()
    }
}

async fn announce_udp(host_port: &str, p: &AnnounceParams) -> Result<Announced, AnnounceError> {
    let host_port = host_port.split('/').next().unwrap_or(host_port);
    let addr = tokio::net::lookup_host(host_port)
        .await
        .map_err(|e| {
            AnnounceError::Unreachable(format!("cannot resolve tracker udp://{host_port}: {e}"))
        })?
        .next()
        .ok_or_else(|| {
            AnnounceError::Unreachable(format!("cannot resolve tracker udp://{host_port}"))
        })?;
    let bind: SocketAddr = if addr.is_ipv6() {
        "[::]:0".parse().expect("literal")
    } else {
        "0.0.0.0:0".parse().expect("literal")
    };
    let sock = UdpSocket::bind(bind)
        .await
        .map_err(|e| AnnounceError::Unreachable(format!("cannot open a UDP socket: {e}")))?;
    sock.connect(addr).await.map_err(|e| {
        AnnounceError::Unreachable(format!("cannot reach tracker udp://{host_port}: {e}"))
    })?;
    let request = UdpAnnounceRequest {
        connection_id: 0,
        transaction_id: 0,
        info_hash: p.info_hash,
        peer_id: p.peer_id,
        downloaded: p.downloaded,
        left: p.left,
        uploaded: p.uploaded,
        event: p.event,
        ip: None,
        key: p.key,
        num_want: Some(80),
        port: p.port,
    };
    let options = AnnouncerOptions {
        ipv6: addr.is_ipv6(),
        seed: u64::from(p.key) << 32 | u64::from(p.port),
        max_retransmits: 3,
        ..Default::default()
    };
    let mut announcer = UdpAnnouncer::new(request, options, Instant::now());
    let mut buf = vec![0u8; 2048];
    loop {
        while let Some(packet) = announcer.poll_transmit(Instant::now()) {
            // A refused send (ICMP unreachable) shows up here or on recv; keep retrying.
            let _ = sock.send(&packet).await;
        }
        let deadline = announcer.poll_timeout();
        let recv = sock.recv(&mut buf);
        let outcome = match deadline {
            Some(d) => {
                tokio::select! {
                    r = recv => match r {
                        Ok(n) => announcer.handle_datagram(&buf[..n], Instant::now()).unwrap_or(None),
                        Err(_) => None,
                    },
                    _ = tokio::time::sleep_until(d.into()) => announcer.handle_timeout(Instant::now()),
                }
            }
            None => match recv.await {
                Ok(n) => announcer
                    .handle_datagram(&buf[..n], Instant::now())
                    .unwrap_or(None),
                Err(_) => None,
            },
        };
        match outcome {
            None => continue,
            Some(AnnounceOutcome::Announced(r)) => {
                return Ok(Announced {
                    interval: Duration::from_secs(u64::from(r.interval.max(1))),
                    peers: r.peers.to_socket_addrs(),
                });
            }
            Some(AnnounceOutcome::TrackerError(m)) => return Err(AnnounceError::Refused(m)),
            Some(_) => {
                return Err(AnnounceError::Unreachable(format!(
                    "tracker udp://{host_port} did not answer"
                )));
            }
        }
    }
}
