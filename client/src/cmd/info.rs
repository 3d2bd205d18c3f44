//! `shoal info`.

use std::process::ExitCode;

/// Arguments of `shoal info`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `shoal info`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`shoal info` is not built yet")
}
