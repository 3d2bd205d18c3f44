//! `shoal stream`: download a torrent and serve one of its files over HTTP while it
//! downloads, for a media player (`mpv http://127.0.0.1:8888/movie.mkv`).
//!
//! The player's reads (with `Range` requests when it seeks) go through a
//! [`FileStream`](shoal::FileStream): the bytes asked for are fetched before anything
//! else, and a response never carries unverified data.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shoal::TorrentHandle;

use super::download::{Report, Swarm, start_torrent, watch};

/// Arguments of `shoal stream`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A .torrent file or a magnet link.
    pub torrent: String,
    /// The file to serve: its index in the torrent's file list, as `shoal info --json`
    /// lists them (default: the largest file).
    #[arg(long, value_name = "N")]
    pub file: Option<usize>,
    /// Where the HTTP server for the player listens.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8888")]
    pub http: SocketAddr,
    /// Folder to download into (the payload lands at DIR/<torrent name>).
    #[arg(short = 'o', long = "output", value_name = "DIR", default_value = ".")]
    pub output: PathBuf,
    #[command(flatten)]
    pub swarm: Swarm,
    #[command(flatten)]
    pub report: Report,
}

/// Runs `shoal stream` until Ctrl-C.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    super::catch_file_size_signal(&rt);
    let code = rt.block_on(stream(args));
    rt.shutdown_background();
    code
}

/// What the HTTP handlers serve.
#[derive(Debug)]
struct Served {
    handle: TorrentHandle,
    file: usize,
    /// The file's name (its last path component), the one path served besides `/`.
    name: String,
    len: u64,
    content_type: &'static str,
}

async fn stream(args: Args) -> anyhow::Result<ExitCode> {
    // The player's address is taken first: a busy port fails before any download starts.
    let listener = tokio::net::TcpListener::bind(args.http)
        .await
        .with_context(|| format!("cannot serve HTTP on {}", args.http))?;
    let http_addr = listener.local_addr()?;
    let (session, handle) = start_torrent(&args.torrent, &args.output, &args.swarm, false).await?;
    let meta = handle.wait_metainfo().await?;

    let file = match args.file {
        Some(i) => i,
        None => meta
            .files()
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.pad)
            .max_by_key(|(i, f)| (f.length, std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
            .context("the torrent lists no file")?,
    };
    // Checks the index and opens the file the way every request will.
    let probe = handle.stream_file(file).await?;
    let entry = &meta.files()[file];
    // Components never hold a `/` (they are sanitised), so the last one follows the last `/`.
    let shown = entry.path.to_string();
    let name = shown.rsplit('/').next().unwrap_or_default().to_string();
    let served = Arc::new(Served {
        handle: handle.clone(),
        file,
        len: probe.len(),
        content_type: content_type(&name),
        name,
    });
    drop(probe);
    let url = format!(
        "http://{http_addr}/{}",
        metainfo::percent_encode(served.name.as_bytes())
    );
    if args.report.json {
        println!(
            "{}",
            serde_json::json!({
                "event": "streaming",
                "url": url,
                "file": file,
                "path": entry.path.iter().collect::<Vec<_>>(),
                "length": served.len,
            })
        );
    } else {
        println!("streaming {} ({} bytes) at {url}", entry.path, served.len);
    }

    let app = axum::Router::new()
        .route("/", axum::routing::get(serve_root))
        .route("/{name}", axum::routing::get(serve_named))
        .with_state(served);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });

    let code = watch(&handle, args.report, false).await;
    let _ = stop_tx.send(());
    // A player may hold a connection open: do not wait for it for long.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), server).await;
    session.shutdown().await;
    code
}

async fn serve_root(State(served): State<Arc<Served>>, headers: HeaderMap) -> Response {
    serve(&served, &headers).await
}

async fn serve_named(
    State(served): State<Arc<Served>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if name != served.name {
        return (StatusCode::NOT_FOUND, "no such file here\n").into_response();
    }
    serve(&served, &headers).await
}

/// Answers a GET (or HEAD) for the file: the whole of it, or the one range asked for.
async fn serve(served: &Served, headers: &HeaderMap) -> Response {
    let len = served.len;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, len));
    let (status, start, end) = match range {
        // No Range, or one this server does not serve (several ranges): the whole file.
        None | Some(RangeAsk::Ignore) => (StatusCode::OK, 0, len),
        Some(RangeAsk::Unsatisfiable) => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response();
        }
        Some(RangeAsk::Bytes(start, end)) => (StatusCode::PARTIAL_CONTENT, start, end),
    };
    let stream = match served.handle.stream_file(served.file).await {
        Ok(s) => s,
        Err(e) => {
            return (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response();
        }
    };
    let body = futures::stream::unfold((stream, start), move |(stream, pos)| async move {
        if pos >= end {
            return None;
        }
        let want = (end - pos).min(256 * 1024) as usize;
        match stream.read_at(pos, want).await {
            Ok(data) if !data.is_empty() => {
                let next = pos + data.len() as u64;
                Some((Ok::<_, std::io::Error>(Bytes::from(data)), (stream, next)))
            }
            Ok(_) => None,
            // The connection ends early; the player sees a short body.
            Err(e) => Some((Err(std::io::Error::other(e)), (stream, end))),
        }
    });
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(served.content_type),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    response
}

/// What a `Range` header asks for.
#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    /// Bytes `start..end` (end exclusive, within the file).
    Bytes(u64, u64),
    /// A range that starts past the end of the file.
    Unsatisfiable,
    /// Not a single byte range this server understands: serve the whole file (RFC 9110
    /// lets a server ignore `Range`).
    Ignore,
}

fn parse_range(value: &str, len: u64) -> RangeAsk {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeAsk::Ignore;
    };
    if spec.contains(',') {
        return RangeAsk::Ignore;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAsk::Ignore;
    };
    let (first, last) = (first.trim(), last.trim());
    let num = |s: &str| s.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match num(last) {
            Some(0) => RangeAsk::Unsatisfiable,
            Some(n) if len > 0 => RangeAsk::Bytes(len.saturating_sub(n), len),
            Some(_) => RangeAsk::Unsatisfiable,
            None => RangeAsk::Ignore,
        },
        // bytes=A- and bytes=A-B (B inclusive, clipped to the file).
        (false, _) => {
            let Some(start) = num(first) else {
                return RangeAsk::Ignore;
            };
            let end = if last.is_empty() {
                len
            } else {
                match num(last) {
                    Some(b) if b >= start => b.saturating_add(1).min(len),
                    _ => return RangeAsk::Ignore,
                }
            };
            if start >= len {
                RangeAsk::Unsatisfiable
            } else {
                RangeAsk::Bytes(start, end)
            }
        }
        (true, true) => RangeAsk::Ignore,
    }
}

/// The media type players expect for common extensions.
fn content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mp4" | "m4v" => "video/mp4",
        "mkv" => "video/x-matroska",
        "webm" => "video/webm",
        "avi" => "video/x-msvideo",
        "mov" => "video/quicktime",
        "ts" => "video/mp2t",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" | "oga" => "audio/ogg",
        "opus" => "audio/opus",
        "flac" => "audio/flac",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        let len = 1000;
        assert_eq!(parse_range("bytes=0-99", len), RangeAsk::Bytes(0, 100));
        assert_eq!(parse_range("bytes=900-", len), RangeAsk::Bytes(900, 1000));
        assert_eq!(
            parse_range("bytes=900-5000", len),
            RangeAsk::Bytes(900, 1000)
        );
        assert_eq!(parse_range("bytes=-100", len), RangeAsk::Bytes(900, 1000));
        assert_eq!(parse_range("bytes=-5000", len), RangeAsk::Bytes(0, 1000));
        assert_eq!(parse_range("bytes=1000-", len), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", len), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range("bytes=5-2", len), RangeAsk::Ignore);
        assert_eq!(parse_range("bytes=0-1,5-6", len), RangeAsk::Ignore);
        assert_eq!(parse_range("items=0-1", len), RangeAsk::Ignore);
        assert_eq!(parse_range("bytes=x-1", len), RangeAsk::Ignore);
        assert_eq!(parse_range("bytes=-", len), RangeAsk::Ignore);
        assert_eq!(parse_range("bytes=0-0", 0), RangeAsk::Unsatisfiable);
    }

    #[test]
    fn media_types_follow_the_extension() {
        assert_eq!(content_type("Movie.MKV"), "video/x-matroska");
        assert_eq!(content_type("notes"), "application/octet-stream");
    }
}
