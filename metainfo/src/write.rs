//! Writing a whole .torrent around an info dictionary kept byte for byte.

use bencode::{List, Value};

use crate::metainfo::Metainfo;

/// Writes `d<key><value>...e` from pre-encoded values, keys sorted.
pub(crate) fn dict_of_encoded(mut entries: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<u8> {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.dedup_by(|a, b| a.0 == b.0);
    let len: usize = entries.iter().map(|(k, v)| k.len() + v.len() + 22).sum();
    let mut out = Vec::with_capacity(len + 2);
    out.push(b'd');
    for (k, v) in entries {
        out.extend_from_slice(k.len().to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(&k);
        out.extend_from_slice(&v);
    }
    out.push(b'e');
    out
}

fn bytes_value(b: &[u8]) -> Vec<u8> {
    bencode::encode(&Value::Bytes(b))
}

pub(crate) fn torrent_bytes(meta: &Metainfo) -> Vec<u8> {
    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = meta
        .extra
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(first) = meta.trackers.first().and_then(|t| t.first()) {
        entries.push((b"announce".to_vec(), bytes_value(first.as_bytes())));
    }
    if meta.trackers.iter().map(Vec::len).sum::<usize>() > 1 {
        let tiers: Vec<Value<'_>> = meta
            .trackers
            .iter()
            .map(|tier| {
                Value::List(List::from(
                    tier.iter()
                        .map(|u| Value::Bytes(u.as_bytes()))
                        .collect::<Vec<_>>(),
                ))
            })
            .collect();
        entries.push((
            b"announce-list".to_vec(),
            bencode::encode(&Value::List(List::from(tiers))),
        ));
    }
    if let Some(c) = &meta.comment {
        entries.push((b"comment".to_vec(), bytes_value(c.as_bytes())));
    }
    if let Some(c) = &meta.created_by {
        entries.push((b"created by".to_vec(), bytes_value(c.as_bytes())));
    }
    if let Some(d) = meta.creation_date {
        entries.push((b"creation date".to_vec(), bencode::encode(&Value::Int(d))));
    }
    entries.push((b"info".to_vec(), meta.info_bytes.clone()));
    if !meta.piece_layers.is_empty() {
        let mut layers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for (&i, layer) in &meta.piece_layers {
            if let Some(root) = meta.files[i].pieces_root {
                let mut concat = Vec::with_capacity(layer.len() * 32);
                for h in layer {
                    concat.extend_from_slice(h);
                }
                layers.push((root.to_vec(), bytes_value(&concat)));
            }
        }
        entries.push((b"piece layers".to_vec(), dict_of_encoded(layers)));
    }
    if !meta.web_seeds.is_empty() {
        let seeds: Vec<Value<'_>> = meta
            .web_seeds
            .iter()
            .map(|u| Value::Bytes(u.as_bytes()))
            .collect();
        entries.push((
            b"url-list".to_vec(),
            bencode::encode(&Value::List(List::from(seeds))),
        ));
    }
    dict_of_encoded(entries)
}
