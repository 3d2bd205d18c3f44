//! One module per subcommand; each has `Args` (clap) and `run(Args) -> anyhow::Result<ExitCode>`.

pub mod create;
pub mod demo;
pub mod download;
pub mod info;
pub mod progress;
pub mod seed;
pub mod stream;
pub mod tracker;

/// A write past the file size limit (`ulimit -f`) raises SIGXFSZ, whose default action
/// kills the process without a word. With a handler installed the write fails with
/// `EFBIG` instead, and the user gets a sentence naming the file.
pub fn catch_file_size_signal(rt: &tokio::runtime::Runtime) {
    #[cfg(target_os = "linux")]
    rt.block_on(async {
        const SIGXFSZ: i32 = 25;
        // tokio never uninstalls a handler, so dropping the stream keeps it in place.
        let _ = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(SIGXFSZ));
    });
    #[cfg(not(target_os = "linux"))]
    let _ = rt;
}
