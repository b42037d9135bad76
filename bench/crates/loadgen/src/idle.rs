//! Idle connections (`tcp-idle`): what one open, quiet connection costs a server.
//!
//! Opens `--conns` connections to an echo server, one round trip of 1 byte on each (so
//! the server has really accepted it and set up whatever it keeps per connection), then
//! holds them all open and silent. With `--rss-pid`, reads the server's resident memory
//! (`VmRSS` in `/proc/PID/status`, see proc(5)) before the first connection and again
//! once all are open and have settled, and reports the difference per connection.
//!
//! One process may hold only as many sockets as its open-file limit (`ulimit -n`), and
//! one source address only as many connections to one server as there are ephemeral
//! ports (`net.ipv4.ip_local_port_range`, about 28,000 by default): `--sources K` spreads
//! the connections over the source addresses 127.0.0.1 .. 127.0.0.K (all loopback).

use crate::stats::{Kv, Result};
use clap::Args;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{sleep, timeout};

#[derive(Args, Clone)]
pub struct IdleArgs {
    /// Server address, e.g. 127.0.0.1:7000 (an echo server).
    #[arg(long)]
    pub addr: String,
    /// Connections to open and hold.
    #[arg(long, default_value_t = 1000)]
    pub conns: usize,
    /// Source addresses 127.0.0.1 .. 127.0.0.K to spread the connections over.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=254))]
    pub sources: u8,
    /// The server's PID, to read its resident memory before and after.
    #[arg(long)]
    pub rss_pid: Option<u32>,
    /// Seconds to hold the connections open (and idle) once all are open.
    #[arg(long, default_value_t = 1.0)]
    pub hold_s: f64,
    /// Give up on one connect or round trip after this many ms.
    #[arg(long, default_value_t = 5000)]
    pub io_timeout_ms: u64,
}

impl IdleArgs {
    pub fn budget(&self) -> Duration {
        // Opening is sequential; on loopback a connection takes well under 1 ms.
        Duration::from_secs_f64(
            self.hold_s
                + 60.0
                + self.conns as f64 * 0.002
                + self.io_timeout_ms as f64 / 1000.0 * 2.0,
        )
    }
}

/// `VmRSS` of a process in KiB, from `/proc/PID/status`.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status").into())
}

/// One connection from source address 127.0.0.`source`, with one 1-byte round trip.
async fn open_one(server: SocketAddr, source: u8, io_timeout: Duration) -> Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    // `bind` to port 0 skips ports still in TIME_WAIT from earlier runs (a sweep closes tens
    // of thousands of connections just before this one) unless SO_REUSEADDR is set; with
    // it a port is only refused if the whole 4-tuple is taken, as `connect` alone does.
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, source), 0)))?;
    let mut stream = timeout(io_timeout, socket.connect(server))
        .await
        .map_err(|_| "connect timed out")??;
    let mut byte = [0u8; 1];
    timeout(io_timeout, async {
        stream.write_all(b"i").await?;
        stream.read_exact(&mut byte).await
    })
    .await
    .map_err(|_| "round trip timed out")??;
    Ok(stream)
}

pub async fn run_idle(a: IdleArgs) -> Result<String> {
    let server: SocketAddr = a.addr.parse()?;
    let io_timeout = Duration::from_millis(a.io_timeout_ms);
    let before = a.rss_pid.map(rss_kib).transpose()?;
    let started = std::time::Instant::now();
    let mut open = Vec::with_capacity(a.conns);
    let mut failed = 0u64;
    let mut first_error = String::new();
    for i in 0..a.conns {
        let source = 1 + (i % usize::from(a.sources)) as u8;
        match open_one(server, source, io_timeout).await {
            Ok(stream) => open.push(stream),
            Err(err) => {
                failed += 1;
                if first_error.is_empty() {
                    first_error = err.to_string();
                    eprintln!("loadgen: connection {i} failed: {err}; stopping here");
                }
                break;
            }
        }
    }
    let open_s = started.elapsed().as_secs_f64();
    // Let the server finish whatever it does after the first read (buffers, timers).
    sleep(Duration::from_secs_f64(a.hold_s)).await;
    let after = a.rss_pid.map(rss_kib).transpose()?;
    let mut kv = Kv::new();
    kv.put("mode", "tcp-idle")
        .put("addr", &a.addr)
        .put("conns_wanted", a.conns)
        .put("conns", open.len())
        .put("conns_failed", failed)
        .f("open_s", open_s, 2);
    if let (Some(before), Some(after)) = (before, after) {
        let per_conn = (after as f64 - before as f64) * 1024.0 / open.len().max(1) as f64;
        kv.put("rss_before_kib", before)
            .put("rss_kib", after)
            .f("rss_per_conn_bytes", per_conn, 0);
    }
    if !first_error.is_empty() {
        kv.put("first_error", &first_error);
    }
    drop(open);
    Ok(kv.line())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::kv_get;
    use crate::tcp::tests::echo_server;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_connections_are_opened_held_and_measured() {
        let a = IdleArgs {
            addr: echo_server(false).await,
            conns: 50,
            sources: 3,
            rss_pid: Some(std::process::id()),
            hold_s: 0.05,
            io_timeout_ms: 2000,
        };
        let line = run_idle(a).await.unwrap();
        assert_eq!(kv_get(&line, "conns"), Some("50"), "{line}");
        assert_eq!(kv_get(&line, "conns_failed"), Some("0"), "{line}");
        assert!(
            kv_get(&line, "rss_kib").unwrap().parse::<u64>().unwrap() > 0,
            "{line}"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_stops_the_run_and_is_reported() {
        // A port nobody listens on (bound, then dropped).
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let a = IdleArgs {
            addr: addr.to_string(),
            conns: 5,
            sources: 1,
            rss_pid: None,
            hold_s: 0.0,
            io_timeout_ms: 500,
        };
        let line = run_idle(a).await.unwrap();
        assert_eq!(kv_get(&line, "conns"), Some("0"), "{line}");
        assert_eq!(kv_get(&line, "conns_failed"), Some("1"), "{line}");
    }
}
