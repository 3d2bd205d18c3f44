//! BitTorrent peer wire protocol codec: handshake, BEP 3/6/9/10/11/52 messages.
#![deny(missing_docs, missing_debug_implementations)]
