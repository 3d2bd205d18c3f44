//! `shoal download`.

use std::process::ExitCode;

/// Arguments of `shoal download`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `shoal download`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`shoal download` is not built yet")
}
