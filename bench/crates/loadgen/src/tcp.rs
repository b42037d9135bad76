//! TCP echo load: request/response (`tcp-echo`) and bulk streaming (`tcp-stream`).
//! Protocol: whatever bytes are sent must come back, in order (plain echo).

use crate::stats::{self, new_hist, record, Kv, Result, PERIOD};
use clap::Args;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;
use tokio::time::{timeout, timeout_at, Instant};

#[derive(Args, Clone)]
pub struct EchoArgs {
    /// Server address, e.g. 127.0.0.1:7000.
    #[arg(long)]
    pub addr: String,
    /// Concurrent connections (each does one round trip at a time).
    #[arg(long, default_value_t = 1)]
    pub conns: usize,
    /// Message size in bytes.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 5.0)]
    pub duration_s: f64,
    /// Unmeasured seconds of load before the measured window.
    #[arg(long, default_value_t = 0.5)]
    pub warmup_s: f64,
    /// Give up on one round trip (or connect) after this many ms.
    #[arg(long, default_value_t = 5000)]
    pub io_timeout_ms: u64,
    /// Set TCP_NODELAY on the client sockets.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub nodelay: bool,
}

impl EchoArgs {
    pub fn budget(&self) -> Duration {
        Duration::from_secs_f64(
            self.duration_s + self.warmup_s + 30.0 + self.io_timeout_ms as f64 / 1000.0 * 2.0,
        )
    }
}

#[derive(Args, Clone)]
pub struct StreamArgs {
    /// Server address, e.g. 127.0.0.1:7000.
    #[arg(long)]
    pub addr: String,
    /// Concurrent connections (each has one writer and one reader task).
    #[arg(long, default_value_t = 1)]
    pub conns: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 5.0)]
    pub duration_s: f64,
    /// Unmeasured seconds of streaming before the measured window.
    #[arg(long, default_value_t = 0.5)]
    pub warmup_s: f64,
    /// Bytes per write (and read buffer size).
    #[arg(long, default_value_t = 65536)]
    pub chunk: usize,
    /// After the window, wait at most this long for the rest of the echo.
    #[arg(long, default_value_t = 5000)]
    pub io_timeout_ms: u64,
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub nodelay: bool,
}

impl StreamArgs {
    pub fn budget(&self) -> Duration {
        Duration::from_secs_f64(
            self.duration_s + self.warmup_s + 30.0 + self.io_timeout_ms as f64 / 1000.0 * 2.0,
        )
    }
}

async fn connect(addr: &str, nodelay: bool, io_timeout: Duration) -> Result<TcpStream> {
    let s = timeout(io_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("connect to {addr} timed out"))??;
    s.set_nodelay(nodelay)?;
    Ok(s)
}

#[derive(Default)]
struct EchoTotals {
    round_trips: u64,
    mismatches: u64,
    errors: u64,
}

pub async fn run_echo(a: EchoArgs) -> Result<String> {
    if a.size == 0 {
        return Err("--size must be > 0".into());
    }
    let io_timeout = Duration::from_millis(a.io_timeout_ms);
    let mut streams = Vec::with_capacity(a.conns);
    for _ in 0..a.conns {
        streams.push(connect(&a.addr, a.nodelay, io_timeout).await?);
    }
    let barrier = Arc::new(Barrier::new(a.conns + 1));
    let mut tasks = Vec::with_capacity(a.conns);
    // Both instants are fixed once every task is ready (sent through the barrier's
    // leader would be awkward; a shared cell written before the barrier is simpler).
    let times = Arc::new(std::sync::OnceLock::<(Instant, Instant)>::new());
    for (ci, mut s) in streams.into_iter().enumerate() {
        let barrier = barrier.clone();
        let times = times.clone();
        let size = a.size;
        tasks.push(tokio::spawn(async move {
            let pat = stats::pattern(size, ci as u8);
            let mut rbuf = vec![0u8; size];
            let mut h = new_hist();
            let mut t = EchoTotals::default();
            barrier.wait().await;
            let (measure_from, end) = *times.get().expect("times set before barrier");
            let mut seq: usize = 0;
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                let off = seq % PERIOD;
                let msg = &pat[off..off + size];
                let t0 = std::time::Instant::now();
                let io = async {
                    s.write_all(msg).await?;
                    s.read_exact(&mut rbuf).await?;
                    Ok::<_, std::io::Error>(())
                };
                match timeout(io_timeout, io).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) | Err(_) => {
                        t.errors += 1;
                        break;
                    }
                }
                let dt = t0.elapsed().as_nanos() as u64;
                if now >= measure_from {
                    t.round_trips += 1;
                    record(&mut h, dt);
                    if rbuf[..] != msg[..] {
                        t.mismatches += 1;
                    }
                } else if rbuf[..] != msg[..] {
                    t.mismatches += 1;
                }
                seq += 1;
            }
            (h, t)
        }));
    }
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(a.warmup_s);
    let end = measure_from + Duration::from_secs_f64(a.duration_s);
    times.set((measure_from, end)).ok();
    barrier.wait().await;

    let mut h = new_hist();
    let mut tot = EchoTotals::default();
    let mut conns_failed = 0u64;
    for t in tasks {
        let (th, tt) = t.await?;
        h.add(&th).ok();
        tot.round_trips += tt.round_trips;
        tot.mismatches += tt.mismatches;
        tot.errors += tt.errors;
        if tt.errors > 0 {
            conns_failed += 1;
        }
    }
    let secs = a.duration_s;
    let mut kv = Kv::new();
    kv.put("mode", "tcp-echo")
        .put("addr", &a.addr)
        .put("conns", a.conns)
        .put("size", a.size)
        .f("duration_s", secs, 2)
        .put("round_trips", tot.round_trips)
        .f("rt_per_s", tot.round_trips as f64 / secs, 0)
        .f(
            "MB_per_s",
            tot.round_trips as f64 * a.size as f64 / secs / 1e6,
            2,
        )
        .lat(&h)
        .put("mismatches", tot.mismatches)
        .put("errors", tot.errors)
        .put("conns_failed", conns_failed);
    Ok(kv.line())
}

#[derive(Default)]
struct StreamTotals {
    sent: u64,
    received: u64,
    received_in_window: u64,
    mismatches: u64,
    errors: u64,
}

pub async fn run_stream(a: StreamArgs) -> Result<String> {
    if a.chunk == 0 {
        return Err("--chunk must be > 0".into());
    }
    let io_timeout = Duration::from_millis(a.io_timeout_ms);
    let mut streams = Vec::with_capacity(a.conns);
    for _ in 0..a.conns {
        streams.push(connect(&a.addr, a.nodelay, io_timeout).await?);
    }
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(a.warmup_s);
    let end = measure_from + Duration::from_secs_f64(a.duration_s);
    let mut tasks = Vec::new();
    for (ci, s) in streams.into_iter().enumerate() {
        let chunk = a.chunk;
        let (mut rd, mut wr) = s.into_split();
        let pat = Arc::new(stats::pattern(chunk, ci as u8));
        let (done_tx, mut done_rx) = tokio::sync::watch::channel::<Option<u64>>(None);
        let wpat = pat.clone();
        let writer = tokio::spawn(async move {
            let mut pos: u64 = 0;
            let mut errors = 0u64;
            while Instant::now() < end {
                let off = (pos % PERIOD as u64) as usize;
                match timeout(io_timeout, wr.write_all(&wpat[off..off + chunk])).await {
                    Ok(Ok(())) => pos += chunk as u64,
                    _ => {
                        errors += 1;
                        break;
                    }
                }
            }
            let _ = timeout(io_timeout, wr.shutdown()).await;
            let _ = done_tx.send(Some(pos));
            (pos, errors, wr)
        });
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; chunk];
            let mut t = StreamTotals::default();
            let drain_deadline = end + io_timeout;
            let mut writer_gone = false;
            loop {
                let target = *done_rx.borrow_and_update();
                if let Some(total) = target {
                    if t.received >= total {
                        break;
                    }
                }
                let n = tokio::select! {
                    r = timeout_at(drain_deadline, rd.read(&mut buf)) => match r {
                        Ok(Ok(0)) => break,
                        Ok(Ok(n)) => n,
                        Ok(Err(_)) => { t.errors += 1; break; }
                        Err(_) => break, // drain deadline: leftover counts as missing
                    },
                    // wake up when the writer finishes so `target` is re-checked
                    r = done_rx.changed(), if target.is_none() && !writer_gone => {
                        if r.is_err() {
                            writer_gone = true; // writer ended without a total: read to EOF/deadline
                        }
                        continue;
                    }
                };
                let now = Instant::now();
                let off = (t.received % PERIOD as u64) as usize;
                if buf[..n] != pat[off..off + n] {
                    t.mismatches += 1;
                }
                t.received += n as u64;
                if now >= measure_from && now < end {
                    t.received_in_window += n as u64;
                }
            }
            t
        });
        tasks.push((writer, reader));
    }
    let mut tot = StreamTotals::default();
    let mut writers = Vec::new();
    for (w, r) in tasks {
        let (sent, werr, wr) = w.await?;
        let t = r.await?;
        writers.push(wr); // keep write halves alive until all readers finished
        tot.sent += sent;
        tot.errors += werr + t.errors;
        tot.received += t.received;
        tot.received_in_window += t.received_in_window;
        tot.mismatches += t.mismatches;
    }
    drop(writers);
    let secs = a.duration_s;
    let mbps = tot.received_in_window as f64 / secs / 1e6;
    let mut kv = Kv::new();
    kv.put("mode", "tcp-stream")
        .put("addr", &a.addr)
        .put("conns", a.conns)
        .put("chunk", a.chunk)
        .f("duration_s", secs, 2)
        .f("MB_per_s", mbps, 1)
        .f("Gbit_per_s", mbps * 8.0 / 1000.0, 2)
        .put("bytes_sent", tot.sent)
        .put("bytes_echoed", tot.received)
        .put("missing_bytes", tot.sent.saturating_sub(tot.received))
        .put("mismatches", tot.mismatches)
        .put("errors", tot.errors);
    Ok(kv.line())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::stats::kv_get;
    use tokio::net::TcpListener;

    /// In-process echo server; `corrupt` flips the first byte of every read.
    pub(crate) async fn echo_server(corrupt: bool) -> String {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = l.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    loop {
                        let n = match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if corrupt {
                            buf[0] ^= 0xff;
                        }
                        if s.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn echo_args(addr: String) -> EchoArgs {
        EchoArgs {
            addr,
            conns: 3,
            size: 100,
            duration_s: 0.3,
            warmup_s: 0.05,
            io_timeout_ms: 2000,
            nodelay: true,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tcp_echo_counts_round_trips() {
        let line = run_echo(echo_args(echo_server(false).await)).await.unwrap();
        assert!(
            kv_get(&line, "round_trips")
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 0,
            "{line}"
        );
        assert_eq!(kv_get(&line, "mismatches"), Some("0"), "{line}");
        assert_eq!(kv_get(&line, "errors"), Some("0"), "{line}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tcp_echo_detects_corruption() {
        let line = run_echo(echo_args(echo_server(true).await)).await.unwrap();
        assert_ne!(kv_get(&line, "mismatches"), Some("0"), "{line}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tcp_stream_verifies_all_bytes() {
        let a = StreamArgs {
            addr: echo_server(false).await,
            conns: 2,
            duration_s: 0.3,
            warmup_s: 0.05,
            chunk: 65536,
            io_timeout_ms: 2000,
            nodelay: true,
        };
        let line = run_stream(a.clone()).await.unwrap();
        assert_eq!(kv_get(&line, "missing_bytes"), Some("0"), "{line}");
        assert_eq!(kv_get(&line, "mismatches"), Some("0"), "{line}");
        assert_ne!(kv_get(&line, "bytes_echoed"), Some("0"), "{line}");
        let bad = StreamArgs {
            addr: echo_server(true).await,
            ..a
        };
        let line = run_stream(bad).await.unwrap();
        assert_ne!(kv_get(&line, "mismatches"), Some("0"), "{line}");
    }
}
