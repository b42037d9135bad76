//! Peer baseline: a tarpc (crates.io) service over TCP with tarpc's serde transport
//! (length-delimited frames, Bincode format), in the style of tarpc's own example
//! service, plus a benchmark client.
//!
//! ```text
//! peer-tarpc serve --bind 127.0.0.1:0
//! peer-tarpc bench --addr 127.0.0.1:PORT --concurrency 64 --calls 50000 --payload 4096
//! peer-tarpc bench --addr 127.0.0.1:PORT --conns 100 --concurrency 1 --calls 50000
//! ```
//! `serve` prints `listening on IP:PORT` as its first stdout line.
//! `bench` issues `--calls` calls with `--concurrency` outstanding on each of `--conns`
//! connections (default one) and ends with `calls_per_s=… p50_us=… p99_us=…` (extra
//! keys follow on the same line).

use clap::{Parser, Subcommand, ValueEnum};
use futures::prelude::*;
use hdrhistogram::Histogram;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tarpc::{
    client, context,
    server::{self, Channel},
    tokio_serde::formats::Bincode,
};

/// The service: one tiny compute call and one payload round trip.
#[tarpc::service]
pub trait Bench {
    async fn add(a: i64, b: i64) -> i64;
    async fn echo(data: Vec<u8>) -> Vec<u8>;
}

#[derive(Clone)]
struct BenchServer;

impl Bench for BenchServer {
    async fn add(self, _: context::Context, a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }
    async fn echo(self, _: context::Context, data: Vec<u8>) -> Vec<u8> {
        data
    }
}

#[derive(Parser)]
#[command(about = "tarpc peer baseline: server and bench client")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Method {
    Echo,
    Add,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the Bench service.
    Serve {
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: String,
    },
    /// Run M calls with N outstanding on each connection.
    Bench {
        #[arg(long)]
        addr: String,
        /// Calls kept outstanding at once per connection (tasks sharing its client).
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Connections, each with its own client.
        #[arg(long, default_value_t = 1)]
        conns: usize,
        /// Measured calls in total.
        #[arg(long, default_value_t = 20_000)]
        calls: u64,
        /// Bytes in the echo payload (ignored by `add`).
        #[arg(long, default_value_t = 16)]
        payload: usize,
        #[arg(long, value_enum, default_value_t = Method::Echo)]
        method: Method,
        /// Unmeasured calls before the measured ones.
        #[arg(long, default_value_t = 1_000)]
        warmup: u64,
        /// Hard limit for the whole bench; it stops and reports what it has by then.
        #[arg(long, default_value_t = 120.0)]
        max_seconds: f64,
    },
}

async fn spawn(fut: impl Future<Output = ()> + Send + 'static) {
    tokio::spawn(fut);
}

async fn serve(bind: String) -> anyhow_like::Result<()> {
    let mut listener = tarpc::serde_transport::tcp::listen(&bind, Bincode::default).await?;
    listener.config_mut().max_frame_length(usize::MAX);
    println!("listening on {}", listener.local_addr());
    std::io::stdout().flush()?;
    listener
        .filter_map(|r| future::ready(r.ok()))
        .map(server::BaseChannel::with_defaults)
        .for_each(|channel| {
            tokio::spawn(channel.execute(BenchServer.serve()).for_each(spawn));
            async {}
        })
        .await;
    Ok(())
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000_000, 3).expect("histogram bounds")
}

#[allow(clippy::too_many_arguments)]
async fn bench(
    addr: String,
    concurrency: usize,
    conns: usize,
    calls: u64,
    payload: usize,
    method: Method,
    warmup: u64,
    max_seconds: f64,
) -> anyhow_like::Result<()> {
    let mut clients = Vec::with_capacity(conns.max(1));
    for _ in 0..conns.max(1) {
        let mut transport = tarpc::serde_transport::tcp::connect(&addr, Bincode::default);
        transport.config_mut().max_frame_length(usize::MAX);
        clients.push(BenchClient::new(client::Config::default(), transport.await?).spawn());
    }
    let data: Vec<u8> = (0..payload).map(|i| (i % 251) as u8).collect();
    let hard_deadline = Instant::now() + Duration::from_secs_f64(max_seconds);

    // One round: `total` calls shared by `concurrency` tasks per client through an
    // atomic ticket.
    async fn round(
        clients: &[BenchClient],
        data: &[u8],
        method: Method,
        concurrency: usize,
        total: u64,
        hard_deadline: Instant,
    ) -> (Histogram<u64>, u64, u64, u64) {
        let next = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for task in 0..concurrency.max(1) * clients.len() {
            let client = clients[task % clients.len()].clone();
            let data = data.to_vec();
            let next = next.clone();
            tasks.push(tokio::spawn(async move {
                let mut h = new_hist();
                let (mut ok, mut errors, mut mismatches) = (0u64, 0u64, 0u64);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total || Instant::now() >= hard_deadline {
                        break;
                    }
                    let t0 = Instant::now();
                    let good = match method {
                        Method::Echo => match client.echo(context::current(), data.clone()).await {
                            Ok(v) => Some(v == data),
                            Err(_) => None,
                        },
                        Method::Add => {
                            let a = i as i64;
                            match client.add(context::current(), a, 7).await {
                                Ok(v) => Some(v == a + 7),
                                Err(_) => None,
                            }
                        }
                    };
                    let dt = t0.elapsed().as_nanos() as u64;
                    match good {
                        Some(true) => {
                            ok += 1;
                            h.saturating_record(dt.max(1));
                        }
                        Some(false) => {
                            ok += 1;
                            mismatches += 1;
                            h.saturating_record(dt.max(1));
                        }
                        None => errors += 1,
                    }
                }
                (h, ok, errors, mismatches)
            }));
        }
        let mut h = new_hist();
        let (mut ok, mut errors, mut mismatches) = (0, 0, 0);
        for t in tasks {
            let (th, o, e, m) = t.await.expect("bench task panicked");
            h.add(&th).expect("hist add");
            ok += o;
            errors += e;
            mismatches += m;
        }
        (h, ok, errors, mismatches)
    }

    if warmup > 0 {
        round(&clients, &data, method, concurrency, warmup, hard_deadline).await;
    }
    let t0 = Instant::now();
    let (h, ok, errors, mismatches) =
        round(&clients, &data, method, concurrency, calls, hard_deadline).await;
    let secs = t0.elapsed().as_secs_f64();
    let us = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let method_name = match method {
        Method::Echo => "echo",
        Method::Add => "add",
    };
    println!(
        "calls_per_s={:.0} p50_us={:.1} p99_us={:.1} p999_us={:.1} max_us={:.1} calls_ok={} errors={} mismatches={} elapsed_s={:.3} concurrency={} conns={} payload={} method={}",
        ok as f64 / secs,
        us(0.50),
        us(0.99),
        us(0.999),
        h.max() as f64 / 1000.0,
        ok,
        errors,
        mismatches,
        secs,
        concurrency,
        clients.len(),
        payload,
        method_name
    );
    Ok(())
}

/// Minimal boxed-error result alias (keeps the dependency list short).
mod anyhow_like {
    pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
}

#[tokio::main]
async fn main() -> anyhow_like::Result<()> {
    match Cli::parse().cmd {
        Cmd::Serve { bind } => serve(bind).await,
        Cmd::Bench {
            addr,
            concurrency,
            conns,
            calls,
            payload,
            method,
            warmup,
            max_seconds,
        } => {
            bench(
                addr,
                concurrency,
                conns,
                calls,
                payload,
                method,
                warmup,
                max_seconds,
            )
            .await
        }
    }
}
