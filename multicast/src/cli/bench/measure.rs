//! `multicast bench`: one sender, N listeners on one host, how many datagrams reach each.
//!
//! Multicast makes one `sendto(2)` reach every member: the kernel copies the datagram into each
//! listening socket's receive buffer. When a listener reads more slowly than the sender writes,
//! its buffer (`SO_RCVBUF`) fills and the kernel drops datagrams for THAT listener only; nobody
//! tells the sender. The bench measures exactly this: datagrams delivered per second to each
//! listener, and the share lost.
//!
//! Each datagram carries a run id and a sequence number, big-endian:
//!
//! ```text
//!  0               8              16                      size
//! +---------------+---------------+-----------------------+
//! |    run id     |   sequence    |  padding (zero bytes) |
//! +---------------+---------------+-----------------------+
//! ```
//! so a listener ignores strangers' datagrams and counts duplicates and reordering.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use multicast::chat::new_instance_id;
use multicast::error::{MulticastError, Result};
use multicast::interface::NetworkInterface;
use multicast::socket::MulticastSocket;

/// Most listeners one bench may start (each is a thread and a socket).
pub const MAX_LISTENERS: usize = 64;
/// Longest run, in seconds.
pub const MAX_DURATION_S: f64 = 60.0;
/// Smallest datagram: room for the run id and the sequence number.
pub const MIN_SIZE: usize = 16;
/// Largest datagram the bench sends (one unfragmented Ethernet-sized packet).
pub const MAX_SIZE: usize = 1472;
/// How long listeners keep reading after the sender stops, for datagrams still queued.
pub const DRAIN: Duration = Duration::from_millis(300);
/// How often a blocked listener wakes up to check whether the run is over.
const POLL: Duration = Duration::from_millis(50);

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Group and port; port 0 picks a free one.
    pub group: SocketAddr,
    /// Interface for the listeners and the sender.
    pub interface: NetworkInterface,
    /// How many listeners, 1..=[`MAX_LISTENERS`].
    pub listeners: usize,
    /// How long the sender sends, up to [`MAX_DURATION_S`].
    pub duration: Duration,
    /// Datagram size in bytes, [`MIN_SIZE`]..=[`MAX_SIZE`].
    pub size: usize,
    /// Datagrams per second to aim at; `None` sends as fast as the socket accepts.
    pub rate: Option<u64>,
    /// `SO_RCVBUF` for each listener; `None` keeps the system default.
    pub recv_buffer: Option<usize>,
}

/// What one listener saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenerStats {
    /// Distinct datagrams of this run received.
    pub received: u64,
    /// Datagrams whose sequence number had been seen already.
    pub duplicates: u64,
    /// Datagrams that arrived after one with a higher sequence number.
    pub reordered: u64,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// The group and the port actually used.
    pub group: SocketAddr,
    /// Datagrams sent.
    pub sent: u64,
    /// How long the sender sent.
    pub elapsed: Duration,
    /// One entry per listener.
    pub listeners: Vec<ListenerStats>,
}

impl BenchReport {
    /// Datagrams per second delivered to listener `i`.
    pub fn delivered_per_s(&self, i: usize) -> f64 {
        self.listeners[i].received as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Share of the sent datagrams listener `i` never received, in percent.
    pub fn loss_pct(&self, i: usize) -> f64 {
        if self.sent == 0 {
            return 0.0;
        }
        let lost = self.sent.saturating_sub(self.listeners[i].received);
        100.0 * lost as f64 / self.sent as f64
    }

    /// The closing `key=value` line.
    pub fn summary_line(&self) -> String {
        let n = self.listeners.len();
        let mut rates: Vec<f64> = (0..n).map(|i| self.delivered_per_s(i)).collect();
        rates.sort_by(f64::total_cmp);
        let losses: Vec<f64> = (0..n).map(|i| self.loss_pct(i)).collect();
        let sum = |f: fn(&ListenerStats) -> u64| self.listeners.iter().map(f).sum::<u64>();
        format!(
            "listeners={n} sent={} send_per_s={:.0} delivered_per_s_per_listener_median={:.0} \
             delivered_per_s_per_listener_min={:.0} delivered_per_s_total={:.0} loss_pct_mean={:.2} \
             loss_pct_max={:.2} duplicates={} reordered={}",
            self.sent,
            self.sent as f64 / self.elapsed.as_secs_f64().max(1e-9),
            rates[n / 2],
            rates[0],
            rates.iter().sum::<f64>(),
            losses.iter().sum::<f64>() / n as f64,
            losses.iter().copied().fold(0.0, f64::max),
            sum(|s| s.duplicates),
            sum(|s| s.reordered),
        )
    }
}

/// Runs the bench: start the listeners, send for `duration`, drain, count.
///
/// # Errors
/// A setting out of bounds (reported as an `Io` error with `InvalidInput`), or a socket error.
pub fn run(config: &BenchConfig) -> Result<BenchReport> {
    check_bounds(config)?;
    let (sockets, group) = open_listeners(config)?;
    let run_id = new_instance_id();
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = sockets
        .into_iter()
        .map(|socket| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || listen(&socket, run_id, &stop))
        })
        .collect();
    let sent = send(config, group, run_id);
    thread::sleep(DRAIN);
    stop.store(true, Ordering::Relaxed);
    let (sent, elapsed) = sent?;
    let mut listeners = Vec::new();
    for handle in handles {
        listeners.push(
            handle
                .join()
                .map_err(|_| bound_error("a listener thread panicked"))??,
        );
    }
    Ok(BenchReport {
        group,
        sent,
        elapsed,
        listeners,
    })
}

fn check_bounds(config: &BenchConfig) -> Result<()> {
    if config.listeners == 0 || config.listeners > MAX_LISTENERS {
        return Err(bound_error(&format!(
            "--listeners must be 1..={MAX_LISTENERS}"
        )));
    }
    if config.duration.is_zero() || config.duration.as_secs_f64() > MAX_DURATION_S {
        return Err(bound_error(&format!(
            "--duration-s must be above 0 and at most {MAX_DURATION_S}"
        )));
    }
    if !(MIN_SIZE..=MAX_SIZE).contains(&config.size) {
        return Err(bound_error(&format!(
            "--size must be {MIN_SIZE}..={MAX_SIZE}"
        )));
    }
    Ok(())
}

fn bound_error(what: &str) -> MulticastError {
    MulticastError::Io {
        op: "bench".into(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, what),
    }
}

/// Opens the listeners on one port (the first one picks it when the port is 0).
fn open_listeners(config: &BenchConfig) -> Result<(Vec<MulticastSocket>, SocketAddr)> {
    let mut group = config.group;
    let mut sockets = Vec::with_capacity(config.listeners);
    for _ in 0..config.listeners {
        let socket = MulticastSocket::listener(group, &config.interface)?;
        if let Some(bytes) = config.recv_buffer {
            socket.as_datagram_socket().set_receive_buffer_size(bytes)?;
        }
        socket.set_so_timeout(Some(POLL))?;
        group.set_port(socket.local_addr()?.port());
        sockets.push(socket);
    }
    Ok((sockets, group))
}

/// Sends numbered datagrams for the configured time; returns how many and for how long.
fn send(config: &BenchConfig, group: SocketAddr, run_id: u64) -> Result<(u64, Duration)> {
    let sender = MulticastSocket::sender(&config.interface, group.is_ipv6())?;
    let mut datagram = vec![0u8; config.size];
    datagram[..8].copy_from_slice(&run_id.to_be_bytes());
    let start = Instant::now();
    let mut seq: u64 = 0;
    while start.elapsed() < config.duration {
        datagram[8..16].copy_from_slice(&seq.to_be_bytes());
        match sender.send_to(&datagram, group) {
            Ok(_) => seq += 1,
            // A full send buffer (ENOBUFS) is a dropped datagram, not the end of the run.
            Err(MulticastError::Udp(e)) if e.is_per_datagram() => {}
            Err(e) => return Err(e),
        }
        if let Some(rate) = config.rate {
            pace(start, seq, rate);
        }
    }
    Ok((seq, start.elapsed()))
}

/// Sleeps until datagram `seq` is due at `rate` per second.
fn pace(start: Instant, seq: u64, rate: u64) {
    let due = Duration::from_secs_f64(seq as f64 / rate.max(1) as f64);
    if let Some(wait) = due.checked_sub(start.elapsed()) {
        thread::sleep(wait);
    }
}

/// One listener's loop: count this run's datagrams until told to stop.
fn listen(socket: &MulticastSocket, run_id: u64, stop: &AtomicBool) -> Result<ListenerStats> {
    let mut stats = ListenerStats::default();
    let mut seen = SeenSet::default();
    let mut highest: Option<u64> = None;
    let mut buf = [0u8; MAX_SIZE + 1];
    while !stop.load(Ordering::Relaxed) {
        let info = match socket.recv_from(&mut buf) {
            Ok(info) => info,
            Err(e) if e.is_transient() => continue,
            Err(e) => return Err(e),
        };
        let Some(seq) = parse(&buf[..info.len], run_id) else {
            continue;
        };
        if !seen.insert(seq) {
            stats.duplicates += 1;
            continue;
        }
        stats.received += 1;
        if highest.is_some_and(|h| seq < h) {
            stats.reordered += 1;
        }
        highest = highest.max(Some(seq));
    }
    Ok(stats)
}

/// The sequence number of a datagram of this run, or `None` for anything else.
fn parse(datagram: &[u8], run_id: u64) -> Option<u64> {
    let id = u64::from_be_bytes(datagram.get(..8)?.try_into().ok()?);
    let seq = u64::from_be_bytes(datagram.get(8..16)?.try_into().ok()?);
    (id == run_id).then_some(seq)
}

/// A growable bit set of sequence numbers. Its size is bounded by what one sender can send in
/// [`MAX_DURATION_S`] (a few million bits); a forged huge number is refused, not allocated.
#[derive(Default)]
struct SeenSet {
    words: Vec<u64>,
}

impl SeenSet {
    /// No run sends more than this many datagrams (about 16 million per second for 60 s).
    const MAX_SEQ: u64 = 1 << 30;

    /// Records `seq`; false if it was there already (or is beyond any real run).
    fn insert(&mut self, seq: u64) -> bool {
        if seq >= Self::MAX_SEQ {
            return false;
        }
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let fresh = self.words[word] & (1 << bit) == 0;
        self.words[word] |= 1 << bit;
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_and_short_datagrams_are_ignored() {
        let mut d = [0u8; 16];
        d[..8].copy_from_slice(&7u64.to_be_bytes());
        d[8..].copy_from_slice(&42u64.to_be_bytes());
        assert_eq!(parse(&d, 7), Some(42));
        assert_eq!(parse(&d, 8), None);
        assert_eq!(parse(&d[..15], 7), None);
    }

    #[test]
    fn the_seen_set_finds_duplicates_and_refuses_absurd_numbers() {
        let mut seen = SeenSet::default();
        assert!(seen.insert(0));
        assert!(seen.insert(1000));
        assert!(!seen.insert(1000));
        assert!(!seen.insert(u64::MAX));
        assert!(seen.words.len() < 20);
    }

    #[test]
    fn a_short_run_on_loopback_delivers_to_every_listener() {
        let config = BenchConfig {
            group: "239.255.42.97:0".parse().unwrap(),
            interface: NetworkInterface::loopback().unwrap(),
            listeners: 3,
            duration: Duration::from_millis(200),
            size: 64,
            // 200 datagrams in all: fewer than a default receive buffer holds, so even a
            // listener thread starved for the whole run by a busy machine loses none.
            rate: Some(1000),
            recv_buffer: None,
        };
        let report = run(&config).unwrap();
        assert!(report.sent > 100, "{report:?}");
        for (i, stats) in report.listeners.iter().enumerate() {
            // A paced, tiny run fits in every receive buffer: nothing may be lost.
            assert_eq!(stats.received, report.sent, "listener {i}: {report:?}");
            assert_eq!(stats.duplicates, 0);
        }
        assert!(report.summary_line().starts_with("listeners=3 sent="));
    }

    #[test]
    fn bounds_are_enforced() {
        let mut config = BenchConfig {
            group: "239.255.42.97:0".parse().unwrap(),
            interface: NetworkInterface::loopback().unwrap(),
            listeners: MAX_LISTENERS + 1,
            duration: Duration::from_millis(10),
            size: 64,
            rate: None,
            recv_buffer: None,
        };
        assert!(
            run(&config)
                .unwrap_err()
                .to_string()
                .contains("--listeners must be")
        );
        config.listeners = 1;
        config.size = MAX_SIZE + 1;
        assert!(
            run(&config)
                .unwrap_err()
                .to_string()
                .contains("--size must be")
        );
        config.size = 64;
        config.duration = Duration::from_secs(61);
        assert!(
            run(&config)
                .unwrap_err()
                .to_string()
                .contains("--duration-s must be")
        );
    }
}
