//! The server's end of TCP: the skeleton's transport.
//!
//! The accept loop, connection cap, shutdown and grace period come from the `tcp`
//! crate's [`tcp::server::serve()`]. Each connection is one loop, read -> decode ->
//! dispatch, with the replies written by a writer task ([`super::writer`]) in the order
//! they finish. The tuning lives beside it, each part in its own file: the in-flight
//! bound and the answer-on-the-spot fast path in [`super::calls`], the server-wide
//! budget for frames still arriving in [`super::budget`], write batching in
//! [`super::writer`].
//!
//! A frame over the size limit, one whose header this protocol version cannot read, or
//! one carrying the reserved call id 0 gets an error message with call id 0 and the
//! connection is closed; other connections carry on. A readable header whose request is
//! wrong (a reply sent to the server, an unknown procedure, bad arguments) is answered
//! on its own call id and the connection stays open. `PROTOCOL.md` section 5 has the
//! table.
//!
//! System calls: `accept(2)` (in the `tcp` crate), `read(2)` into the frame buffer,
//! `write(2)` in the writer task, `setsockopt(TCP_NODELAY)` (`tcp(7)`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use framing::{FrameError, FrameFormat, Profile, parse_label};
use futures::StreamExt;
use tcp::server::ServerLimits;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use crate::error::{ErrorCode, Fault};
use crate::handle::ServerHandle;
use crate::message::{Message, field};
use crate::registry::{
    MIN_MESSAGE_LIMIT, Registry, ServerStats, connection_error, unreadable_request,
};
use crate::tcp_transport::budget::{
    BudgetedFrames, DEFAULT_FRAME_BUDGET, FrameBudget, READ_BUFFER, ReadError,
};
use crate::tcp_transport::calls::Calls;

/// Default bound on calls one connection may have running at once (`--max-in-flight`).
/// When it is reached the server stops reading that connection until a call finishes.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 128;
/// Default largest message, call or reply (`--max-frame`): 1 MiB. A bigger declared
/// length is refused before anything is allocated for it.
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;
/// Per-peer warnings are rate-limited: a flood of bad peers cannot flood the log.
static UNREADABLE: support::log::Throttle = support::log::Throttle::per_second(10);
static OVERSIZED: support::log::Throttle = support::log::Throttle::per_second(10);
static SHED: support::log::Throttle = support::log::Throttle::per_second(10);

/// How long a connection shed for want of frame budget is asked to wait (BUSY detail).
pub const SHED_RETRY_AFTER: Duration = Duration::from_millis(100);

/// The bounds of a TCP RPC server.
#[derive(Debug, Clone, Copy)]
pub struct TcpServerConfig {
    /// Connection cap, read/write deadlines, shutdown grace (from the `tcp` crate).
    pub limits: ServerLimits,
    /// Calls running at once per connection.
    pub max_in_flight: usize,
    /// Largest message in bytes.
    pub max_frame: usize,
    /// Bytes reserved for frames still arriving, all connections together.
    pub frame_budget: usize,
}

impl Default for TcpServerConfig {
    fn default() -> Self {
        TcpServerConfig {
            limits: ServerLimits::default(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_frame: DEFAULT_MAX_FRAME,
            frame_budget: DEFAULT_FRAME_BUDGET,
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
    let config = TcpServerConfig {
        max_frame: config.max_frame.max(MIN_MESSAGE_LIMIT),
        ..config
    };
    let budget = FrameBudget::new(
        config.frame_budget,
        registry.stats().buffered_frame_bytes.clone(),
    );
    let registry = Arc::new(registry);
    tcp::server::serve(
        listener,
        config.limits,
        shutdown,
        move |stream, peer, stop| {
            let (registry, budget) = (registry.clone(), budget.clone());
            async move { serve_connection(stream, peer, registry, budget, config, stop).await }
        },
    )
    .await;
}

/// One connection: read a frame, decode it, dispatch it; the call replies through the
/// writer when it finishes. Ends at EOF, on a broken frame, an unreadable header, the
/// read deadline, a failed write, or shutdown.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    registry: Arc<Registry>,
    budget: Arc<FrameBudget>,
    config: TcpServerConfig,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let format = FrameFormat::default()
        .with_max_frame(config.max_frame as u64)
        .unwrap_or_default();
    let (read, write) = stream.into_split();
    let mut frames =
        FramedRead::with_capacity(read, BudgetedFrames::new(format, budget), READ_BUFFER);
    let calls = Calls::open(write, format, registry.clone(), &config);
    tracing::debug!(%peer, "connection opened");
    loop {
        // read
        let frame = tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = calls.broken() => break,
            next = tokio::time::timeout(config.limits.read_timeout, frames.next()) => next,
        };
        let frame = match frame {
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(err))) => break refuse_frame(&calls, &registry, peer, err).await,
            Ok(None) => break,
            Err(_) => {
                tracing::info!(%peer, "read deadline passed; closing idle connection");
                break;
            }
        };
        calls.more_requests(more_buffered(&frames));
        // decode
        let Some(call) = decode_or_refuse(&calls, &registry, peer, frame).await else {
            break;
        };
        // dispatch (waits for an in-flight slot first: back-pressure)
        if !calls.dispatch(call, &shutdown).await {
            break;
        }
    }
    drop(frames); // no more reading; running calls still reply through their queue handle
    calls.finish().await;
    tracing::debug!(%peer, "connection closed");
}

/// Whether more requests are already buffered (the writer then waits a moment for
/// their replies, to send them together).
fn more_buffered(frames: &FramedRead<OwnedReadHalf, BudgetedFrames>) -> bool {
    !frames.read_buffer().is_empty()
}

/// Decodes a frame as a request; if its header is unreadable or carries the reserved
/// call id 0, tells the peer (call id 0, in the frame's label if bytes 4..8 are a valid
/// one) and returns `None` so the connection closes.
async fn decode_or_refuse(
    calls: &Calls,
    registry: &Registry,
    peer: SocketAddr,
    frame: Bytes,
) -> Option<Message> {
    match Message::decode_request(frame.clone()) {
        Ok(call) => Some(call),
        Err(err) => {
            support::warn_throttled!(UNREADABLE, %peer, error = %err, "unreadable request; closing connection");
            ServerStats::bump(&registry.stats().rejected);
            let profile = frame.get(field::LABEL).and_then(|l| parse_label(l).ok());
            let reply = unreadable_request(profile, ErrorCode::BadRequest, err.to_string());
            calls.reply(reply).await;
            None
        }
    }
}

/// A frame that cannot be read: oversized ones are answered TOO_LARGE, ones the budget
/// cannot hold BUSY (both on call id 0); then the connection closes.
async fn refuse_frame(calls: &Calls, registry: &Registry, peer: SocketAddr, err: ReadError) {
    let fault = match &err {
        ReadError::Frame(FrameError::TooLarge { .. }) => {
            support::warn_throttled!(OVERSIZED, %peer, error = %err, "oversized frame; closing connection");
            Fault::new(ErrorCode::TooLarge, err.to_string())
        }
        ReadError::OverBudget { .. } => {
            support::warn_throttled!(SHED, %peer, error = %err, "frame budget in use; shedding connection");
            Fault {
                message: err.to_string(),
                ..Fault::busy(SHED_RETRY_AFTER, Profile::NETWORK)
            }
        }
        ReadError::Frame(other) => {
            return tracing::debug!(%peer, error = %other, "connection failed");
        }
    };
    ServerStats::bump(&registry.stats().rejected);
    calls.reply(connection_error(None, fault)).await;
}
