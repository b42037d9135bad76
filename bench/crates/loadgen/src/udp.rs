//! UDP echo load: each sender keeps up to `--window` datagrams outstanding against a
//! UDP echo server, matches replies by sequence number, and counts a datagram as lost
//! when no reply came within `--loss-timeout-ms`.
//!
//! Datagram layout (little endian): [seq: u64][sent_ns: u64][pattern bytes ...].
//!
//! Latency per reply: from the send to the moment this sender read the reply (`p50_us`,
//! `p99_us`, ...: what this client saw), and with `--arrival` also from the send to the
//! moment the kernel queued the reply on the sender's socket (`arrival_p50_us`, ...: the
//! server's and the network's part alone, without the time the reply then waited for the
//! client; see [`crate::arrival`]).

use crate::arrival;
use crate::stats::{self, new_hist, record, Kv, Result, PERIOD};
use clap::Args;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::{timeout_at, Instant};

#[derive(Args, Clone)]
pub struct UdpArgs {
    /// Server address, e.g. 127.0.0.1:7000.
    #[arg(long)]
    pub addr: String,
    /// Sender tasks, each with its own socket.
    #[arg(long, default_value_t = 1)]
    pub senders: usize,
    /// Datagram size in bytes (>= 16).
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 5.0)]
    pub duration_s: f64,
    /// Unmeasured seconds before the window.
    #[arg(long, default_value_t = 0.5)]
    pub warmup_s: f64,
    /// Outstanding datagrams per sender.
    #[arg(long, default_value_t = 16)]
    pub window: usize,
    /// A datagram without a reply after this long counts as lost.
    #[arg(long, default_value_t = 200)]
    pub loss_timeout_ms: u64,
    /// Datagrams per second for all senders together, paced evenly (an open loop: the
    /// next datagram goes out on schedule, not when a reply comes back; `--window`
    /// still caps what is outstanding). 0: no pacing, a closed loop that keeps the
    /// window full.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Each sender gives its worker thread away after every reply it reads
    /// (`tokio::task::yield_now`), so that a sender whose replies keep arriving does not keep
    /// the thread for tokio's whole budget while the other senders' replies wait; it costs
    /// this client CPU. Off by default, so that figures compare with earlier runs.
    #[arg(long)]
    pub yield_per_reply: bool,
    /// Also measure each reply's arrival: the kernel's stamp when it was queued on this
    /// client's socket (`arrival_p50_us`, `arrival_p99_us`, ...; see `arrival.rs`). It costs
    /// this client 5% to 7% more CPU per datagram (the kernel then stamps every packet),
    /// which on a machine the client shares with the server shows in the read latencies,
    /// so it is off by default and its figures are best taken in a run of their own.
    #[arg(long)]
    pub arrival: bool,
}

impl UdpArgs {
    pub fn budget(&self) -> Duration {
        Duration::from_secs_f64(self.duration_s + self.warmup_s + 30.0)
    }
}

struct Slot {
    sent: Instant,
    /// The same moment on the clock of the kernel's arrival stamps.
    sent_real_ns: u64,
    in_window: bool,
    done: bool,
}

#[derive(Default)]
struct Totals {
    sent: u64,
    received: u64,
    lost: u64,
    late_or_dup: u64,
    mismatches: u64,
    errors: u64,
}

pub async fn run_udp(a: UdpArgs) -> Result<String> {
    if a.size < 16 || a.size > 65_507 {
        return Err("--size must be in 16..=65507".into());
    }
    let window = a.window.max(1);
    let loss_timeout = Duration::from_millis(a.loss_timeout_ms);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(a.warmup_s);
    let end = measure_from + Duration::from_secs_f64(a.duration_s);
    if !(a.rate >= 0.0 && a.rate.is_finite()) {
        return Err("--rate must be a number >= 0".into());
    }
    // Each sender's gap between two datagrams (None: closed loop).
    let gap = match a.rate {
        0.0 => None,
        rate => Some(
            Duration::try_from_secs_f64(a.senders as f64 / rate)
                .map_err(|_| "--rate is too small to pace (the gap does not fit a Duration)")?,
        ),
    };
    let mut tasks = Vec::new();
    for si in 0..a.senders {
        let sock = UdpSocket::bind("127.0.0.1:0").await?;
        sock.connect(&a.addr).await?;
        if a.arrival {
            arrival::enable(&sock)?;
        }
        let size = a.size;
        let pat = Arc::new(stats::pattern(size, si as u8));
        tasks.push(tokio::spawn(async move {
            let mut h = new_hist();
            let mut h_arrival = new_hist();
            let mut t = Totals::default();
            let mut ring: VecDeque<Slot> = VecDeque::with_capacity(window * 4);
            let mut base_seq: u64 = 0; // seq of ring[0]
            let mut next_seq: u64 = 0;
            let mut outstanding = 0usize;
            let mut sbuf = vec![0u8; size];
            let mut rbuf = vec![0u8; 65_536];
            let mut cmsg = arrival::buffer();
            // Paced: when the next datagram is due (senders start spread over one gap).
            let mut due = gap.map(|g| start + g.mul_f64(si as f64 / a.senders as f64));
            loop {
                let now = Instant::now();
                // fill the window (paced: only what is due by now)
                while outstanding < window && now < end && due.is_none_or(|d| d <= now) {
                    let off = (next_seq % PERIOD as u64) as usize;
                    sbuf[..8].copy_from_slice(&next_seq.to_le_bytes());
                    let sent_ns = now.duration_since(start).as_nanos() as u64;
                    sbuf[8..16].copy_from_slice(&sent_ns.to_le_bytes());
                    sbuf[16..].copy_from_slice(&pat[off..off + size - 16]);
                    let in_window = now >= measure_from;
                    match sock.send(&sbuf).await {
                        Ok(_) => {}
                        Err(_) => {
                            t.errors += 1;
                            if t.errors > 1000 {
                                return (h, h_arrival, t);
                            }
                        }
                    }
                    ring.push_back(Slot {
                        sent: Instant::now(),
                        sent_real_ns: if a.arrival { arrival::now_ns() } else { 0 },
                        in_window,
                        done: false,
                    });
                    next_seq += 1;
                    outstanding += 1;
                    if let (Some(d), Some(g)) = (due.as_mut(), gap) {
                        *d += g;
                    }
                    if in_window {
                        t.sent += 1;
                    }
                }
                if outstanding == 0 && now >= end {
                    break;
                }
                // wait for a reply, at most until the oldest outstanding one expires
                // (paced: or until the next datagram is due)
                let oldest = ring.front().map(|s| s.sent).unwrap_or(now);
                let mut wake = oldest + loss_timeout;
                if let Some(d) = due.filter(|d| *d < end && outstanding < window) {
                    wake = wake.min(d);
                }
                if outstanding == 0 && wake == oldest + loss_timeout {
                    // nothing to wait for before the next due time: sleep to it
                    tokio::time::sleep_until(due.unwrap_or(now).min(end)).await;
                    continue;
                }
                let got = if a.arrival {
                    timeout_at(wake, arrival::recv(&sock, &mut rbuf, &mut cmsg)).await
                } else {
                    timeout_at(wake, sock.recv(&mut rbuf))
                        .await
                        .map(|r| r.map(|n| (n, None)))
                };
                match got {
                    Ok(Ok((n, arrived_ns))) => {
                        let now = Instant::now();
                        if n < 16 {
                            t.mismatches += 1;
                        } else {
                            let seq = u64::from_le_bytes(rbuf[..8].try_into().unwrap());
                            let idx = seq.wrapping_sub(base_seq) as usize;
                            if seq >= base_seq && idx < ring.len() && !ring[idx].done {
                                let slot = &mut ring[idx];
                                slot.done = true;
                                outstanding -= 1;
                                let off = (seq % PERIOD as u64) as usize;
                                if n != size || rbuf[16..n] != pat[off..off + size - 16] {
                                    t.mismatches += 1;
                                }
                                if slot.in_window {
                                    t.received += 1;
                                    record(&mut h, now.duration_since(slot.sent).as_nanos() as u64);
                                    if let Some(at) = arrived_ns {
                                        record(
                                            &mut h_arrival,
                                            at.saturating_sub(slot.sent_real_ns),
                                        );
                                    }
                                }
                            } else {
                                t.late_or_dup += 1;
                            }
                        }
                    }
                    Ok(Err(_)) => {
                        // e.g. ECONNREFUSED (ICMP port unreachable) from a dead server
                        t.errors += 1;
                        if t.errors > 1000 {
                            break;
                        }
                    }
                    Err(_) => {} // timeout: the expiry sweep below counts the loss
                }
                if a.yield_per_reply {
                    tokio::task::yield_now().await;
                }
                // sweep: drop answered slots and expired unanswered ones from the front
                let now = Instant::now();
                while let Some(front) = ring.front() {
                    if front.done {
                        ring.pop_front();
                        base_seq += 1;
                    } else if now.duration_since(front.sent) >= loss_timeout {
                        if front.in_window {
                            t.lost += 1;
                        }
                        outstanding -= 1;
                        ring.pop_front();
                        base_seq += 1;
                    } else {
                        break;
                    }
                }
            }
            (h, h_arrival, t)
        }));
    }
    let mut h = new_hist();
    let mut h_arrival = new_hist();
    let mut tot = Totals::default();
    for task in tasks {
        let (th, th_arrival, t) = task.await?;
        h.add(&th).ok();
        h_arrival.add(&th_arrival).ok();
        tot.sent += t.sent;
        tot.received += t.received;
        tot.lost += t.lost;
        tot.late_or_dup += t.late_or_dup;
        tot.mismatches += t.mismatches;
        tot.errors += t.errors;
    }
    let secs = a.duration_s;
    let loss_pct = if tot.sent > 0 {
        100.0 * tot.lost as f64 / tot.sent as f64
    } else {
        0.0
    };
    let mut kv = Kv::new();
    kv.put("mode", "udp-echo")
        .put("addr", &a.addr)
        .put("senders", a.senders)
        .put("size", a.size)
        .put("window", window)
        .f("rate", a.rate, 0)
        .put("yield_per_reply", a.yield_per_reply)
        .put("arrival", a.arrival)
        .f("duration_s", secs, 2)
        .put("sent", tot.sent)
        .put("received", tot.received)
        .f("rt_per_s", tot.received as f64 / secs, 0)
        .f(
            "MB_per_s",
            tot.received as f64 * a.size as f64 / secs / 1e6,
            2,
        )
        .lat(&h)
        .lat_named("arrival_", &h_arrival)
        .put("lost", tot.lost)
        .f("loss_pct", loss_pct, 3)
        .put("late_or_dup", tot.late_or_dup)
        .put("mismatches", tot.mismatches)
        .put("errors", tot.errors);
    Ok(kv.line())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::kv_get;

    /// In-process UDP echo server that drops every `drop_every`-th datagram (0 = none).
    async fn udp_server(drop_every: u64) -> String {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = s.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            let mut i = 0u64;
            loop {
                let (n, peer) = s.recv_from(&mut buf).await.unwrap();
                i += 1;
                if drop_every > 0 && i.is_multiple_of(drop_every) {
                    continue;
                }
                let _ = s.send_to(&buf[..n], peer).await;
            }
        });
        addr
    }

    fn args(addr: String) -> UdpArgs {
        UdpArgs {
            addr,
            senders: 2,
            size: 64,
            duration_s: 0.3,
            warmup_s: 0.05,
            window: 8,
            loss_timeout_ms: 50,
            rate: 0.0,
            yield_per_reply: false,
            arrival: false,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_paced_run_never_sends_ahead_of_its_schedule() {
        let mut a = args(udp_server(0).await);
        a.rate = 1000.0;
        a.window = 64;
        a.loss_timeout_ms = 2000; // pacing is under test, not loss: other tests load the CPUs
        let line = run_udp(a).await.unwrap();
        let sent: u64 = kv_get(&line, "sent").unwrap().parse().unwrap();
        // 1,000/s for 0.3 s: at most 300 due, plus one per sender at the window's edge.
        // A closed loop with window 64 would send tens of thousands.
        assert!(sent > 0 && sent <= 302, "{line}");
        assert_eq!(kv_get(&line, "lost"), Some("0"), "{line}");
        assert_eq!(kv_get(&line, "rate"), Some("1000"), "{line}");
    }

    #[tokio::test]
    async fn a_rate_that_cannot_pace_is_refused() {
        for rate in [f64::NAN, -1.0, 1e-300] {
            let mut a = args("127.0.0.1:9".into());
            a.rate = rate;
            assert!(run_udp(a).await.is_err(), "rate {rate}");
        }
    }

    /// Replies came back, every one of them, each with the bytes that were sent.
    fn assert_every_reply_matched(line: &str) {
        assert!(
            kv_get(line, "received").unwrap().parse::<u64>().unwrap() > 0,
            "{line}"
        );
        assert_eq!(kv_get(line, "lost"), Some("0"), "{line}");
        assert_eq!(kv_get(line, "mismatches"), Some("0"), "{line}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn udp_round_trips_without_loss() {
        let line = run_udp(args(udp_server(0).await)).await.unwrap();
        assert_every_reply_matched(&line);
    }

    /// Every reply is stamped on arrival before it is read, so each arrival latency is at
    /// most its read latency (the two clocks are read side by side after each send: allow
    /// a microsecond), and so is each quantile.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn arrival_latencies_are_reported_and_never_above_read_latencies() {
        let mut a = args(udp_server(0).await);
        a.arrival = true;
        let line = run_udp(a).await.unwrap();
        for q in ["p50_us", "p99_us", "p999_us", "max_us"] {
            let read: f64 = kv_get(&line, q).unwrap().parse().unwrap();
            let arrival: f64 = kv_get(&line, &format!("arrival_{q}"))
                .unwrap()
                .parse()
                .unwrap();
            assert!(arrival > 0.0 && arrival <= read * 1.01 + 1.0, "{q}: {line}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_run_that_yields_per_reply_still_matches_every_reply() {
        let mut a = args(udp_server(0).await);
        a.yield_per_reply = true;
        let line = run_udp(a).await.unwrap();
        assert_eq!(kv_get(&line, "yield_per_reply"), Some("true"), "{line}");
        assert_every_reply_matched(&line);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_arrival_the_arrival_figures_say_nan() {
        let line = run_udp(args(udp_server(0).await)).await.unwrap();
        assert_eq!(kv_get(&line, "arrival"), Some("false"), "{line}");
        assert_eq!(kv_get(&line, "arrival_p99_us"), Some("nan"), "{line}");
        assert_ne!(kv_get(&line, "p99_us"), Some("nan"), "{line}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn udp_counts_loss() {
        let line = run_udp(args(udp_server(10).await)).await.unwrap();
        assert_ne!(kv_get(&line, "lost"), Some("0"), "{line}");
        assert_eq!(kv_get(&line, "mismatches"), Some("0"), "{line}");
    }
}
