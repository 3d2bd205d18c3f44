//! Downloads a torrent in the background and prints "ready" when it completes — the way a
//! media player drives the engine: add, then react to events.
//!
//! ```text
//! cargo run -p shoal --example background_download -- <file.torrent | magnet:...> [DIR] [PEER]...
//! ```

use shoal::{AddTorrent, Event, Session, SessionConfig, Source};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(torrent) = args.next() else {
        eprintln!("usage: background_download <file.torrent | magnet:...> [DIR] [PEER]...");
        std::process::exit(2);
    };
    let dir = args.next().unwrap_or_else(|| ".".into());
    let peers = args.map(|p| p.parse()).collect::<Result<Vec<_>, _>>()?;

    let session = Session::new(SessionConfig {
        listen: Some("0.0.0.0:0".parse()?),
        ..SessionConfig::default()
    })
    .await?;
    let mut add = AddTorrent::new(Source::parse(&torrent), dir);
    add.peers = peers;
    let handle = session.add(add).await?;

    // The download runs on its own; this task only listens.
    let mut events = handle.events();
    while let Some(event) = events.next().await {
        match event {
            Event::MetadataReceived {
                name, total_len, ..
            } => {
                eprintln!("downloading {name} ({total_len} bytes)");
            }
            Event::Completed => {
                println!("ready");
                break;
            }
            Event::Error { message } => {
                eprintln!("error: {message}");
                break;
            }
            _ => {}
        }
    }
    session.shutdown().await;
    Ok(())
}
