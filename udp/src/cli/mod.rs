//! Argument parsing (clap derive) and one function per subcommand; the load generator
//! ([`bench`]) and the demo ([`demo`]) live here, beside the library they use.

pub mod bench;
pub mod demo;

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use support::cli::{HostPort, host_port, print_listening, socket_addr};
use support::shutdown::Shutdown;
use udp::DatagramSocket;
use udp::client::{RetryClient, RetryPolicy};
use udp::echo::{self, EchoServer, EchoStats};
use udp::quote::{self, QuoteBook, QuoteReply, QuoteServer};

/// UDP examples: DatagramSocket/DatagramPacket analogues, echo (RFC 862), quotes, retries.
#[derive(Parser, Debug)]
#[command(name = "udp", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Echo every datagram back to its sender (RFC 862).
    EchoServer(EchoOptions),
    /// Send each stdin line as one datagram and print the echo.
    EchoClient {
        /// Server address, host:port.
        #[arg(value_parser = host_port)]
        addr: HostPort,
        /// Wait for the first attempt, in milliseconds (doubles with each retry).
        #[arg(long, default_value_t = 500, value_parser = support::cli::millis)]
        timeout_ms: u64,
        /// Extra attempts when no reply comes.
        #[arg(long, default_value_t = 3)]
        retries: u32,
    },
    /// Answer quote requests (see PROTOCOL.md).
    QuoteServer {
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1:7017", value_parser = socket_addr)]
        bind: SocketAddr,
        /// Quotes file: one quote per line (at most 499 bytes each, 1 MiB in all).
        #[arg(long)]
        quotes: Option<PathBuf>,
        /// Answers remembered so that a retried request gets the same quote.
        #[arg(long, default_value_t = udp::quote::server::REPLY_CACHE_ENTRIES)]
        cache_entries: usize,
    },
    /// Ask a quote server for quotes.
    QuoteClient {
        /// Server address, host:port.
        #[arg(value_parser = host_port)]
        addr: HostPort,
        /// How many quotes to ask for.
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// Wait for the first attempt, in milliseconds.
        #[arg(long, default_value_t = 500, value_parser = support::cli::millis)]
        timeout_ms: u64,
        /// Extra attempts when no reply comes.
        #[arg(long, default_value_t = 3)]
        retries: u32,
    },
    /// Run echo, quote and a lossy-proxy retry demo on loopback and print the transcript.
    Demo,
    /// Load generators.
    #[command(subcommand)]
    Bench(BenchCommand),
}

impl Command {
    /// Servers log warnings about peers by default; the demo, clients and benches are quiet
    /// unless `RUST_LOG` asks (their output is the transcript).
    fn default_log_level(&self) -> support::log::Default {
        match self {
            Command::EchoServer(_) | Command::QuoteServer { .. } => support::log::Default::Warn,
            _ => support::log::Default::Off,
        }
    }
}

/// `udp echo-server` flags.
#[derive(Args, Debug)]
struct EchoOptions {
    /// Address to bind (0.0.0.0:PORT or [::]:PORT serves all interfaces).
    #[arg(long, default_value = "127.0.0.1:7007", value_parser = socket_addr)]
    bind: SocketAddr,
    /// Server loop: async (tokio), blocking (like Java's receive/send loop), or batch
    /// (recvmmsg/sendmmsg: many datagrams per system call; Linux).
    #[arg(long, value_enum, default_value_t = Mode::Async)]
    mode: Mode,
    /// Threads receiving on the one socket: with 2, a datagram waits less when one thread is
    /// off the CPU, but two datagrams from one client may come back in the other order.
    /// [default: batch 1; async and blocking: the CPUs this process may use, at most 2]
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=echo::MAX_THREADS as i64))]
    threads: Option<u16>,
    /// Receive buffer (SO_RCVBUF) in bytes; the system's default (net.core.rmem_default) if
    /// not given. Linux doubles it and caps it at net.core.rmem_max; datagrams queued beyond it
    /// are dropped, and a bigger one makes them wait instead (see the README).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64))]
    recv_buffer: Option<u32>,
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Measure a UDP echo server: datagrams/s, loss, p50/p99 latency.
    Echo(BenchEchoArgs),
}

/// `udp bench echo` flags.
#[derive(Args, Debug)]
struct BenchEchoArgs {
    /// Echo server address.
    #[arg(long, value_parser = host_port)]
    addr: HostPort,
    /// Sender threads, each with its own socket.
    #[arg(long, default_value_t = 1)]
    senders: usize,
    /// Bytes per datagram.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Measuring window in seconds.
    #[arg(long, default_value_t = 3.0)]
    duration_s: f64,
    /// Datagrams in flight per sender.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// No reply within this many milliseconds: lost.
    #[arg(long, default_value_t = 200, value_parser = support::cli::millis)]
    loss_timeout_ms: u64,
}

impl BenchEchoArgs {
    fn config(&self) -> anyhow::Result<bench::BenchConfig> {
        if !(self.duration_s > 0.0 && self.duration_s <= 3600.0) {
            return Err(
                support::cli::usage("--duration-s must be more than 0 and at most 3600").into(),
            );
        }
        let config = bench::BenchConfig {
            addr: first_address(&self.addr)?,
            senders: self.senders,
            size: self.size,
            duration: Duration::from_secs_f64(self.duration_s),
            window: self.window,
            loss_timeout: Duration::from_millis(self.loss_timeout_ms),
        };
        bench::validate(&config).map_err(support::cli::usage)?;
        Ok(config)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    Async,
    Blocking,
    Batch,
}

impl Mode {
    /// The name `--mode` takes.
    fn name(self) -> &'static str {
        match self {
            Mode::Async => "async",
            Mode::Blocking => "blocking",
            Mode::Batch => "batch",
        }
    }
}

/// Parses arguments (a usage mistake: one line, exit 2), sets up logging, runs the subcommand.
pub fn main() -> anyhow::Result<()> {
    let cli: Cli = support::cli::parse("udp");
    support::log::init(cli.command.default_log_level());
    run(cli)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // One thread: each server here is one loop on one socket (the proxy: a few tasks). A
    // single-threaded runtime polls epoll and runs the task on the same thread, with no
    // cross-thread wake-up per datagram. Blocking work (clients, the demo's) runs on tokio's
    // blocking pool.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    match cli.command {
        Command::EchoServer(options) => runtime.block_on(echo_server(options)),
        Command::EchoClient {
            addr,
            timeout_ms,
            retries,
        } => echo_client(&addr, policy(timeout_ms, retries)),
        Command::QuoteServer {
            bind,
            quotes,
            cache_entries,
        } => runtime.block_on(quote_server(bind, quotes, cache_entries)),
        Command::QuoteClient {
            addr,
            count,
            timeout_ms,
            retries,
        } => quote_client(&addr, count, policy(timeout_ms, retries)),
        Command::Demo => {
            let lines = runtime.block_on(demo::run())?;
            let mut stdout = std::io::stdout().lock();
            for line in lines {
                writeln!(stdout, "{line}")?;
            }
            Ok(())
        }
        Command::Bench(BenchCommand::Echo(args)) => {
            let config = args.config()?;
            let report = bench::run(&config)?;
            println!("{}", report.summary_line(&config));
            Ok(())
        }
    }
}

fn policy(timeout_ms: u64, retries: u32) -> RetryPolicy {
    let timeout = Duration::from_millis(timeout_ms);
    // Backoff doubles the wait up to 8 times the first one.
    RetryPolicy {
        timeout,
        retries,
        max_timeout: timeout * 8,
        ..RetryPolicy::default()
    }
}

/// The first address a `HOST:PORT` resolves to (`getaddrinfo(3)`).
fn first_address(addr: &HostPort) -> anyhow::Result<SocketAddr> {
    let all = addr
        .resolve()
        .with_context(|| format!("cannot resolve {addr}"))?;
    Ok(all[0])
}

/// Signal handlers installed now, before any `listening on` line is printed: a first
/// SIGINT/SIGTERM asks the server to stop, a second one stops the process at once.
fn signal_shutdown() -> anyhow::Result<Shutdown> {
    Shutdown::on_signals("udp").context("cannot install signal handlers")
}

async fn echo_server(options: EchoOptions) -> anyhow::Result<()> {
    let shutdown = signal_shutdown()?;
    let socket = echo::bind_echo_socket(options.bind, options.recv_buffer.map(|b| b as usize))?;
    print_listening(socket.local_addr()?);
    let stats = Arc::new(EchoStats::default());
    let threads = options.threads.unwrap_or_else(|| match options.mode {
        Mode::Batch => udp::echo_batch::DEFAULT_THREADS,
        Mode::Async | Mode::Blocking => echo::default_threads(),
    });
    tracing::info!(mode = options.mode.name(), threads, "echo server running");
    match (options.mode, threads) {
        (Mode::Async, 1) => {
            let server = EchoServer::from_socket(socket.into_async()?, Arc::clone(&stats));
            server.run(shutdown.token()).await?;
        }
        (Mode::Async, threads) => {
            let (token, counters) = (shutdown.token(), Arc::clone(&stats));
            tokio::task::spawn_blocking(move || {
                echo::serve_async_threads(&socket, threads.into(), &token, &counters)
            })
            .await??;
        }
        (mode, threads) => blocking_echo(socket, mode, threads, &shutdown, &stats).await?,
    }
    log_stopped(&stats);
    Ok(())
}

/// Runs `threads` blocking loops on tokio's blocking pool, all receiving on the one socket
/// (the kernel hands each datagram to one waiting thread); they poll the shutdown flag.
async fn blocking_echo(
    socket: DatagramSocket,
    mode: Mode,
    threads: u16,
    shutdown: &Shutdown,
    stats: &Arc<EchoStats>,
) -> anyhow::Result<()> {
    let serve = if mode == Mode::Batch {
        udp::echo_batch::serve_batched
    } else {
        echo::serve_blocking
    };
    let socket = Arc::new(socket);
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (socket, flag, counters) =
                (Arc::clone(&socket), shutdown.flag(), Arc::clone(stats));
            tokio::task::spawn_blocking(move || serve(&socket, &flag, &counters))
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    Ok(())
}

/// The server's counters, logged once at the end (`RUST_LOG=info`).
fn log_stopped(stats: &EchoStats) {
    let (echoed, errors) = stats.snapshot();
    let batches = stats.batches.load(std::sync::atomic::Ordering::Relaxed);
    tracing::info!(
        echoed,
        errors,
        receive_calls = batches,
        per_call = echoed as f64 / batches.max(1) as f64,
        "echo server stopped"
    );
}

fn echo_client(addr: &HostPort, policy: RetryPolicy) -> anyhow::Result<()> {
    let mut client = RetryClient::connect(first_address(addr)?, policy)?;
    let mut stdout = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line.context("cannot read stdin")?;
        match client.request(line.as_bytes(), |reply| reply == line.as_bytes()) {
            Ok(reply) => writeln!(stdout, "{}", String::from_utf8_lossy(&reply))?,
            Err(e) if e.is_per_datagram() => eprintln!("udp: {line:?}: {e}"),
            Err(e) => return Err(e.into()),
        }
    }
    let s = client.stats();
    eprintln!(
        "sent={} retried={} answered={} lost={} stale={}",
        s.sent, s.retried, s.answered, s.lost, s.stale
    );
    if s.lost > 0 {
        bail!("{} of {} lines got no echo", s.lost, s.requests);
    }
    Ok(())
}

async fn quote_server(
    bind: SocketAddr,
    quotes: Option<PathBuf>,
    cache_entries: usize,
) -> anyhow::Result<()> {
    let book = match &quotes {
        Some(path) => {
            QuoteBook::load(path).with_context(|| format!("quotes file {}", path.display()))?
        }
        None => QuoteBook::builtin(),
    };
    let shutdown = signal_shutdown()?;
    let server = QuoteServer::bind(bind, book)
        .await?
        .with_cache_entries(cache_entries);
    print_listening(server.local_addr()?);
    server.run(shutdown.token()).await?;
    Ok(())
}

fn quote_client(addr: &HostPort, count: u32, policy: RetryPolicy) -> anyhow::Result<()> {
    let mut client = RetryClient::connect(first_address(addr)?, policy)?;
    let first_id = std::process::id().wrapping_mul(65_599);
    for n in 0..count {
        match quote::fetch_quote(&mut client, first_id.wrapping_add(n))? {
            QuoteReply::Quote { number, text } => println!("#{number} {text}"),
            QuoteReply::Refused(why) => bail!("server refused the request: {why}"),
        }
    }
    Ok(())
}
