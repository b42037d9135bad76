//! Async echo, tuned: the same protocol and loop as [`super::plain`], plus the tricks that
//! make it fast. Read `plain` first; this file is the second step.
//!
//! Each trick and what it buys. Measured together against the plain echo, side by side in
//! one run (`tcp/scripts/plain-vs-tuned.sh`, medians of 5; the crate README has the table
//! and the conditions): 3.25x bulk throughput and 1.22x one-connection round trips. Which
//! trick earns which share is reasoned below, not measured trick by trick.
//!
//! 1. **No buffer while idle, a growing one while bytes flow.** A connection waits for
//!    readability (`stream.readable()`) holding no buffer; when bytes arrive it takes a
//!    `BytesMut` (never zero-filled, so taking one is a plain `malloc`), reads with
//!    `try_read_buf` until `recv(2)` says `EAGAIN`, and gives it back. The buffer starts at
//!    4 KiB and grows fourfold, up to 256 KiB, each time a read fills it: bulk data needs
//!    few system calls per megabyte, idle connections hold nothing. Gain: most of the
//!    3.25x in bulk throughput (the plain 4 KiB buffer needs up to 64 times the `recv(2)`
//!    and `send(2)` calls per megabyte).
//! 2. **Write straight away, wait only if the kernel is full.** `try_write` first; only a
//!    short write arms the write deadline (`timeout`). Gain: one timer less per echo
//!    (with trick 3, the 1.22x in round trips).
//! 3. **One read timer per connection, reset only when it fires.** Arming a timer takes a
//!    lock in tokio's timer wheel; the plain echo arms one per `read`. Here one `sleep` lives
//!    for the whole connection and, when it fires, is pushed to the progress deadline if
//!    the peer has earned more time. Gain: small-message round trips.
//! 4. **`biased` select with the stop token first**, so a client that never pauses cannot
//!    hold off shutdown (and the select does not draw lots on every wake-up).
//! 5. **Budget yield** (`tokio::task::consume_budget`): a client that never pauses would keep
//!    the read-write loop, and its worker thread, busy forever; giving other tasks a turn
//!    once the scheduling budget is spent keeps small clients served beside bulk ones.
//!    Gain: fairness, not speed (`tests/echo.rs`, bulk clients do not starve a small one).
//! 6. **The burst state boxed** (`Box::pin(pump(..))`): the buffer handle and write timer
//!    exist only while bytes flow, so an idle task stays small. Gain: memory per idle
//!    connection (`tcp bench idle`).
//!
//! Run it: `tcp echo-server --mode async`, then `printf 'hi\n' | tcp echo-client 127.0.0.1:7007`.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};

use super::EchoLimits;
use super::{BUFFER_SIZE, FIRST_BUFFER};
use crate::server::Slot;

/// Sends every byte back until end-of-stream (or shutdown, or `slot.stop()` when the slot
/// goes to a newcomer), then half-closes our side.
///
/// The read deadline follows the progress rule ([`crate::server::progress`]): the peer's
/// bytes buy time, so a peer dribbling a byte now and then is dropped all the same.
///
/// # Errors
/// A read or write error, or a deadline passing (`TimedOut`).
pub async fn echo(stream: &mut TcpStream, limits: &EchoLimits, slot: &Slot) -> io::Result<u64> {
    // TCP_NODELAY: an echo goes out at once, not held back by Nagle's algorithm.
    stream.set_nodelay(true)?;
    // One timer and one shutdown waiter for the whole connection, not one per message:
    // arming a timer costs a lock, so the deadline is only pushed back when it fires.
    let mut progress = limits.progress();
    let idle = sleep(limits.server.read_timeout);
    let stopped = slot.stop().cancelled();
    tokio::pin!(idle, stopped);
    let mut total = 0u64;
    let mut burst_buffer = FIRST_BUFFER;
    loop {
        // Idle: no buffer held. Wait for bytes, the read deadline, or shutdown.
        // Shutdown is checked first, so a client that never pauses cannot hold it off.
        tokio::select! {
            biased;
            _ = &mut stopped => break, // shutdown: everything read was echoed, so close
            ready = stream.readable() => ready?,
            _ = &mut idle => {
                if Instant::now() >= progress.deadline() {
                    return Err(deadline_passed("read", limits.server.read_timeout));
                }
                idle.as_mut().reset(progress.deadline());
                continue;
            }
        }
        // Boxed: the burst's state (buffer handle, write timer) exists only while bytes flow,
        // so an idle connection's task stays small.
        let (moved, ended) =
            Box::pin(pump(stream, &mut burst_buffer, limits.server.write_timeout)).await?;
        total += moved;
        if ended {
            break;
        }
        if moved > 0 {
            progress.record(moved, Instant::now());
            slot.set_deadline(Some(progress.deadline()));
        }
    }
    // Every chunk was written back before the next read, so nothing is owed:
    // send our FIN (`shutdown(SHUT_WR)`) and the client reads end-of-stream.
    stream.shutdown().await?;
    Ok(total)
}

/// Takes a buffer and echoes until `recv(2)` says `EAGAIN` (drained for now) or the peer
/// half-closes. Returns the bytes echoed and whether the stream ended.
///
/// The buffer starts at `size` ([`FIRST_BUFFER`] for a new connection: enough for any
/// request/response message) and grows fourfold, up to [`BUFFER_SIZE`], each time a read
/// fills it, which means bulk data is flowing. `size` is updated so the next burst
/// starts where this one ended if it was bulk, and small again if it was not.
async fn pump(
    stream: &mut TcpStream,
    size: &mut usize,
    write_timeout: Duration,
) -> io::Result<(u64, bool)> {
    let mut buf = BytesMut::with_capacity(*size);
    let mut bulk = false;
    let mut moved = 0u64;
    loop {
        buf.clear();
        match stream.try_read_buf(&mut buf) {
            Ok(0) => return Ok((moved, true)),
            Ok(n) => {
                write_back(stream, &buf, write_timeout).await?;
                moved += n as u64;
                // A client that never pauses would keep this loop (and its worker thread)
                // busy forever: give other tasks a turn once our scheduling budget is spent.
                tokio::task::consume_budget().await;
                if n == buf.capacity() {
                    bulk = true;
                    if n < BUFFER_SIZE {
                        buf = BytesMut::with_capacity((n * 4).min(BUFFER_SIZE));
                    }
                }
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                *size = if bulk { buf.capacity() } else { FIRST_BUFFER };
                return Ok((moved, false));
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
}

/// Writes all of `data`: first straight away (`send(2)` usually takes it all), and only if
/// the kernel's buffer is full, waits for room under the write deadline.
async fn write_back(
    stream: &mut TcpStream,
    data: &[u8],
    write_timeout: Duration,
) -> io::Result<()> {
    let written = match stream.try_write(data) {
        Ok(n) => n,
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => 0,
        Err(err) => return Err(err),
    };
    if written < data.len() {
        timeout(write_timeout, stream.write_all(&data[written..]))
            .await
            .map_err(|_| deadline_passed("write", write_timeout))??;
    }
    Ok(())
}

/// The error for a deadline that passed without progress from the peer.
fn deadline_passed(what: &str, limit: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "no {what} progress from the peer within {} ms",
            limit.as_millis()
        ),
    )
}
