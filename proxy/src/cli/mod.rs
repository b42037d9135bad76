//! The subcommands, the flags they share, and the conventions of every binary in the suite:
//! the error line, exit codes, quiet logs, signal handlers before the `listening on` line.

mod tcp;
mod udp;

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use support::cli::HostPort;
use support::shutdown::Shutdown;

/// Recording, fault-injecting proxies for TCP and UDP.
#[derive(Debug, Parser)]
#[command(name = "proxy", version)]
struct Cli {
    /// Which proxy to run.
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// TCP proxy that can delay, throttle and record a transcript.
    Tcp(tcp::TcpArgs),
    /// UDP proxy that loses, duplicates, reorders and delays datagrams under a seed.
    Udp(udp::UdpArgs),
}

/// Parses the command line and runs the subcommand, in the suite's conventions
/// (`support::cli`): usage mistakes exit 2, failures print one line and exit 1.
pub fn main() -> ExitCode {
    let cli: Cli = support::cli::parse("proxy");
    support::log::init(support::log::Default::Warn);
    support::cli::run("proxy", || match cli.command {
        Command::Tcp(args) => tcp::run(args),
        Command::Udp(args) => udp::run(args),
    })
}

/// The first address `addr` resolves to (`getaddrinfo(3)`).
fn resolve(addr: &HostPort) -> anyhow::Result<SocketAddr> {
    let addrs = addr
        .resolve()
        .with_context(|| format!("cannot resolve {addr}"))?;
    Ok(addrs[0])
}

/// SIGINT/SIGTERM handlers, installed now: before the `listening on` line, since a
/// supervisor may send SIGTERM the moment the line appears. A second signal exits at once.
fn shutdown_on_signals() -> anyhow::Result<Shutdown> {
    Shutdown::on_signals("proxy").context("cannot install signal handlers")
}

/// A tokio runtime for the proxies.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the tokio runtime")
}
