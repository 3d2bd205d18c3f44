//! The conformance corpus in `testdata/corpus/`: every .torrent that its folder's
//! EXPECTED.tsv marks `ok` decodes in lenient mode (torrents marked `error` are wrong at
//! the metainfo level, not necessarily in bencode, so they are not asserted here), and
//! every anacrolix bencode fuzz input is rejected by strict decode.
//!
//! Each test walks all files and reports every failure by file name at once.

use std::path::{Path, PathBuf};

use shoal_bencode::{Decoder, Value, decode, encode};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/corpus")
}

/// `(file name, expectation)` rows of a folder's EXPECTED.tsv (header skipped).
fn expected(folder: &Path) -> Vec<(String, String)> {
    let tsv = std::fs::read_to_string(folder.join("EXPECTED.tsv"))
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()));
    tsv.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut cols = line.split('\t');
            let file = cols.next().unwrap_or_default().to_owned();
            let expect = cols.next().unwrap_or_default().to_owned();
            (file, expect)
        })
        .collect()
}

#[test]
fn torrents_marked_ok_decode_leniently() {
    let lenient = Decoder::new().lenient(true);
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut folders: Vec<_> = std::fs::read_dir(corpus_dir())
        .expect("testdata/corpus is in the repository")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("EXPECTED.tsv").is_file())
        .collect();
    folders.sort();
    for folder in folders {
        for (file, expect) in expected(&folder) {
            if expect != "ok" || !file.ends_with(".torrent") {
                continue;
            }
            let path = folder.join(&file);
            let name = path
                .strip_prefix(corpus_dir())
                .unwrap()
                .display()
                .to_string();
            let data = match std::fs::read(&path) {
                Ok(data) => data,
                Err(e) => {
                    failures.push(format!("{name}: {e}"));
                    continue;
                }
            };
            checked += 1;
            match lenient.decode(&data) {
                Err(e) => failures.push(format!("{name}: {e}")),
                Ok(value) => {
                    if let Err(why) = check_torrent(&data, &value) {
                        failures.push(format!("{name}: {why}"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The corpus holds 97 torrents marked ok; a missing folder must fail the test.
    assert!(checked >= 97, "only {checked} torrents checked");
}

/// What any decoded torrent must satisfy: a dictionary whose `info` span lies inside
/// the file, and a canonical re-encoding that strict decode accepts and that equals the
/// original when the original was canonical.
fn check_torrent(data: &[u8], value: &Value<'_>) -> Result<(), String> {
    let top = value.as_dict().ok_or("top level is not a dictionary")?;
    if let Some(info) = top.get(b"info") {
        let raw = info.as_dict().ok_or("info is not a dictionary")?.raw_span();
        let raw = raw.ok_or("decoded info has no raw span")?;
        let start = raw.as_ptr() as usize - data.as_ptr() as usize;
        if data.get(start..start + raw.len()) != Some(raw) {
            return Err("info span is not a slice of the file".into());
        }
    }
    let canonical = encode(value);
    let again = decode(&canonical).map_err(|e| format!("re-encoding rejected: {e}"))?;
    if encode(&again) != canonical {
        return Err("canonical re-encoding is not a fixed point".into());
    }
    if decode(data).is_ok() && canonical != data {
        return Err("strictly valid file does not re-encode byte for byte".into());
    }
    Ok(())
}

#[test]
fn anacrolix_fuzz_inputs_are_rejected_strictly() {
    let folder = corpus_dir().join("anacrolix-bencode-fuzz");
    let rows = expected(&folder);
    assert_eq!(rows.len(), 10, "EXPECTED.tsv lists the ten inputs");
    let mut failures = Vec::new();
    for (file, expect) in &rows {
        assert_eq!(expect, "error", "{file}");
        let data = std::fs::read(folder.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        match decode(&data) {
            Ok(v) => failures.push(format!("{file}: accepted as {v:?}")),
            Err(e) => {
                // The offset always points inside (or just past) the input.
                let offset = e.offset().expect("decode errors carry an offset");
                if offset > data.len() {
                    failures.push(format!("{file}: offset {offset} beyond {}", data.len()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
