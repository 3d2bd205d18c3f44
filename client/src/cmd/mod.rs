//! One module per subcommand; each has `Args` (clap) and `run(Args) -> anyhow::Result<ExitCode>`.

pub mod create;
pub mod demo;
pub mod download;
pub mod info;
pub mod progress;
pub mod seed;
pub mod tracker;
