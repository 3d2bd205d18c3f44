//! `shoal seed`.

use std::process::ExitCode;

/// Arguments of `shoal seed`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `shoal seed`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`shoal seed` is not built yet")
}
