//! `tcp echo-server` and `tcp echo-client`.

use anyhow::Context;
use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use support::cli::HostPort;
use tcp::echo::{self, EchoLimits, EchoServer};
use tcp::server::limits::DEFAULT_MIN_READ_RATE;
use tcp::socket::Socket;

use super::LimitFlags;

/// Which echo server to run.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeFlag {
    /// One OS thread per connection (at most --max-conns threads), blocking reads and writes.
    Blocking,
    /// tokio tasks, the plain loop: one fixed 4 KiB buffer (src/echo/plain.rs).
    Plain,
    /// tokio tasks, the tuned loop (src/echo/tuned.rs).
    Async,
}

/// Flags of `tcp echo-server`.
#[derive(Debug, Args)]
pub struct EchoServerArgs {
    /// Address to listen on (IP:PORT; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:7007", value_parser = support::cli::socket_addr)]
    pub bind: SocketAddr,
    /// Blocking (thread per connection), plain async or tuned async (tokio).
    #[arg(long, value_enum, default_value_t = ModeFlag::Async)]
    pub mode: ModeFlag,
    /// Connection cap, deadlines and shutdown grace.
    #[command(flatten)]
    pub limits: LimitFlags,
    /// Progress rule (slowloris defence): each byte a peer sends buys 1/RATE s, up to one
    /// read deadline of credit, so a peer averaging less than RATE bytes/s is dropped
    /// (0: any byte restarts the read deadline).
    #[arg(long, value_name = "RATE", default_value_t = DEFAULT_MIN_READ_RATE)]
    pub min_read_rate: u64,
    /// --mode async only: while at most N connections are open, each gets a thread of its
    /// own; when more arrive, they are all served as tasks (src/echo/own_thread.rs; 0:
    /// always tasks). Default: one per CPU the process may use.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub own_threads: Option<u16>,
}

/// Flags of `tcp echo-client`.
#[derive(Debug, Args)]
pub struct EchoClientArgs {
    /// The echo server, HOST:PORT (names are resolved; IPv4 and IPv6).
    #[arg(value_parser = support::cli::host_port)]
    pub addr: HostPort,
    /// Give up connecting after this long.
    #[arg(long, value_name = "MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,
}

/// Runs `tcp echo-server` until SIGINT/SIGTERM.
pub fn run_server(args: EchoServerArgs) -> anyhow::Result<()> {
    let bind = args.bind;
    let mode = match args.mode {
        ModeFlag::Blocking => echo::Mode::Blocking,
        ModeFlag::Plain => echo::Mode::Plain,
        ModeFlag::Async => echo::Mode::Async,
    };
    let limits = EchoLimits {
        server: args.limits.limits(),
        min_read_rate: args.min_read_rate,
        own_threads: args.own_threads.map_or_else(echo::usable_cpus, usize::from),
    };
    let shutdown =
        support::shutdown::Shutdown::on_signals("tcp").context("cannot install signal handlers")?;
    let server = EchoServer::start(mode, bind, limits)?;
    support::cli::print_listening(server.local_addr());
    futures::executor::block_on(shutdown.token().cancelled());
    server.stop().context("echo server failed")
}

/// Runs `tcp echo-client`: stdin to the server, the echo to stdout.
pub fn run_client(args: EchoClientArgs) -> anyhow::Result<()> {
    let timeout = std::time::Duration::from_millis(args.timeout_ms);
    let socket = Socket::connect(&args.addr.to_string(), Some(timeout))?;
    socket.set_tcp_no_delay(true)?;
    echo::client::run(&socket, std::io::stdin().lock(), std::io::stdout())
        .with_context(|| format!("echo with {} failed", args.addr))?;
    Ok(())
}
