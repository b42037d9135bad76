//! `framing`: see frames and records the way the wire sees them.
//!
//! - `framing demo`: the reference record written by a big-endian 32-bit machine and a
//!   little-endian 64-bit one, side by side; each read naively by the other (garbage),
//!   then correctly via the label and via the canonical form.
//! - `framing inspect [FILE|-]`: splits a captured byte stream into frames and dumps each.
//!   Try: `printf '\0\0\0\5hello\0\0\0\0' | framing inspect`
//! - `framing bench`: encode+decode throughput beside memcpy and tokio-util's
//!   `LengthDelimitedCodec`, measured in the same run.
#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: cli::Cli = support::cli::parse("framing");
    support::cli::run("framing", || cli::run(args))
}
