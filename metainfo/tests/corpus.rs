//! Every file of the conformance corpus (`testdata/corpus/*/EXPECTED.tsv`) gets the
//! verdict its folder states, and the info-hashes its notes give.

use std::path::PathBuf;

use shoal_metainfo::{Metainfo, to_hex};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/corpus")
}

/// The hex that follows `label` in `note`, if any.
fn hash_after(note: &str, label: &str, digits: usize) -> Option<String> {
    let at = note.find(label)? + label.len();
    let hex: String = note[at..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    (hex.len() == digits).then(|| hex.to_ascii_lowercase())
}

#[test]
fn every_corpus_file_gets_its_verdict_and_info_hashes() {
    let mut checked = 0;
    let mut hashes = 0;
    let mut failures = Vec::new();
    let mut folders: Vec<_> = std::fs::read_dir(corpus())
        .expect("testdata/corpus exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("EXPECTED.tsv").is_file())
        .collect();
    folders.sort();
    for folder in folders {
        let tsv = std::fs::read_to_string(folder.join("EXPECTED.tsv")).unwrap();
        for line in tsv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let cols: Vec<&str> = line.split('\t').collect();
            let (file, expect, note) = (cols[0], cols[1], cols.last().copied().unwrap_or(""));
            let bytes = std::fs::read(folder.join(file)).unwrap();
            let result = Metainfo::from_bytes(&bytes);
            checked += 1;
            match (expect, &result) {
                ("ok", Ok(meta)) => {
                    let ih = meta.info_hash();
                    if let Some(v1) = hash_after(note, "v1 info-hash", 40) {
                        hashes += 1;
                        if ih.v1().map(|h| to_hex(&h)) != Some(v1.clone()) {
                            failures.push(format!("{file}: v1 {ih:?}, notes say {v1}"));
                        }
                    }
                    if let Some(v2) = hash_after(note, "v2 info-hash", 64) {
                        hashes += 1;
                        if ih.v2().map(|h| to_hex(&h)) != Some(v2.clone()) {
                            failures.push(format!("{file}: v2 {ih:?}, notes say {v2}"));
                        }
                    }
                    if let Some(name) = hash_after(note, "uses the info-hash", 40) {
                        hashes += 1;
                        if meta.name() != name {
                            failures
                                .push(format!("{file}: name {:?}, notes say {name}", meta.name()));
                        }
                    }
                    for f in meta.files() {
                        for c in &f.path {
                            let bad = c.is_empty()
                                || c == "."
                                || c == ".."
                                || c.contains(['/', '\\', '\0']);
                            if bad {
                                failures.push(format!("{file}: unsafe component {c:?}"));
                            }
                        }
                    }
                }
                ("error", Err(_)) => {}
                ("ok", Err(e)) => failures.push(format!("{file}: expected ok, got error: {e}")),
                ("error", Ok(_)) => failures.push(format!("{file}: expected an error, parsed OK")),
                (other, _) => failures.push(format!("{file}: unknown verdict {other:?}")),
            }
        }
    }
    assert!(checked > 150, "only {checked} corpus files found");
    assert!(
        hashes >= 9,
        "only {hashes} info-hashes checked:\n{}",
        failures.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Files where shoal's (non-pad) paths knowingly differ from libtorrent 2.0.8's. In
/// `v2_invalid_filename2` a v2 file named `/` collides with the folder `test`:
/// libtorrent lists a file at the torrent folder's own path, shoal renames it `_.1`.
const PATH_DIFFERENCES: &[&str] = &["v2_invalid_filename2.torrent"];

#[test]
fn info_hashes_pieces_sizes_and_paths_match_libtorrent() {
    let vectors = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/libtorrent-2.0.8.tsv"),
    )
    .unwrap();
    let mut failures = Vec::new();
    let mut path_diffs = Vec::new();
    let mut rows = 0;
    for line in vectors.lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        let (file, v1, v2, pieces, total, paths) = (c[0], c[1], c[2], c[3], c[4], c[5]);
        rows += 1;
        let meta = match Metainfo::from_bytes(&std::fs::read(corpus().join(file)).unwrap()) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{file}: {e}"));
                continue;
            }
        };
        let ih = meta.info_hash();
        let hex = |h: Option<Vec<u8>>| h.map_or("-".to_owned(), |h| to_hex(&h));
        if hex(ih.v1().map(Vec::from)) != v1 || hex(ih.v2().map(Vec::from)) != v2 {
            failures.push(format!("{file}: {ih:?}, libtorrent {v1} {v2}"));
        }
        if meta.num_pieces().to_string() != pieces || meta.total_length().to_string() != total {
            failures.push(format!(
                "{file}: {} pieces {} bytes, libtorrent {pieces} {total}",
                meta.num_pieces(),
                meta.total_length()
            ));
        }
        let ours: Vec<String> = meta
            .files()
            .iter()
            .filter(|f| !f.pad)
            .map(|f| f.display_path())
            .collect();
        if ours.join("|") != paths {
            path_diffs.push(file.rsplit('/').next().unwrap().to_owned());
            if !PATH_DIFFERENCES.contains(&file.rsplit('/').next().unwrap()) {
                failures.push(format!("{file}: paths {ours:?}\n  libtorrent {paths}"));
            }
        }
    }
    assert!(rows > 90, "{rows} vectors");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        path_diffs.len(),
        PATH_DIFFERENCES.len(),
        "stale list: {path_diffs:?}"
    );
}
