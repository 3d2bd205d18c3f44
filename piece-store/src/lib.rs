//! Random-write file manager: pieces and blocks to file spans, verification, crash-safe resume.
#![deny(missing_docs, missing_debug_implementations)]
