//! `tcp bench echo|stream|idle|chat`: the load generators. They are tools of the binary,
//! not part of the lesson: each runs for a bounded time or count, checks every byte it gets
//! back, and ends with one `key=value` line.
//!
//! # Layout
//! - [`echo`]: round trips of fixed-size messages; rate and latency percentiles.
//! - [`stream`]: bulk data through an echo server; MB/s.
//! - [`idle`]: many idle connections; the server's resident memory.
//! - [`chat`]: fan-out through a chat server.
//! - this file: the subcommands' flags and glue.

pub mod chat;
pub mod echo;
pub mod idle;
pub mod stream;

use std::time::Duration;

use self::{echo::EchoBench, idle::IdleBench, stream::StreamBench};
use anyhow::Context;
use clap::{Args, Subcommand};
use std::net::SocketAddr;

use super::runtime;

/// The load generators.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Round trips of SIZE-byte messages: rt/s and p50/p99 latency in microseconds.
    Echo(BenchEchoArgs),
    /// Bulk data through an echo server, both ways at once: echoed MB/s.
    Stream(BenchStreamArgs),
    /// Holds many idle connections to an echo server and reports its resident memory.
    Idle(BenchIdleArgs),
    /// Fan-out through a chat server: delivered messages/s and delivery latency.
    Chat(super::chat::BenchChatArgs),
}

/// Flags of `tcp bench echo`.
#[derive(Debug, Args)]
pub struct BenchEchoArgs {
    /// The echo server, IP:PORT.
    #[arg(long, value_parser = support::cli::socket_addr)]
    pub addr: SocketAddr,
    /// Connections, each with one message in flight.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub conns: u64,
    /// Bytes per message.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=16 << 20))]
    pub size: u64,
    /// How long to run.
    #[arg(long, default_value_t = 3.0)]
    pub duration_s: f64,
}

/// Flags of `tcp bench stream`.
#[derive(Debug, Args)]
pub struct BenchStreamArgs {
    /// The echo server, IP:PORT.
    #[arg(long, value_parser = support::cli::socket_addr)]
    pub addr: SocketAddr,
    /// Connections, each streaming both ways.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub conns: u64,
    /// How long to send.
    #[arg(long, default_value_t = 3.0)]
    pub duration_s: f64,
}

/// Flags of `tcp bench idle`.
#[derive(Debug, Args)]
pub struct BenchIdleArgs {
    /// The echo server, IP:PORT.
    #[arg(long, value_parser = support::cli::socket_addr)]
    pub addr: SocketAddr,
    /// Idle connections to hold (raise `ulimit -n` above this first).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=50_000))]
    pub conns: u64,
    /// The server's process id: its VmRSS is read from /proc/PID/status.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// Seconds to hold the connections before measuring.
    #[arg(long, default_value_t = 1.0)]
    pub settle_s: f64,
}

/// Runs one bench and prints its `key=value` line.
pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Echo(args) => echo(args),
        BenchCommand::Stream(args) => stream(args),
        BenchCommand::Idle(args) => idle(args),
        BenchCommand::Chat(args) => super::chat::run_bench(args),
    }
}

fn echo(args: BenchEchoArgs) -> anyhow::Result<()> {
    let bench = EchoBench {
        addr: args.addr,
        conns: args.conns as usize,
        size: args.size as usize,
        duration: duration(args.duration_s)?,
    };
    let report = runtime()?.block_on(echo::run(bench));
    println!("{}", report.summary(&bench));
    Ok(())
}

fn stream(args: BenchStreamArgs) -> anyhow::Result<()> {
    let bench = StreamBench {
        addr: args.addr,
        conns: args.conns as usize,
        duration: duration(args.duration_s)?,
    };
    let report = runtime()?.block_on(stream::run(bench));
    println!("{}", report.summary(&bench));
    Ok(())
}

fn idle(args: BenchIdleArgs) -> anyhow::Result<()> {
    let bench = IdleBench {
        addr: args.addr,
        conns: args.conns as usize,
        server_pid: args.server_pid,
        settle: duration(args.settle_s)?,
    };
    let report = runtime()?.block_on(idle::run(bench));
    println!("{}", report.summary());
    Ok(())
}

/// `--duration-s` as a duration: positive and at most an hour.
fn duration(seconds: f64) -> anyhow::Result<Duration> {
    anyhow::ensure!(
        seconds > 0.0 && seconds <= 3600.0,
        "--duration-s must be between 0 and 3600 seconds, got {seconds}"
    );
    Duration::try_from_secs_f64(seconds).context("bad --duration-s")
}

#[cfg(test)]
mod tests;
