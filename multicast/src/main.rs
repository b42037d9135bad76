//! `multicast`: the command line of the crate. Subcommands:
//!
//! - `listen`: join a group and print one line per datagram (`SENDER: TEXT`);
//! - `send`: send a message to a group;
//! - `chat`: a multicast chat, every instance on the group sees every other's lines;
//! - `demo`: three listeners and a sender in one process; one leaves and hears nothing more;
//! - `doctor`: interfaces, joined groups, a loopback self-test, why nothing arrives;
//! - `bench`: one sender, N listeners: datagrams per second delivered to each, and loss.
//!
//! Two terminals on one host (loopback, the default):
//! ```text
//! $ multicast listen                      $ multicast send hello group
//! listening on 239.255.42.99:4446
//! 127.0.0.1:53012: hello group
//! ```
//! Two machines of one LAN: add `--interface <that machine's LAN address>` on both sides (see
//! README.md). Exit codes: 0 success, 2 usage (bad group, unknown interface), 1 runtime failure.
#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Java's MulticastSocket in Rust: join a group, send to it, chat on it.
///
/// Datagrams leave by 127.0.0.1 with TTL 1 unless you pass --interface (and --ttl).
#[derive(Debug, Parser)]
#[command(name = "multicast", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Join a group and print one line per datagram: the sender, then the text
    Listen(cli::listen::Args),
    /// Send one message (or a few) to a group
    Send(cli::send::Args),
    /// Chat on a group: send your stdin lines, print everyone else's
    Chat(cli::chat::Args),
    /// Three listeners and a sender in one process; one leaves the group
    Demo(cli::demo::Args),
    /// Interfaces, joined groups, a loopback self-test, and why nothing arrives
    Doctor(cli::doctor::Args),
    /// One sender, N listeners: datagrams per second delivered to each, and loss
    Bench(cli::bench::Args),
}

fn main() -> ExitCode {
    support::cli::run("multicast", real_main)
}

/// Parses the command line (a usage mistake: one line, exit 2), sets up logging, runs the
/// subcommand. A [`multicast::MulticastError`] that is a usage mistake (not a multicast
/// address, an unknown interface) exits 2 as well.
fn real_main() -> anyhow::Result<()> {
    let cli: Cli = support::cli::parse("multicast");
    support::log::init(cli.command.default_log_level());
    let result = match cli.command {
        Command::Listen(args) => cli::listen::run(args),
        Command::Send(args) => cli::send::run(args),
        Command::Chat(args) => cli::chat::run(args),
        Command::Demo(args) => cli::demo::run(args),
        Command::Doctor(args) => cli::doctor::run(args),
        Command::Bench(args) => cli::bench::run(args),
    };
    result.map_err(|error| {
        let usage = error
            .downcast_ref::<multicast::MulticastError>()
            .is_some_and(|e| e.is_usage());
        if usage {
            support::cli::usage(format!("{error:#}")).into()
        } else {
            error
        }
    })
}

impl Command {
    /// `listen` is a receiver that warns about what peers send (not UTF-8); the chat window,
    /// the demo's transcript and the tools stay quiet unless `RUST_LOG` asks.
    fn default_log_level(&self) -> support::log::Default {
        match self {
            Command::Listen(_) => support::log::Default::Warn,
            _ => support::log::Default::Off,
        }
    }
}
