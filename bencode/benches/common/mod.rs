//! Inputs and per-library decode/encode functions shared by the benches.
#![allow(dead_code)] // each bench uses a part

use std::hint::black_box;

/// Deterministic filler bytes (xorshift), so inputs are the same on every run.
struct Filler(u64);

impl Filler {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0 as u8
            })
            .collect()
    }
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{}:", s.len()).as_bytes());
    out.extend_from_slice(s);
}

fn put_int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(format!("i{n}e").as_bytes());
}

/// A multi-file .torrent: 5,000 files in 50 folders, 20,000 pieces (canonical).
pub fn large_torrent() -> Vec<u8> {
    let mut f = Filler(0x9e37_79b9_7f4a_7c15);
    let mut t = b"d".to_vec();
    put_str(&mut t, b"announce");
    put_str(&mut t, b"http://tracker.example.org:6969/announce");
    put_str(&mut t, b"comment");
    put_str(&mut t, b"generated for the shoal-bencode benchmark");
    put_str(&mut t, b"created by");
    put_str(&mut t, b"mktorrent 1.1");
    put_str(&mut t, b"creation date");
    put_int(&mut t, 1_700_000_000);
    put_str(&mut t, b"info");
    t.push(b'd');
    put_str(&mut t, b"files");
    t.push(b'l');
    for i in 0..5000 {
        t.push(b'd');
        put_str(&mut t, b"length");
        put_int(&mut t, 1_000_000 + (i * 7919) % 50_000_000);
        put_str(&mut t, b"path");
        t.push(b'l');
        put_str(&mut t, format!("season {:02}", i / 100).as_bytes());
        put_str(
            &mut t,
            format!("episode {i:05} - some title.mkv").as_bytes(),
        );
        t.extend_from_slice(b"ee");
    }
    t.push(b'e');
    put_str(&mut t, b"name");
    put_str(&mut t, b"A Large Multi-File Torrent");
    put_str(&mut t, b"piece length");
    put_int(&mut t, 262_144);
    put_str(&mut t, b"pieces");
    put_str(&mut t, &f.bytes(20_000 * 20));
    t.extend_from_slice(b"ee");
    t
}

fn tracker_head(t: &mut Vec<u8>) {
    put_str(t, b"complete");
    put_int(t, 1234);
    put_str(t, b"incomplete");
    put_int(t, 56);
    put_str(t, b"interval");
    put_int(t, 1800);
    put_str(t, b"min interval");
    put_int(t, 900);
}

/// An announce reply with 2,000 compact (BEP 23) peers.
pub fn tracker_compact() -> Vec<u8> {
    let mut f = Filler(0x1234_5678_9abc_def1);
    let mut t = b"d".to_vec();
    tracker_head(&mut t);
    put_str(&mut t, b"peers");
    put_str(&mut t, &f.bytes(2000 * 6));
    t.push(b'e');
    t
}

/// An announce reply with 200 peers in the original dictionary model.
pub fn tracker_dict() -> Vec<u8> {
    let mut f = Filler(0x0fed_cba9_8765_4321);
    let mut t = b"d".to_vec();
    tracker_head(&mut t);
    put_str(&mut t, b"peers");
    t.push(b'l');
    for i in 0..200u32 {
        t.push(b'd');
        put_str(&mut t, b"ip");
        put_str(&mut t, format!("10.{}.{}.{}", i % 7, i / 3, i).as_bytes());
        put_str(&mut t, b"peer id");
        put_str(&mut t, &f.bytes(20));
        put_str(&mut t, b"port");
        put_int(&mut t, 6881 + i64::from(i % 100));
        t.push(b'e');
    }
    t.extend_from_slice(b"ee");
    t
}

/// 10,000 DHT (BEP 5) messages: pings, find_node and get_peers queries and replies.
pub fn krpc_messages() -> Vec<Vec<u8>> {
    let mut f = Filler(0xdead_beef_cafe_f00d);
    (0..10_000u32)
        .map(|i| {
            let tid = f.bytes(2);
            let id = f.bytes(20);
            let mut m = b"d".to_vec();
            match i % 4 {
                0 => {
                    put_str(&mut m, b"a");
                    m.push(b'd');
                    put_str(&mut m, b"id");
                    put_str(&mut m, &id);
                    m.push(b'e');
                    put_str(&mut m, b"q");
                    put_str(&mut m, b"ping");
                }
                1 => {
                    put_str(&mut m, b"a");
                    m.push(b'd');
                    put_str(&mut m, b"id");
                    put_str(&mut m, &id);
                    put_str(&mut m, b"target");
                    put_str(&mut m, &f.bytes(20));
                    m.push(b'e');
                    put_str(&mut m, b"q");
                    put_str(&mut m, b"find_node");
                }
                2 => {
                    put_str(&mut m, b"r");
                    m.push(b'd');
                    put_str(&mut m, b"id");
                    put_str(&mut m, &id);
                    put_str(&mut m, b"nodes");
                    put_str(&mut m, &f.bytes(26 * 8));
                    m.push(b'e');
                }
                _ => {
                    put_str(&mut m, b"r");
                    m.push(b'd');
                    put_str(&mut m, b"id");
                    put_str(&mut m, &id);
                    put_str(&mut m, b"token");
                    put_str(&mut m, &f.bytes(8));
                    put_str(&mut m, b"values");
                    m.push(b'l');
                    for _ in 0..4 {
                        put_str(&mut m, &f.bytes(6));
                    }
                    m.extend_from_slice(b"ee");
                }
            }
            put_str(&mut m, b"t");
            put_str(&mut m, &tid);
            put_str(&mut m, b"y");
            put_str(&mut m, if i % 4 < 2 { b"q" } else { b"r" });
            m.push(b'e');
            m
        })
        .collect()
}

pub type Shoal<'a> = shoal_bencode::Value<'a>;
pub type Bendy<'a> = bendy::value::Value<'a>;
pub type SerdeBencode = serde_bencode::value::Value;
pub type BtBencode = bt_bencode::Value;
pub type Rqbit<'a> = librqbit_bencode::BencodeValueBorrowed<'a>;

pub fn shoal_decode(b: &[u8]) -> Shoal<'_> {
    shoal_bencode::decode(b).expect("shoal decodes")
}

pub fn bendy_decode(b: &[u8]) -> Bendy<'_> {
    use bendy::decoding::{Decoder, FromBencode};
    // `Value::from_bencode` sets no depth limit of its own (0 = "unknown"); use 64.
    let mut decoder = Decoder::new(b).with_max_depth(64);
    let object = decoder
        .next_object()
        .expect("bendy decodes")
        .expect("one object");
    Bendy::decode_bencode_object(object).expect("bendy decodes")
}

pub fn serde_bencode_decode(b: &[u8]) -> SerdeBencode {
    serde_bencode::from_bytes(b).expect("serde_bencode decodes")
}

pub fn bt_bencode_decode(b: &[u8]) -> BtBencode {
    bt_bencode::from_slice(b).expect("bt_bencode decodes")
}

pub fn rqbit_decode(b: &[u8]) -> Rqbit<'_> {
    librqbit_bencode::from_bytes(b).expect("librqbit-bencode decodes")
}

pub fn shoal_encode(v: &Shoal<'_>) -> Vec<u8> {
    shoal_bencode::encode(v)
}

pub fn bendy_encode(v: &Bendy<'_>) -> Vec<u8> {
    // `Value::to_bencode` sets depth 0 ("unknown"), which rejects any nesting; use 64.
    let mut encoder = bendy::encoding::Encoder::new().with_max_depth(64);
    encoder.emit(v).expect("bendy encodes");
    encoder.get_output().expect("bendy encodes")
}

pub fn serde_bencode_encode(v: &SerdeBencode) -> Vec<u8> {
    serde_bencode::to_bytes(v).expect("serde_bencode encodes")
}

pub fn bt_bencode_encode(v: &BtBencode) -> Vec<u8> {
    bt_bencode::to_vec(v).expect("bt_bencode encodes")
}

pub fn rqbit_encode(v: &Rqbit<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    librqbit_bencode::bencode_serialize_to_writer(v, &mut out).expect("librqbit encodes");
    out
}

/// The inputs: name and messages (a single document is one message).
pub fn inputs() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    vec![
        ("torrent", vec![large_torrent()]),
        ("tracker-compact", vec![tracker_compact()]),
        ("tracker-dict", vec![tracker_dict()]),
        ("krpc", krpc_messages()),
    ]
}

/// Keeps the optimiser from dropping work.
pub fn sink<T>(t: T) {
    black_box(t);
}
