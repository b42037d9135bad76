//! `proxy udp`: flags to [`proxy::udp::ProxyConfig`], then forward until a signal and print
//! the counters.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use proxy::udp::{self, FaultProxy, Faults, ProxyConfig};
use support::cli::HostPort;

/// Flags of `proxy udp`.
#[derive(Args, Debug)]
pub struct UdpArgs {
    /// Where clients send (IP:PORT; port 0 picks a free port).
    #[arg(long, value_name = "ADDR", value_parser = support::cli::host_port)]
    listen: HostPort,
    /// The server to forward to (HOST:PORT).
    #[arg(long, value_name = "ADDR", value_parser = support::cli::host_port)]
    to: HostPort,
    /// Probability of dropping a datagram (0 to 1), each direction.
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    loss: f64,
    /// Probability of sending a datagram twice.
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    duplicate: f64,
    /// Probability of holding a datagram back so later ones overtake it.
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    reorder: f64,
    /// Delay added to every datagram, in milliseconds.
    #[arg(long, default_value_t = 0, value_parser = support::cli::millis_or_zero)]
    delay_ms: u64,
    /// Seed of the fault decisions (same seed, same faults).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write every forwarded datagram to FILE (the transcript format, proxy/PROTOCOL.md).
    #[arg(long)]
    record: Option<PathBuf>,
    /// Write every forwarded datagram to FILE as a pcap capture, for Wireshark or tcpdump -r.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Close a client's session after this long without traffic, in milliseconds.
    #[arg(long, default_value_t = udp::DEFAULT_IDLE.as_millis() as u64, value_parser = support::cli::millis)]
    idle_ms: u64,
    /// Most client sessions at once.
    #[arg(long, default_value_t = udp::DEFAULT_MAX_SESSIONS)]
    max_sessions: usize,
    /// Most datagrams waiting on a delay at once (more are dropped).
    #[arg(long, default_value_t = udp::MAX_DELAYED_IN_FLIGHT)]
    max_delayed: usize,
}

impl UdpArgs {
    fn config(self) -> anyhow::Result<ProxyConfig> {
        let faults = Faults {
            loss: self.loss,
            duplicate: self.duplicate,
            reorder: self.reorder,
            delay: Duration::from_millis(self.delay_ms),
            seed: self.seed,
            ..Faults::default()
        };
        let mut config = ProxyConfig::new(super::resolve(&self.listen)?, super::resolve(&self.to)?);
        config.faults = faults;
        config.record = self.record;
        config.pcap = self.pcap;
        config.idle = Duration::from_millis(self.idle_ms);
        config.max_sessions = self.max_sessions;
        config.max_delayed = self.max_delayed;
        Ok(config)
    }
}

/// Runs `proxy udp` until SIGINT/SIGTERM, then prints the counters on stderr.
pub fn run(args: UdpArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    // One thread: the proxy is a few tasks on a few sockets; no cross-thread wake-ups.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(async move {
        let shutdown = super::shutdown_on_signals()?;
        let proxy = FaultProxy::spawn(config)
            .await
            .context("cannot start the proxy")?;
        support::cli::print_listening(proxy.local_addr());
        shutdown.token().cancelled().await;
        let s = proxy.shutdown().await;
        eprintln!(
            "forwarded={} dropped={} duplicated={} reordered={} delayed={} sessions_opened={} sessions_expired={} refused={}",
            s.forwarded,
            s.dropped,
            s.duplicated,
            s.reordered,
            s.delayed,
            s.sessions_opened,
            s.sessions_expired,
            s.refused
        );
        Ok(())
    })
}

/// Parses a probability in `[0, 1]` (a usage error otherwise, exit 2).
fn probability(text: &str) -> Result<f64, String> {
    let p: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability between 0 and 1"))
    }
}
