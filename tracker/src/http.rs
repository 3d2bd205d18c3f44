//! The HTTP side: announce, scrape, statistics, and the published-torrents pages.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tracker_proto::{
    AnnounceReply, AnnounceRequest, AnnounceResponse, Event, ScrapeReply, ScrapeRequest,
    ScrapeResponse, SwarmStats,
};

use crate::error::Error;
use crate::pages::{self, Site};
use crate::published::MAX_TORRENT_BYTES;
use crate::server::Shared;
use crate::stats::Counters;
use crate::swarm::{self, PeerEvent, PeerRng, PeerSelection, ReplyFamilies};

thread_local! {
    static SCRATCH: RefCell<(PeerRng, PeerSelection)> = RefCell::new((PeerRng::new(), PeerSelection::default()));
}

/// The routes of the HTTP server.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/announce", get(announce))
        .route("/scrape", get(scrape))
        .route("/stats", get(stats_page))
        .route("/stats.json", get(stats_json))
        .route("/metrics", get(metrics))
        .route("/", get(index))
        .route("/feed.xml", get(feed))
        .route("/torrents/{file}", get(torrent_file))
        .route(
            "/upload",
            post(upload).layer(DefaultBodyLimit::max(MAX_TORRENT_BYTES)),
        )
        .with_state(shared)
}

fn bencoded(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain")], body).into_response()
}

/// Event of the store from the protocol's event.
pub(crate) fn peer_event(e: Option<Event>) -> PeerEvent {
    match e {
        None => PeerEvent::None,
        Some(Event::Started) => PeerEvent::Started,
        Some(Event::Completed) => PeerEvent::Completed,
        Some(Event::Stopped) => PeerEvent::Stopped,
    }
}

fn secs(d: std::time::Duration) -> u32 {
    d.as_secs().min(u64::from(u32::MAX)) as u32
}

async fn announce(
    State(sh): State<Arc<Shared>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
) -> Response {
    let counters = &sh.http_counters;
    let query = query.unwrap_or_default();
    let req = match AnnounceRequest::parse_query(query.as_bytes(), &sh.proto_limits) {
        Ok(r) => r,
        Err(e) => {
            Counters::add(&counters.errors);
            return bencoded(AnnounceReply::Failure(format!("bad announce: {e}")).encode(true));
        }
    };
    if req.port == 0 {
        Counters::add(&counters.errors);
        return bencoded(AnnounceReply::Failure("bad announce: port 0".into()).encode(true));
    }
    // The peer is reached at the address the request came from: a client-supplied `ip`
    // would let anyone point a swarm at a third party.
    let remote = swarm::canonical(remote);
    let a = swarm::Announce {
        info_hash: req.info_hash,
        peer_id: req.peer_id.0,
        addr: SocketAddr::new(remote.ip(), req.port),
        left: req.left,
        event: peer_event(req.event),
        numwant: req.numwant.map(|n| n as usize),
    };
    let (counts, peers) = SCRATCH.with_borrow_mut(|(rng, sel)| {
        let c = sh
            .store
            .announce(&a, Instant::now(), ReplyFamilies::Both, rng, sel);
        let peers: Vec<SocketAddr> = sel.addrs().collect();
        (c, peers)
    });
    Counters::add(&counters.announces);
    let reply = AnnounceReply::Ok(AnnounceResponse {
        interval: secs(sh.config.interval),
        min_interval: Some(secs(sh.config.min_interval.min(sh.config.interval))),
        complete: Some(counts.seeders),
        incomplete: Some(counts.leechers),
        external_ip: Some(remote.ip()),
        peers,
        ..Default::default()
    });
    bencoded(reply.encode(req.compact))
}

async fn scrape(State(sh): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let counters = &sh.http_counters;
    let req = match ScrapeRequest::parse_query(
        query.as_deref().unwrap_or("").as_bytes(),
        &sh.proto_limits,
    ) {
        Ok(r) if r.info_hashes.is_empty() => {
            Counters::add(&counters.errors);
            return bencoded(
                ScrapeReply::Failure("scrape needs at least one info_hash".into()).encode(),
            );
        }
        Ok(r) => r,
        Err(e) => {
            Counters::add(&counters.errors);
            return bencoded(ScrapeReply::Failure(format!("bad scrape: {e}")).encode());
        }
    };
    let mut files = BTreeMap::new();
    for h in &req.info_hashes {
        let c = sh.store.scrape(h);
        files.insert(
            *h,
            SwarmStats {
                seeders: c.seeders,
                completed: c.downloaded,
                leechers: c.leechers,
            },
        );
    }
    Counters::add(&counters.scrapes);
    bencoded(
        ScrapeReply::Ok(ScrapeResponse {
            files,
            min_request_interval: None,
        })
        .encode(),
    )
}

fn json_stats(sh: &Shared) -> Response {
    let snapshot = sh.snapshot();
    match serde_json::to_string_pretty(&snapshot) {
        Ok(s) => ([(header::CONTENT_TYPE, "application/json")], s).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn stats_page(
    State(sh): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if q.get("format").map(String::as_str) == Some("json") {
        return json_stats(&sh);
    }
    html(pages::stats_html(&sh.snapshot()))
}

async fn stats_json(State(sh): State<Arc<Shared>>) -> Response {
    json_stats(&sh)
}

async fn metrics(State(sh): State<Arc<Shared>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        sh.snapshot().to_prometheus(),
    )
        .into_response()
}

fn html(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// `http://host:port` as the client addressed us, if the `Host` header looks sane;
/// otherwise the bound address.
fn site(sh: &Shared, headers: &HeaderMap) -> Site {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() < 256
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .map(str::to_owned)
        .or_else(|| sh.http_addr.map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".into());
    Site {
        base: format!("http://{host}"),
        announce_http: sh.http_addr.map(|_| format!("http://{host}/announce")),
        announce_udp: match sh.udp_addr {
            // Bound to every address: clients reach UDP at the host they reached HTTP at.
            Some(udp) if udp.ip().is_unspecified() => Some(format!(
                "udp://{}:{}/announce",
                host_name(&host),
                udp.port()
            )),
            _ => sh.announce_url_udp(),
        },
        uploads: sh.config.upload_token.is_some(),
    }
}

/// The host part of a `Host` header value (`[::1]:80` → `[::1]`, `a.b:80` → `a.b`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

fn server_error(e: Error) -> Response {
    tracing::warn!("published torrents: {e}");
    (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response()
}

async fn index(State(sh): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let site = site(&sh, &headers);
    match &sh.published {
        None => html(pages::index_html(&site, None)),
        Some(p) => match p.list() {
            Ok(list) => html(pages::index_html(&site, Some(&list))),
            Err(e) => server_error(e),
        },
    }
}

async fn feed(State(sh): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some(p) = &sh.published else {
        return (StatusCode::NOT_FOUND, "no torrents are published here\n").into_response();
    };
    match p.list() {
        Ok(list) => (
            [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")],
            pages::feed_xml(&site(&sh, &headers), &list),
        )
            .into_response(),
        Err(e) => server_error(e),
    }
}

async fn torrent_file(State(sh): State<Arc<Shared>>, Path(file): Path<String>) -> Response {
    match sh.published.as_ref().and_then(|p| p.read(&file)) {
        Some(bytes) => {
            let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{file}\""))
                .unwrap_or(HeaderValue::from_static("attachment"));
            (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/x-bittorrent"),
                    ),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                bytes,
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such torrent\n").into_response(),
    }
}

/// Compares without an early exit, so timing does not reveal how much of a guess is right.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0));
    }
    diff == 0
}

async fn upload(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let (Some(published), Some(token)) = (&sh.published, &sh.config.upload_token) else {
        return (
            StatusCode::FORBIDDEN,
            "uploads are disabled on this tracker\n",
        )
            .into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    if !given.is_some_and(|g| same_secret(g.as_bytes(), token.as_bytes())) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "upload needs the header `Authorization: Bearer <token>` with the right token\n",
        )
            .into_response();
    }
    match published.store(q.get("name").map(String::as_str), &body) {
        Ok(t) => {
            let site = site(&sh, &headers);
            let reply = serde_json::json!({
                "file_name": t.file_name,
                "name": t.name,
                "info_hash": metainfo::to_hex(&t.wire_hash()),
                "url": format!("{}{}", site.base, t.torrent_url_path()),
            });
            (
                StatusCode::CREATED,
                [(header::CONTENT_TYPE, "application/json")],
                reply.to_string(),
            )
                .into_response()
        }
        Err(e @ Error::InvalidTorrent(_)) => {
            (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response()
        }
        Err(e @ Error::AlreadyPublished(_)) => {
            (StatusCode::CONFLICT, format!("{e}\n")).into_response()
        }
        Err(e) => server_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert_eq!(host_name("[::1]:8080"), "[::1]");
        assert_eq!(host_name("[::1]"), "[::1]");
        assert_eq!(host_name("tracker.example:80"), "tracker.example");
        assert_eq!(host_name("tracker.example"), "tracker.example");
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(!same_secret(b"", b"a"));
        assert!(same_secret(b"", b""));
    }
}
