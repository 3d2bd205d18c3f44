//! Decoding throughput: a stream of 16 KiB piece messages (bytes/s) and a stream of small
//! messages (messages/s), each beside a baseline measured in the same run:
//! - pieces: `memcpy` of the same bytes (what any decoder that copies payloads pays);
//! - small messages: framing only (read each length prefix and skip), the floor for any
//!   decoder of this format.
//!
//! `cargo bench -p shoal-wire --bench decode -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use bytes::{Buf, Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use shoal_wire::{BLOCK_LEN, BlockRequest, Message, MessageDecoder};

const PIECES: usize = 1024; // 16 MiB of blocks

fn piece_stream() -> BytesMut {
    let block = Bytes::from((0..BLOCK_LEN).map(|i| i as u8).collect::<Vec<u8>>());
    let mut out = BytesMut::new();
    for i in 0..PIECES as u32 {
        Message::Piece {
            index: i / 16,
            begin: (i % 16) * BLOCK_LEN,
            data: block.clone(),
        }
        .encode(&mut out);
    }
    out
}

fn small_stream(n: usize) -> BytesMut {
    let mut out = BytesMut::new();
    for i in 0..n as u32 {
        let msg = match i % 6 {
            0 => Message::Have(i),
            1 => Message::Request(BlockRequest {
                index: i,
                begin: 16384,
                length: 16384,
            }),
            2 => Message::Unchoke,
            3 => Message::Cancel(BlockRequest {
                index: i,
                begin: 0,
                length: 16384,
            }),
            4 => Message::AllowedFast(i),
            _ => Message::KeepAlive,
        };
        msg.encode(&mut out);
    }
    out
}

fn decode_count(mut buf: BytesMut) -> usize {
    let mut decoder = MessageDecoder::new(BLOCK_LEN + 9);
    let mut n = 0;
    while let Some(msg) = decoder.decode(&mut buf).unwrap() {
        black_box(&msg);
        n += 1;
    }
    n
}

fn framing_only(buf: &[u8]) -> usize {
    let mut rest = buf;
    let mut n = 0;
    while rest.len() >= 4 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        rest = &rest[4 + len..];
        n += 1;
    }
    black_box(n)
}

fn pieces(c: &mut Criterion) {
    let stream = piece_stream();
    let mut g = c.benchmark_group("piece_16k");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("decode", |b| {
        b.iter_batched(
            || stream.clone(),
            |buf| assert_eq!(decode_count(buf), PIECES),
            BatchSize::LargeInput,
        )
    });
    // As from a socket: 64 KiB reads appended to the decoder's buffer (the one copy any
    // reader makes), decoding after each read.
    g.bench_function("read_64k_then_decode", |b| {
        b.iter(|| {
            let mut decoder = MessageDecoder::new(BLOCK_LEN + 9);
            let mut buf = BytesMut::with_capacity(256 * 1024);
            let mut n = 0;
            for chunk in stream.chunks(64 * 1024) {
                buf.extend_from_slice(chunk);
                while let Some(msg) = decoder.decode(&mut buf).unwrap() {
                    black_box(&msg);
                    n += 1;
                }
                // Keep the buffer from growing: once its blocks are handed out, reuse
                // fails and `reserve` allocates anew, as a real reader does.
                buf.reserve(64 * 1024);
            }
            assert_eq!(n, PIECES);
        })
    });
    let mut dst = vec![0u8; stream.len()];
    g.bench_function("baseline_memcpy", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&stream));
            black_box(&dst);
        })
    });
    g.finish();
}

fn small(c: &mut Criterion) {
    const N: usize = 60_000;
    let stream = small_stream(N);
    let mut g = c.benchmark_group("small_messages");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("decode", |b| {
        b.iter_batched(
            || stream.clone(),
            |buf| assert_eq!(decode_count(buf), N),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("baseline_framing_only", |b| {
        b.iter(|| assert_eq!(framing_only(black_box(stream.chunk())), N))
    });
    g.finish();
}

criterion_group!(benches, pieces, small);
criterion_main!(benches);
