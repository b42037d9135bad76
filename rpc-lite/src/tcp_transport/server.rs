//! The server's end of TCP: the skeleton's transport.
//!
//! The accept loop, connection cap, shutdown and grace period come from the `tcp`
//! crate's [`tcp::server::serve()`]. Per connection, a reader loop reads one frame at a
//! time, takes an in-flight permit (so one connection runs at most
//! [`DEFAULT_MAX_IN_FLIGHT`] calls at once, and stops *reading* when it has that many:
//! back-pressure, not an unbounded queue), drops calls whose deadline has already
//! passed, and starts the rest. Each reply goes to the writer task the moment it is
//! ready, so replies leave in completion order.
//!
//! A frame over the size limit, one whose header this protocol version cannot read, or
//! one carrying the reserved call id 0 gets an error message with call id 0 and the
//! connection is closed; other connections carry on. A readable header whose request is
//! wrong (a reply sent to the server, an unknown procedure, bad arguments) is answered
//! on its own call id and the connection stays open. `PROTOCOL.md` section 5 has the
//! table.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bytes::Bytes;
use framing::{FrameCodec, FrameError, FrameFormat, parse_label};
use futures::StreamExt;
use tcp::server::ServerLimits;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use crate::deadline;
use crate::error::ErrorCode;
use crate::handle::ServerHandle;
use crate::message::{Message, field};
use crate::registry::{
    MIN_MESSAGE_LIMIT, Registry, ServerStats, Started, poll_once, reply_message, unreadable_request,
};
use crate::tcp_transport::writer::write_messages;

/// Default bound on calls one connection may have running at once (`--max-in-flight`).
/// When it is reached the server stops reading that connection until a call finishes.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 128;
/// Default largest message, call or reply (`--max-frame`): 1 MiB. A bigger declared
/// length is refused before anything is allocated for it.
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;

/// The bounds of a TCP RPC server.
#[derive(Debug, Clone, Copy)]
pub struct TcpServerConfig {
    /// Connection cap, read/write deadlines, shutdown grace (from the `tcp` crate).
    pub limits: ServerLimits,
    /// Calls running at once per connection.
    pub max_in_flight: usize,
    /// Largest message in bytes.
    pub max_frame: usize,
}

impl Default for TcpServerConfig {
    fn default() -> Self {
        TcpServerConfig {
            limits: ServerLimits::default(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_frame: DEFAULT_MAX_FRAME,
        }
    }
}

/// Binds `addr` and serves `registry` in a background task.
pub async fn spawn(
    addr: SocketAddr,
    registry: Registry,
    config: TcpServerConfig,
) -> std::io::Result<ServerHandle> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(listener, registry, config, shutdown.clone()));
    Ok(ServerHandle::new(addr, shutdown, task))
}

/// Serves `registry` on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    registry: Registry,
    config: TcpServerConfig,
    shutdown: CancellationToken,
) {
    let registry = Arc::new(registry);
    tcp::server::serve(
        listener,
        config.limits,
        shutdown,
        move |stream, peer, stop| {
            let registry = registry.clone();
            async move { serve_connection(stream, peer, registry, config, stop).await }
        },
    )
    .await;
}

/// One connection: read calls, start them, let the writer send the replies.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    registry: Arc<Registry>,
    config: TcpServerConfig,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let config = TcpServerConfig {
        max_frame: config.max_frame.max(MIN_MESSAGE_LIMIT),
        ..config
    };
    let format = FrameFormat::default()
        .with_max_frame(config.max_frame as u64)
        .unwrap_or_default();
    let (read, write) = stream.into_split();
    let mut frames = FramedRead::with_capacity(read, FrameCodec::new(format), 64 * 1024);
    let (replies, queue) = mpsc::channel(config.max_in_flight.max(1) * 2);
    let broken = CancellationToken::new();
    // More replies are coming if the reader holds more requests already read.
    let more_requests = Arc::new(AtomicBool::new(false));
    let more = more_requests.clone();
    let writer = tokio::spawn(write_messages(
        write,
        queue,
        format,
        config.limits.write_timeout,
        broken.clone(),
        move || more.load(Ordering::Relaxed),
    ));
    // However this function ends, even aborted at the end of the shutdown grace period,
    // the writer and every call still running stop with it.
    let _stop_everything = broken.clone().drop_guard();
    let conn = Connection {
        closed: broken.clone(),
        registry,
        replies,
        permits: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
        max_frame: config.max_frame,
    };
    tracing::debug!(%peer, "connection opened");
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = broken.cancelled() => break,
            next = tokio::time::timeout(config.limits.read_timeout, frames.next()) => next,
        };
        let frame = match next {
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(err))) => {
                conn.refuse_frame(peer, err).await;
                break;
            }
            Ok(None) => break,
            Err(_) => {
                tracing::info!(%peer, "read deadline passed; closing idle connection");
                break;
            }
        };
        more_requests.store(!frames.read_buffer().is_empty(), Ordering::Relaxed);
        let arrived = tokio::time::Instant::now().into_std();
        let Some(call) = conn.decode_or_refuse(peer, frame).await else {
            break;
        };
        let permit = tokio::select! {
            permit = conn.permits.clone().acquire_owned() => permit,
            _ = shutdown.cancelled() => break,
        };
        let Ok(permit) = permit else { break };
        conn.start(call, arrived, permit).await;
    }
    drop(frames); // no more reading; running calls still reply through their queue handle
    drop(conn);
    let _ = writer.await;
    tracing::debug!(%peer, "connection closed");
}

/// What the per-connection loop shares with the calls it starts.
struct Connection {
    /// Cancelled when the connection ends.
    closed: CancellationToken,
    registry: Arc<Registry>,
    replies: mpsc::Sender<Message>,
    permits: Arc<Semaphore>,
    max_frame: usize,
}

impl Connection {
    /// Starts one call: dropped if already expired, answered at once if it finishes
    /// without waiting, otherwise spawned under its deadline.
    async fn start(&self, call: Message, arrived: Instant, permit: OwnedSemaphorePermit) {
        let header = call.header;
        let deadline = deadline::from_wire(header.deadline_ms, arrived);
        let stats = self.registry.stats().clone();
        if deadline::expired(deadline) {
            tracing::debug!(
                call_id = header.call_id,
                "deadline passed while queued; dropped"
            );
            ServerStats::bump(&stats.expired);
            return;
        }
        let running = match self.registry.start(call) {
            Started::Now(outcome) => Ok(outcome),
            Started::Running(running) => poll_once(running),
        };
        let running = match running {
            Ok(outcome) => {
                let _ = self
                    .replies
                    .send(reply_message(&header, outcome, self.max_frame))
                    .await;
                return;
            }
            Err(running) => running,
        };
        let replies = self.replies.clone();
        let max_frame = self.max_frame;
        let closed = self.closed.clone();
        tokio::spawn(async move {
            let finished = async {
                match deadline {
                    None => Some(running.await),
                    Some(at) => tokio::time::timeout_at(at.into(), running).await.ok(),
                }
            };
            // The connection may end first (peer gone, grace period over): then this
            // call's work is abandoned with it.
            let outcome = tokio::select! {
                outcome = finished => outcome,
                _ = closed.cancelled() => return,
            };
            let Some(outcome) = outcome else {
                tracing::debug!(
                    call_id = header.call_id,
                    "deadline passed while running; dropped"
                );
                ServerStats::bump(&stats.expired);
                return;
            };
            let _ = replies
                .send(reply_message(&header, outcome, max_frame))
                .await;
            drop(permit);
        });
    }

    /// Decodes a frame as a request; if its header is unreadable or carries the reserved
    /// call id 0, tells the peer (call id 0, in the frame's label if bytes 4..8 are a
    /// valid one) and returns `None` so the connection closes.
    async fn decode_or_refuse(&self, peer: SocketAddr, frame: Bytes) -> Option<Message> {
        match Message::decode_request(frame.clone()) {
            Ok(call) => Some(call),
            Err(err) => {
                tracing::warn!(%peer, error = %err, "unreadable request; closing connection");
                ServerStats::bump(&self.registry.stats().rejected);
                let profile = frame.get(field::LABEL).and_then(|l| parse_label(l).ok());
                let reply = unreadable_request(profile, ErrorCode::BadRequest, err.to_string());
                let _ = self.replies.send(reply).await;
                None
            }
        }
    }

    /// A frame error: oversized frames are answered (call id 0); then the connection closes.
    async fn refuse_frame(&self, peer: SocketAddr, err: FrameError) {
        match err {
            FrameError::TooLarge { .. } => {
                tracing::warn!(%peer, error = %err, "oversized frame; closing connection");
                ServerStats::bump(&self.registry.stats().rejected);
                let reply = unreadable_request(None, ErrorCode::TooLarge, err.to_string());
                let _ = self.replies.send(reply).await;
            }
            other => tracing::debug!(%peer, error = %other, "connection failed"),
        }
    }
}
