//! `rpc-lite bench`: calls/s and latency of `echo` over ONE connection (or socket),
//! with `--concurrency` calls outstanding at once.
//!
//! Built to match `peer-tarpc bench` (same flags, same shape: tasks share one client
//! and take call numbers from one counter; warm-up calls first), so the two can be
//! compared side by side. Ends with one `key=value` line.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::demo_service::demo;
use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use rpc_lite::{Channel, Transport};
use support::stats::Latencies;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Server address, host:port.
    #[arg(long, value_parser = support::cli::host_port)]
    addr: support::cli::HostPort,
    /// Calls outstanding at once (tasks sharing one connection).
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Measured calls in total.
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
    /// Per-call timeout.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// Runtime threads. 1 (the default) runs the callers, the connection's reader and
    /// writer tasks on one thread: their hand-offs are then plain function calls, not
    /// cross-CPU wake-ups, which on this workload is several times faster. 0 = one per CPU.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Hard limit for the whole run; it stops and reports what it has by then.
    #[arg(long, default_value_t = 120.0)]
    duration_s: f64,
}

impl BenchArgs {
    /// Worker threads for the runtime (`None`: one per CPU).
    pub fn threads(&self) -> Option<usize> {
        (self.threads > 0).then_some(self.threads)
    }
}

/// What one round measured.
#[derive(Default)]
struct Tally {
    latencies: Latencies,
    errors: u64,
    mismatches: u64,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let channel = Channel::connect(&args.addr.to_string(), args.transport)
        .await
        .with_context(|| format!("cannot reach {}", args.addr))?;
    let client = demo::Client::new(channel).with_timeout(Duration::from_millis(args.timeout_ms));
    let payload: Bytes = (0..args.payload).map(|i| (i % 251) as u8).collect();
    let stop_at = Instant::now() + Duration::from_secs_f64(args.duration_s.max(0.0));
    if args.warmup > 0 {
        round(&client, &payload, args.concurrency, args.warmup, stop_at).await;
    }
    let started = Instant::now();
    let tally = round(&client, &payload, args.concurrency, args.calls, stop_at).await;
    let secs = started.elapsed().as_secs_f64();
    report(&args, &tally, secs);
    Ok(())
}

/// `total` calls shared by `concurrency` tasks through one ticket counter.
async fn round(
    client: &demo::Client,
    payload: &Bytes,
    concurrency: usize,
    total: u64,
    stop_at: Instant,
) -> Tally {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, payload, next) = (client.clone(), payload.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while next.fetch_add(1, Ordering::Relaxed) < total && Instant::now() < stop_at {
                let t0 = Instant::now();
                match client.echo(payload.clone()).await {
                    Ok(back) => {
                        tally.latencies.record(t0.elapsed());
                        tally.mismatches += u64::from(back != payload);
                    }
                    Err(_) => tally.errors += 1,
                }
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        if let Ok(t) = task.await {
            all.latencies.merge(&t.latencies);
            all.errors += t.errors;
            all.mismatches += t.mismatches;
        }
    }
    all
}

fn report(args: &BenchArgs, tally: &Tally, secs: f64) {
    let lat = &tally.latencies;
    let ok = lat.count();
    println!(
        "calls_per_s={:.0} p50_us={:.1} p99_us={:.1} p999_us={:.1} max_us={:.1} calls_ok={ok} errors={} mismatches={} elapsed_s={secs:.3} concurrency={} payload={} transport={:?} threads={}",
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
        args.threads,
    );
}
