//! Limits on untrusted input.

/// Bounds applied when parsing messages from the network.
///
/// Every parser in this crate is linear in its input and never allocates by a length
/// field; these limits bound what a well-formed but hostile message may make the caller
/// hold (an answer with a million peers, a scrape of every torrent).
///
/// ```
/// use shoal_tracker_proto::Limits;
///
/// let strict = Limits { max_peers: 200, ..Limits::default() };
/// assert_eq!(strict.max_scrape_hashes, Limits::default().max_scrape_hashes);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most peers accepted in one announce reply (HTTP `peers` + `peers6`, UDP announce).
    pub max_peers: usize,
    /// Most info-hashes in one scrape request, and most entries in one scrape reply.
    pub max_scrape_hashes: usize,
    /// Longest HTTP query string accepted, in bytes (after the `?`, still percent-encoded).
    pub max_query_len: usize,
}

impl Limits {
    /// The defaults: 5000 peers, 128 scrape hashes, 16 KiB of query.
    pub const DEFAULT: Limits = Limits {
        max_peers: 5000,
        max_scrape_hashes: 128,
        max_query_len: 16 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
