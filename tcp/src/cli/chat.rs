//! `tcp chat-server`, `tcp chat-client`, `tcp bench chat`.

use std::time::Duration;

use super::bench::chat::ChatBench;
use anyhow::Context;
use clap::Args;
use clap::builder::TypedValueParser;
use std::net::SocketAddr;
use support::cli::HostPort;
use tcp::chat::config::{
    DEFAULT_INPUT_BURST, DEFAULT_MAX_INPUT_RATE, DEFAULT_MAX_LINE, DEFAULT_MAX_MEMBERS,
    DEFAULT_QUEUE_BYTES, DEFAULT_SEND_BUFFER,
};
use tcp::chat::{ChatConfig, ChatServer, client};
use tcp::socket::ServerSocket;

use super::{LimitFlags, runtime, serve_until_signal};

/// Flags of `tcp chat-server`.
#[derive(Debug, Args)]
pub struct ChatServerArgs {
    /// Address to listen on (IP:PORT; port 0 picks a free port; 0.0.0.0:7070 for other machines).
    #[arg(long, default_value = "127.0.0.1:7070", value_parser = support::cli::socket_addr)]
    pub bind: SocketAddr,
    /// Longest line in bytes (without \r\n); longer lines get `! line too long`.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE,
          value_parser = clap::value_parser!(u64).range(1..=1 << 20).map(|v| v as usize))]
    pub max_line: usize,
    /// Most members in the room at once; one more gets `! server full`.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_MEMBERS,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000).map(|v| v as usize))]
    pub max_members: usize,
    /// Outgoing queue per member in bytes; a member that falls further behind is evicted.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_QUEUE_BYTES,
          value_parser = clap::value_parser!(u64).range(1024..=1 << 30).map(|v| v as usize))]
    pub queue_bytes: usize,
    /// Kernel send buffer per member in bytes (SO_SNDBUF).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_SEND_BUFFER,
          value_parser = clap::value_parser!(u64).range(4096..=1 << 30).map(|v| v as usize))]
    pub send_buffer: usize,
    /// Bytes per second one member may send (every byte read, and each message's name
    /// prefix); a faster member is read more slowly.
    #[arg(long, value_name = "BYTES_PER_S", default_value_t = DEFAULT_MAX_INPUT_RATE,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_input_rate: u64,
    /// Bytes one member may send at once before --max-input-rate applies; with one read
    /// and one line it must fit in --queue-bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_INPUT_BURST,
          value_parser = clap::value_parser!(u64).range(1..=1 << 30).map(|v| v as usize))]
    pub input_burst: usize,
    /// Connection cap, deadlines and shutdown grace (in the chat the read deadline applies
    /// to joining, all name lines together, and to each line from its first byte; a silent
    /// member is never timed out).
    #[command(flatten)]
    pub limits: LimitFlags,
}

/// Flags of `tcp chat-client`.
#[derive(Debug, Args)]
pub struct ChatClientArgs {
    /// The chat server, HOST:PORT (names are resolved; IPv4 and IPv6).
    #[arg(value_parser = support::cli::host_port)]
    pub addr: HostPort,
    /// Your name in the chat (1-32 characters, no spaces).
    #[arg(long)]
    pub name: String,
    /// Give up connecting after this long.
    #[arg(long, value_name = "MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,
}

/// Flags of `tcp bench chat`.
#[derive(Debug, Args)]
pub struct BenchChatArgs {
    /// The chat server, IP:PORT.
    #[arg(long, value_parser = support::cli::socket_addr)]
    pub addr: SocketAddr,
    /// Members that join (all of them receive).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(2..=10_000))]
    pub clients: u64,
    /// How many of the members also send.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub senders: u64,
    /// Lines each sender sends.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub messages: u64,
    /// Pause between one sender's lines in microseconds (0: as fast as possible).
    #[arg(long, value_name = "US", default_value_t = 0)]
    pub interval_us: u64,
    /// Stop waiting for deliveries after this long (missing ones are counted).
    #[arg(long, default_value_t = 30.0)]
    pub timeout_s: f64,
}

impl ChatServerArgs {
    fn config(&self) -> ChatConfig {
        ChatConfig {
            max_line: self.max_line,
            max_members: self.max_members,
            queue_bytes: self.queue_bytes,
            send_buffer: self.send_buffer,
            max_input_rate: self.max_input_rate,
            input_burst: self.input_burst,
            limits: self.limits.limits(),
        }
    }
}

/// Runs `tcp chat-server` until SIGINT/SIGTERM.
pub fn run_server(args: ChatServerArgs) -> anyhow::Result<()> {
    let config = args.config();
    // Flags that do not fit together are a usage mistake: exit 2.
    config.check().map_err(support::cli::usage)?;
    let socket = ServerSocket::bind(args.bind)?;
    let server = ChatServer::new(config);
    serve_until_signal(socket, "chat server", |listener, shutdown| {
        server.serve(listener, shutdown)
    })
}

/// Runs `tcp chat-client`: stdin lines to the room, the room's lines to stdout.
pub fn run_client(args: ChatClientArgs) -> anyhow::Result<()> {
    tcp::chat::protocol::validate_name(&args.name).context("bad --name")?;
    let addrs = args
        .addr
        .resolve()
        .with_context(|| format!("cannot resolve {}", args.addr))?;
    let timeout = Duration::from_millis(args.timeout_ms);
    runtime()?.block_on(async move {
        let stream = connect_any(&addrs, timeout)
            .await
            .with_context(|| format!("cannot connect to {}", args.addr))?;
        let input = client::stdin_lines();
        client::run(stream, &args.name, input, &mut std::io::stdout()).await?;
        Ok(())
    })
}

/// Tries each resolved address in turn (IPv6 and IPv4), each within `timeout`.
async fn connect_any(
    addrs: &[std::net::SocketAddr],
    timeout: Duration,
) -> std::io::Result<tokio::net::TcpStream> {
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(err)) => last = err,
            Err(_) => {
                last = std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {timeout:?}"),
                )
            }
        }
    }
    Err(last)
}

/// Runs `tcp bench chat` and prints its `key=value` line.
pub fn run_bench(args: BenchChatArgs) -> anyhow::Result<()> {
    if !(args.timeout_s > 0.0 && args.timeout_s <= 3600.0) {
        let why = format!(
            "--timeout-s must be between 0 and 3600 seconds, got {}",
            args.timeout_s
        );
        return Err(support::cli::usage(why).into());
    }
    let bench = ChatBench {
        addr: args.addr,
        clients: args.clients as usize,
        senders: args.senders as usize,
        messages: args.messages,
        interval: Duration::from_micros(args.interval_us),
        timeout: Duration::from_secs_f64(args.timeout_s),
    };
    let report = runtime()?.block_on(super::bench::chat::run(bench.clone()))?;
    println!("{}", report.summary(&bench));
    Ok(())
}
