//! The command line: one subcommand per file.

mod bench;
mod demo;
mod inspect;

use clap::{Parser, Subcommand};

/// Endian-aware frames and fixed-layout records.
#[derive(Debug, Parser)]
#[command(name = "framing", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show one record as a be32 and an le64 machine write it, misread naively, and read right.
    Demo,
    /// Split a captured byte stream into frames and dump each one.
    Inspect(inspect::Args),
    /// Measure encode+decode throughput beside memcpy and LengthDelimitedCodec.
    Bench(bench::Args),
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo => demo::run(&mut std::io::stdout().lock()),
        Command::Inspect(args) => inspect::run(&args),
        Command::Bench(args) => bench::run(&args),
    }
}
