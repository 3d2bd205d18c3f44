//! `shoal demo`, the README's first command, run small: tracker, seeder and leechers on
//! loopback in one process, every byte compared, exit code says whether it all worked.

use std::process::Command;

#[test]
fn demo_runs_a_verified_swarm_on_loopback() {
    let out = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["demo", "--size-mib", "4", "--leechers", "3"])
        .output()
        .expect("run shoal demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let matched = stdout.matches("every byte matches").count();
    assert_eq!(
        matched, 3,
        "each leecher reports a byte-exact copy:\n{stdout}"
    );
    assert!(stdout.contains("demo OK"), "{stdout}");
    assert!(!stdout.contains("FAILED"), "{stdout}");
}
