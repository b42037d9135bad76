//! `udp bench echo`: a load generator for any UDP echo server (RFC 862).
//!
//! Each sender thread has its own `connect(2)`ed socket and keeps `window` datagrams in flight.
//! Every datagram carries a sequence number (bytes 0..8, big-endian) and a pattern derived from
//! it, so a reply is matched to its request, timed, and checked byte for byte. A datagram with no
//! reply within `loss_timeout` counts as lost. The run is bounded by `duration` (plus one loss
//! timeout to drain), and the last stdout line holds the figures as `key=value`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use support::stats::Latencies;

use udp::error::{Result, UdpError};
use udp::socket::{DatagramSocket, MAX_DATAGRAM_BUFFER, check_payload_len};

/// Smallest datagram the bench sends: room for the sequence number.
pub const MIN_SIZE: usize = 8;

/// Most senders (threads).
pub const MAX_SENDERS: usize = 256;

/// Most datagrams in flight per sender.
pub const MAX_WINDOW: usize = 4096;

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// The echo server.
    pub addr: SocketAddr,
    /// Sender threads, each with its own socket.
    pub senders: usize,
    /// Bytes per datagram (at least [`MIN_SIZE`]).
    pub size: usize,
    /// Measuring window.
    pub duration: Duration,
    /// Datagrams in flight per sender.
    pub window: usize,
    /// No reply within this time: lost.
    pub loss_timeout: Duration,
}

/// Figures of one run.
#[derive(Clone, Debug, Default)]
pub struct BenchReport {
    /// Datagrams sent.
    pub sent: u64,
    /// Replies matched to a datagram in flight.
    pub received: u64,
    /// Datagrams with no reply in time.
    pub lost: u64,
    /// Replies for nothing in flight (late after being counted lost, or duplicated).
    pub late_or_dup: u64,
    /// Replies whose bytes differed from what was sent.
    pub mismatches: u64,
    /// Length of the measuring window.
    pub elapsed: Duration,
    /// Round-trip latencies (a histogram: fixed memory however long the run).
    pub latencies: Latencies,
}

impl BenchReport {
    /// Echoed datagrams per second.
    pub fn datagrams_per_s(&self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `key=value` summary line.
    pub fn summary_line(&self, config: &BenchConfig) -> String {
        let loss_pct = 100.0 * self.lost as f64 / (self.sent.max(1)) as f64;
        format!(
            "datagrams_per_s={:.0} sent={} received={} lost={} loss_pct={:.3} late_or_dup={} mismatches={} p50_us={} p99_us={} senders={} size={} window={} duration_s={:.1}",
            self.datagrams_per_s(),
            self.sent,
            self.received,
            self.lost,
            loss_pct,
            self.late_or_dup,
            self.mismatches,
            self.latencies.p50_us().round(),
            self.latencies.p99_us().round(),
            config.senders,
            config.size,
            config.window,
            self.elapsed.as_secs_f64()
        )
    }

    fn merge(&mut self, other: BenchReport) {
        self.sent += other.sent;
        self.received += other.received;
        self.lost += other.lost;
        self.late_or_dup += other.late_or_dup;
        self.mismatches += other.mismatches;
        self.latencies.merge(&other.latencies);
    }
}

/// Checks the configuration's bounds.
pub fn validate(config: &BenchConfig) -> std::result::Result<(), String> {
    if !(1..=MAX_SENDERS).contains(&config.senders) {
        return Err(format!("--senders must be 1 to {MAX_SENDERS}"));
    }
    if !(1..=MAX_WINDOW).contains(&config.window) {
        return Err(format!("--window must be 1 to {MAX_WINDOW}"));
    }
    if config.size < MIN_SIZE || check_payload_len(config.size, &config.addr).is_err() {
        return Err(format!(
            "--size must be {MIN_SIZE} to the family's largest datagram (65507 for IPv4)"
        ));
    }
    if config.duration.is_zero() || config.duration > Duration::from_secs(3600) {
        return Err("--duration-s must be more than 0 and at most 3600".into());
    }
    Ok(())
}

/// Runs the senders and adds up their figures.
pub fn run(config: &BenchConfig) -> Result<BenchReport> {
    validate(config).map_err(|e| UdpError::io("bench", std::io::Error::other(e)))?;
    let start = Instant::now();
    let deadline = start + config.duration;
    let outcomes: Vec<Result<BenchReport>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..config.senders)
            .map(|_| scope.spawn(|| run_sender(config, deadline)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(UdpError::io(
                        "bench",
                        std::io::Error::other("sender thread panicked"),
                    ))
                })
            })
            .collect()
    });
    let mut total = BenchReport {
        elapsed: config.duration,
        ..BenchReport::default()
    };
    for outcome in outcomes {
        total.merge(outcome?);
    }
    Ok(total)
}

/// One sender's state.
struct Sender<'a> {
    config: &'a BenchConfig,
    socket: DatagramSocket,
    in_flight: HashMap<u64, Instant>,
    next_seq: u64,
    report: BenchReport,
}

fn run_sender(config: &BenchConfig, deadline: Instant) -> Result<BenchReport> {
    let any: IpAddr = if config.addr.is_ipv4() {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    let socket = DatagramSocket::bind(SocketAddr::new(any, 0))?;
    socket.connect(config.addr)?;
    let mut sender = Sender {
        config,
        socket,
        in_flight: HashMap::new(),
        next_seq: 0,
        report: BenchReport::default(),
    };
    sender.run(deadline)?;
    Ok(sender.report)
}

impl Sender<'_> {
    fn run(&mut self, deadline: Instant) -> Result<()> {
        let mut buf = vec![0u8; MAX_DATAGRAM_BUFFER];
        let mut payload = vec![0u8; self.config.size];
        let poll = (self.config.loss_timeout / 4).max(Duration::from_millis(1));
        let mut last_sweep = Instant::now();
        self.socket.set_so_timeout(Some(poll))?;
        while Instant::now() < deadline {
            while self.in_flight.len() < self.config.window {
                self.send_next(&mut payload)?;
            }
            self.receive_one(&mut buf)?;
            if last_sweep.elapsed() >= poll {
                self.expire_lost();
                last_sweep = Instant::now();
            }
        }
        self.drain(&mut buf)
    }

    fn send_next(&mut self, payload: &mut [u8]) -> Result<()> {
        let seq = self.next_seq;
        self.next_seq += 1;
        fill(payload, seq);
        match self.socket.send_connected(payload) {
            Ok(_) => {}
            Err(e) if e.is_per_datagram() => tracing::debug!("bench send: {e}"),
            Err(e) => return Err(e),
        }
        self.in_flight.insert(seq, Instant::now());
        self.report.sent += 1;
        Ok(())
    }

    /// Receives one reply (waiting at most the socket's receive timeout) and accounts for it.
    fn receive_one(&mut self, buf: &mut [u8]) -> Result<()> {
        let info = match self.socket.recv_from(buf) {
            Ok(info) => info,
            Err(e) if e.is_per_datagram() => return Ok(()),
            Err(e) => return Err(e),
        };
        let reply = &buf[..info.len];
        let Some(seq) = reply
            .get(..8)
            .map(|b| u64::from_be_bytes(b.try_into().unwrap_or_default()))
        else {
            self.report.mismatches += 1;
            return Ok(());
        };
        match self.in_flight.remove(&seq) {
            Some(sent_at) => self.record(sent_at, reply, seq),
            None => self.report.late_or_dup += 1,
        }
        Ok(())
    }

    fn record(&mut self, sent_at: Instant, reply: &[u8], seq: u64) {
        self.report.received += 1;
        if !matches_pattern(reply, seq, self.config.size) {
            self.report.mismatches += 1;
        }
        self.report.latencies.record(sent_at.elapsed());
    }

    fn expire_lost(&mut self) {
        let timeout = self.config.loss_timeout;
        let before = self.in_flight.len();
        self.in_flight
            .retain(|_, sent_at| sent_at.elapsed() < timeout);
        self.report.lost += (before - self.in_flight.len()) as u64;
    }

    /// After the window: waits up to one loss timeout for the replies still owed. They count as
    /// lost if they do not come, but not as received (throughput) if they do: the window is over.
    fn drain(&mut self, buf: &mut [u8]) -> Result<()> {
        let received_in_window = self.report.received;
        let end = Instant::now() + self.config.loss_timeout;
        while !self.in_flight.is_empty() && Instant::now() < end {
            let left = end.saturating_duration_since(Instant::now());
            self.socket
                .set_so_timeout(Some(left.max(Duration::from_millis(1))))?;
            self.receive_one(buf)?;
        }
        self.report.lost += self.in_flight.len() as u64;
        self.report.received = received_in_window;
        Ok(())
    }
}

/// Sequence number, then bytes `(seq + i) mod 256`.
fn fill(payload: &mut [u8], seq: u64) {
    payload[..8].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in payload.iter_mut().enumerate().skip(8) {
        *b = (seq as usize).wrapping_add(i) as u8;
    }
}

fn matches_pattern(reply: &[u8], seq: u64, size: usize) -> bool {
    reply.len() == size
        && reply
            .iter()
            .enumerate()
            .skip(8)
            .all(|(i, &b)| b == (seq as usize).wrapping_add(i) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_round_trip_and_corruption() {
        let mut p = vec![0u8; 64];
        fill(&mut p, 1234);
        assert!(matches_pattern(&p, 1234, 64));
        p[40] ^= 1;
        assert!(!matches_pattern(&p, 1234, 64));
        assert!(!matches_pattern(&p[..63], 1234, 64));
    }
}
