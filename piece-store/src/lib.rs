//! Random-write file manager: pieces and blocks to file spans, verification, crash-safe
//! resume.
//!
//! Data that arrives out of order in pieces (BitTorrent, or any protocol that fetches
//! ranges of files in parallel) is written in place into pre-sized sparse files, read back
//! for upload, verified (SHA-1 for v1, BEP 52 SHA-256 merkle trees for v2), and recorded
//! in a resume file that never claims a piece whose bytes are not on disk.
//!
//! - [`Layout`] maps (piece, offset, length) or absolute ranges to [`Span`]s over files.
//! - [`Storage`] is where bytes live: [`FileStorage`] (disk) or [`MemStorage`].
//! - [`PieceStore`] ties them: `write_block`, `read_block`, `verify_piece`,
//!   `recheck_all`, `save_resume` / `open_with_resume`.
//!
//! All IO is synchronous; every `PieceStore` method takes `&self` and is safe to call from
//! several threads.
#![deny(missing_docs, missing_debug_implementations)]
// The workspace forbids unsafe code; this crate's Cargo.toml relaxes that to "deny" for the
// read_floor bench's mmap rows only, so the library says "forbid" again here.
#![forbid(unsafe_code)]

mod bitfield;
mod error;
mod file_storage;
mod from_metainfo;
mod layout;
mod resume;
mod storage;
mod store;
mod verify;

pub use bitfield::Bitfield;
pub use error::{Error, FileOp, Result};
pub use file_storage::{FileStorage, FileStorageOptions};
pub use layout::{FileEntry, Layout, MAX_PIECE_LENGTH, Span, Spans};
pub use resume::ResumeData;
pub use storage::{FileStamp, MemStorage, Storage};
pub use store::{BlockWrite, PieceStore, RecheckProgress, ResumeOutcome};
pub use verify::{
    BLOCK_SIZE, FileHashes, PieceHashes, block_hashes, file_hashes_v2, file_root_single_piece,
    piece_root, root_of_layer,
};
