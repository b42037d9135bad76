//! [`TcpChannel`]: the caller's end of one TCP connection, shared by any number of
//! concurrent calls.
//!
//! Three parts: a *writer task* that frames and writes calls (batched), a *reader task*
//! that reads replies and hands each to its caller by call id ([`Pending`]), and the
//! caller itself, which registers its id, queues the call and waits, at most until its
//! deadline. When the reader sees the connection end (EOF, reset, a broken frame), it
//! closes the id table: every pending call fails at once with `ConnectionLost`.
//!
//! System calls: `connect(2)`, `setsockopt(TCP_NODELAY)` (`tcp(7)`: small calls are not
//! held back by Nagle's algorithm), then `write(2)`/`read(2)` on the two halves.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use bytes::Bytes;
use framing::{FrameCodec, FrameFormat};
use futures::StreamExt;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use crate::deadline;
use crate::error::RpcError;
use crate::message::{Header, Message};
use crate::pending::{Pending, Registration, next_call_id};
use crate::tcp_transport::server::DEFAULT_MAX_FRAME;
use crate::tcp_transport::writer::write_messages;

/// Calls queued for the writer task before callers wait for room.
pub const CALL_QUEUE: usize = 1024;
/// How long a write may stall before the client gives the connection up.
pub const CLIENT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// One TCP connection to an RPC server. Clone it freely: clones share the connection.
#[derive(Clone, Debug)]
pub struct TcpChannel {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    calls: mpsc::Sender<Message>,
    pending: Arc<Pending>,
    next_id: AtomicU64,
    format: FrameFormat,
    peer: SocketAddr,
    closed: CancellationToken,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Last handle gone: stop the reader (the writer stops when `calls` closes).
        self.closed.cancel();
    }
}

impl TcpChannel {
    /// Connects to `addr` (`host:port`; names are resolved) with `TCP_NODELAY` on.
    pub async fn connect(addr: &str) -> Result<TcpChannel, RpcError> {
        let io = |context: String| move |source| RpcError::Io { context, source };
        let stream = TcpStream::connect(addr)
            .await
            .map_err(io(format!("connect to {addr}")))?;
        stream
            .set_nodelay(true)
            .map_err(io("set TCP_NODELAY".into()))?;
        let peer = stream.peer_addr().map_err(io("getpeername".into()))?;
        Ok(TcpChannel::from_stream(stream, peer, DEFAULT_MAX_FRAME))
    }

    /// Runs the channel over an already connected stream; frames above `max_frame`
    /// bytes are refused in both directions.
    pub fn from_stream(stream: TcpStream, peer: SocketAddr, max_frame: usize) -> TcpChannel {
        let format = FrameFormat::default()
            .with_max_frame(max_frame as u64)
            .unwrap_or_default();
        let (read, write) = stream.into_split();
        let (calls, queue) = mpsc::channel(CALL_QUEUE);
        let pending = Arc::new(Pending::default());
        let closed = CancellationToken::new();
        // More calls are coming if other callers are waiting for replies: they tend
        // to call again as soon as theirs arrive.
        let others = pending.clone();
        tokio::spawn(write_messages(
            write,
            queue,
            format,
            CLIENT_WRITE_TIMEOUT,
            closed.clone(),
            move || others.len() > 1,
        ));
        tokio::spawn(read_replies(read, format, pending.clone(), closed.clone()));
        let inner = Inner {
            calls,
            pending,
            next_id: AtomicU64::new(1),
            format,
            peer,
            closed,
        };
        TcpChannel {
            inner: Arc::new(inner),
        }
    }

    /// The server's address.
    pub fn peer(&self) -> SocketAddr {
        self.inner.peer
    }

    /// Calls waiting for their replies.
    pub fn pending(&self) -> usize {
        self.inner.pending.len()
    }

    /// Sends one call and waits up to `timeout` for its reply.
    pub async fn call(
        &self,
        mut header: Header,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Message, RpcError> {
        let inner = &self.inner;
        header.call_id = next_call_id(&inner.next_id);
        header.deadline_ms = deadline::to_wire(timeout);
        let call = Message::new(header, body);
        RpcError::refuse_oversized(call.len(), inner.format.max_frame(), "a frame")?;
        let reply = inner.pending.register(header.call_id)?;
        let mut registration = Registration::new(&inner.pending, header.call_id);
        let wait = async {
            inner
                .calls
                .send(call)
                .await
                .map_err(|_| RpcError::ConnectionLost)?;
            reply.await.map_err(|_| RpcError::ConnectionLost)
        };
        let result = match tokio::time::timeout(timeout, wait).await {
            Ok(result) => result,
            Err(_) => Err(RpcError::Timeout(timeout)),
        };
        if result.is_ok() {
            registration.disarm();
        }
        result
    }
}

/// The reader task: every reply goes to the caller waiting on its id. Ends on EOF, on
/// an error, or when the channel is dropped; then fails everything still pending.
async fn read_replies(
    read: OwnedReadHalf,
    format: FrameFormat,
    pending: Arc<Pending>,
    closed: CancellationToken,
) {
    let mut frames = FramedRead::with_capacity(read, FrameCodec::new(format), 64 * 1024);
    loop {
        let frame = tokio::select! {
            _ = closed.cancelled() => break,
            frame = frames.next() => frame,
        };
        match frame {
            Some(Ok(bytes)) => match Message::decode(bytes) {
                Ok(reply) => {
                    if !pending.complete(reply) {
                        tracing::debug!("reply for a call nobody waits for (late or unknown id)");
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "undecodable reply; closing connection");
                    break;
                }
            },
            Some(Err(err)) => {
                tracing::debug!(error = %err, "connection failed");
                break;
            }
            None => break,
        }
    }
    pending.close();
    closed.cancel();
}
