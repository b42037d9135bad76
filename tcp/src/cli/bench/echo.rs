//! `tcp bench echo`: round trips of fixed-size messages over several connections.
//!
//! Each connection sends one `size`-byte message, reads the whole echo back, checks it,
//! and repeats until the time is up (one message in flight per connection, `TCP_NODELAY`
//! on). Reported: round trips per second, p50/p99 latency, mismatches, errors.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use support::stats::Latencies;

/// Longest any single write or read may take before the connection counts as failed.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct EchoBench {
    /// The echo server.
    pub addr: SocketAddr,
    /// Connections, each with one message in flight.
    pub conns: usize,
    /// Bytes per message.
    pub size: usize,
    /// How long to send.
    pub duration: Duration,
}

/// What came out.
#[derive(Debug, Clone, Default)]
pub struct EchoReport {
    /// Completed round trips.
    pub round_trips: u64,
    /// Round trips per second.
    pub rt_per_s: f64,
    /// Latency of each round trip.
    pub latency: Latencies,
    /// Echoes that differed from what was sent.
    pub mismatches: u64,
    /// Connections that failed (connect, I/O error, timeout).
    pub errors: u64,
}

impl EchoReport {
    /// The one `key=value` line the bench prints last.
    pub fn summary(&self, bench: &EchoBench) -> String {
        format!(
            "conns={} size={} rt={} rt_per_s={:.0} p50_us={:.0} p99_us={:.0} mismatches={} errors={}",
            bench.conns,
            bench.size,
            self.round_trips,
            self.rt_per_s,
            self.latency.p50_us(),
            self.latency.p99_us(),
            self.mismatches,
            self.errors
        )
    }
}

/// Runs the bench to completion.
pub async fn run(bench: EchoBench) -> EchoReport {
    let deadline = Instant::now() + bench.duration;
    let started = Instant::now();
    let tasks: Vec<_> = (0..bench.conns)
        .map(|id| tokio::spawn(one_connection(bench, id, deadline)))
        .collect();
    let mut report = EchoReport::default();
    for task in tasks {
        match task.await {
            Ok(conn) => {
                report.round_trips += conn.latency.count();
                report.latency.merge(&conn.latency);
                report.mismatches += conn.mismatches;
                report.errors += conn.errors;
            }
            Err(_) => report.errors += 1,
        }
    }
    report.rt_per_s = report.round_trips as f64 / started.elapsed().as_secs_f64();
    report
}

/// One connection's loop; errors end the loop and are counted.
async fn one_connection(bench: EchoBench, id: usize, deadline: Instant) -> EchoReport {
    let mut report = EchoReport::default();
    if let Err(err) = round_trips(bench, id, deadline, &mut report).await {
        tracing::warn!(conn = id, error = %err, "bench connection failed");
        report.errors += 1;
    }
    report
}

async fn round_trips(
    bench: EchoBench,
    id: usize,
    deadline: Instant,
    report: &mut EchoReport,
) -> std::io::Result<()> {
    let mut stream = timeout(IO_TIMEOUT, TcpStream::connect(bench.addr)).await??;
    stream.set_nodelay(true)?;
    let mut message = vec![0u8; bench.size];
    let mut echo = vec![0u8; bench.size];
    for round in 0u64.. {
        if Instant::now() >= deadline {
            break;
        }
        fill(&mut message, id as u64, round);
        let sent = Instant::now();
        timeout(IO_TIMEOUT, stream.write_all(&message)).await??;
        timeout(IO_TIMEOUT, stream.read_exact(&mut echo)).await??;
        report.latency.record(sent.elapsed());
        if echo != message {
            report.mismatches += 1;
        }
    }
    Ok(())
}

/// Fills a message with bytes that differ per connection and per round, so an echo of
/// the wrong message (or of stale bytes) is caught.
fn fill(message: &mut [u8], conn: u64, round: u64) {
    let seed = conn.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ round;
    for (i, byte) in message.iter_mut().enumerate() {
        *byte = (seed.wrapping_add(i as u64).wrapping_mul(31) >> 3) as u8;
    }
}
