//! BitTorrent tracker server (HTTP + UDP) on tokio.
#![deny(missing_docs, missing_debug_implementations)]
