//! `shoal info` and `shoal create`, run as a program.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn shoal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(args)
        .output()
        .expect("the shoal binary runs")
}

fn corpus(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/corpus")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

fn info_json(target: &str) -> Value {
    let out = shoal(&["info", target, "--json"]);
    assert!(
        out.status.success(),
        "shoal info {target}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn inspect_is_another_name_for_info() {
    let target = corpus("bep52-test-torrents/bittorrent-v2-hybrid-test.torrent");
    let inspect = shoal(&["inspect", &target, "--json"]);
    assert!(
        inspect.status.success(),
        "shoal inspect: {}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    let v: Value = serde_json::from_slice(&inspect.stdout).expect("one JSON object");
    assert_eq!(v, info_json(&target));
    assert_eq!(v["num_pieces"], 1715);
}

#[test]
fn info_json_has_the_fields_and_hashes_of_a_hybrid_torrent() {
    let v = info_json(&corpus(
        "bep52-test-torrents/bittorrent-v2-hybrid-test.torrent",
    ));
    assert_eq!(
        v["info_hash_v1"],
        "631a31dd0a46257d5078c0dee4e66e26f73e42ac"
    );
    assert_eq!(
        v["info_hash_v2"],
        "d8dd32ac93357c368556af3ac1d95c9d76bd0dff6fa9833ecdac3d53134efabb"
    );
    assert_eq!(v["name"], "bittorrent-v1-v2-hybrid-test");
    assert_eq!(v["piece_length"], 524_288);
    assert_eq!(v["num_pieces"], 1715);
    let files = v["files"].as_array().unwrap();
    let non_pad: u64 = files
        .iter()
        .filter(|f| f["pad"] == false)
        .map(|f| f["length"].as_u64().unwrap())
        .sum();
    assert_eq!(v["total_length"], non_pad);
    assert!(files.iter().any(|f| f["pad"] == true));
    let first = &files[0]["path"];
    assert_eq!(first[0], "bittorrent-v1-v2-hybrid-test");
    assert!(first.as_array().unwrap().len() >= 2);
    assert!(v["trackers"].is_array());
    assert!(v["web_seeds"].is_array());
    assert_eq!(v["private"], false);

    // The text lists each real file with its index in that list (what `stream --file`
    // takes), pad files skipped.
    let out = shoal(&[
        "info",
        &corpus("bep52-test-torrents/bittorrent-v2-hybrid-test.torrent"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let listed: Vec<&str> = text.lines().filter(|l| l.starts_with("  [")).collect();
    assert_eq!(
        listed.len(),
        files.iter().filter(|f| f["pad"] == false).count()
    );
    for line in listed {
        let i: usize = line[3..line.find(']').unwrap()].parse().unwrap();
        assert_eq!(files[i]["pad"], false, "{line}");
        let name = files[i]["path"].as_array().unwrap().last().unwrap();
        assert!(
            line.ends_with(name.as_str().unwrap()),
            "{line} is not file {i}"
        );
    }
}

#[test]
fn info_json_of_v1_and_v2_only_torrents_has_a_null_hash() {
    let v1 = info_json(&corpus("libtorrent-test-torrents/base.torrent"));
    assert_eq!(
        v1["info_hash_v1"],
        "c0fda1edafdbdbb96443424e0b3899af7159d10e"
    );
    assert_eq!(v1["info_hash_v2"], Value::Null);
    let v2 = info_json(&corpus("bep52-test-torrents/bittorrent-v2-test.torrent"));
    assert_eq!(v2["info_hash_v1"], Value::Null);
    assert_eq!(
        v2["info_hash_v2"],
        "caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e"
    );
}

#[test]
fn invalid_input_exits_non_zero_and_says_why() {
    for (file, why) in [
        (
            "libtorrent-test-torrents/missing_piece_len.torrent",
            "piece length",
        ),
        (
            "libtorrent-test-torrents/unaligned_pieces.torrent",
            "pieces",
        ),
        (
            "libtorrent-test-torrents/string.torrent",
            "not a dictionary",
        ),
        (
            "libtorrent-test-torrents/v2_invalid_piece_layer.torrent",
            "piece layer",
        ),
    ] {
        for json in [false, true] {
            let path = corpus(file);
            let mut args = vec!["info", path.as_str()];
            if json {
                args.push("--json");
            }
            let out = shoal(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{file} must fail");
            assert!(
                stderr.contains(why),
                "{file}: stderr {stderr:?} should say {why:?}"
            );
            assert!(
                stderr.contains(file.rsplit('/').next().unwrap()),
                "{stderr}"
            );
            assert!(out.stdout.is_empty(), "{file}: nothing on stdout");
        }
    }
    let out = shoal(&["info", "/nonexistent/x.torrent"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let out = shoal(&["info", "magnet:?dn=no-hash"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("info-hash"));
}

#[test]
fn info_of_a_magnet_link() {
    let v = info_json(
        "magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK&dn=Some%20Name\
         &tr=udp%3A%2F%2F127.0.0.1%3A6969&ws=http%3A%2F%2F127.0.0.1%2Fx",
    );
    assert_eq!(
        v["info_hash_v1"],
        "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
    );
    assert_eq!(v["info_hash_v2"], Value::Null);
    assert_eq!(v["name"], "Some Name");
    assert_eq!(v["trackers"], serde_json::json!([["udp://127.0.0.1:6969"]]));
    assert_eq!(v["web_seeds"], serde_json::json!(["http://127.0.0.1/x"]));
    let text = shoal(&[
        "info",
        "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a",
    ]);
    assert!(text.status.success());
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("c12fe1c06bba254a9dc9f519b335aa7c1367a88a")
    );
}

fn make_folder(base: &Path) -> PathBuf {
    let root = base.join("show");
    std::fs::create_dir_all(root.join("season 1/extras")).unwrap();
    std::fs::write(root.join("season 1/e01.mkv"), vec![7u8; 100_000]).unwrap();
    std::fs::write(root.join("season 1/extras/empty.txt"), b"").unwrap();
    std::fs::write(root.join("readme"), b"hello").unwrap();
    root
}

#[test]
fn create_then_info_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let root = make_folder(dir.path());
    let out1 = dir.path().join("a.torrent");
    let out2 = dir.path().join("b.torrent");
    for out in [&out1, &out2] {
        let run = shoal(&[
            "create",
            root.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--hybrid",
            "--tracker",
            "http://127.0.0.1:6969/announce",
            "--tracker",
            "udp://127.0.0.1:6969,udp://127.0.0.1:6970",
            "--web-seed",
            "http://127.0.0.1:8080/",
            "--piece-length",
            "32K",
            "--private",
            "--comment",
            "test",
            "--no-date",
            "--quiet",
        ]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(String::from_utf8_lossy(&run.stdout).contains("info-hash v2: "));
    }
    let a = std::fs::read(&out1).unwrap();
    assert_eq!(
        a,
        std::fs::read(&out2).unwrap(),
        "--no-date output is deterministic"
    );

    let v = info_json(out1.to_str().unwrap());
    assert_eq!(v["name"], "show");
    assert_eq!(v["version"], "hybrid");
    assert!(v["info_hash_v1"].is_string() && v["info_hash_v2"].is_string());
    assert_eq!(v["piece_length"], 32_768);
    assert_eq!(v["total_length"], 100_005);
    assert_eq!(v["private"], true);
    assert_eq!(v["creation_date"], Value::Null);
    assert_eq!(v["comment"], "test");
    assert_eq!(
        v["trackers"],
        serde_json::json!([
            ["http://127.0.0.1:6969/announce"],
            ["udp://127.0.0.1:6969", "udp://127.0.0.1:6970"]
        ])
    );
    assert_eq!(
        v["web_seeds"],
        serde_json::json!(["http://127.0.0.1:8080/"])
    );
    let paths: Vec<Value> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["pad"] == false)
        .map(|f| f["path"].clone())
        .collect();
    assert_eq!(
        paths,
        [
            serde_json::json!(["show", "readme"]),
            serde_json::json!(["show", "season 1", "e01.mkv"]),
            serde_json::json!(["show", "season 1", "extras", "empty.txt"]),
        ]
    );

    // With a date, the date is there.
    let dated = dir.path().join("dated.torrent");
    let run = shoal(&[
        "create",
        root.to_str().unwrap(),
        "-o",
        dated.to_str().unwrap(),
        "-q",
    ]);
    assert!(run.status.success());
    let v = info_json(dated.to_str().unwrap());
    assert!(v["creation_date"].as_i64().unwrap() > 1_600_000_000);
    assert_eq!(v["version"], "v1");
}

#[test]
fn create_refuses_bad_arguments_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let root = make_folder(dir.path());
    let out = shoal(&["create", root.to_str().unwrap(), "--piece-length", "1000"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("power of two"));
    let out = shoal(&["create", "/nonexistent/folder", "-o", "/dev/null"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/folder"));
    let out = shoal(&["create", root.to_str().unwrap(), "--v1", "--v2"]);
    assert!(!out.status.success());
}
