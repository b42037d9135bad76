//! The tuned echo's last trick (9): while connections are few, each gets a thread.
//!
//! An async server learns that bytes arrived from `epoll_wait(2)`, then reads them with
//! `recv(2)`: per message `recv`, `send` and `epoll_wait`, and the runtime's own work of
//! waking a task and polling it (about 2,000 instructions). A thread blocked in `recv(2)`
//! learns it from the `recv` itself returning: one system call fewer and no scheduler of
//! our own. While a server has no more connections than CPUs, there is nothing to
//! multiplex, so a thread each costs nothing and saves that work; epoll pays once
//! connections outnumber the CPUs (one `epoll_wait` then reports many sockets). So:
//!
//! - a new connection gets a thread while at most [`OwnThreads`]'s count of connections
//!   are open, this one included (by default one per CPU the process may use,
//!   `--own-threads`); otherwise it is a task, as the tuned echo always was;
//! - the thread runs the blocking loop of [`super::blocking`], with a [`BUFFER_SIZE`]
//!   buffer (256 KiB, the most the tuned echo's buffer grows to: bulk data needs it, and
//!   there are only a few such connections);
//! - after each message the thread looks at the count (one relaxed load): once more
//!   connections are open than that, it hands its connection back, open and owing
//!   nothing, and the tuned echo carries on with it as a task, with the peer's standing
//!   under the progress rule ([`super::tuned::echo_continuing`]). An idle connection
//!   hands back at its next message; it costs a sleeping thread until then.
//!
//! Deadlines and stopping: the blocking loop brings its write deadline (`SO_SNDTIMEO`)
//! and the progress rule. The read deadline is the connection table's, as in the tuned
//! echo (its trick 4): the socket has no `SO_RCVTIMEO`, so a `recv(2)` that sleeps arms
//! no kernel timer. The task that handed the connection over waits for the thread and
//! watches the slot's stop token: on shutdown, eviction, or the read deadline passing
//! it calls `shutdown(SHUT_RD)` (the blocked `recv(2)` returns end-of-stream, the loop
//! sends its FIN and ends), and if the task itself is dropped (the grace period is over),
//! `shutdown(SHUT_RDWR)`, which also wakes a thread blocked in `send(2)`.
//!
//! Each message's time comes from the connection table's sweeper, not from a clock read
//! ([`Slot::sweeper_time`]): after a context switch that read is cold, and it cost 3% of
//! the round trips of one pinned connection.
//!
//! Gain, one connection, client and server pinned to one CPU: 1.14x the round trips of
//! the same server with `--own-threads 0`, 1.12x tokio's tutorial echo, still 0.97x a
//! blocking std echo (one run of the anchors, the crate README, "One connection: a
//! thread of its own"). At 64 and 1,000 connections the threads have handed back and
//! the server is the tuned echo as before.
//!
//! System calls: `recv(2)`, `send(2)`, `shutdown(2)`, `SO_RCVTIMEO` in `socket(7)`.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::oneshot;

use super::blocking::{Finished, LoopRules, ReadDeadline, echo_until};
use super::{BUFFER_SIZE, EchoLimits};
use crate::server::Slot;
use crate::server::blocking::CONNECTION_THREAD_STACK;

/// The server's count of open connections and of the threads they hold.
#[derive(Debug, Clone)]
pub struct OwnThreads(Arc<Counts>);

#[derive(Debug)]
struct Counts {
    /// Most threads at once, and most open connections while any is given one.
    most: usize,
    /// Connections open now (each holds a [`Placement`]).
    open: AtomicUsize,
    /// Threads running now (each held by an [`OwnThread`]).
    threads: AtomicUsize,
}

/// Where a new connection is served: on a thread of its own, or (`thread` is `None`) as
/// a task. It counts as open for as long as this lives.
#[derive(Debug)]
pub struct Placement {
    /// The thread, if the connection got one.
    pub thread: Option<OwnThread>,
    _open: Open,
}

/// Counts one connection as open.
#[derive(Debug)]
struct Open(Arc<Counts>);

/// The right to one thread, held for as long as the thread serves its connection.
#[derive(Debug)]
pub struct OwnThread(Arc<Counts>);

impl OwnThreads {
    /// At most `most` threads at a time, and only while at most `most` connections are
    /// open (0: every connection is a task).
    pub fn new(most: usize) -> Self {
        OwnThreads(Arc::new(Counts {
            most,
            open: AtomicUsize::new(0),
            threads: AtomicUsize::new(0),
        }))
    }

    /// Counts a new connection and gives it a thread if the server is not crowded (at
    /// most `most` connections open, this one included) and a thread is free.
    pub fn place(&self) -> Placement {
        let open = self.0.open.fetch_add(1, Ordering::Relaxed) + 1;
        let counted = Open(Arc::clone(&self.0));
        let free = |running: usize| (running < self.0.most).then_some(running + 1);
        let thread = (open <= self.0.most)
            .then(|| {
                let claimed =
                    self.0
                        .threads
                        .fetch_update(Ordering::AcqRel, Ordering::Acquire, free);
                claimed.ok().map(|_| OwnThread(Arc::clone(&self.0)))
            })
            .flatten();
        Placement {
            thread,
            _open: counted,
        }
    }
}

impl OwnThread {
    /// More connections are open than CPUs were set aside for: epoll pays again, so the
    /// thread should hand its connection back to the runtime (one relaxed load).
    fn crowded(&self) -> bool {
        self.0.open.load(Ordering::Relaxed) > self.0.most
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Drop for OwnThread {
    fn drop(&mut self) {
        self.0.threads.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What the thread sends back: how its loop ended, and the socket if it is still open.
type ThreadResult = io::Result<(Finished, TcpStream)>;

/// Echoes `stream` on a thread of its own (the loop of [`super::blocking`]) and waits for
/// it, stopping it when `slot.stop()` is cancelled. When the server gets crowded, the
/// thread hands the connection back between two messages, and the tuned echo carries on
/// with it as a task ([`super::tuned::echo_continuing`]). `thread` is given back when
/// the thread ends.
///
/// # Errors
/// The echo's error, or why the stream could not be handed over.
pub async fn echo(
    stream: tokio::net::TcpStream,
    limits: EchoLimits,
    slot: Arc<Slot>,
    thread: OwnThread,
) -> io::Result<u64> {
    let stream = blocking_stream(stream, &limits)?;
    let waker = StopOnDrop(Some(stream.try_clone()?));
    // The read deadline is the table's: its sweeper cancels the stop token, and `wait`
    // then wakes the read. A `recv(2)` under `SO_RCVTIMEO` would arm a kernel timer each
    // time it sleeps.
    slot.enforce_deadline();
    let (done, result) = oneshot::channel();
    let stop = slot.stop().clone();
    let serving = Arc::clone(&slot);
    std::thread::Builder::new()
        .name(format!("echo-own-{}", slot.id()))
        .stack_size(CONNECTION_THREAD_STACK)
        .spawn(move || {
            let rules = LoopRules {
                read_deadline: ReadDeadline::Table,
                buffer: BUFFER_SIZE,
                hand_back: &|| thread.crowded(),
            };
            let ended = echo_until(&stream, &limits, &serving, &rules);
            drop(thread); // the next connection may take this thread's place
            let _ = done.send(ended.map(|finished| (finished, stream)));
        })?;
    let (finished, stream) = wait(result, stop, waker).await?;
    let Some(progress) = finished.handed_back else {
        if slot.timed_out() {
            let limit = limits.server.read_timeout;
            return Err(super::tuned::deadline_passed("read", limit));
        }
        return Ok(finished.bytes);
    };
    let mut stream = async_stream(stream)?;
    let more = super::tuned::echo_continuing(&mut stream, &limits, &slot, progress).await?;
    Ok(finished.bytes + more)
}

/// Waits for the thread's result; on a stop, wakes the thread's `recv(2)` first.
async fn wait(
    mut result: oneshot::Receiver<ThreadResult>,
    stop: tokio_util::sync::CancellationToken,
    mut waker: StopOnDrop,
) -> ThreadResult {
    let ended = tokio::select! {
        ended = &mut result => ended,
        () = stop.cancelled() => {
            waker.stop_reading();
            result.await
        }
    };
    waker.0 = None; // the thread is done: nothing left to wake
    ended.unwrap_or_else(|_| Err(io::Error::other("the connection's thread ended early")))
}

/// `stream`, taken out of tokio's reactor, in blocking mode, with no read timeout and the
/// write deadline the blocking loop starts from (it re-arms it from there).
fn blocking_stream(stream: tokio::net::TcpStream, limits: &EchoLimits) -> io::Result<TcpStream> {
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(None)?;
    stream.set_write_timeout(Some(limits.server.write_timeout))?;
    Ok(stream)
}

/// `stream`, handed back by its thread, registered with tokio's reactor again.
fn async_stream(stream: TcpStream) -> io::Result<tokio::net::TcpStream> {
    stream.set_nonblocking(true)?;
    tokio::net::TcpStream::from_std(stream)
}

/// A second handle on the thread's socket, to wake it: `shutdown(2)` acts on the socket,
/// so a call through this handle ends a `recv(2)` or `send(2)` blocked on the other.
struct StopOnDrop(Option<TcpStream>);

impl StopOnDrop {
    /// Server shutdown or eviction: the blocked `recv(2)` sees end-of-stream, and the loop
    /// finishes what it owes and closes.
    fn stop_reading(&self) {
        if let Some(stream) = &self.0 {
            let _ = stream.shutdown(Shutdown::Read);
        }
    }
}

impl Drop for StopOnDrop {
    /// Dropped while the thread still runs (the task was aborted at the end of the
    /// grace period): wake it whatever it is blocked in.
    fn drop(&mut self) {
        if let Some(stream) = self.0.take() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_connections_get_threads_while_the_server_is_not_crowded() {
        let threads = OwnThreads::new(2);
        let first = threads.place();
        let second = threads.place();
        assert!(first.thread.is_some() && second.thread.is_some());
        let third = threads.place();
        assert!(third.thread.is_none(), "two threads at most");
        let crowded = |p: &Placement| p.thread.as_ref().is_some_and(OwnThread::crowded);
        assert!(crowded(&first), "three open: hand back");
        drop(third);
        assert!(!crowded(&first), "two open: keep the thread");
    }

    #[test]
    fn a_thread_handed_back_or_ended_makes_room_only_while_not_crowded() {
        let threads = OwnThreads::new(1);
        let mut first = threads.place();
        let second = threads.place();
        assert!(second.thread.is_none(), "two open, one CPU: a task");
        drop(first.thread.take()); // the first one's thread handed it back
        assert!(threads.place().thread.is_none(), "still crowded: a task");
        drop(second);
        drop(first);
        assert!(threads.place().thread.is_some(), "alone again: a thread");
    }

    #[test]
    fn zero_threads_means_every_connection_is_a_task() {
        assert!(OwnThreads::new(0).place().thread.is_none());
    }
}
