//! `tcp`: the command line of the tcp crate (echo, chat, demo, bench).
//!
//! Run `tcp --help` for the subcommands. Errors are one line on stderr
//! (`tcp: error: WHAT: CAUSE`), exit 1; usage mistakes exit 2. Servers log peer warnings
//! to stderr; clients, the demo and the benches are quiet; `RUST_LOG` overrides both.
#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    support::cli::run("tcp", || {
        let args: cli::Cli = support::cli::parse("tcp");
        support::log::init(cli::log_default(&args.command));
        cli::run(args.command)
    })
}
