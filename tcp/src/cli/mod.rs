//! The subcommands and the flags they share; each subcommand's glue lives in its own file,
//! the load generators in `bench/` and the scripted demo in `demo/`.

mod bench;
mod chat;
mod demo;
mod echo;

use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tcp::server::ServerLimits;
use tcp::server::limits::{
    DEFAULT_MAX_CONNECTIONS, DEFAULT_READ_TIMEOUT, DEFAULT_SHUTDOWN_GRACE, DEFAULT_WRITE_TIMEOUT,
};

/// TCP the way Java teaches it: echo (blocking and async), chat, demo and benches.
#[derive(Debug, Parser)]
#[command(name = "tcp", version)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `tcp`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// RFC 862 echo server: blocking (thread per connection) or async (tokio).
    EchoServer(echo::EchoServerArgs),
    /// Sends stdin to an echo server, prints the echo; half-closes at end of input.
    EchoClient(echo::EchoClientArgs),
    /// Line chat server (protocol in tcp/PROTOCOL.md).
    ChatServer(chat::ChatServerArgs),
    /// Interactive chat client: stdin lines out, other members' lines in.
    ChatClient(chat::ChatClientArgs),
    /// Runs both echo servers and a scripted chat on loopback and prints the transcript.
    Demo,
    /// Load generators against a running server; each ends with a key=value line.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// What a subcommand logs unless `RUST_LOG` says otherwise: servers their peers'
/// warnings, everything else nothing (a chat window or a bench report stays clean).
pub fn log_default(command: &Command) -> support::log::Default {
    match command {
        Command::EchoServer(_) | Command::ChatServer(_) => support::log::Default::Warn,
        _ => support::log::Default::Off,
    }
}

/// Runs one subcommand.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::EchoServer(args) => echo::run_server(args),
        Command::EchoClient(args) => echo::run_client(args),
        Command::ChatServer(args) => chat::run_server(args),
        Command::ChatClient(args) => chat::run_client(args),
        Command::Demo => demo::run(),
        Command::Bench(bench) => bench::run(bench),
    }
}

/// The bounds every server takes (`tcp::server::ServerLimits`), as flags.
#[derive(Debug, Clone, Args)]
pub struct LimitFlags {
    /// Most connections served at once; more are accepted and closed at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_conns: usize,
    /// Disconnect a peer that sends nothing for this long (slowloris defence).
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_READ_TIMEOUT.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub read_timeout_ms: u64,
    /// Disconnect a peer that does not read what it is sent for this long.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_WRITE_TIMEOUT.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub write_timeout_ms: u64,
    /// On SIGINT/SIGTERM, give open connections this long to finish.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_SHUTDOWN_GRACE.as_millis() as u64)]
    pub grace_ms: u64,
}

impl LimitFlags {
    /// The limits these flags describe.
    pub fn limits(&self) -> ServerLimits {
        ServerLimits {
            max_connections: self.max_conns,
            read_timeout: Duration::from_millis(self.read_timeout_ms),
            write_timeout: Duration::from_millis(self.write_timeout_ms),
            shutdown_grace: Duration::from_millis(self.grace_ms),
        }
    }
}

/// A multi-threaded tokio runtime for the async subcommands.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Runtime::new().context("cannot start the tokio runtime")
}

/// Runs a tokio server on `socket` until SIGINT/SIGTERM: installs the signal handlers,
/// prints `listening on`, serves, and on the signal cancels `serve`'s token and waits for
/// it to finish (each server bounds that wait with its own grace period; a second signal
/// stops the process at once).
///
/// The handlers go in before the line is printed: a supervisor may send SIGTERM the moment
/// the line appears, and a signal that comes before its handler would kill the process.
pub fn serve_until_signal<F, Fut>(
    socket: tcp::socket::ServerSocket,
    what: &'static str,
    serve: F,
) -> anyhow::Result<()>
where
    F: FnOnce(tokio::net::TcpListener, tcp::server::CancellationToken) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use anyhow::Context;
    let shutdown =
        support::shutdown::Shutdown::on_signals("tcp").context("cannot install signal handlers")?;
    runtime()?
        .block_on(async move {
            let listener = socket
                .into_tokio()
                .context("cannot register the listener with tokio")?;
            support::cli::print_listening(listener.local_addr()?);
            serve(listener, shutdown.token()).await;
            anyhow::Ok(())
        })
        .with_context(|| format!("{what} failed"))
}
