//! `rpc-lite serve`: the demo service over TCP or UDP until SIGINT/SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use super::demo_service::{DEFAULT_MAX_KEYS, DEFAULT_MAX_STORE_BYTES, DemoService, demo};
use anyhow::Context;
use clap::Args;
use rpc_lite::registry::MIN_MESSAGE_LIMIT;
use rpc_lite::tcp_transport::{
    self, DEFAULT_FRAME_BUDGET, DEFAULT_MAX_FRAME, DEFAULT_MAX_IN_FLIGHT, TcpServerConfig,
};
use rpc_lite::udp_transport::{
    self, CacheLimits, DEFAULT_CACHE_BYTES, DEFAULT_CACHE_CAPACITY, DEFAULT_CACHE_PER_SOURCE,
    DEFAULT_UDP_MAX_IN_FLIGHT, DEFAULT_UDP_MAX_IN_FLIGHT_PER_SOURCE, UdpServerConfig,
};
use rpc_lite::{Registry, Transport};
use support::shutdown::Shutdown;
use tcp::server::{ServerLimits, limits};

/// The documented default address.
pub const DEFAULT_BIND: &str = "127.0.0.1:7470";

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to bind (0.0.0.0:7470 or [::]:7470 to serve other machines; port 0 = any).
    #[arg(long, default_value = DEFAULT_BIND, value_parser = support::cli::socket_addr)]
    bind: std::net::SocketAddr,
    /// Transport to serve.
    #[arg(long, value_enum, default_value_t = Transport::Tcp)]
    transport: Transport,
    /// Calls running at once: per connection over TCP (default 128), per server over
    /// UDP (default 256).
    #[arg(long)]
    max_in_flight: Option<usize>,
    /// UDP: calls running at once for one source (address and port).
    #[arg(long, default_value_t = DEFAULT_UDP_MAX_IN_FLIGHT_PER_SOURCE)]
    max_in_flight_per_source: usize,
    /// Largest message in bytes, call or reply (TCP frames; UDP is capped at 65507); at
    /// least 256, so the server's own error answers always fit.
    #[arg(long, default_value_t = DEFAULT_MAX_FRAME, value_parser = max_frame_arg)]
    max_frame: usize,
    /// TCP: bytes held for frames still arriving, all connections together; a
    /// connection whose frame does not fit is told BUSY and closed.
    #[arg(long, default_value_t = DEFAULT_FRAME_BUDGET)]
    frame_budget: usize,
    /// TCP connections served at once.
    #[arg(long, default_value_t = limits::DEFAULT_MAX_CONNECTIONS)]
    max_conns: usize,
    /// Idle TCP connections are closed after this long.
    #[arg(long, default_value_t = limits::DEFAULT_READ_TIMEOUT.as_millis() as u64)]
    read_timeout_ms: u64,
    /// A TCP peer that does not read its replies for this long is disconnected.
    #[arg(long, default_value_t = limits::DEFAULT_WRITE_TIMEOUT.as_millis() as u64)]
    write_timeout_ms: u64,
    /// Time running calls get to finish after SIGINT/SIGTERM.
    #[arg(long, default_value_t = limits::DEFAULT_SHUTDOWN_GRACE.as_millis() as u64)]
    grace_ms: u64,
    /// UDP reply cache entries.
    #[arg(long, default_value_t = DEFAULT_CACHE_CAPACITY)]
    cache_capacity: usize,
    /// UDP reply cache: most bytes held (replies and bookkeeping).
    #[arg(long, default_value_t = DEFAULT_CACHE_BYTES)]
    cache_bytes: usize,
    /// UDP reply cache entries one source (address and port) may hold.
    #[arg(long, default_value_t = DEFAULT_CACHE_PER_SOURCE)]
    cache_per_source: usize,
    /// UDP reply cache lifetime (also the longest a UDP call may run).
    #[arg(long, default_value_t = udp_transport::DEFAULT_CACHE_TTL.as_millis() as u64)]
    cache_ttl_ms: u64,
    /// Runtime worker threads; 0 = one per CPU.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Keys the demo store holds at most.
    #[arg(long, default_value_t = DEFAULT_MAX_KEYS)]
    max_keys: usize,
    /// Bytes the demo store holds at most (keys, values and 64 bytes per key).
    #[arg(long, default_value_t = DEFAULT_MAX_STORE_BYTES)]
    max_store_bytes: usize,
}

impl ServeArgs {
    /// Worker threads for the runtime (`None`: one per CPU).
    pub fn threads(&self) -> Option<usize> {
        (self.threads > 0).then_some(self.threads)
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let addr = args.bind;
    // Handlers first, then the `listening on` line: a script that sends SIGTERM as soon
    // as it reads the line must find them installed. A second signal stops at once.
    let shutdown = Shutdown::on_signals("rpc-lite").context("cannot install signal handlers")?;
    let service = Arc::new(DemoService::with_limits(
        args.max_keys,
        args.max_store_bytes,
    ));
    let registry = Registry::new().with(demo::Server::from_arc(service));
    let server = match args.transport {
        Transport::Tcp => tcp_transport::spawn(addr, registry, tcp_config(&args)).await,
        Transport::Udp => udp_transport::spawn(addr, registry, udp_config(&args)).await,
    }
    .with_context(|| format!("cannot listen on {addr}"))?;
    support::cli::print_listening(server.addr());
    shutdown.token().cancelled().await;
    server.shutdown().await;
    Ok(())
}

/// Parses `--max-frame`: a byte count no smaller than [`MIN_MESSAGE_LIMIT`].
fn max_frame_arg(text: &str) -> Result<usize, String> {
    let bytes: usize = text
        .parse()
        .map_err(|e| format!("{text:?} is not a byte count: {e}"))?;
    if bytes < MIN_MESSAGE_LIMIT {
        return Err(format!(
            "{bytes} is below the minimum of {MIN_MESSAGE_LIMIT} bytes"
        ));
    }
    Ok(bytes)
}

fn tcp_config(args: &ServeArgs) -> TcpServerConfig {
    TcpServerConfig {
        limits: ServerLimits {
            max_connections: args.max_conns,
            read_timeout: Duration::from_millis(args.read_timeout_ms),
            write_timeout: Duration::from_millis(args.write_timeout_ms),
            shutdown_grace: Duration::from_millis(args.grace_ms),
        },
        max_in_flight: args.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        max_frame: args.max_frame,
        frame_budget: args.frame_budget,
    }
}

fn udp_config(args: &ServeArgs) -> UdpServerConfig {
    UdpServerConfig {
        max_in_flight: args.max_in_flight.unwrap_or(DEFAULT_UDP_MAX_IN_FLIGHT),
        max_in_flight_per_source: args.max_in_flight_per_source,
        cache: CacheLimits {
            capacity: args.cache_capacity,
            max_bytes: args.cache_bytes,
            per_source: args.cache_per_source,
            ttl: Duration::from_millis(args.cache_ttl_ms),
        },
        max_datagram: args.max_frame.min(udp_transport::DEFAULT_MAX_DATAGRAM),
        shutdown_grace: Duration::from_millis(args.grace_ms),
    }
}
