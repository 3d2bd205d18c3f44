//! The bench torrent shared by `parse` and `parse_loop`: v1, 20,000 pieces, 5,000 files
//! in nested folders (675,110 bytes).

use bencode::{Dict, List, Value};

pub const FILES: usize = 5_000;
pub const PIECES: usize = 20_000;
const PIECE_LENGTH: i64 = 16_384;

/// File `i` lives at `dir{i/500}/sub{i/50%10}/file-{i}.bin`.
fn names() -> Vec<[String; 3]> {
    (0..FILES)
        .map(|i| {
            [
                format!("dir{:02}", i / 500),
                format!("sub{}", i / 50 % 10),
                format!("file-{i:05}.bin"),
            ]
        })
        .collect()
}

pub fn v1_torrent() -> Vec<u8> {
    let names = names();
    let pieces: Vec<u8> = (0..PIECES * 20).map(|i| (i * 7 % 251) as u8).collect();
    let per_file = PIECES as i64 * PIECE_LENGTH / FILES as i64;
    let mut files = List::new();
    for n in &names {
        let mut d = Dict::new();
        d.insert(b"length", Value::Int(per_file));
        d.insert(
            b"path",
            Value::List(List::from(
                n.iter()
                    .map(|c| Value::Bytes(c.as_bytes()))
                    .collect::<Vec<_>>(),
            )),
        );
        files.push(Value::Dict(d));
    }
    let mut info = Dict::new();
    info.insert(b"files", Value::List(files));
    info.insert(b"name", Value::Bytes(b"big"));
    info.insert(b"piece length", Value::Int(PIECE_LENGTH));
    info.insert(b"pieces", Value::Bytes(&pieces));
    let mut top = Dict::new();
    top.insert(b"announce", Value::Bytes(b"http://127.0.0.1:6969/announce"));
    top.insert(b"info", Value::Dict(info));
    bencode::encode(&Value::Dict(top))
}
