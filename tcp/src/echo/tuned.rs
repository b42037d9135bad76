//! Async echo, tuned: the same protocol and loop as [`super::plain`], plus the tricks that
//! make it fast. Read `plain` first; this file is the second step.
//!
//! Each trick and what it buys. Measured together against the plain echo, side by side in
//! one run (`tcp/scripts/plain-vs-tuned.sh`, medians of 5; the crate README has the table
//! and the conditions): 3.25x bulk throughput and 1.22x one-connection round trips (before
//! trick 2, which is measured on its own). Which trick earns which share is otherwise
//! reasoned below, not measured trick by trick.
//!
//! 1. **No buffer while idle, a growing one while bytes flow.** A connection waits for
//!    readability (`stream.readable()`) holding no buffer; when bytes arrive it takes a
//!    `BytesMut` (never zero-filled, so taking one is a plain `malloc`), reads until the
//!    kernel's queue is empty (trick 2), and gives it back. The buffer starts at 4 KiB and
//!    grows fourfold, up to 256 KiB, each time a read fills it: bulk data needs few system
//!    calls per megabyte, idle connections hold nothing. Gain: most of the 3.25x in bulk
//!    throughput (the plain 4 KiB buffer needs up to 64 times the `recv(2)` and `send(2)`
//!    calls per megabyte).
//! 2. **A short read means "drained": no `recv(2)` that only says `EAGAIN`.** A read that
//!    returns fewer bytes than the buffer holds has emptied the receive queue, so the burst
//!    ends there. The read goes through tokio's `poll_read` (polled once, see `read_once`),
//!    which then marks the socket not ready itself, so the wait that follows goes straight
//!    to `epoll_wait(2)`. Reading with `try_read_buf` until `EAGAIN` costs one more
//!    `recv(2)` per message. Gain, counted with `perf stat`
//!    (`tcp/scripts/syscalls-per-message.sh`, table in the README): `recv(2)` calls per
//!    message from 2.0 to 1.0 at 1,000 connections and from about 1.5 to 1.0 on one
//!    pinned connection, the same `recv`, `send`, `epoll_wait` as tokio's tutorial echo.
//! 3. **Write straight away, wait only if the kernel is full.** `try_write` first; only a
//!    short write arms the write deadline (`timeout`, boxed: the timer is a large future
//!    and only this slow path needs it). Gain: one timer less per echo.
//! 4. **No read timer: the connection table keeps the deadline.** The plain echo arms a
//!    timer per `read`. Any timer registered in the runtime costs every wait of every
//!    connection: tokio's time driver then parks in `epoll_wait(2)` with a timeout, which
//!    the kernel arms and cancels on each call. Here each read records the peer's progress
//!    in its slot (one relaxed atomic store), and a sweeper thread looks through the table
//!    a sixteenth of the read deadline apart ([`crate::server::ConnectionTable::sweep`]):
//!    a connection past its deadline has its stop token cancelled, with the slot marked
//!    timed out, and ends with `TimedOut`. The deadline is kept to within that sixteenth.
//!    Gain, one pinned connection, against a build that still had one timer per
//!    connection: 2,297 to 2,088 user-space instructions per message (callgrind, see
//!    trick 5; tokio's echo 2,286), and in round trips 1.01x, server CPU per message 0.97x
//!    (medians of 16 repetitions of `tcp/scripts/syscalls-per-message.sh`; the crate
//!    README, "The read timer").
//! 5. **Shutdown's waiter registered once, and asked only when it may have news.** The
//!    token's `cancelled()` future is polled only once per connection, which puts the task
//!    on the token's waiter list; a cancel then wakes the task. So a wait asks
//!    `is_cancelled()` (an uncontended lock: 74 instructions) only when it was woken and
//!    the socket has nothing to read, the one case where the wake may be the cancel's;
//!    every 64th wait (`STOP_CHECK_EVERY`) asks first, so a client that never pauses
//!    cannot hold off shutdown; a burst that never drains asks on each full read (`pump`).
//!    A `select!` would poll the future on every wait instead (two locks and a waker
//!    comparison). That is within the rules: a pending future wakes the waker of its
//!    latest poll, and a tokio task's waker is the same for the task's life. Gain, in
//!    user-space instructions per message on one pinned connection, counted with
//!    `callgrind` (`tcp/scripts/instructions-per-message.sh`): 2,808 to 2,547 for the
//!    waiter registered once, 2,359 to 2,297 for asking only when woken (tokio's echo:
//!    2,292 in that run).
//! 6. **Budget yield**: a client that never pauses would keep the read-write loop, and its
//!    worker thread, busy forever. Each `poll_read` spends one unit of tokio's cooperative
//!    budget; once it is spent, `read_once` yields (`tokio::task::yield_now`) so other tasks
//!    get a turn. Gain: fairness, not speed (`tests/echo.rs`, bulk clients do not starve a
//!    small one).
//! 7. **A spare buffer per thread.** A 4 KiB buffer is too large for the allocator's
//!    per-thread cache, so taking and freeing one per message costs a trip into
//!    `malloc`'s bins (3% of the server's samples in a `perf record` of one pinned
//!    connection). Each worker thread keeps one first-size buffer and hands it from burst
//!    to burst (`take_buffer`, `give_back`); a buffer that grew for bulk data is freed.
//!    Memory: 4 KiB per worker thread, not per connection. Gain, together with the
//!    single-threaded runtime on one CPU (`runtime_for_this_machine` in `mod.rs`), against a build without
//!    both, one pinned connection, medians of 5 in one run of
//!    `tcp/scripts/syscalls-per-message.sh`: 1.08x round trips/s, 0.94x server CPU per
//!    message.
//! 8. **A small task.** Nothing large lives across the idle wait (the buffer exists only
//!    inside a burst, the write timer only on the slow path), so an idle connection's task
//!    is about 800 bytes (a unit test keeps it under 1 KiB). Gain: memory per idle
//!    connection (`tcp bench idle`).
//! 9. **While connections are few, each gets a thread** ([`super::own_thread`]): with no
//!    more connections open than CPUs, a connection is served by the blocking loop on a
//!    thread of its own (its wake-up is `recv(2)` returning: no `epoll_wait(2)`, no task
//!    to poll), and it comes back here as a task, between two messages, once
//!    connections outnumber the CPUs ([`echo_continuing`]). Gain, one pinned
//!    connection: 1.07x round trips against `--own-threads 0` (1.06x tokio's echo);
//!    none, and no loss, at 64 and 1,000 connections.
//!
//! Run it: `tcp echo-server --mode async`, then `printf 'hi\n' | tcp echo-client 127.0.0.1:7007`.

use std::cell::Cell;
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_util::io::poll_read_buf;

use super::EchoLimits;
use super::{BUFFER_SIZE, FIRST_BUFFER};
use crate::server::{ReadProgress, Slot};

/// How often a wait looks at the stop token even though the socket has bytes (trick 5):
/// a client that never pauses is stopped within this many messages of shutdown.
const STOP_CHECK_EVERY: u32 = 64;

/// Sends every byte back until end-of-stream (or shutdown, or `slot.stop()` when the slot
/// goes to a newcomer), then half-closes our side.
///
/// The read deadline follows the progress rule ([`crate::server::progress`]): the peer's
/// bytes buy time, so a peer dribbling a byte now and then is dropped all the same. The
/// connection table keeps it (trick 4): this echo records its progress in `slot`, and the
/// table's sweeper stops it when the deadline passes.
///
/// # Errors
/// A read or write error, or a deadline passing (`TimedOut`).
pub async fn echo(stream: &mut TcpStream, limits: &EchoLimits, slot: &Slot) -> io::Result<u64> {
    echo_continuing(stream, limits, slot, limits.progress(slot)).await
}

/// [`echo`] for a connection whose peer already has a standing under the progress rule
/// (`rule`): one that a thread of its own served until now ([`super::own_thread`]).
///
/// # Errors
/// As [`echo`].
pub async fn echo_continuing(
    stream: &mut TcpStream,
    limits: &EchoLimits,
    slot: &Slot,
    rule: ReadProgress,
) -> io::Result<u64> {
    // TCP_NODELAY: an echo goes out at once, not held back by Nagle's algorithm.
    stream.set_nodelay(true)?;
    // No read timer: the table's sweeper cancels `stop` when the deadline recorded in the
    // slot passes (trick 4). One shutdown waiter for the whole connection, polled once,
    // which leaves this task's waker with it (trick 5).
    slot.enforce_deadline();
    let mut peer = Progress { rule, slot };
    let stop = slot.stop();
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    let mut on_stop_list = false; // `stopped` polled once: this task is on the token's list
    let write_timeout = limits.server.write_timeout;
    let mut total = 0u64;
    let mut burst_buffer = FIRST_BUFFER;
    let mut waits = 0u32;
    loop {
        // Idle: no buffer held. Wait for bytes, or for the stop token (shutdown, a
        // newcomer, or the read deadline).
        waits = waits.wrapping_add(1);
        let mut woken = false; // false on the poll that starts this wait
        let woke = std::future::poll_fn(|cx| {
            // Shutdown (trick 5): every STOP_CHECK_EVERY-th wait looks at the stop token
            // first, so a client that never pauses cannot hold it off for longer.
            if waits.is_multiple_of(STOP_CHECK_EVERY) && stop.is_cancelled() {
                return Poll::Ready(None);
            }
            if !on_stop_list {
                if stopped.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                on_stop_list = true;
            }
            // `poll_read_ready` parks in the socket's one reader slot; `readable()` would
            // add a waiter to a list each time, taking its lock more often per message.
            if let Poll::Ready(ready) = stream.poll_read_ready(cx) {
                return Poll::Ready(Some(ready));
            }
            // Woken with nothing to read: the token may be what woke this task. (A cancel
            // during the burst before this wait wakes it too, so it is seen here.)
            if std::mem::replace(&mut woken, true) && stop.is_cancelled() {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await;
        match woke {
            None => break, // stopped: everything read was echoed
            Some(ready) => ready?,
        }
        let (moved, ended) = pump(stream, &mut burst_buffer, &mut peer, write_timeout).await?;
        total += moved;
        if ended {
            break;
        }
    }
    if slot.timed_out() {
        return Err(deadline_passed("read", limits.server.read_timeout));
    }
    // Every chunk was written back before the next read, so nothing is owed:
    // send our FIN (`shutdown(SHUT_WR)`) and the client reads end-of-stream.
    stream.shutdown().await?;
    Ok(total)
}

/// The peer's standing under the progress rule, and the slot where the table reads it.
struct Progress<'a> {
    rule: ReadProgress,
    slot: &'a Slot,
}

impl Progress<'_> {
    /// `bytes` arrived now: they buy time, and the table learns the new deadline (one
    /// relaxed store, no lock).
    fn record(&mut self, bytes: usize) {
        self.rule.record(bytes as u64, Instant::now());
        self.slot.set_progress(&self.rule);
    }
}

/// Takes a buffer and echoes until the kernel's receive queue is empty for now, the peer
/// half-closes, or the slot's stop token is cancelled. Returns the bytes echoed and
/// whether the echo is over (end-of-stream or stop). Every read is recorded as progress,
/// so a long burst keeps its deadline moving.
///
/// A peer that never pauses can keep the queue full, and then the burst would never end:
/// so each full read also checks the stop token (one lock per up to 256 KiB), and a burst
/// holds off shutdown no more than the idle wait does.
///
/// The buffer starts at `size` ([`FIRST_BUFFER`] for a new connection: enough for any
/// request/response message) and grows fourfold, up to [`BUFFER_SIZE`], each time a read
/// fills it, which means bulk data is flowing. `size` is updated so the next burst
/// starts where this one ended if it was bulk, and small again if it was not.
async fn pump(
    stream: &mut TcpStream,
    size: &mut usize,
    peer: &mut Progress<'_>,
    write_timeout: Duration,
) -> io::Result<(u64, bool)> {
    let mut buf = take_buffer(*size);
    let mut bulk = false;
    let mut moved = 0u64;
    loop {
        buf.clear();
        let room = buf.capacity();
        let n = match read_once(stream, &mut buf).await? {
            Read::Bytes(n) => n,
            Read::End => return Ok((moved, true)),
            Read::Drained => break,
        };
        peer.record(n);
        write_back(stream, &buf, write_timeout).await?;
        moved += n as u64;
        if n < room {
            break; // a short read emptied the queue (and tokio knows: see `read_once`)
        }
        if peer.slot.stop().is_cancelled() {
            return Ok((moved, true)); // stopped: everything read was echoed, so close
        }
        bulk = true;
        if room < BUFFER_SIZE {
            buf = BytesMut::with_capacity((room * 4).min(BUFFER_SIZE));
        }
    }
    *size = if bulk { buf.capacity() } else { FIRST_BUFFER };
    give_back(buf);
    Ok((moved, false))
}

thread_local! {
    /// One first-size buffer per worker thread, handed from burst to burst (trick 7).
    static SPARE: Cell<Option<BytesMut>> = const { Cell::new(None) };
}

/// A buffer of `size` bytes for a burst: this thread's spare one if it fits.
fn take_buffer(size: usize) -> BytesMut {
    if size == FIRST_BUFFER
        && let Some(spare) = SPARE.take()
    {
        return spare;
    }
    BytesMut::with_capacity(size)
}

/// Keeps a first-size buffer as this thread's spare (a larger one is freed: a
/// thread keeps at most [`FIRST_BUFFER`] bytes for idle connections).
fn give_back(mut buf: BytesMut) {
    if buf.capacity() == FIRST_BUFFER {
        buf.clear();
        SPARE.set(Some(buf));
    }
}

/// What one read found.
enum Read {
    /// This many bytes.
    Bytes(usize),
    /// Nothing for now: the receive queue is empty.
    Drained,
    /// End-of-stream: the peer half-closed.
    End,
}

/// One `recv(2)` through tokio's own `poll_read`, polled once, so it answers
/// [`Read::Drained`] instead of waiting (a waiting connection holds no buffer).
///
/// Why not `try_read_buf`: it leaves tokio's "readable" flag set after a short read, so
/// the next try costs a `recv(2)` that only says `EAGAIN` before the task may sleep in
/// `epoll_wait(2)`. `poll_read` clears the flag itself when a read comes back shorter than
/// the buffer: the queue is empty, and edge-triggered epoll reports the next arrival
/// anyway. It clears it with the readiness it saw before the `recv(2)`, so bytes that
/// arrive in between are not lost. (Cleared by hand after the read, they could be.)
async fn read_once(stream: &mut TcpStream, buf: &mut BytesMut) -> io::Result<Read> {
    // `poll_read` also spends the task's cooperative budget and answers `Pending` once it
    // is gone. Give other tasks their turn first (a client that never pauses would keep
    // this worker thread busy forever), so that `Pending` below only means "drained".
    if !tokio::task::coop::has_budget_remaining() {
        tokio::task::yield_now().await;
    }
    std::future::poll_fn(|cx| {
        Poll::Ready(match poll_read_buf(Pin::new(&mut *stream), cx, buf) {
            Poll::Pending => Ok(Read::Drained),
            Poll::Ready(Ok(0)) => Ok(Read::End),
            Poll::Ready(Ok(n)) => Ok(Read::Bytes(n)),
            Poll::Ready(Err(err)) => Err(err),
        })
    })
    .await
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
        // Boxed: the write timer is a large future, and only this slow path needs it.
        Box::pin(timeout(write_timeout, stream.write_all(&data[written..])))
            .await
            .map_err(|_| deadline_passed("write", write_timeout))??;
    }
    Ok(())
}

/// The error for a deadline that passed without progress from the peer.
pub(super) fn deadline_passed(what: &str, limit: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "no {what} progress from the peer within {} ms",
            limit.as_millis()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;
    use tokio_util::sync::CancellationToken;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (client, server)
    }

    const SECONDS_5: Duration = Duration::from_secs(5);

    /// A slot in a table of one (the guard keeps the table), for calling `pump` directly.
    fn a_slot(stop: CancellationToken) -> crate::server::conn_limit::SlotGuard {
        let table = crate::server::ConnectionTable::new(1, Duration::from_secs(60));
        table.admit(stop).expect("a free slot").slot
    }

    /// A fresh progress rule for `guard`'s slot.
    fn progress(guard: &crate::server::conn_limit::SlotGuard) -> Progress<'_> {
        let limits = EchoLimits::from(crate::server::ServerLimits::default());
        Progress {
            rule: limits.progress(guard.slot()),
            slot: guard.slot(),
        }
    }

    /// Whether `stream.readable()` is ready right now, without waiting.
    async fn marked_readable(stream: &TcpStream) -> bool {
        futures::FutureExt::now_or_never(stream.readable()).is_some()
    }

    #[tokio::test]
    async fn a_short_read_marks_the_socket_drained_without_another_recv() {
        let (mut client, mut server) = pair().await;
        client.write_all(b"hello").await.unwrap();
        server.readable().await.unwrap();
        let mut buf = BytesMut::with_capacity(FIRST_BUFFER);
        assert!(matches!(
            read_once(&mut server, &mut buf).await.unwrap(),
            Read::Bytes(5)
        ));
        // The next wait goes straight to epoll_wait: no recv(2) that only says EAGAIN.
        assert!(!marked_readable(&server).await);
        // Bytes that arrive later still wake it.
        client.write_all(b"!").await.unwrap();
        server.readable().await.unwrap();
        assert!(matches!(
            read_once(&mut server, &mut buf).await.unwrap(),
            Read::Bytes(1)
        ));
    }

    #[tokio::test]
    async fn try_read_buf_leaves_the_socket_marked_readable_after_a_short_read() {
        // Why `read_once` does not use `try_read_buf`: after this short read the flag is
        // still set, so the next try would be a recv(2) that only says EAGAIN.
        let (mut client, server) = pair().await;
        client.write_all(b"hello").await.unwrap();
        server.readable().await.unwrap();
        let mut buf = BytesMut::with_capacity(FIRST_BUFFER);
        assert_eq!(server.try_read_buf(&mut buf).unwrap(), 5);
        assert!(marked_readable(&server).await);
    }

    #[tokio::test]
    async fn a_spent_budget_is_not_mistaken_for_a_drained_socket() {
        let (mut client, mut server) = pair().await;
        client.write_all(b"hello").await.unwrap();
        server.readable().await.unwrap();
        spend_budget().await;
        assert!(!tokio::task::coop::has_budget_remaining());
        let mut buf = BytesMut::with_capacity(FIRST_BUFFER);
        assert!(matches!(
            read_once(&mut server, &mut buf).await.unwrap(),
            Read::Bytes(5)
        ));
    }

    /// Uses up the current task's cooperative budget.
    async fn spend_budget() {
        std::future::poll_fn(|cx| {
            while let Poll::Ready(progress) = tokio::task::coop::poll_proceed(cx) {
                progress.made_progress();
            }
            Poll::Ready(())
        })
        .await;
    }

    #[tokio::test]
    async fn small_messages_without_a_pause_still_end_at_shutdown() {
        // Every read is short, so only the wait can see shutdown; and the socket has bytes
        // at every wait, so only the wait's every-so-often look at the token (trick 5) does.
        let (client, mut server) = pair().await;
        let stop = CancellationToken::new();
        let table = crate::server::ConnectionTable::new(1, Duration::from_secs(60));
        let admitted = table.admit(stop.clone()).expect("a free slot");
        let limits = EchoLimits::from(crate::server::ServerLimits::default());
        let (mut reader, mut writer) = client.into_split();
        let sending = tokio::spawn(async move {
            while writer.write_all(&[1u8; 64]).await.is_ok() {
                tokio::task::yield_now().await;
            }
        });
        let draining =
            tokio::spawn(async move { tokio::io::copy(&mut reader, &mut tokio::io::sink()).await });
        let echoing =
            tokio::spawn(async move { echo(&mut server, &limits, admitted.slot.slot()).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.cancel();
        let ended = tokio::time::timeout(Duration::from_secs(5), echoing).await;
        sending.abort();
        draining.abort();
        let echoed = ended
            .expect("the echo ended after shutdown")
            .unwrap()
            .unwrap();
        assert!(echoed > 0, "bytes flowed before shutdown");
    }

    #[tokio::test]
    async fn a_burst_that_never_drains_still_ends_at_shutdown() {
        let (mut client, mut server) = pair().await;
        client.write_all(&[7u8; 64 * 1024]).await.unwrap();
        server.readable().await.unwrap();
        let stop = CancellationToken::new();
        stop.cancel();
        let guard = a_slot(stop);
        let mut size = FIRST_BUFFER;
        let (moved, over) = pump(&mut server, &mut size, &mut progress(&guard), SECONDS_5)
            .await
            .unwrap();
        assert!(over, "shutdown ends the burst");
        assert_eq!(
            moved, FIRST_BUFFER as u64,
            "after echoing the one full read"
        );
    }

    #[test]
    fn a_thread_keeps_one_first_size_buffer_and_frees_grown_ones() {
        std::thread::spawn(|| {
            let first = take_buffer(FIRST_BUFFER);
            let at = first.as_ptr();
            give_back(first);
            assert_eq!(
                take_buffer(FIRST_BUFFER).as_ptr(),
                at,
                "the spare is reused"
            );
            assert!(SPARE.take().is_none(), "taken, so no spare is left");
            give_back(BytesMut::with_capacity(FIRST_BUFFER * 4));
            assert!(SPARE.take().is_none(), "a grown buffer is not kept");
            let mut used = take_buffer(FIRST_BUFFER);
            used.extend_from_slice(b"old bytes");
            give_back(used);
            assert!(
                take_buffer(FIRST_BUFFER).is_empty(),
                "a spare comes back empty"
            );
        })
        .join()
        .unwrap();
    }

    #[tokio::test]
    async fn a_burst_ends_at_the_short_read_and_the_echo_is_complete() {
        let (mut client, mut server) = pair().await;
        client.write_all(b"ping").await.unwrap();
        server.readable().await.unwrap();
        let mut size = FIRST_BUFFER;
        let guard = a_slot(CancellationToken::new());
        let (moved, ended) = pump(&mut server, &mut size, &mut progress(&guard), SECONDS_5)
            .await
            .unwrap();
        assert_eq!((moved, ended), (4, false));
        assert_eq!(size, FIRST_BUFFER);
        let mut back = [0u8; 4];
        tokio::io::AsyncReadExt::read_exact(&mut client, &mut back)
            .await
            .unwrap();
        assert_eq!(&back, b"ping");
    }
}
