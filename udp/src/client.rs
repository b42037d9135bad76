//! [`RetryClient`]: request/response over UDP when datagrams get lost.
//!
//! UDP promises nothing: a request or its reply may vanish, arrive twice, or arrive late. The
//! client's answer, as in DNS or NTP clients: wait a bounded time (`SO_RCVTIMEO`, Java's
//! `setSoTimeout`), send again, and wait longer each time (exponential backoff) with a random
//! spread (jitter) so that many clients that lost the same packet do not retry in lock-step.
//! Replies that do not match the request (a late answer to an earlier attempt, a duplicate) are
//! skipped and counted, never mistaken for the answer.
//!
//! The socket is `connect(2)`ed to the server: the kernel drops datagrams from anyone else, and an
//! ICMP "port unreachable" shows up as `ECONNREFUSED` on the next receive.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::error::{Result, UdpError};
use crate::rng::SplitMix64;
use crate::socket::{DatagramSocket, MAX_DATAGRAM_BUFFER};

/// How long to wait and how often to try.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Wait for the first attempt.
    pub timeout: Duration,
    /// Extra attempts after the first one.
    pub retries: u32,
    /// Upper bound of one attempt's wait, however many retries came before.
    pub max_timeout: Duration,
    /// Spread of each wait: a fraction in `[0, 1)`; the wait is multiplied by a random factor in
    /// `[1 - jitter, 1 + jitter]`.
    pub jitter: f64,
    /// Seed of the jitter, so a run can be repeated exactly.
    pub seed: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(200),
            retries: 4,
            max_timeout: Duration::from_secs(2),
            jitter: 0.2,
            seed: 0,
        }
    }
}

impl RetryPolicy {
    /// The wait of attempt `n` (0 = first) before jitter: `timeout * 2^n`, capped at
    /// `max_timeout` (but never below `timeout`).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX);
        let cap = self.max_timeout.max(self.timeout);
        self.timeout.saturating_mul(factor).min(cap)
    }
}

/// What the client did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Requests started.
    pub requests: u64,
    /// Datagrams sent (first attempts and retries).
    pub sent: u64,
    /// Datagrams that were retries.
    pub retried: u64,
    /// Requests that got their reply.
    pub answered: u64,
    /// Requests that got no reply after every attempt.
    pub lost: u64,
    /// Datagrams received that were not the awaited reply (late or duplicated answers).
    pub stale: u64,
}

/// A request/response client with timeouts, retries, backoff with jitter, and statistics.
#[derive(Debug)]
pub struct RetryClient {
    socket: DatagramSocket,
    policy: RetryPolicy,
    rng: SplitMix64,
    stats: ClientStats,
    buf: Vec<u8>,
}

impl RetryClient {
    /// Binds an ephemeral port of `server`'s family and connects it to `server`.
    pub fn connect(server: SocketAddr, policy: RetryPolicy) -> Result<Self> {
        let any: IpAddr = match server {
            SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        };
        let socket = DatagramSocket::bind(SocketAddr::new(any, 0))?;
        socket.connect(server)?;
        Ok(Self::with_socket(socket, policy))
    }

    /// Uses an already connected socket.
    pub fn with_socket(socket: DatagramSocket, policy: RetryPolicy) -> Self {
        let rng = SplitMix64::new(policy.seed);
        Self {
            socket,
            policy,
            rng,
            stats: ClientStats::default(),
            buf: vec![0; MAX_DATAGRAM_BUFFER],
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> ClientStats {
        self.stats
    }

    /// The local socket (to read its address, say).
    pub fn socket(&self) -> &DatagramSocket {
        &self.socket
    }

    /// Sends `payload` and waits for a datagram for which `is_reply` is true, retrying with
    /// backoff. Returns the reply, or [`UdpError::NoReply`] after the last attempt.
    pub fn request(&mut self, payload: &[u8], is_reply: impl Fn(&[u8]) -> bool) -> Result<Vec<u8>> {
        self.stats.requests += 1;
        let attempts = self.policy.retries.saturating_add(1);
        for attempt in 0..attempts {
            self.send_attempt(payload, attempt)?;
            let wait = self.jittered(self.policy.backoff(attempt));
            if let Some(reply) = self.await_reply(deadline_after(wait), &is_reply)? {
                self.stats.answered += 1;
                return Ok(reply);
            }
            tracing::debug!(attempt, ?wait, "no reply in time");
        }
        self.stats.lost += 1;
        Err(UdpError::NoReply { attempts })
    }

    fn send_attempt(&mut self, payload: &[u8], attempt: u32) -> Result<()> {
        self.stats.sent += 1;
        if attempt > 0 {
            self.stats.retried += 1;
        }
        match self.socket.send_connected(payload) {
            Err(e) if e.is_per_datagram() && !matches!(e, UdpError::TooLarge { .. }) => {
                tracing::debug!("send failed, will retry: {e}");
                Ok(())
            }
            other => other.map(drop),
        }
    }

    /// Receives until a matching reply arrives or `deadline` passes (`Ok(None)`).
    fn await_reply(
        &mut self,
        deadline: Instant,
        is_reply: &impl Fn(&[u8]) -> bool,
    ) -> Result<Option<Vec<u8>>> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.socket.set_so_timeout(Some(left))?;
            match self.socket.recv_from(&mut self.buf) {
                Ok(info) if is_reply(&self.buf[..info.len]) => {
                    return Ok(Some(self.buf[..info.len].to_vec()));
                }
                Ok(_) => self.stats.stale += 1,
                Err(UdpError::Timeout) => return Ok(None),
                Err(e) if e.is_per_datagram() => {
                    // e.g. ECONNREFUSED: nobody listens (yet). Wait out this attempt, then retry.
                    tracing::debug!("receive: {e}");
                    std::thread::sleep(left);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `wait` times a random factor in `[1 - jitter, 1 + jitter]`.
    fn jittered(&mut self, wait: Duration) -> Duration {
        let jitter = self.policy.jitter.clamp(0.0, 0.99);
        let factor = 1.0 + jitter * (2.0 * self.rng.next_f64() - 1.0);
        wait.mul_f64(factor)
    }
}

/// Now plus `wait`, or a day from now if `wait` is too large to add.
fn deadline_after(wait: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(wait)
        .or_else(|| now.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(now)
}
