//! Piece and block picking, with no IO and no clock.
//!
//! Order of preference when a peer has room for more requests:
//! 1. blocks of pieces with a deadline (streaming), earliest deadline first — and only
//!    those while a deadline is past;
//! 2. free blocks of pieces already in progress (finish what was started);
//! 3. a new piece: in sequential mode the lowest wanted index, else — while fewer than
//!    [`RANDOM_FIRST`] pieces are complete — a random one (to have something to trade
//!    quickly), else the rarest among the peer's pieces with random tie-breaking, except
//!    that the piece after the last new one wins a tie (runs of adjacent pieces from
//!    random starts: the seeder reads its disk in order, leechers still differ); higher
//!    priority always wins;
//! 4. in endgame (nothing left unrequested), blocks already requested from other peers.
//!
//! Callers tell the picker what happened: blocks received, requests dropped, pieces verified
//! or failed, peers' haves coming and going.

use std::collections::HashMap;

use crate::rng::SmallRng;

/// The request unit: 16 KiB, as every client uses.
pub const BLOCK_LEN: u32 = 16 * 1024;

/// Pieces picked at random before switching to rarest first.
pub const RANDOM_FIRST: u32 = 4;

/// Default priority of a piece (0 = do not download, 7 = highest).
pub const DEFAULT_PRIORITY: u8 = 4;

/// One block: piece index, byte offset in the piece, length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockRef {
    /// Piece index.
    pub piece: u32,
    /// Byte offset inside the piece.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockState {
    Free,
    /// Requested from this many peers (more than one only in endgame or for deadlines).
    Requested(u8),
    Received,
}

/// One deadline: piece `piece` due at `due`, set by `owner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Deadline {
    piece: u32,
    due: u64,
    owner: u64,
}

/// The owner of deadlines set without one ([`Picker::set_deadline`],
/// `TorrentHandle::set_piece_deadline`).
pub(crate) const USER_DEADLINES: u64 = 0;

#[derive(Debug)]
struct Partial {
    blocks: Vec<BlockState>,
    received: u32,
}

/// Tracks which pieces we have, which are in flight, and picks what to request next.
#[derive(Debug)]
pub struct Picker {
    sizes: Vec<u32>,
    num_pieces: u32,
    have: Vec<bool>,
    have_count: u32,
    availability: Vec<u32>,
    priority: Vec<u8>,
    partial: HashMap<u32, Partial>,
    sequential: bool,
    /// The last piece [`Picker::pick_new`] started: the one after it wins ties.
    last_new: Option<u32>,
    /// Every deadline set, with who set it (a piece may have several owners).
    owned: Vec<Deadline>,
    /// One entry per piece with a deadline, its earliest: `(due, piece)`, earliest first.
    deadlines: Vec<(u64, u32)>,
    /// The caller's clock, in deadline units (see [`Picker::set_now`]).
    now: u64,
    rng: SmallRng,
}

impl Picker {
    /// A picker for `total_len` bytes cut into pieces of `piece_len` bytes.
    pub fn new(total_len: u64, piece_len: u32, rng: SmallRng) -> Self {
        let piece_len = u64::from(piece_len.max(1));
        let num_pieces = total_len.div_ceil(piece_len);
        let sizes = (0..num_pieces)
            .map(|p| (total_len - p * piece_len).min(piece_len) as u32)
            .collect();
        Self::from_sizes(sizes, rng)
    }

    /// A picker for pieces of the given sizes (v2 layouts end each file with a short piece).
    pub fn from_sizes(sizes: Vec<u32>, rng: SmallRng) -> Self {
        let n = sizes.len();
        Picker {
            num_pieces: n as u32,
            sizes,
            have: vec![false; n],
            have_count: 0,
            availability: vec![0; n],
            priority: vec![DEFAULT_PRIORITY; n],
            partial: HashMap::new(),
            sequential: false,
            last_new: None,
            owned: Vec::new(),
            deadlines: Vec::new(),
            now: 0,
            rng,
        }
    }

    /// Number of pieces.
    pub fn num_pieces(&self) -> u32 {
        self.num_pieces
    }

    /// Length of piece `piece` (the last one may be short).
    pub fn piece_len(&self, piece: u32) -> u32 {
        self.sizes.get(piece as usize).copied().unwrap_or(0)
    }

    fn blocks_in(&self, piece: u32) -> u32 {
        self.piece_len(piece).div_ceil(BLOCK_LEN)
    }

    fn block(&self, piece: u32, index: u32) -> BlockRef {
        let offset = index * BLOCK_LEN;
        BlockRef {
            piece,
            offset,
            len: (self.piece_len(piece) - offset).min(BLOCK_LEN),
        }
    }

    /// Whether we hold verified piece `piece`.
    pub fn has(&self, piece: u32) -> bool {
        self.have.get(piece as usize).copied().unwrap_or(false)
    }

    /// The verified pieces, one flag per piece.
    pub fn have(&self) -> &[bool] {
        &self.have
    }

    /// Number of verified pieces.
    pub fn have_count(&self) -> u32 {
        self.have_count
    }

    /// Bytes of verified pieces.
    pub fn have_bytes(&self) -> u64 {
        (0..self.num_pieces)
            .filter(|p| self.have[*p as usize])
            .map(|p| u64::from(self.piece_len(p)))
            .sum()
    }

    /// Whether every piece with a non-zero priority is verified.
    pub fn wanted_complete(&self) -> bool {
        (0..self.num_pieces as usize).all(|p| self.have[p] || self.priority[p] == 0)
    }

    /// Whether every piece is verified.
    pub fn all_complete(&self) -> bool {
        self.have_count == self.num_pieces
    }

    /// Bytes still wanted (non-zero priority, not verified).
    pub fn wanted_left(&self) -> u64 {
        (0..self.num_pieces)
            .filter(|p| !self.have[*p as usize] && self.priority[*p as usize] > 0)
            .map(|p| u64::from(self.piece_len(p)))
            .sum()
    }

    /// Whether a peer holding `peer_has` has something we want.
    pub fn interested_in(&self, peer_has: &[bool]) -> bool {
        peer_has
            .iter()
            .zip(&self.have)
            .zip(&self.priority)
            .any(|((h, ours), prio)| *h && !*ours && *prio > 0)
    }

    /// Picks sequentially (lowest index first) instead of rarest first.
    pub fn set_sequential(&mut self, on: bool) {
        self.sequential = on;
    }

    /// Sets the priority of one piece (0 = skip).
    pub fn set_priority(&mut self, piece: u32, priority: u8) {
        if let Some(p) = self.priority.get_mut(piece as usize) {
            *p = priority.min(7);
        }
    }

    /// Priority of one piece.
    pub fn priority(&self, piece: u32) -> u8 {
        self.priority.get(piece as usize).copied().unwrap_or(0)
    }

    /// Asks for `piece` before anything else, ordered by `deadline` (any monotonic unit, e.g.
    /// milliseconds from the session start). Setting it again replaces the deadline. The
    /// deadline belongs to owner 0 (see [`set_owned_deadlines`](Self::set_owned_deadlines)).
    pub fn set_deadline(&mut self, piece: u32, deadline: u64) {
        self.set_deadlines([(piece, deadline)]);
    }

    /// [`set_deadline`](Self::set_deadline) for several `(piece, deadline)` at once, with
    /// one pass over the deadlines already set and one sort.
    pub fn set_deadlines(&mut self, deadlines: impl IntoIterator<Item = (u32, u64)>) {
        self.set_owned_deadlines(USER_DEADLINES, deadlines);
    }

    /// Sets deadlines that belong to `owner` (a stream, say; owner 0 is the one of
    /// [`set_deadline`](Self::set_deadline)), replacing the ones `owner` had on the same
    /// pieces. Several owners may set a deadline on one piece: the
    /// earliest counts, and removing one owner's leaves the others'.
    pub fn set_owned_deadlines(
        &mut self,
        owner: u64,
        deadlines: impl IntoIterator<Item = (u32, u64)>,
    ) {
        let given = self.wanted_deadlines(deadlines);
        if given.is_empty() {
            return;
        }
        self.owned
            .retain(|d| d.owner != owner || !given.contains_key(&d.piece));
        self.owned.extend(
            given
                .into_iter()
                .map(|(piece, due)| Deadline { piece, due, owner }),
        );
        self.rebuild_deadlines();
    }

    /// `owner`'s deadlines become exactly `deadlines`: the ones it had on other pieces are
    /// removed (a stream that moved on). Other owners' deadlines stay.
    pub fn replace_deadlines(
        &mut self,
        owner: u64,
        deadlines: impl IntoIterator<Item = (u32, u64)>,
    ) {
        let given = self.wanted_deadlines(deadlines);
        self.owned.retain(|d| d.owner != owner);
        self.owned.extend(
            given
                .into_iter()
                .map(|(piece, due)| Deadline { piece, due, owner }),
        );
        self.rebuild_deadlines();
    }

    /// Removes `owner`'s deadline on `piece` (other owners' stay).
    pub fn remove_deadline(&mut self, owner: u64, piece: u32) {
        let before = self.owned.len();
        self.owned.retain(|d| d.owner != owner || d.piece != piece);
        if self.owned.len() != before {
            self.rebuild_deadlines();
        }
    }

    /// Removes every deadline of `owner`.
    pub fn clear_deadlines(&mut self, owner: u64) {
        let before = self.owned.len();
        self.owned.retain(|d| d.owner != owner);
        if self.owned.len() != before {
            self.rebuild_deadlines();
        }
    }

    /// The given deadlines on pieces that exist and are not verified yet, one per piece
    /// (the last given wins).
    fn wanted_deadlines(
        &self,
        deadlines: impl IntoIterator<Item = (u32, u64)>,
    ) -> HashMap<u32, u64> {
        deadlines
            .into_iter()
            .filter(|(piece, _)| *piece < self.num_pieces && !self.have[*piece as usize])
            .collect()
    }

    /// Recomputes the picking order from the owned deadlines: each piece once, at its
    /// earliest deadline.
    fn rebuild_deadlines(&mut self) {
        let mut earliest: HashMap<u32, u64> = HashMap::with_capacity(self.owned.len());
        for d in &self.owned {
            earliest
                .entry(d.piece)
                .and_modify(|due| *due = (*due).min(d.due))
                .or_insert(d.due);
        }
        self.deadlines = earliest.into_iter().map(|(p, due)| (due, p)).collect();
        self.deadlines.sort_unstable();
    }

    /// Tells the picker the time, in the unit of the deadlines. While a deadline is past
    /// (a stream waits for its piece), [`pick`](Self::pick) gives a peer that has that
    /// piece only blocks of deadline pieces: its queue then holds what the reader needs,
    /// not pieces that would arrive before it.
    pub fn set_now(&mut self, now: u64) {
        self.now = now;
    }

    /// Whether `piece` has a deadline.
    pub fn has_deadline(&self, piece: u32) -> bool {
        self.deadlines.iter().any(|(_, p)| *p == piece)
    }

    /// `piece`'s deadline (the earliest, when several owners set one).
    pub fn deadline(&self, piece: u32) -> Option<u64> {
        self.deadlines
            .iter()
            .find(|(_, p)| *p == piece)
            .map(|(due, _)| *due)
    }

    /// The pieces with deadlines and their deadlines, earliest first.
    pub fn deadlines(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.deadlines.iter().map(|(due, p)| (*p, *due))
    }

    /// The piece with the earliest deadline at or before the time given to
    /// [`set_now`](Self::set_now) that is wanted and that `peer_has` says a peer holds:
    /// what that peer should make room for.
    pub fn late_piece(&self, peer_has: &dyn Fn(u32) -> bool) -> Option<u32> {
        self.deadlines
            .iter()
            .take_while(|(due, _)| *due <= self.now)
            .map(|(_, p)| *p)
            .find(|p| self.wanted(*p) && peer_has(*p))
    }

    /// Marks a piece as verified (from resume data or after hashing).
    pub fn mark_have(&mut self, piece: u32) {
        if let Some(h) = self.have.get_mut(piece as usize)
            && !*h
        {
            *h = true;
            self.have_count += 1;
        }
        self.partial.remove(&piece);
        self.owned.retain(|d| d.piece != piece);
        self.deadlines.retain(|(_, p)| *p != piece);
    }

    /// A peer announced `piece`.
    pub fn peer_has(&mut self, piece: u32) {
        if let Some(a) = self.availability.get_mut(piece as usize) {
            *a = a.saturating_add(1);
        }
    }

    /// A peer announced all pieces in `has` (bitfield or have-all).
    pub fn peer_has_all(&mut self, has: &[bool]) {
        for (a, h) in self.availability.iter_mut().zip(has) {
            if *h {
                *a = a.saturating_add(1);
            }
        }
    }

    /// A peer holding `has` left.
    pub fn peer_gone(&mut self, has: &[bool]) {
        for (a, h) in self.availability.iter_mut().zip(has) {
            if *h {
                *a = a.saturating_sub(1);
            }
        }
    }

    /// Availability of `piece` among connected peers.
    pub fn availability(&self, piece: u32) -> u32 {
        self.availability.get(piece as usize).copied().unwrap_or(0)
    }

    fn wanted(&self, piece: u32) -> bool {
        let p = piece as usize;
        !self.have[p] && self.priority[p] > 0
    }

    /// Picks up to `max` blocks to request from a peer that has the pieces `peer_has` says,
    /// skipping blocks in `outstanding` (already requested from this very peer).
    /// `allowed` limits the pieces (for a peer that choked us but allows fast pieces).
    pub fn pick(
        &mut self,
        peer_has: &dyn Fn(u32) -> bool,
        outstanding: &dyn Fn(&BlockRef) -> bool,
        allowed: Option<&[u32]>,
        max: usize,
    ) -> Vec<BlockRef> {
        let mut out = Vec::new();
        if max == 0 {
            return out;
        }
        let ok = |picker: &Picker, p: u32| {
            p < picker.num_pieces
                && picker.wanted(p)
                && peer_has(p)
                && allowed.is_none_or(|a| a.contains(&p))
        };

        // 1. Deadlines, earliest first; duplicates allowed so a slow peer cannot stall them.
        let deadline_pieces: Vec<u32> = self.deadlines.iter().map(|(_, p)| *p).collect();
        for p in deadline_pieces {
            if out.len() >= max {
                return out;
            }
            if ok(self, p) {
                self.take_free(p, max, &mut out);
            }
        }
        for p in self.deadlines.iter().map(|(_, p)| *p).collect::<Vec<_>>() {
            if out.len() >= max {
                return out;
            }
            if ok(self, p) {
                self.take_duplicates(p, outstanding, max, &mut out);
            }
        }

        // A late piece this peer can give: keep its queue for deadline pieces (a late
        // piece that no peer of ours has holds nothing back).
        let late = self
            .deadlines
            .iter()
            .take_while(|(due, _)| *due <= self.now)
            .any(|(_, p)| ok(self, *p));
        if late {
            return out;
        }

        // 2. Pieces in progress, highest priority then most complete first.
        let mut partial: Vec<(u8, u32, u32)> = self
            .partial
            .iter()
            .filter(|(p, part)| ok(self, **p) && part.blocks.contains(&BlockState::Free))
            .map(|(p, part)| (self.priority[*p as usize], part.received, *p))
            .collect();
        partial.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        for (_, _, p) in partial {
            if out.len() >= max {
                return out;
            }
            self.take_free(p, max, &mut out);
        }

        // 3. New pieces.
        while out.len() < max {
            let Some(p) = self.pick_new(&ok) else { break };
            self.take_free(p, max, &mut out);
        }
        if out.len() >= max {
            return out;
        }

        // 4. Endgame: every wanted block this peer can give is already requested.
        if self.in_endgame() {
            let mut pieces: Vec<u32> = self.partial.keys().copied().collect();
            pieces.sort_unstable();
            for p in pieces {
                if out.len() >= max {
                    break;
                }
                if ok(self, p) {
                    self.take_duplicates(p, outstanding, max, &mut out);
                }
            }
        }
        out
    }

    /// Whether no wanted piece is left unstarted and no started piece has free blocks.
    pub fn in_endgame(&self) -> bool {
        let unstarted =
            (0..self.num_pieces).any(|p| self.wanted(p) && !self.partial.contains_key(&p));
        !unstarted
            && self
                .partial
                .values()
                .all(|part| !part.blocks.contains(&BlockState::Free))
    }

    fn pick_new(&mut self, ok: &dyn Fn(&Picker, u32) -> bool) -> Option<u32> {
        let candidate = |picker: &Picker, p: u32| ok(picker, p) && !picker.partial.contains_key(&p);
        if self.sequential {
            let best_prio = (0..self.num_pieces)
                .filter(|p| candidate(self, *p))
                .map(|p| self.priority[p as usize])
                .max()?;
            return (0..self.num_pieces)
                .find(|p| candidate(self, *p) && self.priority[*p as usize] == best_prio);
        }
        let random_first = self.have_count < RANDOM_FIRST;
        // Reservoir sampling over the best (priority, rarity) class gives uniform random ties.
        let mut best: Option<(u8, u32)> = None;
        let mut chosen = None;
        let mut ties = 0u64;
        for p in 0..self.num_pieces {
            if !candidate(self, p) {
                continue;
            }
            let prio = self.priority[p as usize];
            let rarity = if random_first {
                0
            } else {
                self.availability[p as usize]
            };
            let better = match best {
                None => true,
                Some((bp, br)) => prio > bp || (prio == bp && rarity < br),
            };
            let equal = best == Some((prio, rarity));
            if better {
                best = Some((prio, rarity));
                chosen = Some(p);
                ties = 1;
            } else if equal {
                ties += 1;
                if self.rng.below(ties) == 0 {
                    chosen = Some(p);
                }
            }
        }
        // The piece after the last one started, if it is as good as the best: a run of
        // adjacent pieces (the peer reads them in order) from each random start.
        if !random_first
            && let (Some((bp, br)), Some(next)) = (best, self.last_new.map(|l| l + 1))
            && next < self.num_pieces
            && candidate(self, next)
            && self.priority[next as usize] == bp
            && self.availability[next as usize] == br
        {
            chosen = Some(next);
        }
        self.last_new = chosen;
        chosen
    }

    fn take_free(&mut self, piece: u32, max: usize, out: &mut Vec<BlockRef>) {
        let n = self.blocks_in(piece);
        let part = self.partial.entry(piece).or_insert_with(|| Partial {
            blocks: vec![BlockState::Free; n as usize],
            received: 0,
        });
        let mut taken = Vec::new();
        for (i, state) in part.blocks.iter_mut().enumerate() {
            if taken.len() + out.len() >= max {
                break;
            }
            if *state == BlockState::Free {
                *state = BlockState::Requested(1);
                taken.push(i as u32);
            }
        }
        out.extend(taken.into_iter().map(|i| self.block(piece, i)));
    }

    fn take_duplicates(
        &mut self,
        piece: u32,
        outstanding: &dyn Fn(&BlockRef) -> bool,
        max: usize,
        out: &mut Vec<BlockRef>,
    ) {
        let n = self.blocks_in(piece);
        let mut picked = Vec::new();
        if let Some(part) = self.partial.get(&piece) {
            for i in 0..n {
                if picked.len() + out.len() >= max {
                    break;
                }
                if let BlockState::Requested(_) = part.blocks[i as usize] {
                    let b = self.block(piece, i);
                    if !outstanding(&b) && !out.contains(&b) {
                        picked.push(i);
                    }
                }
            }
        }
        if let Some(part) = self.partial.get_mut(&piece) {
            for i in &picked {
                if let BlockState::Requested(c) = &mut part.blocks[*i as usize] {
                    *c = c.saturating_add(1);
                }
            }
        }
        out.extend(picked.into_iter().map(|i| self.block(piece, i)));
    }

    /// A request for `block` will not be answered (choke, reject, disconnect, timeout).
    pub fn cancel(&mut self, block: &BlockRef) {
        if let Some(part) = self.partial.get_mut(&block.piece) {
            let i = (block.offset / BLOCK_LEN) as usize;
            if let Some(state) = part.blocks.get_mut(i) {
                *state = match *state {
                    BlockState::Requested(c) if c > 1 => BlockState::Requested(c - 1),
                    BlockState::Requested(_) => BlockState::Free,
                    other => other,
                };
            }
        }
    }

    /// Data for `block` arrived. Returns `Some(true)` when this completes the piece (every
    /// block received: time to hash it), `Some(false)` when it is new but the piece is not
    /// complete, `None` when the block was not wanted (duplicate, unknown piece, bad shape).
    pub fn received(&mut self, block: &BlockRef) -> Option<bool> {
        if block.piece >= self.num_pieces
            || self.has(block.piece)
            || !block.offset.is_multiple_of(BLOCK_LEN)
            || block.offset >= self.piece_len(block.piece)
            || self.block(block.piece, block.offset / BLOCK_LEN).len != block.len
        {
            return None;
        }
        let n = self.blocks_in(block.piece);
        let part = self.partial.entry(block.piece).or_insert_with(|| Partial {
            blocks: vec![BlockState::Free; n as usize],
            received: 0,
        });
        let state = &mut part.blocks[(block.offset / BLOCK_LEN) as usize];
        if *state == BlockState::Received {
            return None;
        }
        *state = BlockState::Received;
        part.received += 1;
        Some(part.received == n)
    }

    /// The piece's hash failed: every block must be fetched again.
    pub fn piece_failed(&mut self, piece: u32) {
        self.partial.remove(&piece);
    }

    /// Blocks of piece `piece` already received.
    pub fn received_blocks(&self, piece: u32) -> u32 {
        self.partial.get(&piece).map_or(0, |p| p.received)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picker(pieces: u32, piece_len: u32) -> Picker {
        Picker::new(
            u64::from(pieces) * u64::from(piece_len),
            piece_len,
            SmallRng::seeded(7),
        )
    }

    fn all(_: u32) -> bool {
        true
    }
    fn none(_: &BlockRef) -> bool {
        false
    }

    /// A 64-piece picker (one block each) that has completed its random first pieces.
    fn past_random_first(seed: u64) -> Picker {
        let mut p = Picker::new(64 * u64::from(BLOCK_LEN), BLOCK_LEN, SmallRng::seeded(seed));
        for piece in 0..RANDOM_FIRST {
            complete(&mut p, piece);
        }
        p
    }

    fn complete(p: &mut Picker, piece: u32) {
        for i in 0..p.blocks_in(piece) {
            let b = p.block(piece, i);
            p.received(&b);
        }
        p.mark_have(piece);
    }

    #[test]
    fn piece_and_block_lengths_handle_short_last_piece() {
        let p = Picker::new(100_000, 32_768, SmallRng::seeded(1));
        assert_eq!(p.num_pieces(), 4);
        assert_eq!(p.piece_len(3), 100_000 - 3 * 32_768);
        assert_eq!(p.blocks_in(3), 1);
        assert_eq!(p.block(3, 0).len, 1_696);
        assert_eq!(
            p.block(0, 1),
            BlockRef {
                piece: 0,
                offset: 16_384,
                len: 16_384
            }
        );
    }

    #[test]
    fn finishes_started_pieces_before_new_ones() {
        let mut p = picker(10, 4 * BLOCK_LEN);
        let first = p.pick(&all, &none, None, 2);
        assert_eq!(first.len(), 2);
        assert!(first.iter().all(|b| b.piece == first[0].piece));
        let next = p.pick(&all, &none, None, 2);
        assert!(next.iter().all(|b| b.piece == first[0].piece), "{next:?}");
    }

    #[test]
    fn rarest_first_after_random_start() {
        let mut p = picker(20, BLOCK_LEN);
        for piece in 0..RANDOM_FIRST {
            complete(&mut p, piece);
        }
        let mut has = vec![true; 20];
        p.peer_has_all(&has);
        p.peer_has_all(&has);
        has.iter_mut().for_each(|h| *h = false);
        // piece 13 is held by one peer only: rarest.
        for piece in 0..20 {
            if piece != 13 {
                p.peer_has(piece);
            }
        }
        let got = p.pick(&all, &none, None, 1);
        assert_eq!(got[0].piece, 13);
    }

    #[test]
    fn random_first_pieces_are_spread() {
        let mut seen = std::collections::HashSet::new();
        for seed in 0..30 {
            let mut p = Picker::new(64 * u64::from(BLOCK_LEN), BLOCK_LEN, SmallRng::seeded(seed));
            seen.insert(p.pick(&all, &none, None, 1)[0].piece);
        }
        assert!(
            seen.len() > 10,
            "random first pieces too concentrated: {seen:?}"
        );
    }

    #[test]
    fn ties_broken_randomly() {
        let mut seen = std::collections::HashSet::new();
        for seed in 0..30 {
            let mut p = past_random_first(seed);
            seen.insert(p.pick(&all, &none, None, 1)[0].piece);
        }
        assert!(seen.len() > 10, "{seen:?}");
    }

    #[test]
    fn equally_rare_pieces_come_in_runs_from_random_starts() {
        let mut starts = std::collections::HashSet::new();
        for seed in 0..20 {
            let mut p = past_random_first(seed);
            let order: Vec<u32> = (0..6)
                .map(|_| p.pick(&all, &none, None, 1)[0].piece)
                .collect();
            starts.insert(order[0]);
            for w in order.windows(2) {
                assert_eq!(w[1], w[0] + 1, "not a run: {order:?}");
            }
        }
        assert!(starts.len() > 8, "starts not random: {starts:?}");
        // A rarer piece still wins over the next one.
        let mut p = picker(16, BLOCK_LEN);
        for piece in 0..RANDOM_FIRST {
            complete(&mut p, piece);
        }
        for piece in 0..16 {
            if piece != 11 {
                p.peer_has(piece);
            }
        }
        p.peer_has(12);
        let first = p.pick(&all, &none, None, 1)[0].piece;
        assert_eq!(first, 11, "the rarest first");
        // 12 is more common than the rest now: the run does not continue into it.
        let second = p.pick(&all, &none, None, 1)[0].piece;
        assert_ne!(second, 12);
    }

    #[test]
    fn sequential_and_priorities() {
        let mut p = picker(8, BLOCK_LEN);
        p.set_sequential(true);
        let got: Vec<u32> = p
            .pick(&all, &none, None, 3)
            .iter()
            .map(|b| b.piece)
            .collect();
        assert_eq!(got, vec![0, 1, 2]);
        p.set_priority(6, 7);
        p.set_priority(3, 0);
        let got: Vec<u32> = p
            .pick(&all, &none, None, 3)
            .iter()
            .map(|b| b.piece)
            .collect();
        assert_eq!(got, vec![6, 4, 5]);
        p.set_priority(7, 0);
        // Wanted: 0, 1, 2, 4, 5, 6.
        assert_eq!(p.wanted_left(), 6 * u64::from(BLOCK_LEN));
    }

    #[test]
    fn deadlines_come_first_and_in_order() {
        let mut p = picker(8, BLOCK_LEN);
        p.set_deadline(5, 200);
        p.set_deadline(2, 100);
        let got: Vec<u32> = p
            .pick(&all, &none, None, 2)
            .iter()
            .map(|b| b.piece)
            .collect();
        assert_eq!(got, vec![2, 5]);
        // Deadline pieces are requested again from another peer when all are in flight.
        let got: Vec<u32> = p
            .pick(&all, &none, None, 2)
            .iter()
            .map(|b| b.piece)
            .collect();
        assert_eq!(got, vec![2, 5]);
    }

    #[test]
    fn a_past_deadline_holds_other_pieces_back() {
        let pieces = |blocks: Vec<BlockRef>| blocks.iter().map(|b| b.piece).collect::<Vec<_>>();
        let mut p = picker(8, BLOCK_LEN);
        p.set_deadline(5, 100);
        p.set_now(50);
        // Not due yet: the deadline piece first, then others fill the room.
        let got = pieces(p.pick(&all, &none, None, 3));
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], 5);

        let mut p = picker(8, BLOCK_LEN);
        p.set_deadline(5, 100);
        p.set_deadline(6, 300);
        p.set_now(150);
        // Piece 5 is late: only deadline pieces, whatever the room.
        assert_eq!(pieces(p.pick(&all, &none, None, 4)), vec![5, 6]);
        p.mark_have(5);
        // Nothing late any more: the rest of the torrent again.
        let got = pieces(p.pick(&all, &none, None, 3));
        assert_eq!(got.len(), 3);
        assert!(!got.contains(&5), "{got:?}");

        // A late piece this peer does not have holds nothing back.
        let mut p = picker(8, BLOCK_LEN);
        p.set_deadline(5, 100);
        p.set_now(150);
        let got = pieces(p.pick(&|x| x != 5, &none, None, 3));
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn deadlines_have_owners() {
        let order = |p: &Picker| p.deadlines().collect::<Vec<_>>();
        let mut p = picker(16, BLOCK_LEN);
        p.set_deadline(9, 500);
        // Two streams (owners 1 and 2) share piece 3: the earliest deadline counts.
        p.replace_deadlines(1, [(3, 100), (4, 200)]);
        p.replace_deadlines(2, [(3, 50), (8, 300)]);
        assert_eq!(order(&p), vec![(3, 50), (4, 200), (8, 300), (9, 500)]);
        // Stream 2 moves on: its old pieces go, stream 1's deadline on 3 is back.
        p.replace_deadlines(2, [(12, 60)]);
        assert_eq!(order(&p), vec![(12, 60), (3, 100), (4, 200), (9, 500)]);
        // set_owned_deadlines adds to (and replaces on the same pieces) what it had.
        p.set_owned_deadlines(2, [(12, 70), (13, 80)]);
        assert_eq!(p.deadline(12), Some(70));
        assert_eq!(p.deadline(13), Some(80));
        // The user's deadlines are owner 0's: removed on their own.
        p.remove_deadline(0, 9);
        assert!(!p.has_deadline(9));
        p.set_deadline(9, 400);
        p.clear_deadlines(1);
        assert_eq!(order(&p), vec![(12, 70), (13, 80), (9, 400)]);
        p.clear_deadlines(0);
        assert_eq!(order(&p), vec![(12, 70), (13, 80)]);
        // A verified piece loses every owner's deadline, and a new one is not taken.
        p.replace_deadlines(1, [(13, 10)]);
        complete(&mut p, 13);
        assert_eq!(order(&p), vec![(12, 70)]);
        p.replace_deadlines(3, [(13, 5), (99, 5)]);
        assert_eq!(order(&p), vec![(12, 70)]);
        p.clear_deadlines(2);
        p.clear_deadlines(1);
        assert_eq!(order(&p), vec![]);
    }

    #[test]
    fn late_piece_is_the_earliest_late_one_a_peer_can_give() {
        let mut p = picker(8, BLOCK_LEN);
        p.set_deadline(2, 100);
        p.set_deadline(5, 200);
        p.set_deadline(6, 900);
        p.set_now(50);
        assert_eq!(p.late_piece(&all), None);
        p.set_now(250);
        assert_eq!(p.late_piece(&all), Some(2));
        assert_eq!(p.late_piece(&|x| x != 2), Some(5));
        assert_eq!(p.late_piece(&|x| x == 6), None);
        // Skipped pieces are not waited for.
        p.set_priority(2, 0);
        assert_eq!(p.late_piece(&all), Some(5));
        complete(&mut p, 5);
        assert_eq!(p.late_piece(&all), None);
    }

    #[test]
    fn only_pieces_the_peer_has_and_allowed_fast() {
        let mut p = picker(8, BLOCK_LEN);
        let got = p.pick(&|x| x == 4 || x == 6, &none, None, 10);
        let mut pieces: Vec<u32> = got.iter().map(|b| b.piece).collect();
        pieces.sort_unstable();
        assert_eq!(pieces, vec![4, 6]);
        let got = p.pick(&all, &none, Some(&[1]), 10);
        assert_eq!(got.iter().map(|b| b.piece).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn endgame_duplicates_but_not_to_the_same_peer() {
        let mut p = picker(2, 2 * BLOCK_LEN);
        let a = p.pick(&all, &none, None, 10);
        assert_eq!(a.len(), 4);
        assert!(p.in_endgame());
        // Same peer: everything is outstanding there, nothing to add.
        let same = p.pick(&all, &|b| a.contains(b), None, 10);
        assert!(same.is_empty());
        // Another peer gets duplicates.
        let b = p.pick(&all, &none, None, 10);
        assert_eq!(b.len(), 4);
        for blk in &a {
            assert_eq!(p.received(blk), Some(blk.offset != 0));
        }
        // Duplicate arrivals are ignored.
        assert_eq!(p.received(&b[0]), None);
    }

    #[test]
    fn cancel_and_failed_pieces_are_requested_again() {
        let mut p = picker(1, 2 * BLOCK_LEN);
        let a = p.pick(&all, &none, None, 10);
        assert_eq!(a.len(), 2);
        p.cancel(&a[1]);
        let again = p.pick(&all, &|b| *b == a[0], None, 10);
        assert_eq!(again, vec![a[1]]);
        assert_eq!(p.received(&a[0]), Some(false));
        assert_eq!(p.received(&a[1]), Some(true));
        p.piece_failed(0);
        assert_eq!(p.pick(&all, &none, None, 10).len(), 2);
        assert!(!p.has(0));
    }

    #[test]
    fn received_rejects_bad_shapes() {
        let mut p = picker(2, 2 * BLOCK_LEN);
        assert_eq!(
            p.received(&BlockRef {
                piece: 9,
                offset: 0,
                len: BLOCK_LEN
            }),
            None
        );
        assert_eq!(
            p.received(&BlockRef {
                piece: 0,
                offset: 5,
                len: BLOCK_LEN
            }),
            None
        );
        assert_eq!(
            p.received(&BlockRef {
                piece: 0,
                offset: 0,
                len: 5
            }),
            None
        );
        assert_eq!(
            p.received(&BlockRef {
                piece: 0,
                offset: 2 * BLOCK_LEN,
                len: BLOCK_LEN
            }),
            None
        );
    }

    #[test]
    fn interest_and_completion() {
        let mut p = picker(3, BLOCK_LEN);
        assert!(p.interested_in(&[false, true, false]));
        complete(&mut p, 1);
        assert!(!p.interested_in(&[false, true, false]));
        p.set_priority(0, 0);
        complete(&mut p, 2);
        assert!(p.wanted_complete());
        assert!(!p.all_complete());
        assert_eq!(p.have_bytes(), 2 * u64::from(BLOCK_LEN));
    }
}
