//! BEP 52 piece layers over the wire: fetching them with `hash request` when a v2 torrent's
//! info dictionary came without them (a magnet link), and answering other peers' requests.
//!
//! A v2 info dictionary holds each file's `pieces root` only; the piece hashes (the file's
//! piece layer) travel in the .torrent beside it, so a magnet download must ask peers for
//! them. Each file longer than one piece is asked for in chunks of at most [`CHUNK`]
//! piece-layer hashes, each with the uncle hashes that prove it up to the file's root, so
//! every chunk is checked on arrival and a peer that sends a wrong one is caught at once.
//! Requests that are rejected or not answered in time go to another peer; a peer that
//! rejects, stalls or lies is not asked again for [`PEER_PAUSE`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use metainfo::{BLOCK_SIZE, Metainfo, TorrentVersion, hash_pair, pad_hash};
use wire::{HashRequest, Hashes, Message};

use crate::torrent::{State, Torrent};

/// Piece-layer hashes asked for in one request (16 KiB of hashes, far below any
/// message-length limit).
pub(crate) const CHUNK: u32 = 512;
/// Chunk requests one peer may have in flight.
const PER_PEER: usize = 4;
/// A request not answered within this goes to another peer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a peer that rejected, stalled or sent hashes that do not prove out is left alone.
pub(crate) const PEER_PAUSE: Duration = Duration::from_secs(30);
/// Most hashes served in one `hashes` message (what libtorrent accepts too).
const MAX_SERVED: u32 = 8192;
/// Hash bytes answered to one peer per [`SERVE_WINDOW`]; past it requests are rejected, so
/// a peer that asks without reading cannot pile answers up in our send queue.
const SERVE_BUDGET: usize = 2 << 20;
/// The window of [`SERVE_BUDGET`].
const SERVE_WINDOW: Duration = Duration::from_secs(10);

/// What each peer was answered lately: (window start, hash bytes answered in it).
pub(crate) type ServedBudget = HashMap<u64, (Instant, usize)>;

/// Charges `bytes` of answer to `peer`; `false` when its budget for this window is spent.
fn charge(served: &mut ServedBudget, peer: u64, bytes: usize, now: Instant) -> bool {
    let (start, used) = served.entry(peer).or_insert((now, 0));
    if now.saturating_duration_since(*start) >= SERVE_WINDOW {
        *start = now;
        *used = 0;
    }
    if *used + bytes > SERVE_BUDGET {
        return false;
    }
    *used += bytes;
    true
}

/// The tree layer that holds piece hashes: log2 of the blocks per piece.
fn piece_level(meta: &Metainfo) -> u32 {
    (meta.piece_length() / BLOCK_SIZE).max(1).trailing_zeros()
}

/// The `proof layers` to ask for the chunk of `count` hashes in a layer of width
/// `2^height` so the answer proves out to the root. BEP 52 counts proof layers from the
/// base layer up: the answer holds the sibling of each ancestor on layers 1..=proof_layers
/// that the base hashes cannot give themselves (those from layer log2(count) on), as
/// libtorrent 2.0 answers. So the top wanted layer is the one just under the root.
fn proof_layers(height: u32, count: u32) -> u32 {
    if count.trailing_zeros() >= height {
        0
    } else {
        height - 1
    }
}

/// Whether `meta` is a v2-only torrent missing piece layers (a hybrid torrent falls back
/// on its v1 hashes, a v1 torrent has no layers).
pub(crate) fn needed(meta: &Metainfo) -> bool {
    meta.version() == TorrentVersion::V2 && !meta.has_all_piece_layers()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Missing,
    Asked { peer: u64, at: Instant },
    Done,
}

/// The piece layer of one file, as it arrives.
#[derive(Debug)]
struct FileLayer {
    file: usize,
    root: [u8; 32],
    /// Pieces in the file (hashes in its layer).
    pieces: u32,
    /// log2 of the layer's width padded to a power of two.
    height: u32,
    /// Hashes per request (a power of two, at most the padded width).
    chunk: u32,
    layer: Vec<[u8; 32]>,
    chunks: Vec<Chunk>,
}

/// Piece layers being fetched for a torrent; lives in the torrent's state until complete.
#[derive(Debug)]
pub(crate) struct LayerFetch {
    meta: Metainfo,
    piece_level: u32,
    files: Vec<FileLayer>,
    /// Peers not to ask until the given time.
    paused: HashMap<u64, Instant>,
}

impl LayerFetch {
    /// Starts fetching the layers `meta` lacks.
    pub fn new(meta: Metainfo) -> LayerFetch {
        let plen = meta.piece_length();
        let files = meta
            .files()
            .iter()
            .enumerate()
            .filter(|(i, f)| !f.pad && f.length > plen && meta.piece_layer(*i).is_none())
            .filter_map(|(i, f)| {
                let root = f.pieces_root?;
                let pieces = u32::try_from(f.length.div_ceil(plen)).ok()?;
                let width = pieces.checked_next_power_of_two()?;
                let chunk = width.min(CHUNK);
                Some(FileLayer {
                    file: i,
                    root,
                    pieces,
                    height: width.trailing_zeros(),
                    chunk,
                    layer: vec![[0; 32]; pieces as usize],
                    chunks: vec![Chunk::Missing; pieces.div_ceil(chunk) as usize],
                })
            })
            .collect();
        LayerFetch {
            piece_level: piece_level(&meta),
            meta,
            files,
            paused: HashMap::new(),
        }
    }

    /// Every chunk has arrived and proved out.
    pub fn complete(&self) -> bool {
        self.files
            .iter()
            .all(|f| f.chunks.iter().all(|c| *c == Chunk::Done))
    }

    /// Requests to send to `peer` now (none while it is paused or has enough in flight).
    /// Requests that timed out first go back to be asked elsewhere.
    pub fn poll(&mut self, peer: u64, now: Instant) -> Vec<HashRequest> {
        for f in &mut self.files {
            for c in &mut f.chunks {
                if let Chunk::Asked { peer: p, at } = *c
                    && now.saturating_duration_since(at) > REQUEST_TIMEOUT
                {
                    *c = Chunk::Missing;
                    self.paused.insert(p, now + PEER_PAUSE);
                }
            }
        }
        if self.paused.get(&peer).is_some_and(|until| *until > now) {
            return Vec::new();
        }
        let mut in_flight = self
            .files
            .iter()
            .flat_map(|f| &f.chunks)
            .filter(|c| matches!(c, Chunk::Asked { peer: p, .. } if *p == peer))
            .count();
        let mut out = Vec::new();
        for f in &mut self.files {
            for (i, c) in f.chunks.iter_mut().enumerate() {
                if in_flight >= PER_PEER {
                    return out;
                }
                if *c == Chunk::Missing {
                    *c = Chunk::Asked { peer, at: now };
                    in_flight += 1;
                    out.push(HashRequest {
                        pieces_root: f.root,
                        base_layer: self.piece_level,
                        index: i as u32 * f.chunk,
                        length: f.chunk,
                        proof_layers: proof_layers(f.height, f.chunk),
                    });
                }
            }
        }
        out
    }

    /// The chunk a request or answer names, if it is one we ask for.
    fn chunk_of(&self, r: &HashRequest) -> Option<(usize, usize)> {
        let fi = self.files.iter().position(|f| f.root == r.pieces_root)?;
        let f = &self.files[fi];
        if r.base_layer != self.piece_level
            || r.length != f.chunk
            || !r.index.is_multiple_of(f.chunk)
        {
            return None;
        }
        let ci = (r.index / f.chunk) as usize;
        (ci < f.chunks.len()).then_some((fi, ci))
    }

    /// `peer` sent hashes. Unasked hashes are ignored; hashes that do not prove out to the
    /// file's root are an error (the chunk is asked elsewhere and the peer paused).
    pub fn on_hashes(&mut self, peer: u64, h: &Hashes, now: Instant) -> Result<(), String> {
        let Some((fi, ci)) = self.chunk_of(&h.request) else {
            return Ok(());
        };
        let f = &mut self.files[fi];
        if f.chunks[ci] == Chunk::Done {
            return Ok(());
        }
        let pad = pad_hash(self.piece_level);
        match prove_chunk(
            f.root,
            f.height,
            f.pieces,
            h.request.index,
            f.chunk,
            &h.hashes,
            pad,
        ) {
            Ok(base) => {
                let start = h.request.index as usize;
                let end = (start + base.len()).min(f.pieces as usize);
                f.layer[start..end].copy_from_slice(&base[..end - start]);
                f.chunks[ci] = Chunk::Done;
                Ok(())
            }
            Err(e) => {
                if matches!(f.chunks[ci], Chunk::Asked { peer: p, .. } if p == peer) {
                    f.chunks[ci] = Chunk::Missing;
                }
                self.paused.insert(peer, now + PEER_PAUSE);
                Err(format!(
                    "sent piece-layer hashes of {} that {e}",
                    self.meta.files()[f.file].display_path()
                ))
            }
        }
    }

    /// `peer` rejected a request: ask someone else, and leave this peer alone for a while.
    pub fn on_reject(&mut self, peer: u64, r: &HashRequest, now: Instant) {
        if let Some((fi, ci)) = self.chunk_of(r)
            && matches!(self.files[fi].chunks[ci], Chunk::Asked { peer: p, .. } if p == peer)
        {
            self.files[fi].chunks[ci] = Chunk::Missing;
            self.paused.insert(peer, now + PEER_PAUSE);
        }
    }

    /// `peer` went away: what it was asked goes back to be asked elsewhere.
    pub fn peer_gone(&mut self, peer: u64) {
        for f in &mut self.files {
            for c in &mut f.chunks {
                if matches!(c, Chunk::Asked { peer: p, .. } if *p == peer) {
                    *c = Chunk::Missing;
                }
            }
        }
        self.paused.remove(&peer);
    }

    /// The metainfo with every layer set (each checked again against its root).
    pub fn finish(self) -> Result<Metainfo, String> {
        let mut meta = self.meta;
        for f in self.files {
            meta.set_piece_layer(f.file, f.layer)
                .map_err(|e| format!("the piece layers received do not check out: {e}"))?;
        }
        Ok(meta)
    }
}

/// Checks a `hashes` answer for the chunk at `index` (`count` hashes, aligned) of a file's
/// piece layer of `pieces` hashes (padded width `2^height`): the base hashes, with the
/// padding positions past the layer's end taken as `pad`, hash up to a subtree root that
/// the uncle hashes that follow carry to `root`. Returns the base hashes.
fn prove_chunk(
    root: [u8; 32],
    height: u32,
    pieces: u32,
    index: u32,
    count: u32,
    hashes: &[[u8; 32]],
    pad: [u8; 32],
) -> Result<Vec<[u8; 32]>, String> {
    let count_usize = count as usize;
    let uncles_needed = (height - count.trailing_zeros()) as usize;
    if hashes.len() < count_usize + uncles_needed {
        return Err(format!(
            "are too few ({}, expected {count} and {uncles_needed} proof hashes)",
            hashes.len()
        ));
    }
    let mut base = hashes[..count_usize].to_vec();
    for (i, h) in base.iter_mut().enumerate() {
        if index as u64 + i as u64 >= u64::from(pieces) {
            *h = pad;
        }
    }
    let mut layer = base.clone();
    while layer.len() > 1 {
        layer = layer.chunks(2).map(|p| hash_pair(&p[0], &p[1])).collect();
    }
    let mut node = layer[0];
    let mut idx = index / count;
    for uncle in &hashes[count_usize..count_usize + uncles_needed] {
        node = if idx.is_multiple_of(2) {
            hash_pair(&node, uncle)
        } else {
            hash_pair(uncle, &node)
        };
        idx /= 2;
    }
    if node != root {
        return Err("do not hash to its pieces root".into());
    }
    Ok(base)
}

/// A file's whole merkle tree from its piece layer up, kept to answer hash requests.
#[derive(Debug)]
pub(crate) struct LayerTree {
    /// `levels[0]` is the piece layer padded to a power of two; the last level is the root.
    levels: Vec<Vec<[u8; 32]>>,
}

impl LayerTree {
    fn build(layer: &[[u8; 32]], pad: [u8; 32]) -> LayerTree {
        let width = layer.len().max(1).next_power_of_two();
        let mut level = layer.to_vec();
        level.resize(width, pad);
        let mut levels = vec![level];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let next = levels
                .last()
                .map(|l| l.chunks(2).map(|p| hash_pair(&p[0], &p[1])).collect())
                .unwrap_or_default();
            levels.push(next);
        }
        LayerTree { levels }
    }

    /// `count` hashes at `index` of the piece layer and up to `proof_layers` uncles, or
    /// `None` if the range is not an aligned power-of-two range inside the layer.
    fn answer(&self, index: u32, count: u32, proof_layers: u32) -> Option<Vec<[u8; 32]>> {
        let width = self.levels[0].len() as u64;
        if !count.is_power_of_two()
            || count > MAX_SERVED
            || !index.is_multiple_of(count)
            || u64::from(index) + u64::from(count) > width
        {
            return None;
        }
        let mut out = self.levels[0][index as usize..(index + count) as usize].to_vec();
        // Siblings of the ancestors on layers log2(count)..=proof_layers (see
        // `proof_layers`); lower ones the requester computes from the base hashes.
        let first = count.trailing_zeros() as usize;
        let last = proof_layers as usize;
        let mut idx = (index / count) as usize;
        for level in self
            .levels
            .iter()
            .skip(first)
            .take((last + 1).saturating_sub(first))
        {
            if level.len() < 2 {
                break;
            }
            out.push(level[idx ^ 1]);
            idx /= 2;
        }
        Some(out)
    }
}

/// Hash requests for `peer` to send now, if this torrent is fetching piece layers.
pub(crate) fn requests(torrent: &Torrent, peer: u64) -> Vec<Message> {
    let mut st = torrent.lock();
    let Some(fetch) = st.layers.as_mut() else {
        return Vec::new();
    };
    fetch
        .poll(peer, Instant::now())
        .into_iter()
        .map(Message::HashRequest)
        .collect()
}

/// Hashes from `peer`: checked and kept; once every layer is here the driver gets the
/// completed metainfo. Returns the next requests for this peer.
pub(crate) fn on_hashes(torrent: &Torrent, peer: u64, hashes: &Hashes) -> Vec<Message> {
    let now = Instant::now();
    let mut st = torrent.lock();
    let Some(fetch) = st.layers.as_mut() else {
        return Vec::new();
    };
    if let Err(e) = fetch.on_hashes(peer, hashes, now) {
        tracing::debug!(peer, "{e}");
    }
    if !fetch.complete() {
        return fetch
            .poll(peer, now)
            .into_iter()
            .map(Message::HashRequest)
            .collect();
    }
    let Some(fetch) = st.layers.take() else {
        return Vec::new();
    };
    drop(st);
    match fetch.finish() {
        Ok(meta) => {
            let _ = torrent
                .driver_tx
                .send(crate::driver::DriverCmd::PieceLayers(Box::new(meta)));
        }
        Err(message) => torrent.emit(crate::types::Event::Error { message }),
    }
    Vec::new()
}

/// `peer` rejected a hash request; returns the next requests for this peer (none while
/// it is paused).
pub(crate) fn on_reject(torrent: &Torrent, peer: u64, request: &HashRequest) -> Vec<Message> {
    let now = Instant::now();
    let mut st = torrent.lock();
    let Some(fetch) = st.layers.as_mut() else {
        return Vec::new();
    };
    fetch.on_reject(peer, request, now);
    fetch
        .poll(peer, now)
        .into_iter()
        .map(Message::HashRequest)
        .collect()
}

/// Forgets `peer`'s outstanding hash requests and its answer budget (call with the state
/// locked).
pub(crate) fn peer_gone(st: &mut State, peer: u64) {
    if let Some(fetch) = st.layers.as_mut() {
        fetch.peer_gone(peer);
    }
    st.hashes_served.remove(&peer);
}

/// The answer to a peer's hash request: `hashes` for piece-layer hashes of a file we have
/// the layer of, `hash reject` for anything else (other layers, unknown roots, ranges
/// that are not aligned powers of two inside the layer, and requests past `peer`'s answer
/// budget).
pub(crate) fn answer(torrent: &Torrent, peer: u64, r: &HashRequest) -> Message {
    let reject = Message::HashReject(*r);
    let meta = {
        let mut st = torrent.lock();
        let bytes = 32 * r.length.min(MAX_SERVED) as usize;
        if !charge(&mut st.hashes_served, peer, bytes, Instant::now()) {
            return reject;
        }
        let Some(active) = st.active.as_ref() else {
            return reject;
        };
        if let Some(tree) = st.layer_trees.get(&r.pieces_root) {
            return match tree.answer(r.index, r.length, r.proof_layers) {
                Some(hashes) if r.base_layer == piece_level(&active.meta) => {
                    Message::Hashes(Hashes {
                        request: *r,
                        hashes,
                    })
                }
                _ => reject,
            };
        }
        active.meta.clone()
    };
    if r.base_layer != piece_level(&meta) {
        return reject;
    }
    let Some(file) = meta
        .files()
        .iter()
        .position(|f| f.pieces_root == Some(r.pieces_root))
    else {
        return reject;
    };
    let Some(layer) = meta.piece_layer(file) else {
        return reject;
    };
    // Built once per file, outside the lock (a file of a million pieces takes a while).
    let tree = Arc::new(LayerTree::build(layer, pad_hash(piece_level(&meta))));
    let answer = tree.answer(r.index, r.length, r.proof_layers);
    torrent.lock().layer_trees.insert(r.pieces_root, tree);
    match answer {
        Some(hashes) => Message::Hashes(Hashes {
            request: *r,
            hashes,
        }),
        None => reject,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metainfo::TorrentBuilder;

    /// A v2 torrent of one file of `len` bytes with 16 KiB pieces, and the same without
    /// its piece layers (as a magnet link gives it).
    fn v2_file(len: usize) -> (Metainfo, Metainfo) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.bin");
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, data).expect("write");
        let full = TorrentBuilder::new(&path)
            .version(TorrentVersion::V2)
            .piece_length(16 * 1024)
            .build()
            .expect("build");
        let bare = Metainfo::from_info_bytes(full.info_bytes()).expect("info");
        (full, bare)
    }

    /// Answers every request `fetch` makes from `seeder`'s tree, optionally corrupting.
    fn serve(seeder: &LayerTree, reqs: &[HashRequest]) -> Vec<Hashes> {
        reqs.iter()
            .map(|r| Hashes {
                request: *r,
                hashes: seeder
                    .answer(r.index, r.length, r.proof_layers)
                    .expect("seeder answers"),
            })
            .collect()
    }

    #[test]
    fn layers_in_several_chunks_prove_out_and_complete_the_metainfo() {
        // 1300 pieces: three chunks of 512, the last one mostly padding.
        let (full, bare) = v2_file(1300 * 16 * 1024 - 5);
        assert!(needed(&bare));
        assert!(!needed(&full));
        let layer = full.piece_layer(0).expect("layer");
        let seeder = LayerTree::build(layer, pad_hash(0));
        assert_eq!(
            seeder.levels.last().expect("root")[0],
            full.files()[0].pieces_root.expect("root")
        );
        let mut fetch = LayerFetch::new(bare);
        let now = Instant::now();
        let reqs = fetch.poll(1, now);
        assert_eq!(reqs.len(), 3);
        assert!(
            reqs.iter()
                .all(|r| r.length == CHUNK && r.proof_layers == 10)
        );
        for h in serve(&seeder, &reqs) {
            assert_eq!(h.hashes.len(), 512 + 2);
            fetch.on_hashes(1, &h, now).expect("proves out");
        }
        assert!(fetch.complete());
        let meta = fetch.finish().expect("finish");
        assert!(meta.has_all_piece_layers());
        assert_eq!(meta.piece_layer(0), full.piece_layer(0));
    }

    #[test]
    fn a_wrong_hash_or_a_short_proof_is_refused_and_the_chunk_asked_elsewhere() {
        let (full, bare) = v2_file(1100 * 16 * 1024);
        let seeder = LayerTree::build(full.piece_layer(0).expect("layer"), pad_hash(0));
        let mut fetch = LayerFetch::new(bare);
        let now = Instant::now();
        let reqs = fetch.poll(7, now);
        let mut answers = serve(&seeder, &reqs);
        answers[0].hashes[3][0] ^= 1;
        assert!(fetch.on_hashes(7, &answers[0], now).is_err());
        answers[1].hashes.pop();
        let err = fetch.on_hashes(7, &answers[1], now).unwrap_err();
        assert!(err.contains("too few"), "{err}");
        // Peer 7 is paused; peer 8 gets both chunks back.
        assert!(fetch.poll(7, now).is_empty());
        let again = fetch.poll(8, now);
        assert_eq!(
            again.iter().map(|r| r.index).collect::<Vec<_>>(),
            vec![0, 512]
        );
        for h in serve(&seeder, &again).iter().chain(&answers[2..]) {
            let peer = if h.request.index == 1024 { 7 } else { 8 };
            fetch.on_hashes(peer, h, now).expect("good hashes");
        }
        assert!(fetch.complete());
    }

    #[test]
    fn rejected_timed_out_and_departed_requests_go_to_another_peer() {
        let (_, bare) = v2_file(40 * 16 * 1024);
        let mut fetch = LayerFetch::new(bare);
        let t0 = Instant::now();
        let reqs = fetch.poll(1, t0);
        assert_eq!(reqs.len(), 1);
        assert_eq!((reqs[0].length, reqs[0].proof_layers), (64, 0));
        assert!(fetch.poll(2, t0).is_empty(), "nothing left to ask");
        fetch.on_reject(1, &reqs[0], t0);
        assert!(
            fetch.poll(1, t0).is_empty(),
            "a peer that rejected is paused"
        );
        assert_eq!(fetch.poll(2, t0).len(), 1);
        // Peer 2 never answers: after the timeout peer 3 is asked, peer 2 paused.
        let later = t0 + REQUEST_TIMEOUT + Duration::from_secs(1);
        assert_eq!(fetch.poll(3, later).len(), 1);
        assert!(fetch.poll(2, later).is_empty());
        fetch.peer_gone(3);
        assert_eq!(fetch.poll(4, later).len(), 1);
        // After the pause, peer 1 may be asked again.
        fetch.peer_gone(4);
        assert_eq!(
            fetch
                .poll(1, t0 + PEER_PAUSE + Duration::from_secs(1))
                .len(),
            1
        );
    }

    #[test]
    fn a_peer_is_answered_at_most_its_budget_per_window() {
        let mut served = ServedBudget::new();
        let t0 = Instant::now();
        let answer = 32 * 8192;
        let fits = SERVE_BUDGET / answer;
        for _ in 0..fits {
            assert!(charge(&mut served, 1, answer, t0));
        }
        assert!(!charge(&mut served, 1, answer, t0), "budget spent");
        assert!(
            charge(&mut served, 2, answer, t0),
            "other peers have their own"
        );
        assert!(
            charge(&mut served, 1, answer, t0 + SERVE_WINDOW),
            "next window"
        );
    }

    #[test]
    fn served_ranges_must_be_aligned_powers_of_two_inside_the_layer() {
        let (full, _) = v2_file(5 * 16 * 1024);
        let tree = LayerTree::build(full.piece_layer(0).expect("layer"), pad_hash(0));
        assert_eq!(tree.answer(0, 8, 0).map(|h| h.len()), Some(8));
        // Proof layers count from the base layer: up to layer 1 is inside a chunk of 4
        // (libtorrent sends no uncles then); layer 2's sibling is the one uncle.
        assert_eq!(tree.answer(4, 4, 1).map(|h| h.len()), Some(4));
        assert_eq!(tree.answer(4, 4, 2).map(|h| h.len()), Some(5));
        assert_eq!(proof_layers(3, 4), 2);
        assert_eq!(proof_layers(3, 8), 0);
        assert_eq!(
            tree.answer(2, 2, 9).map(|h| h.len()),
            Some(4),
            "uncles stop at the root"
        );
        assert!(tree.answer(0, 3, 0).is_none());
        assert!(tree.answer(2, 4, 0).is_none());
        assert!(tree.answer(8, 2, 0).is_none());
        assert!(tree.answer(0, 16, 0).is_none());
        // What it serves proves out on the fetching side.
        let hashes = tree.answer(4, 4, proof_layers(3, 4)).expect("answer");
        let root = full.files()[0].pieces_root.expect("root");
        assert!(prove_chunk(root, 3, 5, 4, 4, &hashes, pad_hash(0)).is_ok());
    }
}
