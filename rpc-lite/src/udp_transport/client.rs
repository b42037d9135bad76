//! [`UdpChannel`]: calls over UDP, resent with exponential backoff and jitter until
//! answered or out of time.
//!
//! The socket is `connect(2)`ed to the server, so the kernel drops datagrams from anyone
//! else, and an ICMP "port unreachable" for one of our datagrams comes back as
//! `ECONNREFUSED` on the socket's next `recv(2)` or `send(2)` (`udp(7)`): a call to a
//! port where nothing listens fails at once with [`RpcError::Refused`] instead of
//! waiting out its deadline. (An unconnected socket never hears of the ICMP error.)
//!
//! A reader task matches replies to waiting calls by call id, exactly as on TCP;
//! duplicates (the network's, or replies to our own retransmissions) find no waiter and
//! are dropped. Every resend carries the same call id, which is what lets the server's
//! reply cache recognise it, and the remaining time, so the server's deadline shrinks
//! with the caller's. A BUSY answer (the server did not run the call) is not the reply:
//! the call waits at least as long as the server asked, then resends.
//!
//! The retransmission schedule is the `udp` crate's [`RetryPolicy`] (exponential
//! backoff with jitter, so clients that lost the same datagram do not resend in
//! lock-step); its `retries` count caps the resends, and the call's deadline ends them
//! in any case.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::net::lookup_host;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use udp::AsyncDatagramSocket;
pub use udp::client::RetryPolicy;
use udp::rng::SplitMix64;

use crate::deadline;
use crate::error::{ErrorCode, Fault, RpcError};
use crate::message::{Header, Kind, Message};
use crate::pending::{Pending, Registration, next_call_id};
use crate::udp_transport::server::DEFAULT_MAX_DATAGRAM;

/// This client's schedule: 20 ms, doubling up to 1 s, each wait spread by +-20 %,
/// resending until the deadline. Quick on loopback and LANs, gentle on a congested path.
pub fn default_policy() -> RetryPolicy {
    RetryPolicy {
        timeout: Duration::from_millis(20),
        retries: u32::MAX,
        max_timeout: Duration::from_secs(1),
        jitter: 0.2,
        seed: 0,
    }
}

/// A UDP socket talking to one RPC server. Clone it freely: clones share the socket.
#[derive(Clone, Debug)]
pub struct UdpChannel {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    socket: Arc<AsyncDatagramSocket>,
    pending: Arc<Pending>,
    next_id: AtomicU64,
    retransmissions: AtomicU64,
    policy: RetryPolicy,
    peer: SocketAddr,
    stop: CancellationToken,
    /// Bumped by the reader each time the kernel reports ECONNREFUSED.
    refusals: Arc<AtomicU64>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl UdpChannel {
    /// Binds an ephemeral port of the server's address family and connects it to `addr`.
    pub async fn connect(addr: &str) -> Result<UdpChannel, RpcError> {
        UdpChannel::connect_with(addr, default_policy()).await
    }

    /// [`UdpChannel::connect`] with a retransmission policy.
    pub async fn connect_with(addr: &str, policy: RetryPolicy) -> Result<UdpChannel, RpcError> {
        let io = |context: String| move |source| RpcError::Io { context, source };
        let peer = lookup_host(addr)
            .await
            .map_err(io(format!("resolve {addr}")))?
            .next()
            .ok_or_else(|| RpcError::Protocol(format!("{addr} resolves to no address")))?;
        let local: SocketAddr = match peer {
            SocketAddr::V4(_) => "0.0.0.0:0".parse().expect("valid"),
            SocketAddr::V6(_) => "[::]:0".parse().expect("valid"),
        };
        let udp_err = |e: udp::UdpError| RpcError::Io {
            context: format!("udp socket for {peer}"),
            source: std::io::Error::other(e.to_string()),
        };
        let socket = AsyncDatagramSocket::bind(local).await.map_err(udp_err)?;
        socket.connect(peer).await.map_err(udp_err)?;
        let socket = Arc::new(socket);
        let pending = Arc::new(Pending::default());
        let stop = CancellationToken::new();
        let refusals = Arc::new(AtomicU64::new(0));
        tokio::spawn(read_replies(
            socket.clone(),
            pending.clone(),
            stop.clone(),
            refusals.clone(),
        ));
        let inner = Inner {
            socket,
            pending,
            next_id: AtomicU64::new(first_call_id()),
            retransmissions: AtomicU64::new(0),
            policy,
            peer,
            stop,
            refusals,
        };
        Ok(UdpChannel {
            inner: Arc::new(inner),
        })
    }

    /// The server's address.
    pub fn peer(&self) -> SocketAddr {
        self.inner.peer
    }

    /// Calls resent so far (all calls of this channel).
    pub fn retransmissions(&self) -> u64 {
        self.inner.retransmissions.load(Ordering::Relaxed)
    }

    /// Sends one call, resending it with backoff until its reply arrives or `timeout`
    /// passes.
    pub async fn call(
        &self,
        mut header: Header,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Message, RpcError> {
        let inner = &self.inner;
        let until = Instant::now() + timeout;
        header.call_id = next_call_id(&inner.next_id);
        let len = crate::message::HEADER_LEN + body.len();
        RpcError::refuse_oversized(len, DEFAULT_MAX_DATAGRAM, "a datagram")?;
        let mut rng = SplitMix64::new(inner.policy.seed ^ header.call_id);
        let mut busy = None;
        for attempt in 0u32..=inner.policy.retries {
            let now = Instant::now();
            if now >= until {
                break;
            }
            header.deadline_ms = deadline::to_wire(until - now);
            if attempt > 0 {
                inner.retransmissions.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(call_id = header.call_id, attempt, "no reply yet; resending");
            }
            let wait = jittered(inner.policy.backoff(attempt), inner.policy.jitter, &mut rng);
            match self.try_once(header, &body, wait, until).await? {
                Attempt::Answered(reply) => return Ok(reply),
                Attempt::Busy(retry_after) => {
                    busy = Some(retry_after);
                    let pause = jittered(retry_after.max(wait), inner.policy.jitter, &mut rng);
                    tokio::time::sleep_until(until.min(Instant::now() + pause)).await;
                }
                Attempt::NoAnswer => {}
            }
        }
        Err(match busy {
            Some(retry_after) => RpcError::Busy { retry_after },
            None => RpcError::Timeout(timeout),
        })
    }

    /// Sends the call once and waits up to `wait` (not past `until`) for an answer.
    async fn try_once(
        &self,
        header: Header,
        body: &Bytes,
        wait: Duration,
        until: Instant,
    ) -> Result<Attempt, RpcError> {
        let inner = &self.inner;
        let refusals = inner.refusals.load(Ordering::Acquire);
        let reply = inner.pending.register(header.call_id)?;
        let mut registration = Registration::new(&inner.pending, header.call_id);
        let datagram = Message::new(header, body.clone()).to_bytes();
        if let Err(err) = inner.socket.send(&datagram).await {
            if err.io_kind() == Some(std::io::ErrorKind::ConnectionRefused) {
                return Err(self.refused());
            }
            // ENOBUFS and the like: keep trying until the deadline, as the datagram
            // could equally have been lost.
            tracing::debug!(error = %err, "send failed");
        }
        let slice = until.min(Instant::now() + wait);
        let Ok(result) = tokio::time::timeout_at(slice, reply).await else {
            return Ok(Attempt::NoAnswer);
        };
        registration.disarm();
        let Ok(reply) = result else {
            // The reader dropped our waiter: a refusal, or the socket failed.
            return Err(if inner.refusals.load(Ordering::Acquire) != refusals {
                self.refused()
            } else {
                RpcError::ConnectionLost
            });
        };
        Ok(match busy_wait(&reply) {
            Some(retry_after) => Attempt::Busy(retry_after),
            None => Attempt::Answered(reply),
        })
    }

    fn refused(&self) -> RpcError {
        RpcError::Refused {
            peer: self.inner.peer,
        }
    }
}

/// What one send of a call brought back.
enum Attempt {
    /// The reply (or an error other than BUSY).
    Answered(Message),
    /// BUSY: the call did not run; wait this long before resending.
    Busy(Duration),
    /// Nothing within the wait.
    NoAnswer,
}

/// The wait a BUSY answer asks for, if `reply` is one.
fn busy_wait(reply: &Message) -> Option<Duration> {
    if reply.header.kind != Kind::Error {
        return None;
    }
    let p = reply.header.profile;
    let fault = Fault::decode(reply.body.clone(), p).ok()?;
    if fault.code != ErrorCode::Busy as u32 {
        return None;
    }
    let ms: u32 = framing::from_bytes(fault.detail, p).unwrap_or(0);
    Some(Duration::from_millis(u64::from(ms)))
}

/// `wait` times a random factor in `[1 - jitter, 1 + jitter]`.
fn jittered(wait: Duration, jitter: f64, rng: &mut SplitMix64) -> Duration {
    let jitter = jitter.clamp(0.0, 0.99);
    wait.mul_f64(1.0 + jitter * (2.0 * rng.next_f64() - 1.0))
}

/// The first call id: from the clock, so a restarted client that gets the same port
/// back does not reuse ids the server's reply cache still remembers.
fn first_call_id() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    nanos.max(1)
}

/// The reader task: hands each reply to its waiting call; ends when the channel is dropped.
async fn read_replies(
    socket: Arc<AsyncDatagramSocket>,
    pending: Arc<Pending>,
    stop: CancellationToken,
    refusals: Arc<AtomicU64>,
) {
    let mut buf = vec![0u8; udp::MAX_DATAGRAM_BUFFER];
    loop {
        let received = tokio::select! {
            _ = stop.cancelled() => break,
            r = socket.recv_from(&mut buf) => r,
        };
        let info = match received {
            Ok(info) => info,
            // An ICMP "port unreachable" for a call we sent: nothing listens there.
            // Every waiting call fails now rather than at its deadline.
            Err(err) if err.io_kind() == Some(std::io::ErrorKind::ConnectionRefused) => {
                refusals.fetch_add(1, Ordering::AcqRel);
                pending.fail_waiting();
                continue;
            }
            // Other per-datagram errors (an ICMP "port unreachable" surfacing as
            // ECONNREFUSED) say nothing about later datagrams: keep listening.
            Err(err) if err.is_per_datagram() => {
                tracing::debug!(error = %err, "receive failed");
                continue;
            }
            Err(err) => {
                tracing::warn!(error = %err, "socket failed; failing pending calls");
                break;
            }
        };
        match Message::decode(Bytes::copy_from_slice(&buf[..info.len])) {
            Ok(reply) => {
                pending.complete(reply);
            }
            Err(err) => tracing::debug!(error = %err, "undecodable datagram ignored"),
        }
    }
    pending.close();
}
