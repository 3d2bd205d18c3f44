//! The BEP 6 allowed-fast set.

use std::net::Ipv4Addr;

use sha1::{Digest, Sha1};

/// The BEP 6 allowed-fast set: `k` distinct piece indices (fewer if the torrent has
/// fewer pieces) that a peer at `ip` may request while choked, derived from the peer's
/// /24 network and the info-hash, as both sides compute it.
///
/// ```
/// use shoal_wire::allowed_fast_set;
///
/// // The example published in BEP 6.
/// let set = allowed_fast_set("80.4.4.200".parse().unwrap(), [0xaa; 20], 1313, 7);
/// assert_eq!(set, [1059, 431, 808, 1217, 287, 376, 1188]);
/// ```
pub fn allowed_fast_set(ip: Ipv4Addr, info_hash: [u8; 20], num_pieces: u32, k: usize) -> Vec<u32> {
    let masked = Ipv4Addr::from(u32::from(ip) & 0xffff_ff00);
    generate(masked, info_hash, num_pieces, k)
}

/// The allowed-fast set as libtorrent 2.0 computes it: the same algorithm over the
/// peer's whole address, not its /24 (observed against libtorrent 2.0.8 in
/// `tests/libtorrent.rs`). The set is the sender's choice, so either is valid to send;
/// this one predicts what a libtorrent peer will offer.
///
/// ```
/// use shoal_wire::{allowed_fast_set, allowed_fast_set_unmasked};
///
/// let ip = "80.4.4.0".parse().unwrap();
/// assert_eq!(allowed_fast_set_unmasked(ip, [0xaa; 20], 1313, 7),
///            allowed_fast_set(ip, [0xaa; 20], 1313, 7));
/// ```
pub fn allowed_fast_set_unmasked(
    ip: Ipv4Addr,
    info_hash: [u8; 20],
    num_pieces: u32,
    k: usize,
) -> Vec<u32> {
    generate(ip, info_hash, num_pieces, k)
}

fn generate(ip: Ipv4Addr, info_hash: [u8; 20], num_pieces: u32, k: usize) -> Vec<u32> {
    let k = k.min(num_pieces as usize);
    let mut set = Vec::with_capacity(k);
    if k == 0 {
        return set;
    }
    let mut x = Vec::with_capacity(24);
    x.extend_from_slice(&ip.octets());
    x.extend_from_slice(&info_hash);
    // Each round yields 5 indices; the bound only guarantees termination (covering k
    // of n residues takes about n ln n / 5 rounds at worst, far below it).
    let max_rounds = (k as u64).saturating_mul(64).saturating_add(1024);
    let mut rounds = 0u64;
    while set.len() < k && rounds < max_rounds {
        rounds += 1;
        let digest = Sha1::digest(&x);
        x.clear();
        x.extend_from_slice(&digest);
        for word in digest.chunks_exact(4) {
            if set.len() == k {
                break;
            }
            let index = u32::from_be_bytes([word[0], word[1], word[2], word[3]]) % num_pieces;
            if !set.contains(&index) {
                set.push(index);
            }
        }
    }
    set
}
