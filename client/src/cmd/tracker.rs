//! `shoal tracker`.

use std::process::ExitCode;

/// Arguments of `shoal tracker`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `shoal tracker`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`shoal tracker` is not built yet")
}
