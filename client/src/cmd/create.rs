//! `shoal create`.

use std::process::ExitCode;

/// Arguments of `shoal create`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `shoal create`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`shoal create` is not built yet")
}
