//! Async echo, the plain version: read into one fixed buffer, write it back, repeat.
//!
//! Read this first, beside [`super::blocking`]: the loop is the same, but `read` and
//! `write_all` are `.await`s. While a connection waits, its task is parked and the thread
//! serves other connections; tokio puts the socket in `O_NONBLOCK` mode and asks `epoll(7)`
//! when it is ready (`recv(2)`/`send(2)` underneath). [`super::tuned`] is the same server
//! with the tricks that make it fast, each named and measured.
//!
//! Run it: `tcp echo-server --mode plain`, then `printf 'hi\n' | tcp echo-client 127.0.0.1:7007`.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};

use super::EchoLimits;
use crate::server::Slot;

/// Echoes one connection until end-of-stream (or `slot.stop()`), then half-closes our side.
///
/// # Errors
/// A read or write error, or a deadline passing (`TimedOut`).
pub async fn echo(stream: &mut TcpStream, limits: &EchoLimits, slot: &Slot) -> io::Result<u64> {
    stream.set_nodelay(true)?; // each echo goes out at once (no Nagle delay)
    // A 4 KiB buffer is fine here, as mini-redis says of its own: it holds any
    // request/response message. Bulk transfers want more per `recv(2)`, and 10,000 idle
    // connections would hold 40 MiB of buffers they do not use: `tuned` deals with both.
    let mut buf = [0u8; 4096];
    // The read deadline moves with the bytes the peer sends (the progress rule).
    let mut progress = limits.progress(slot);
    let mut total = 0u64;
    loop {
        let n = tokio::select! {
            _ = slot.stop().cancelled() => break, // shutdown: everything read was echoed
            read = timeout_at(progress.deadline(), stream.read(&mut buf)) => {
                read.map_err(|_| timed_out("read"))??
            }
        };
        if n == 0 {
            break; // the peer half-closed: it will send nothing more
        }
        timeout(limits.server.write_timeout, stream.write_all(&buf[..n]))
            .await
            .map_err(|_| timed_out("write"))??;
        total += n as u64;
        progress.record(n as u64, Instant::now());
        slot.set_progress(&progress);
    }
    stream.shutdown().await?; // our FIN: the client reads end-of-stream
    Ok(total)
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} deadline passed"))
}
