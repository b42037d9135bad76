//! `multicast bench`: one sender, N listeners in this process; datagrams per second delivered to
//! each listener, and loss (see [`measure`] for what is measured and why).
//!
//! ```text
//! $ multicast bench --listeners 3 --duration-s 2
//! bench: group 239.255.42.99:40001 on lo, 3 listeners, 64-byte datagrams, 2 s, unpaced
//! listener 1: received 123456 (61728/s), lost 0 (0.00%), reordered 0, duplicates 0
//! ...
//! listeners=3 sent=... send_per_s=... delivered_per_s_per_listener_median=... loss_pct_max=...
//! ```
//! The last line is `key=value` figures for scripts.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

pub mod measure;

use measure::{self as bench, BenchConfig, MAX_LISTENERS, MAX_SIZE, MIN_SIZE};

use super::UsageError;
use super::target::parse_group;

/// Arguments of `bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Group; port 0 picks a free port
    #[arg(long, value_name = "GROUP:PORT", default_value = "239.255.42.99:0", value_parser = parse_group)]
    group: SocketAddr,

    /// Interface (default 127.0.0.1)
    #[arg(long, value_name = "ADDR|NAME", value_parser = super::target::parse_interface)]
    interface: Option<multicast::NetworkInterface>,

    /// Listeners, each a socket and a thread
    #[arg(long, default_value_t = 3,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_LISTENERS as u64))]
    listeners: usize,

    /// How long the sender sends, in seconds (at most 60)
    #[arg(long, default_value_t = 2.0)]
    duration_s: f64,

    /// Datagram size in bytes (16..=1472)
    #[arg(long, default_value_t = 64,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(MIN_SIZE as u64..=MAX_SIZE as u64))]
    size: usize,

    /// Datagrams per second to send (default: as fast as possible)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    rate: Option<u64>,

    /// SO_RCVBUF of each listener, in bytes (default: the system's)
    #[arg(long, value_name = "BYTES")]
    recv_buffer: Option<usize>,
}

/// Runs the bench and prints one line per listener, then the `key=value` line.
///
/// # Errors
/// Out-of-range settings (usage), or a socket error.
pub fn run(args: Args) -> anyhow::Result<()> {
    if !(args.duration_s > 0.0 && args.duration_s <= bench::MAX_DURATION_S) {
        return Err(UsageError(format!(
            "--duration-s must be above 0 and at most {}",
            bench::MAX_DURATION_S
        ))
        .into());
    }
    let interface = match args.interface {
        Some(iface) => iface,
        None if args.group.is_ipv6() => {
            return Err(UsageError("IPv6 groups need --interface NAME|INDEX".into()).into());
        }
        None => multicast::NetworkInterface::loopback()?,
    };
    let config = BenchConfig {
        group: args.group,
        interface,
        listeners: args.listeners,
        duration: Duration::from_secs_f64(args.duration_s),
        size: args.size,
        rate: args.rate,
        recv_buffer: args.recv_buffer,
    };
    let report = bench::run(&config)?;
    let mut out = std::io::stdout().lock();
    let pacing = args
        .rate
        .map_or("unpaced".to_string(), |r| format!("paced at {r}/s"));
    writeln!(
        out,
        "bench: group {} on {}, {} listeners, {}-byte datagrams, {} s, {pacing}",
        report.group, config.interface.name, config.listeners, config.size, args.duration_s
    )?;
    for (i, stats) in report.listeners.iter().enumerate() {
        let lost = report.sent.saturating_sub(stats.received);
        writeln!(
            out,
            "listener {}: received {} ({:.0}/s), lost {lost} ({:.2}%), reordered {}, duplicates {}",
            i + 1,
            stats.received,
            report.delivered_per_s(i),
            report.loss_pct(i),
            stats.reordered,
            stats.duplicates
        )?;
    }
    writeln!(out, "{}", report.summary_line())?;
    Ok(())
}
