//! `tcp proxy` (owner: tcp-B).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tcp::proxy::recorder::Recorder;
use tcp::proxy::{DEFAULT_CONNECT_TIMEOUT, MAX_DELAY, Proxy, ProxyConfig};
use tcp::socket::{ServerSocket, resolve};

use super::{LimitFlags, serve_until_signal};

/// Flags of `tcp proxy`.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Address to listen on (IP:PORT; port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: String,
    /// The server to forward every connection to (HOST:PORT).
    #[arg(long, value_name = "ADDR")]
    pub to: String,
    /// Add this much latency to every chunk, both directions.
    #[arg(long, value_name = "MS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=MAX_DELAY.as_millis() as u64))]
    pub delay_ms: u64,
    /// Cap each direction of each connection at this many kilobits per second.
    #[arg(long, value_name = "KBPS", value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub throttle_kbps: Option<u64>,
    /// Write a transcript of everything forwarded to FILE (format: tcp/PROTOCOL.md).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Give up connecting to the server after this long.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_CONNECT_TIMEOUT.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub connect_timeout_ms: u64,
    /// Connection cap, idle deadline (read timeout: nothing moved either way) and grace.
    #[command(flatten)]
    pub limits: LimitFlags,
}

/// Runs `tcp proxy` until SIGINT/SIGTERM.
pub fn run(args: ProxyArgs) -> anyhow::Result<()> {
    let to = resolve(&args.to)?[0];
    let socket = ServerSocket::bind_host(&args.listen)?;
    let recorder = match &args.record {
        None => None,
        Some(path) => Some(open_transcript(path)?),
    };
    let config = ProxyConfig {
        to,
        delay: Duration::from_millis(args.delay_ms),
        throttle_kbps: args.throttle_kbps,
        connect_timeout: Duration::from_millis(args.connect_timeout_ms),
        limits: args.limits.limits(),
    };
    let proxy = Proxy::new(config, recorder);
    serve_until_signal(socket, "proxy", |listener, shutdown| {
        proxy.serve(listener, shutdown)
    })
}

fn open_transcript(path: &std::path::Path) -> anyhow::Result<Recorder> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Recorder::new(Box::new(std::io::BufWriter::new(file)))
        .with_context(|| format!("cannot write {}", path.display()))
}
