//! `tcp bench stream`: bulk data through an echo server, both directions at once.
//!
//! Per connection one task writes 64 KiB chunks of a known pattern as fast as the server
//! takes them, another reads the echo and checks it. When the time is up the writer
//! half-closes and the reader drains the rest. Reported: echoed MB/s (10^6 bytes) inside
//! the window, bytes that never came back, reads whose bytes were wrong.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::timeout;

use super::echo::IO_TIMEOUT;

/// Bytes per write.
pub const CHUNK: usize = 64 * 1024;
/// The pattern repeats every `PERIOD` bytes: byte at stream offset `o` is `o % 251`.
const PERIOD: usize = 251;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct StreamBench {
    /// The echo server.
    pub addr: SocketAddr,
    /// Connections, each streaming both ways.
    pub conns: usize,
    /// How long to send.
    pub duration: Duration,
}

/// What came out.
#[derive(Debug, Clone, Default)]
pub struct StreamReport {
    /// Echoed bytes read inside the window, per second, in 10^6 bytes.
    pub mb_per_s: f64,
    /// Bytes sent in total.
    pub sent: u64,
    /// Bytes read back in total.
    pub received: u64,
    /// Reads whose bytes differed from the pattern.
    pub mismatches: u64,
    /// Connections that failed.
    pub errors: u64,
}

impl StreamReport {
    /// The one `key=value` line the bench prints last.
    pub fn summary(&self, bench: &StreamBench) -> String {
        format!(
            "conns={} MB_per_s={:.1} Gbit_per_s={:.2} sent={} missing_bytes={} mismatches={} errors={}",
            bench.conns,
            self.mb_per_s,
            self.mb_per_s * 8.0 / 1000.0,
            self.sent,
            self.sent.saturating_sub(self.received),
            self.mismatches,
            self.errors
        )
    }
}

/// Runs the bench to completion.
pub async fn run(bench: StreamBench) -> StreamReport {
    let pattern: Arc<[u8]> = (0..PERIOD + CHUNK).map(|o| (o % PERIOD) as u8).collect();
    let in_window = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + bench.duration;
    let tasks: Vec<_> = (0..bench.conns)
        .map(|_| {
            let (pattern, in_window) = (Arc::clone(&pattern), Arc::clone(&in_window));
            tokio::spawn(one_connection(bench.addr, deadline, pattern, in_window))
        })
        .collect();
    let mut report = StreamReport::default();
    for task in tasks {
        match task.await {
            Ok(Ok(conn)) => {
                report.sent += conn.sent;
                report.received += conn.received;
                report.mismatches += conn.mismatches;
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "bench connection failed");
                report.errors += 1;
            }
            Err(_) => report.errors += 1,
        }
    }
    let window = bench.duration.as_secs_f64();
    report.mb_per_s = in_window.load(Ordering::Relaxed) as f64 / window / 1e6;
    report
}

async fn one_connection(
    addr: SocketAddr,
    deadline: Instant,
    pattern: Arc<[u8]>,
    in_window: Arc<AtomicU64>,
) -> std::io::Result<StreamReport> {
    let stream = timeout(IO_TIMEOUT, TcpStream::connect(addr)).await??;
    let (reader, writer) = stream.into_split();
    let writing = tokio::spawn(write_until(writer, deadline, Arc::clone(&pattern)));
    let (received, mismatches) = read_and_check(reader, deadline, &pattern, &in_window).await?;
    let sent = writing.await.map_err(std::io::Error::other)??;
    Ok(StreamReport {
        sent,
        received,
        mismatches,
        ..StreamReport::default()
    })
}

/// Writes the pattern until `deadline`, then half-closes. Returns bytes sent.
async fn write_until(
    mut writer: OwnedWriteHalf,
    deadline: Instant,
    pattern: Arc<[u8]>,
) -> std::io::Result<u64> {
    let mut sent = 0u64;
    while Instant::now() < deadline {
        let start = (sent % PERIOD as u64) as usize;
        timeout(IO_TIMEOUT, writer.write_all(&pattern[start..start + CHUNK])).await??;
        sent += CHUNK as u64;
    }
    writer.shutdown().await?;
    Ok(sent)
}

/// Reads until end-of-stream, checking each read against the pattern.
/// Returns (bytes read, mismatching reads).
async fn read_and_check(
    mut reader: OwnedReadHalf,
    deadline: Instant,
    pattern: &[u8],
    in_window: &AtomicU64,
) -> std::io::Result<(u64, u64)> {
    let mut buf = vec![0u8; CHUNK];
    let (mut received, mut mismatches) = (0u64, 0u64);
    loop {
        let n = timeout(IO_TIMEOUT, reader.read(&mut buf)).await??;
        if n == 0 {
            return Ok((received, mismatches));
        }
        let start = (received % PERIOD as u64) as usize;
        if buf[..n] != pattern[start..start + n] {
            mismatches += 1;
        }
        received += n as u64;
        if Instant::now() < deadline {
            in_window.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}
