//! Async echo: tokio tasks over non-blocking sockets.
//!
//! The same protocol as [`super::blocking`], but no thread ever sleeps in `recv(2)`: the
//! socket is in `O_NONBLOCK` mode, `epoll(7)` says when it is readable, and only then does
//! the task read. While it waits, a connection is just a small task and a timer entry.
//!
//! The buffer trick: a 64 KiB buffer is what makes bulk transfers fast (few system calls
//! per megabyte), but 10,000 idle connections times 64 KiB would be 640 MiB. So a
//! connection waits for readability holding no buffer, takes one when bytes arrive, reads
//! and writes until `recv(2)` says `EAGAIN` (drained), and gives the buffer back. The
//! buffer is a `BytesMut` that is never zero-filled, so taking one is a plain `malloc`.
//!
//! Run it: `tcp echo-server --mode async`, then `printf 'hi\n' | tcp echo-client 127.0.0.1:7007`.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use super::BUFFER_SIZE;
use crate::server::{self, ServerLimits};
use crate::socket::ServerSocket;

/// Runs [`serve`] on a new multi-threaded tokio runtime, blocking this thread until done.
///
/// # Errors
/// If the runtime cannot start or the listener cannot be registered with it.
pub fn serve_on_new_runtime(
    listener: ServerSocket,
    limits: ServerLimits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        serve(listener.into_tokio()?, limits, shutdown).await;
        Ok(())
    })
}

/// Serves echo on `listener`, one task per connection, until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, limits: ServerLimits, shutdown: CancellationToken) {
    server::serve(listener, limits, shutdown, move |stream, peer, stop| {
        handle(stream, peer, limits, stop)
    })
    .await;
}

/// Echoes one connection and logs how it ended.
async fn handle(mut stream: TcpStream, peer: SocketAddr, limits: ServerLimits, stop: CancellationToken) {
    match echo(&mut stream, &limits, &stop).await {
        Ok(bytes) => tracing::debug!(%peer, bytes, "echo connection finished"),
        Err(err) => tracing::warn!(%peer, error = %err, "echo connection dropped"),
    }
}

/// Sends every byte back until end-of-stream (or shutdown), then half-closes our side.
///
/// # Errors
/// A read or write error, or a deadline passing (`TimedOut`).
pub async fn echo(
    stream: &mut TcpStream,
    limits: &ServerLimits,
    stop: &CancellationToken,
) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        // Idle: no buffer held. Wait for bytes, the read deadline, or shutdown.
        tokio::select! {
            ready = timeout(limits.read_timeout, stream.readable()) => {
                ready.map_err(|_| deadline("read", limits.read_timeout))??;
            }
            _ = stop.cancelled() => break, // shutdown: nothing is owed, so just close
        }
        match pump(stream, limits.write_timeout).await? {
            Pumped::Drained(n) => total += n,
            Pumped::EndOfStream(n) => {
                total += n;
                break;
            }
        }
    }
    // Every chunk was written back before the next read, so nothing is owed:
    // send our FIN (`shutdown(SHUT_WR)`) and the client reads end-of-stream.
    stream.shutdown().await?;
    Ok(total)
}

/// How a burst of reading ended.
enum Pumped {
    /// `recv(2)` said `EAGAIN`: the socket is drained for now. Carries bytes echoed.
    Drained(u64),
    /// The peer half-closed. Carries bytes echoed.
    EndOfStream(u64),
}

/// Takes a buffer and echoes until the socket is drained or the peer half-closes.
async fn pump(stream: &mut TcpStream, write_timeout: Duration) -> io::Result<Pumped> {
    let mut buf = BytesMut::with_capacity(BUFFER_SIZE);
    let mut moved = 0u64;
    loop {
        buf.clear();
        match stream.try_read_buf(&mut buf) {
            Ok(0) => return Ok(Pumped::EndOfStream(moved)),
            Ok(n) => {
                timeout(write_timeout, stream.write_all(&buf))
                    .await
                    .map_err(|_| deadline("write", write_timeout))??;
                moved += n as u64;
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(Pumped::Drained(moved)),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
}

/// The error for a deadline that passed without progress from the peer.
fn deadline(what: &str, limit: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no {what} progress from the peer within {} ms", limit.as_millis()),
    )
}
