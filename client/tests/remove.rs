//! Removing a torrent: its resume data and saved metadata go, its data stays, unless
//! the files are removed too; other torrents' state in the same folder is left alone.

mod common;

use common::*;

fn state_files(out: &std::path::Path) -> Vec<String> {
    match std::fs::read_dir(out.join(".shoal")) {
        Ok(dir) => {
            let mut names: Vec<String> = dir
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
        Err(_) => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_forgets_state_and_remove_with_files_deletes_the_download() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let payload = make_folder(&src, "payload", &[300_000, 0, 70_000]);
    let meta = make_torrent(&payload, 32 * 1024, &[]);
    let other = make_folder(&src, "other", &[50_000]);
    let other_meta = make_torrent(&other, 16 * 1024, &[]);

    let seeder = session(false).await;
    let seed = add(&seeder, &meta, &src, vec![]).await;
    let other_seed = add(&seeder, &other_meta, &src, vec![]).await;
    wait_completed(&seed, 20).await;
    wait_completed(&other_seed, 20).await;
    let seed_addr = seeder.listen_addr().unwrap();

    // Two torrents downloaded into one folder, then stopped: both have resume data.
    let out = dir.path().join("out");
    let leecher = session(false).await;
    let h = add(&leecher, &meta, &out, vec![seed_addr]).await;
    let h_other = add(&leecher, &other_meta, &out, vec![seed_addr]).await;
    wait_completed(&h, 30).await;
    wait_completed(&h_other, 30).await;
    h.stop().await;
    h_other.stop().await;
    let resume = format!("{}.resume", metainfo::to_hex(&meta.info_hash().wire()));
    let other_resume = format!(
        "{}.resume",
        metainfo::to_hex(&other_meta.info_hash().wire())
    );
    let mut both = vec![resume.clone(), other_resume.clone()];
    both.sort();
    assert_eq!(state_files(&out), both);

    // Removing one keeps its data and the other torrent's state.
    h.remove().await.unwrap();
    assert_eq!(state_files(&out), vec![other_resume]);
    assert_same_tree(&payload, &out.join("payload"));
    assert!(
        leecher
            .torrents()
            .iter()
            .all(|t| t.info_hash() != meta.info_hash()),
        "still listed after remove"
    );

    // Removing the other with its files: its data, its state and the empty state folder go;
    // the first torrent's data is untouched.
    h_other.remove_with_files().await.unwrap();
    assert!(
        !out.join("other").exists(),
        "the removed torrent's folder is still there"
    );
    assert!(
        !out.join(".shoal").exists(),
        "the empty state folder is still there"
    );
    assert_same_tree(&payload, &out.join("payload"));

    // The first torrent, added again and removed with its files: the folder is empty.
    let again = add(&leecher, &meta, &out, vec![]).await;
    wait_completed(&again, 30).await;
    again.remove_with_files().await.unwrap();
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    leecher.shutdown().await;
    seeder.shutdown().await;
}
