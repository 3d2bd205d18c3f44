//! BitTorrent tracker messages, HTTP and UDP (BEP 3/7/15/23/48), sans-IO.
#![deny(missing_docs, missing_debug_implementations)]
