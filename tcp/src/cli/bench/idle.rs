//! `tcp bench idle`: what idle connections cost a server.
//!
//! Opens N connections to an echo server, echoes one byte on each (so the server has
//! accepted and served every one of them), leaves them idle, and reads the server's
//! resident memory (`VmRSS` in `/proc/PID/status`, `proc(5)`). The process running the
//! bench needs N file descriptors: raise the limit first (`ulimit -n 20000`).

use std::net::SocketAddr;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::echo::IO_TIMEOUT;

/// Connections being opened at once.
const OPENING_AT_ONCE: usize = 256;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct IdleBench {
    /// The echo server.
    pub addr: SocketAddr,
    /// Connections to hold.
    pub conns: usize,
    /// The server's process id, to read its memory; `None` skips that.
    pub server_pid: Option<u32>,
    /// How long to hold the idle connections before measuring.
    pub settle: Duration,
}

/// What came out.
#[derive(Debug, Clone, Default)]
pub struct IdleReport {
    /// Connections that connected and echoed a byte.
    pub open: usize,
    /// Connections that failed.
    pub errors: usize,
    /// The server's resident memory with all of them open, in KiB.
    pub rss_kib: Option<u64>,
}

impl IdleReport {
    /// The one `key=value` line the bench prints last.
    pub fn summary(&self) -> String {
        let rss = self.rss_kib.map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{:.1}", kib as f64 / 1024.0),
        );
        format!("conns={} errors={} rss_mib={rss}", self.open, self.errors)
    }
}

/// Runs the bench to completion; the connections close when it returns.
pub async fn run(bench: IdleBench) -> IdleReport {
    let results: Vec<std::io::Result<TcpStream>> = stream::iter(0..bench.conns)
        .map(|_| open_and_echo(bench.addr))
        .buffer_unordered(OPENING_AT_ONCE)
        .collect()
        .await;
    let errors = results.iter().filter(|r| r.is_err()).count();
    tokio::time::sleep(bench.settle).await;
    IdleReport {
        open: results.len() - errors,
        errors,
        rss_kib: bench.server_pid.and_then(resident_kib),
    }
}

async fn open_and_echo(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let mut stream = timeout(IO_TIMEOUT, TcpStream::connect(addr)).await??;
    stream.write_all(b"?").await?;
    let mut back = [0u8; 1];
    timeout(IO_TIMEOUT, stream.read_exact(&mut back)).await??;
    Ok(stream)
}

/// `VmRSS` of process `pid` in KiB, from `/proc/PID/status` (Linux only).
pub fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_kib() {
        let status = "Name:\ttcp\nVmPeak:\t  9000 kB\nVmRSS:\t   29616 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(29616));
        assert_eq!(parse_vm_rss("Name:\ttcp\n"), None);
    }

    #[test]
    fn this_process_has_a_resident_size() {
        assert!(resident_kib(std::process::id()).is_some_and(|kib| kib > 0));
    }
}
