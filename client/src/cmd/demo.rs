//! `shoal demo`.

use std::process::ExitCode;

/// Arguments of `shoal demo`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `shoal demo`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`shoal demo` is not built yet")
}
