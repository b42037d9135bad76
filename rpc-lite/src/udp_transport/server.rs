//! The server's end of UDP: receive, consult the reply cache, run, reply, remember.
//!
//! One receive loop reads datagrams; each call is checked in at the [`ReplyCache`]
//! first, then takes an in-flight slot ([`InFlight`]: a bound for the server and a
//! smaller one per source). New calls run (answered on the spot if they finish without
//! waiting, spawned otherwise). A new call that finds no room, in the cache or among the
//! slots, is not run and gets BUSY (`PROTOCOL.md` section 8), asking the caller to resend
//! after [`BUSY_RETRY_AFTER`]; it leaves no entry behind.
//!
//! What is answered: every datagram whose header is a readable call (kind 1, call id not
//! 0), whatever is wrong with the request after that (unknown program or procedure, bad
//! arguments, too large). What is dropped without a reply: datagrams whose header cannot
//! be read (no trustworthy call id or label to answer to, and answering garbage would let
//! a spoofed sender aim our replies at a third party), replies and errors sent to us (two
//! servers answering each other's errors would loop forever), and call id 0. Where TCP
//! answers on id 0 and closes, UDP has no connection to close, so it drops.
//!
//! No reflection amplification: the source address of a datagram is not proof of who
//! sent it, so no answer is larger than [`AMPLIFICATION_LIMIT`] times the datagram that
//! asked for it (QUIC's rule, RFC 9000 section 8). A bigger reply (`describe`, a `get`
//! of a long value) is replaced by a short TOO_LARGE error on the call's id: use TCP for
//! those.
//!
//! System calls: `recvfrom(2)` (with `MSG_TRUNC`, via the `udp` crate, so an oversized
//! datagram is recognised) and `sendto(2)` (`udp(7)`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use udp::AsyncDatagramSocket;

use crate::deadline;
use crate::error::ErrorCode;
use crate::error::Fault;
use crate::handle::ServerHandle;
use crate::message::{Header, Kind, Message};
use crate::registry::{
    MIN_MESSAGE_LIMIT, Registry, ServerStats, Started, poll_once, reply_message,
};
use crate::service::Outcome;
use crate::udp_transport::admission::{
    DEFAULT_UDP_MAX_IN_FLIGHT, DEFAULT_UDP_MAX_IN_FLIGHT_PER_SOURCE, InFlight,
};
use crate::udp_transport::cache::{CacheLimits, CallKey, Lookup, ReplyCache};

/// Largest message in one datagram (`--max-frame` on UDP): the IPv4 UDP payload limit.
pub const DEFAULT_MAX_DATAGRAM: usize = 65_507;
/// How long running calls get to finish after shutdown begins.
pub const UDP_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// No answer is larger than this many times the datagram that asked for it.
pub const AMPLIFICATION_LIMIT: usize = 3;
/// How long a BUSY answer asks the caller to wait before resending.
pub const BUSY_RETRY_AFTER: Duration = Duration::from_millis(100);

/// The bounds of a UDP RPC server.
#[derive(Debug, Clone, Copy)]
pub struct UdpServerConfig {
    /// Calls running at once.
    pub max_in_flight: usize,
    /// Calls running at once for one source (address and port).
    pub max_in_flight_per_source: usize,
    /// Reply cache bounds; the TTL is also the longest a call may run.
    pub cache: CacheLimits,
    /// Largest datagram accepted or sent.
    pub max_datagram: usize,
    /// Grace period on shutdown.
    pub shutdown_grace: Duration,
}

impl Default for UdpServerConfig {
    fn default() -> Self {
        UdpServerConfig {
            max_in_flight: DEFAULT_UDP_MAX_IN_FLIGHT,
            max_in_flight_per_source: DEFAULT_UDP_MAX_IN_FLIGHT_PER_SOURCE,
            cache: CacheLimits::default(),
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
    slots: Arc<InFlight>,
    registry: Arc<Registry>,
    config: UdpServerConfig,
}

/// One call as it arrived: who sent it, when, and how many bytes it earns back.
#[derive(Clone, Copy)]
struct Arrival {
    key: CallKey,
    at: Instant,
    /// The largest answer this datagram may get (amplification limit, datagram limit).
    budget: usize,
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
        cache: Arc::new(Mutex::new(ReplyCache::new(config.cache))),
        slots: InFlight::new(config.max_in_flight, config.max_in_flight_per_source),
        registry: Arc::new(registry),
        config,
    };
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
        let arrived = tokio::time::Instant::now().into_std();
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
        let arrival = Arrival {
            key: (info.peer, call.header.call_id),
            at: arrived,
            budget: config
                .max_datagram
                .min(info.datagram_len.saturating_mul(AMPLIFICATION_LIMIT)),
        };
        if info.is_truncated() || info.datagram_len > config.max_datagram {
            shared
                .refuse_too_large(&call, arrival, info.datagram_len)
                .await;
            continue;
        }
        shared.receive(call, arrival, &mut running).await;
    }
    drain(running, config.shutdown_grace).await;
}

impl Shared {
    /// A well-formed call: replay, ignore, refuse or run it.
    async fn receive(&self, call: Message, arrival: Arrival, running: &mut JoinSet<()>) {
        let stats = self.registry.stats();
        let until = self.window_end(&call, arrival.at);
        let lookup = self.cache().check_in(arrival.key, arrival.at, until);
        match lookup {
            Lookup::New => {}
            Lookup::Running => return ServerStats::bump(&stats.duplicates_running),
            Lookup::Answered(reply) => {
                ServerStats::bump(&stats.cache_hits);
                if let Some(reply) = reply {
                    self.send(&reply, arrival).await;
                }
                return;
            }
            Lookup::Full(full) => {
                tracing::debug!(peer = %arrival.key.0, ?full, "reply cache has no room; busy");
                return self.refuse_busy(&call.header, arrival).await;
            }
        }
        self.start(call, arrival, until, running).await;
    }

    /// The end of a call's retransmission window: its deadline, capped at the cache TTL.
    fn window_end(&self, call: &Message, arrived: Instant) -> Instant {
        let cap = arrived + self.config.cache.ttl;
        deadline::from_wire(call.header.deadline_ms, arrived).map_or(cap, |d| d.min(cap))
    }

    /// Runs a new call until `until`. An answer known without running procedure code
    /// (a fault, introspection) needs no slot; a procedure needs one, and a call that
    /// finishes without waiting gives it back at once.
    async fn start(
        &self,
        call: Message,
        arrival: Arrival,
        until: Instant,
        running: &mut JoinSet<()>,
    ) {
        let header = call.header;
        if deadline::expired(Some(until)) {
            ServerStats::bump(&self.registry.stats().expired);
            return self.cache().answer(arrival.key, None);
        }
        let started = self.registry.prepare(call);
        let fut = match started {
            Started::Now(outcome) => {
                self.registry.count_answered(&outcome);
                return self.answer(&header, arrival, outcome).await;
            }
            Started::Running(fut) => fut,
        };
        let ticket = match self.slots.try_admit(arrival.key.0) {
            Ok(ticket) => ticket,
            Err(refused) => {
                // Nothing has run (the future was never polled): dropping it is safe.
                tracing::debug!(peer = %arrival.key.0, ?refused, "no in-flight slot; busy");
                self.cache().forget(arrival.key); // a resend is treated as new
                return self.refuse_busy(&header, arrival).await;
            }
        };
        ServerStats::bump(&self.registry.stats().executed);
        let fut = match poll_once(fut) {
            Ok(outcome) => {
                drop(ticket);
                return self.answer(&header, arrival, outcome).await;
            }
            Err(fut) => fut,
        };
        let this = self.clone();
        running.spawn(async move {
            match tokio::time::timeout_at(until.into(), fut).await {
                Ok(outcome) => {
                    drop(ticket);
                    this.answer(&header, arrival, outcome).await;
                }
                Err(_) => {
                    ServerStats::bump(&this.registry.stats().expired);
                    this.cache().answer(arrival.key, None);
                }
            }
        });
    }

    /// Builds the answer within the datagram's budget, remembers it, sends it.
    async fn answer(&self, header: &Header, arrival: Arrival, outcome: Outcome) {
        let reply = reply_message(header, outcome, arrival.budget);
        self.finish(arrival, reply).await;
    }

    /// Remembers the reply, then sends it.
    async fn finish(&self, arrival: Arrival, reply: Message) {
        let bytes = reply.to_bytes();
        let kept = (bytes.len() <= arrival.budget).then_some(bytes);
        self.cache().answer(arrival.key, kept.clone());
        if let Some(bytes) = kept {
            self.send(&bytes, arrival).await;
        }
    }

    /// Tells the caller its call was not run and when to resend (not cached).
    async fn refuse_busy(&self, header: &Header, arrival: Arrival) {
        ServerStats::bump(&self.registry.stats().busy);
        let fault = Fault::busy(BUSY_RETRY_AFTER, header.profile);
        let reply = reply_message(header, Err(fault), arrival.budget);
        self.send(&reply.to_bytes(), arrival).await;
    }

    /// Tells the caller its datagram was too large (not cached: it never ran).
    async fn refuse_too_large(&self, call: &Message, arrival: Arrival, len: usize) {
        ServerStats::bump(&self.registry.stats().rejected);
        let max = self.config.max_datagram;
        let fault = Fault::new(
            ErrorCode::TooLarge,
            format!("datagram of {len} bytes, limit {max}"),
        );
        let reply = reply_message(&call.header, Err(fault), arrival.budget);
        self.send(&reply.to_bytes(), arrival).await;
    }

    /// Sends an answer, never more than the datagram earned.
    async fn send(&self, bytes: &[u8], arrival: Arrival) {
        let peer = arrival.key.0;
        if bytes.len() > arrival.budget {
            tracing::debug!(%peer, len = bytes.len(), "answer over the amplification limit; not sent");
            return;
        }
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
