//! The server's end of UDP: receive, consult the reply cache, run, reply, remember.
//!
//! One receive loop reads datagrams; each call is checked in at the [`ReplyCache`]
//! first. New calls run (answered on the spot if they finish without waiting, spawned
//! otherwise) under a global in-flight bound; a call arriving when the bound is reached
//! is dropped, and the client's retransmission tries again later.
//!
//! What is answered: every datagram whose header is a readable call (kind 1, call id not
//! 0), whatever is wrong with the request after that (unknown program or procedure, bad
//! arguments, too large). What is dropped without a reply: datagrams whose header cannot
//! be read (no trustworthy call id or label to answer to, and answering garbage would let
//! a spoofed sender aim our replies at a third party), replies and errors sent to us (two
//! servers answering each other's errors would loop forever), and call id 0. Where TCP
//! answers on id 0 and closes, UDP has no connection to close, so it drops.
//!
//! System calls: `recvfrom(2)` (with `MSG_TRUNC`, via the `udp` crate, so an oversized
//! datagram is recognised) and `sendto(2)` (`udp(7)`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use udp::AsyncDatagramSocket;

use crate::deadline;
use crate::error::ErrorCode;
use crate::error::Fault;
use crate::handle::ServerHandle;
use crate::message::{Kind, Message};
use crate::registry::{
    MIN_MESSAGE_LIMIT, Registry, ServerStats, Started, poll_once, reply_message,
};
use crate::udp_transport::cache::{
    CallKey, DEFAULT_CACHE_BYTES, DEFAULT_CACHE_CAPACITY, DEFAULT_CACHE_TTL, Lookup, ReplyCache,
};

/// Largest message in one datagram (`--max-frame` on UDP): the IPv4 UDP payload limit.
pub const DEFAULT_MAX_DATAGRAM: usize = 65_507;
/// Default bound on calls running at once on a UDP server (`--max-in-flight`).
pub const DEFAULT_UDP_MAX_IN_FLIGHT: usize = 256;
/// How long running calls get to finish after shutdown begins.
pub const UDP_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The bounds of a UDP RPC server.
#[derive(Debug, Clone, Copy)]
pub struct UdpServerConfig {
    /// Calls running at once.
    pub max_in_flight: usize,
    /// Reply cache entries.
    pub cache_capacity: usize,
    /// Reply cache bytes.
    pub cache_bytes: usize,
    /// Reply cache lifetime; also the longest a call may run.
    pub cache_ttl: Duration,
    /// Largest datagram accepted or sent.
    pub max_datagram: usize,
    /// Grace period on shutdown.
    pub shutdown_grace: Duration,
}

impl Default for UdpServerConfig {
    fn default() -> Self {
        UdpServerConfig {
            max_in_flight: DEFAULT_UDP_MAX_IN_FLIGHT,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            cache_bytes: DEFAULT_CACHE_BYTES,
            cache_ttl: DEFAULT_CACHE_TTL,
            max_datagram: DEFAULT_MAX_DATAGRAM,
            shutdown_grace: UDP_SHUTDOWN_GRACE,
        }
    }
}

/// Binds `addr` and serves `registry` over UDP in a background task.
pub async fn spawn(
    addr: SocketAddr,
    registry: Registry,
    config: UdpServerConfig,
) -> std::io::Result<ServerHandle> {
    let socket = AsyncDatagramSocket::bind(addr)
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let addr = socket
        .local_addr()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(socket, registry, config, shutdown.clone()));
    Ok(ServerHandle::new(addr, shutdown, task))
}

/// What the receive loop shares with running calls.
#[derive(Clone)]
struct Shared {
    socket: Arc<AsyncDatagramSocket>,
    cache: Arc<Mutex<ReplyCache>>,
    registry: Arc<Registry>,
    config: UdpServerConfig,
}

/// Serves `registry` on `socket` until `shutdown` is cancelled.
pub async fn serve(
    socket: AsyncDatagramSocket,
    registry: Registry,
    config: UdpServerConfig,
    shutdown: CancellationToken,
) {
    let config = UdpServerConfig {
        max_datagram: config.max_datagram.max(MIN_MESSAGE_LIMIT),
        ..config
    };
    let shared = Shared {
        socket: Arc::new(socket),
        cache: Arc::new(Mutex::new(ReplyCache::new(
            config.cache_capacity,
            config.cache_bytes,
            config.cache_ttl,
        ))),
        registry: Arc::new(registry),
        config,
    };
    let permits = Arc::new(Semaphore::new(config.max_in_flight.max(1)));
    let mut running = JoinSet::new();
    let mut buf = vec![0u8; udp::MAX_DATAGRAM_BUFFER];
    loop {
        let received = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = shared.socket.recv_from(&mut buf) => r,
        };
        while running.try_join_next().is_some() {}
        let info = match received {
            Ok(info) => info,
            Err(err) if err.is_per_datagram() => {
                tracing::debug!(error = %err, "receive failed");
                continue;
            }
            Err(err) => {
                tracing::error!(error = %err, "socket failed; stopping");
                break;
            }
        };
        let arrived = Instant::now();
        let call = match Message::decode_request(Bytes::copy_from_slice(&buf[..info.len])) {
            Ok(call) => call,
            Err(err) => {
                tracing::debug!(peer = %info.peer, error = %err, "unreadable request; dropped");
                ServerStats::bump(&shared.registry.stats().rejected);
                continue;
            }
        };
        if call.header.kind != Kind::Call {
            tracing::debug!(peer = %info.peer, "not a call; dropped");
            continue;
        }
        if info.is_truncated() || info.datagram_len > config.max_datagram {
            shared
                .refuse_too_large(&call, info.peer, info.datagram_len)
                .await;
            continue;
        }
        shared
            .receive(call, info.peer, arrived, &permits, &mut running)
            .await;
    }
    drain(running, config.shutdown_grace).await;
}

impl Shared {
    /// A well-formed call: replay, ignore, or run it.
    async fn receive(
        &self,
        call: Message,
        peer: SocketAddr,
        arrived: Instant,
        permits: &Arc<Semaphore>,
        running: &mut JoinSet<()>,
    ) {
        let key = (peer, call.header.call_id);
        let stats = self.registry.stats();
        let lookup = self.cache().check_in(key, arrived);
        match lookup {
            Lookup::New => {}
            Lookup::Running => return ServerStats::bump(&stats.duplicates_running),
            Lookup::Answered(reply) => {
                ServerStats::bump(&stats.cache_hits);
                if let Some(reply) = reply {
                    self.send(&reply, peer).await;
                }
                return;
            }
        }
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            ServerStats::bump(&stats.busy_dropped);
            self.cache().forget(key); // never ran: a resend is treated as new
            return;
        };
        self.start(call, key, arrived, permit, running).await;
    }

    /// Runs a new call under its deadline (capped at the cache TTL).
    async fn start(
        &self,
        call: Message,
        key: CallKey,
        arrived: Instant,
        permit: OwnedSemaphorePermit,
        running: &mut JoinSet<()>,
    ) {
        let header = call.header;
        let cap = arrived + self.config.cache_ttl;
        let until = deadline::from_wire(header.deadline_ms, arrived).map_or(cap, |d| d.min(cap));
        if deadline::expired(Some(until)) {
            ServerStats::bump(&self.registry.stats().expired);
            return self.cache().answer(key, None);
        }
        let started = match self.registry.start(call) {
            Started::Now(outcome) => Ok(outcome),
            Started::Running(fut) => poll_once(fut),
        };
        let fut = match started {
            Ok(outcome) => {
                return self
                    .finish(
                        key,
                        reply_message(&header, outcome, self.config.max_datagram),
                    )
                    .await;
            }
            Err(fut) => fut,
        };
        let this = self.clone();
        running.spawn(async move {
            match tokio::time::timeout_at(until.into(), fut).await {
                Ok(outcome) => {
                    let reply = reply_message(&header, outcome, this.config.max_datagram);
                    this.finish(key, reply).await;
                }
                Err(_) => {
                    ServerStats::bump(&this.registry.stats().expired);
                    this.cache().answer(key, None);
                }
            }
            drop(permit);
        });
    }

    /// Remembers the reply, then sends it.
    async fn finish(&self, key: CallKey, reply: Message) {
        let bytes = reply.to_bytes();
        self.cache().answer(key, Some(bytes.clone()));
        self.send(&bytes, key.0).await;
    }

    /// Tells the caller its datagram was too large (not cached: it never ran).
    async fn refuse_too_large(&self, call: &Message, peer: SocketAddr, len: usize) {
        ServerStats::bump(&self.registry.stats().rejected);
        let max = self.config.max_datagram;
        let fault = Fault::new(
            ErrorCode::TooLarge,
            format!("datagram of {len} bytes, limit {max}"),
        );
        let reply = reply_message(&call.header, Err(fault), max);
        self.send(&reply.to_bytes(), peer).await;
    }

    async fn send(&self, bytes: &[u8], peer: SocketAddr) {
        if let Err(err) = self.socket.send_to(bytes, peer).await {
            tracing::debug!(%peer, error = %err, "reply not sent");
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, ReplyCache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Waits up to `grace` for running calls, then abandons them.
async fn drain(mut running: JoinSet<()>, grace: Duration) {
    let all = async { while running.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, all).await.is_err() {
        tracing::warn!("grace period over; abandoning running calls");
    }
}
