//! The subcommands, the flags they share, and the conventions of every binary in the suite:
//! the error line, exit codes, quiet logs, signal handlers before the `listening on` line.

mod tcp;
mod udp;

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

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

/// Parses the command line, runs the subcommand, reports an error in the one format.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let usage = err.use_stderr();
            let _ = err.print();
            return if usage {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logs();
    let result = match cli.command {
        Command::Tcp(args) => tcp::run(args),
        Command::Udp(args) => udp::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("proxy: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, warnings and errors only unless `RUST_LOG` says otherwise; colour codes
/// only for a person at a terminal.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// `host:port` to the first address it resolves to.
fn resolve(addr: &str) -> anyhow::Result<SocketAddr> {
    addr.to_socket_addrs()
        .with_context(|| {
            format!("bad address {addr:?}: expected host:port, e.g. 127.0.0.1:7007 or [::1]:7007")
        })?
        .next()
        .with_context(|| format!("address {addr:?} resolved to nothing"))
}

/// Prints `listening on IP:PORT`, the first stdout line scripts and tests wait for.
fn print_listening(addr: SocketAddr) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {addr}")
        .and_then(|()| out.flush())
        .context("cannot write to stdout")
}

/// Installs SIGINT/SIGTERM handlers now (`sigaction(2)`, `signal(7)`) and returns a token
/// cancelled by the first signal; a second signal exits at once with status 130.
///
/// Call it before printing `listening on`: a supervisor may send SIGTERM the moment the
/// line appears, and a signal that comes before its handler kills the process instead.
fn cancel_on_signals() -> anyhow::Result<CancellationToken> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt =
        signal(SignalKind::interrupt()).context("cannot install signal handlers")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("cannot install signal handlers")?;
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let mut signals = 0;
        loop {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
            signals += 1;
            if signals > 1 {
                std::process::exit(130);
            }
            tracing::info!("shutdown signal received; finishing");
            cancel.cancel();
        }
    });
    Ok(token)
}

/// A tokio runtime for the proxies.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the tokio runtime")
}
