//! The `shoal` command line: a thin layer over the shoal crates and engine.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// shoal — a BitTorrent toolkit and client.
#[derive(Debug, Parser)]
#[command(name = "shoal", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what a .torrent file or magnet link describes (also `shoal inspect`).
    #[command(visible_alias = "inspect")]
    Info(cmd::info::Args),
    /// Create a .torrent from a file or folder.
    Create(cmd::create::Args),
    /// Run an HTTP and/or UDP tracker.
    Tracker(cmd::tracker::Args),
    /// Download a torrent or magnet link.
    Download(cmd::download::Args),
    /// Seed a torrent from data already on disk.
    Seed(cmd::seed::Args),
    /// Download a torrent and serve one of its files over HTTP to a media player while
    /// it downloads (seeks are fetched first)
    Stream(cmd::stream::Args),
    /// Run a tracker, a seeder and four leechers on loopback, and verify every byte.
    Demo(cmd::demo::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => cmd::info::run(args),
        Command::Create(args) => cmd::create::run(args),
        Command::Tracker(args) => cmd::tracker::run(args),
        Command::Download(args) => cmd::download::run(args),
        Command::Seed(args) => cmd::seed::run(args),
        Command::Stream(args) => cmd::stream::run(args),
        Command::Demo(args) => cmd::demo::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("shoal: {}", error_chain(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes joined by ": ", leaving out a cause whose text an outer
/// message already includes (many library errors print their source themselves).
fn error_chain(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
