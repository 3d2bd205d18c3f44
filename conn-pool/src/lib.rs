//! Adaptive, protocol-agnostic connection pool policy (sans-IO).
#![deny(missing_docs, missing_debug_implementations)]
