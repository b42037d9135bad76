//! [`UdpChannel`]: calls over UDP, resent with exponential backoff until answered or
//! out of time.
//!
//! The socket is `connect(2)`ed to the server, so the kernel drops datagrams from anyone
//! else. A reader task matches replies to waiting calls by call id, exactly as on TCP;
//! duplicates (the network's, or replies to our own retransmissions) find no waiter and
//! are dropped. Every resend carries the same call id, which is what lets the server's
//! reply cache recognise it, and the remaining time, so the server's deadline shrinks
//! with the caller's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::net::lookup_host;
use tokio_util::sync::CancellationToken;
use udp::AsyncDatagramSocket;

use crate::deadline;
use crate::error::RpcError;
use crate::message::{Header, Message};
use crate::pending::{Pending, Registration, next_call_id};
use crate::udp_transport::server::DEFAULT_MAX_DATAGRAM;

/// When to resend a call that got no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait this long after the first send.
    pub initial: Duration,
    /// Double the wait after each resend, up to this.
    pub max: Duration,
}

impl Default for RetryPolicy {
    /// 20 ms, doubling up to 1 s: quick on loopback and LANs, gentle on a congested path.
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_millis(20),
            max: Duration::from_secs(1),
        }
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
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl UdpChannel {
    /// Binds an ephemeral port of the server's address family and connects it to `addr`.
    pub async fn connect(addr: &str) -> Result<UdpChannel, RpcError> {
        UdpChannel::connect_with(addr, RetryPolicy::default()).await
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
        tokio::spawn(read_replies(socket.clone(), pending.clone(), stop.clone()));
        let inner = Inner {
            socket,
            pending,
            next_id: AtomicU64::new(first_call_id()),
            retransmissions: AtomicU64::new(0),
            policy,
            peer,
            stop,
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
        if len > DEFAULT_MAX_DATAGRAM {
            return Err(RpcError::TooLarge(format!(
                "call of {len} bytes, a datagram carries at most {DEFAULT_MAX_DATAGRAM}"
            )));
        }
        let mut reply = inner.pending.register(header.call_id)?;
        let mut registration = Registration::new(&inner.pending, header.call_id);
        let mut wait = inner.policy.initial;
        for attempt in 0u32.. {
            let now = Instant::now();
            if now >= until {
                break;
            }
            header.deadline_ms = deadline::to_wire(until - now);
            let datagram = Message::new(header, body.clone()).to_bytes();
            if attempt > 0 {
                inner.retransmissions.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(call_id = header.call_id, attempt, "no reply yet; resending");
            }
            if let Err(err) = inner.socket.send(&datagram).await {
                // ECONNREFUSED from an earlier ICMP error, ENOBUFS...: keep trying until
                // the deadline, as the datagram could equally have been lost.
                tracing::debug!(error = %err, "send failed");
            }
            let slice = wait.min(until.saturating_duration_since(Instant::now()));
            if let Ok(result) = tokio::time::timeout(slice, &mut reply).await {
                registration.disarm();
                return result.map_err(|_| RpcError::ConnectionLost);
            }
            wait = (wait * 2).min(inner.policy.max);
        }
        Err(RpcError::Timeout(timeout))
    }
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
) {
    let mut buf = vec![0u8; udp::MAX_DATAGRAM_BUFFER];
    loop {
        let received = tokio::select! {
            _ = stop.cancelled() => break,
            r = socket.recv_from(&mut buf) => r,
        };
        let info = match received {
            Ok(info) => info,
            // Per-datagram errors (an ICMP "port unreachable" surfacing as
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
