//! `proxy tcp`: flags to [`proxy::tcp::ProxyConfig`], then serve until a signal.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use proxy::pcap::write::TcpPcap;
use proxy::tcp::recorder::Recorder;
use proxy::tcp::serve::{
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_SHUTDOWN_GRACE, DEFAULT_WRITE_TIMEOUT,
};
use proxy::tcp::{DEFAULT_CONNECT_TIMEOUT, Limits, MAX_DELAY, Proxy, ProxyConfig};
use support::cli::HostPort;

/// Flags of `proxy tcp`.
#[derive(Debug, Args)]
pub struct TcpArgs {
    /// Address to listen on (IP:PORT; port 0 picks a free port).
    #[arg(long, value_name = "ADDR", value_parser = support::cli::host_port)]
    listen: HostPort,
    /// The server to forward every connection to (HOST:PORT).
    #[arg(long, value_name = "ADDR", value_parser = support::cli::host_port)]
    to: HostPort,
    /// Add this much latency to every chunk, both directions.
    #[arg(long, value_name = "MS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=MAX_DELAY.as_millis() as u64))]
    delay_ms: u64,
    /// Cap each direction of each connection at this many kilobits per second.
    #[arg(long, value_name = "KBPS", value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    throttle_kbps: Option<u64>,
    /// Write a transcript of everything forwarded to FILE (format: proxy/PROTOCOL.md).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Write everything forwarded to FILE as a pcap capture, for Wireshark or tcpdump -r.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Give up connecting to the server after this long.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_CONNECT_TIMEOUT.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    connect_timeout_ms: u64,
    /// Most connections served at once; more are accepted and closed at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    max_conns: usize,
    /// Drop a connection where nothing moved either way for this long.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_IDLE_TIMEOUT.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    read_timeout_ms: u64,
    /// Drop a connection whose receiver has not taken a whole forwarded chunk for this long.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_WRITE_TIMEOUT.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    write_timeout_ms: u64,
    /// On SIGINT/SIGTERM, give open connections this long to finish.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_SHUTDOWN_GRACE.as_millis() as u64)]
    grace_ms: u64,
}

/// Runs `proxy tcp` until SIGINT/SIGTERM.
pub fn run(args: TcpArgs) -> anyhow::Result<()> {
    let to = super::resolve(&args.to)?;
    let listen = super::resolve(&args.listen)?;
    let recorder = match &args.record {
        None => None,
        Some(path) => Some(open_transcript(path)?),
    };
    let config = ProxyConfig {
        to,
        delay: Duration::from_millis(args.delay_ms),
        throttle_kbps: args.throttle_kbps,
        connect_timeout: Duration::from_millis(args.connect_timeout_ms),
        limits: Limits {
            max_connections: args.max_conns,
            read_timeout: Duration::from_millis(args.read_timeout_ms),
            write_timeout: Duration::from_millis(args.write_timeout_ms),
            shutdown_grace: Duration::from_millis(args.grace_ms),
        },
    };
    let mut proxy = Proxy::new(config, recorder);
    if let Some(path) = &args.pcap {
        let pcap =
            TcpPcap::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        proxy = proxy.with_pcap(pcap);
    }
    super::runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let shutdown = super::shutdown_on_signals()?;
        support::cli::print_listening(listener.local_addr()?);
        proxy.serve(listener, shutdown.token()).await;
        Ok(())
    })
}

fn open_transcript(path: &Path) -> anyhow::Result<Recorder> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Recorder::new(Box::new(std::io::BufWriter::new(file)))
        .with_context(|| format!("cannot write {}", path.display()))
}
