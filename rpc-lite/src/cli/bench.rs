//! `rpc-lite bench`: calls/s and latency of `echo` over `--conns` TCP connections (one
//! by default, or one UDP socket), with `--concurrency` calls outstanding on each.
//!
//! Built to match `peer-tarpc bench` (same flags, same meaning, same shape: one client
//! per connection, `concurrency` tasks per client, every task takes call numbers from
//! one counter, so `--calls` is the total over all connections; warm-up calls first),
//! so the two can be compared side by side. Ends with one `key=value` line.
//!
//! System calls: `connect(2)` once per connection (each is one file descriptor, hence
//! [`MAX_CONNS`]), then `write(2)`/`read(2)` on each (`tcp_transport::client`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::demo_service::demo;
use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use rpc_lite::{CallError, Channel, RpcError, Transport};
use support::stats::Latencies;

/// Most connections one run opens (`--conns`). Each is a file descriptor in this
/// process (and one in the server's): 10,000 stays inside the 20,000 open files a
/// process may have here, and far above the 1,000 the sweeps need.
pub const MAX_CONNS: usize = 10_000;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Server address, host:port.
    #[arg(long, value_parser = support::cli::host_port)]
    addr: support::cli::HostPort,
    /// Calls outstanding at once on each connection (tasks sharing its client).
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// TCP connections, each with its own client (at most 10000). Over UDP: sockets.
    #[arg(long, default_value_t = 1, value_parser = conns_arg)]
    conns: usize,
    /// Measured calls in total, spread over all connections.
    #[arg(long, default_value_t = 20_000)]
    calls: u64,
    /// Bytes in each echo payload.
    #[arg(long, default_value_t = 16)]
    payload: usize,
    /// Unmeasured calls before the measured ones.
    #[arg(long, default_value_t = 1_000)]
    warmup: u64,
    /// Transport.
    #[arg(long, value_enum, default_value_t = Transport::Tcp)]
    transport: Transport,
    /// Per-call timeout, sent as the deadline [default: 10000 over TCP, 1000 over UDP,
    /// where the server remembers each call for its deadline (at-most-once)].
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Runtime threads; 0 = one per CPU. On one connection 1 is the default: the callers
    /// and the connection's reader and writer tasks then share one thread, and their
    /// hand-offs are plain function calls, not cross-CPU wake-ups, which on this workload
    /// is several times faster. With several connections the default is 0: their
    /// sockets are independent, and one thread would be the bottleneck.
    #[arg(long)]
    threads: Option<usize>,
    /// Hard limit for the whole run; it stops and reports what it has by then.
    #[arg(long, default_value_t = 120.0)]
    duration_s: f64,
}

impl BenchArgs {
    /// Worker threads for the runtime (`None`: one per CPU).
    pub fn threads(&self) -> Option<usize> {
        let threads = self.threads_asked();
        (threads > 0).then_some(threads)
    }

    /// `--threads`, or its default for this many connections.
    fn threads_asked(&self) -> usize {
        self.threads.unwrap_or(if self.conns == 1 { 1 } else { 0 })
    }
}

/// Parses `--conns`: 1 to [`MAX_CONNS`].
fn conns_arg(text: &str) -> Result<usize, String> {
    let conns: usize = text
        .parse()
        .map_err(|e| format!("{text:?} is not a number of connections: {e}"))?;
    if !(1..=MAX_CONNS).contains(&conns) {
        return Err(format!(
            "{conns} is outside 1..={MAX_CONNS} (each connection is one open file)"
        ));
    }
    Ok(conns)
}

/// What one round measured. Each task keeps its latencies in a plain vector while it
/// runs: a histogram per task (hundreds of KiB each, first touched mid-run) would cost
/// the single-threaded client cache misses and page faults inside the measurement.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
    mismatches: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.mismatches += other.mismatches;
    }
}

/// The connections a run opened, and how many it could not open.
struct Clients {
    open: Vec<demo::Client>,
    failed: usize,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let stop_at = Instant::now() + Duration::from_secs_f64(args.duration_s.max(0.0));
    let clients = connect_all(&args, stop_at).await?;
    let payload: Bytes = (0..args.payload).map(|i| (i % 251) as u8).collect();
    if args.warmup > 0 {
        round(
            &clients.open,
            &payload,
            args.concurrency,
            args.warmup,
            stop_at,
        )
        .await;
    }
    let started = Instant::now();
    let tally = round(
        &clients.open,
        &payload,
        args.concurrency,
        args.calls,
        stop_at,
    )
    .await;
    let secs = started.elapsed().as_secs_f64();
    let (opened, failed) = (clients.open.len(), clients.failed);
    drop(clients); // the last handle of each connection: its reader and writer stop
    report(&args, &tally, secs, opened, failed);
    Ok(())
}

/// Opens `--conns` connections one after another. One that cannot be opened is counted
/// (`conns_failed=`) and the run goes on with the others; none at all is an error.
async fn connect_all(args: &BenchArgs, stop_at: Instant) -> anyhow::Result<Clients> {
    let addr = args.addr.to_string();
    let timeout = Duration::from_millis(args.timeout_ms.unwrap_or(match args.transport {
        Transport::Tcp => 10_000,
        Transport::Udp => 1_000,
    }));
    let mut clients = Clients {
        open: Vec::with_capacity(args.conns),
        failed: 0,
    };
    let mut first_error = None;
    for _ in 0..args.conns {
        let connect = Channel::connect(&addr, args.transport);
        match tokio::time::timeout_at(stop_at.into(), connect).await {
            Ok(Ok(channel)) => clients
                .open
                .push(demo::Client::new(channel).with_timeout(timeout)),
            Ok(Err(err)) => {
                clients.failed += 1;
                first_error.get_or_insert(err);
            }
            Err(_) => break, // out of time: report what is open
        }
    }
    match first_error {
        Some(err) if clients.open.is_empty() => {
            Err(err).with_context(|| format!("cannot reach {}", args.addr))
        }
        _ if clients.open.is_empty() => {
            anyhow::bail!(
                "cannot reach {}: no connection within --duration-s",
                args.addr
            )
        }
        _ => Ok(clients),
    }
}

/// `total` calls shared by `concurrency` tasks per client through one ticket counter.
async fn round(
    clients: &[demo::Client],
    payload: &Bytes,
    concurrency: usize,
    total: u64,
    stop_at: Instant,
) -> Tally {
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..concurrency.max(1) * clients.len())
        .map(|task| {
            let client = clients[task % clients.len()].clone();
            tokio::spawn(caller(
                client,
                payload.clone(),
                next.clone(),
                total,
                stop_at,
            ))
        })
        .collect();
    let mut all = Tally::default();
    for task in tasks {
        if let Ok(tally) = task.await {
            all.add(tally);
        }
    }
    all
}

/// One caller: echo calls, one at a time, while tickets and time last. A caller whose
/// connection is lost counts that call as an error and stops: a dead connection fails
/// its calls in microseconds, and would otherwise use up every ticket the live ones
/// should have had.
async fn caller(
    client: demo::Client,
    payload: Bytes,
    next: Arc<AtomicU64>,
    total: u64,
    stop_at: Instant,
) -> Tally {
    let mut tally = Tally::default();
    while next.fetch_add(1, Ordering::Relaxed) < total && Instant::now() < stop_at {
        let t0 = Instant::now();
        match client.echo(payload.clone()).await {
            Ok(back) => {
                tally.latencies.push(t0.elapsed());
                tally.mismatches += u64::from(back != payload);
            }
            Err(CallError::Rpc(RpcError::ConnectionLost)) => {
                tally.errors += 1;
                break;
            }
            Err(_) => tally.errors += 1,
        }
    }
    tally
}

fn report(args: &BenchArgs, tally: &Tally, secs: f64, conns: usize, conns_failed: usize) {
    let mut lat = Latencies::new();
    for &latency in &tally.latencies {
        lat.record(latency);
    }
    let ok = lat.count();
    println!(
        "calls_per_s={:.0} p50_us={:.1} p99_us={:.1} p999_us={:.1} max_us={:.1} calls_ok={ok} errors={} mismatches={} elapsed_s={secs:.3} concurrency={} conns={conns} conns_failed={conns_failed} payload={} transport={:?} threads={}",
        ok as f64 / secs,
        lat.p50_us(),
        lat.p99_us(),
        lat.quantile_us(0.999),
        lat.max_us(),
        tally.errors,
        tally.mismatches,
        args.concurrency,
        args.payload,
        args.transport,
        args.threads_asked(),
    );
}
