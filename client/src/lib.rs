//! shoal: BitTorrent client engine and the shoal command line.
#![deny(missing_docs, missing_debug_implementations)]
