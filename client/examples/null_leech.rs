//! The fastest a peer can hand over a torrent: a leecher that requests every block of a
//! v1 torrent from one peer and throws the data away (no hashing, no writing). Its wall
//! time is what the peer alone allows; `scripts/bench-client.sh` uses it to show how close
//! shoal and libtorrent come to that floor.
//!
//! `cargo run --release -p shoal --example null_leech -- <file.torrent> <peer addr>`
//!
//! Prints `bytes`, `secs` and `MB/s`. It gives up after 300 s, or on any error.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use metainfo::{Metainfo, PeerId};
use wire::{BLOCK_LEN, BlockRequest, Handshake, Message};

/// Requests in flight: well past what loopback needs to stay busy.
const DEPTH: usize = 512;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, torrent, addr] = &args[..] else {
        return Err("usage: null_leech <file.torrent> <peer addr>".into());
    };
    let meta = Metainfo::from_bytes(&std::fs::read(torrent)?)?;
    let addr: SocketAddr = addr.parse()?;
    let piece_len = meta.piece_length();
    let total = meta.piece_space_length();

    // Every block, in piece order.
    let mut blocks = Vec::new();
    for piece in 0..meta.num_pieces() {
        let len = meta.piece_len(piece);
        let mut off = 0;
        while off < len {
            let n = (len - off).min(u64::from(BLOCK_LEN));
            blocks.push((piece, off as u32, n as u32));
            off += n;
        }
    }
    debug_assert_eq!(
        blocks.iter().map(|b| u64::from(b.2)).sum::<u64>(),
        total,
        "blocks cover the torrent (pieces of {piece_len})"
    );

    let start = Instant::now();
    let deadline = start + Duration::from_secs(300);
    let mut sock = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    sock.set_nodelay(true)?;
    let hs = Handshake::new(
        meta.info_hash().wire(),
        PeerId::with_random(*b"null-leecher"),
    );
    sock.write_all(&hs.to_bytes())?;
    let mut theirs = [0u8; wire::HANDSHAKE_LEN];
    sock.read_exact(&mut theirs)?;
    let mut interested = BytesMut::new();
    Message::Interested.encode(&mut interested);
    sock.write_all(&interested)?;

    let mut next = 0; // next block to request
    let mut received = 0u64;
    let mut unchoked = false;
    let mut in_flight = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    let mut filled = 0usize;
    let mut out = BytesMut::with_capacity(DEPTH * 17);
    while received < total {
        if Instant::now() > deadline {
            return Err(format!("gave up after 300 s at {received} of {total} bytes").into());
        }
        if unchoked {
            while in_flight < DEPTH && next < blocks.len() {
                let (index, begin, length) = blocks[next];
                Message::Request(BlockRequest {
                    index,
                    begin,
                    length,
                })
                .encode(&mut out);
                next += 1;
                in_flight += 1;
            }
            if !out.is_empty() {
                sock.write_all(&out)?;
                out.clear();
            }
        }
        let n = sock.read(&mut buf[filled..])?;
        if n == 0 {
            return Err(format!("peer closed at {received} of {total} bytes").into());
        }
        filled += n;
        // Consume whole messages; a piece message's payload is only counted.
        let mut pos = 0;
        while filled - pos >= 4 {
            let len = u32::from_be_bytes(buf[pos..pos + 4].try_into()?) as usize;
            if len > buf.len() - 4 {
                return Err(format!("message of {len} bytes").into());
            }
            if filled - pos < 4 + len {
                break;
            }
            match buf.get(pos + 4) {
                Some(1) if len > 0 => unchoked = true,
                Some(0) if len > 0 => unchoked = false,
                Some(7) if len >= 9 => {
                    received += (len - 9) as u64;
                    in_flight = in_flight.saturating_sub(1);
                }
                _ => {}
            }
            pos += 4 + len;
        }
        buf.copy_within(pos..filled, 0);
        filled -= pos;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "bytes {received} secs {secs:.3} MB/s {:.0}",
        received as f64 / secs / 1e6
    );
    Ok(())
}
