//! Blocking echo: one OS thread per connection, plain `read` and `write`.
//!
//! Each connection is the loop you would write in Java with `getInputStream().read(buf)`
//! and `getOutputStream().write(buf, 0, n)`: `recv(2)` puts the thread to sleep until bytes
//! arrive, `send(2)` until the kernel has room. The deadlines are `SO_RCVTIMEO` and
//! `SO_SNDTIMEO`, so a silent peer wakes the thread with `EAGAIN` and is dropped; since
//! both restart with every call, they are re-armed from real deadlines as time runs out.
//!
//! Run it: `tcp echo-server --mode blocking` in one terminal,
//! `printf 'hi\n' | tcp echo-client 127.0.0.1:7007` in another (prints `hi`).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::time::Instant;

use super::EchoLimits;
use crate::server::blocking::serve_blocking;
use crate::server::{ReadProgress, Slot};
use crate::socket::ServerSocket;

/// Bytes per `recv(2)`/`send(2)`, held for the connection's whole life (on the heap; the
/// thread's stack stays small). 64 KiB, as in the classic blocking servers this mirrors.
pub const BUFFER_SIZE: usize = 64 * 1024;

/// Serves echo on `listener`, one thread per connection, until `shutdown` is raised.
///
/// # Errors
/// If the listener's address cannot be read.
pub fn serve(
    listener: ServerSocket,
    limits: EchoLimits,
    shutdown: Arc<AtomicBool>,
) -> io::Result<()> {
    serve_blocking(
        listener.into_std(),
        limits.server,
        shutdown,
        move |stream, peer, slot| handle(stream, peer, &limits, slot),
    )
}

/// Echoes one connection and logs how it ended.
fn handle(stream: TcpStream, peer: SocketAddr, limits: &EchoLimits, slot: &Slot) {
    super::log_end(peer, echo(&stream, limits, slot));
}

/// Sends every byte back until end-of-stream, then half-closes our side too; the read
/// deadline kept by `SO_RCVTIMEO` ([`ReadDeadline::Socket`]).
///
/// The socket's `SO_RCVTIMEO` and `SO_SNDTIMEO` are set to the read and write deadlines
/// when the connection is accepted. Both options restart with every `recv(2)`/`send(2)`,
/// so on their own a peer that sends or reads a byte now and then never reaches them:
/// before each call the remaining time is computed from a real deadline and the option
/// shortened when it has shrunk (see `Deadline`). The read deadline follows the progress
/// rule ([`crate::server::progress`]), the write deadline covers each whole
/// `write`-everything-back.
///
/// # Errors
/// A read or write error, including the deadlines (`TimedOut`).
pub fn echo(stream: &TcpStream, limits: &EchoLimits, slot: &Slot) -> io::Result<u64> {
    let rules = LoopRules {
        read_deadline: ReadDeadline::Socket,
        buffer: BUFFER_SIZE,
        hand_back: &|| false,
    };
    echo_until(stream, limits, slot, &rules).map(|finished| finished.bytes)
}

/// Who keeps a connection's read deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadDeadline {
    /// `SO_RCVTIMEO`, re-armed from the real deadline as time runs out. The kernel then
    /// arms a timer for every `recv(2)` that sleeps.
    Socket,
    /// The connection table's sweeper ([`Slot::enforce_deadline`]): the socket has no
    /// `SO_RCVTIMEO` (a sleeping `recv(2)` arms no timer), and whoever watches the
    /// slot's stop token wakes the read with `shutdown(2)` (see [`super::own_thread`]).
    Table,
}

/// How one connection's loop runs: [`echo`] keeps its read deadline with `SO_RCVTIMEO`
/// and never hands back; the tuned echo's own threads ([`super::own_thread`]) differ.
pub struct LoopRules<'a> {
    /// Who keeps the read deadline.
    pub read_deadline: ReadDeadline,
    /// Bytes per `recv(2)`, held for the connection's life.
    pub buffer: usize,
    /// Asked after each message (one call, no system call): `true` ends the loop with
    /// the connection still open and nothing owed, for the caller to carry on with.
    pub hand_back: &'a dyn Fn() -> bool,
}

/// How a loop ended, when it ended without an error.
#[derive(Debug)]
pub struct Finished {
    /// Bytes echoed.
    pub bytes: u64,
    /// `None`: the peer half-closed, everything was echoed and our FIN is sent. `Some`:
    /// handed back open ([`LoopRules::hand_back`]), with the peer's standing so far.
    pub handed_back: Option<ReadProgress>,
}

/// [`echo`] under `rules`. Each message takes the time once, after its `recv(2)`: the
/// progress rule and the write deadline count from that moment. With a socket read
/// deadline that is a clock read; with the table's, the sweeper's last round
/// ([`Slot::sweeper_time`]), never early and at most one sweep late.
///
/// # Errors
/// A read or write error, including the deadlines (`TimedOut`).
pub fn echo_until(
    mut stream: &TcpStream,
    limits: &EchoLimits,
    slot: &Slot,
    rules: &LoopRules<'_>,
) -> io::Result<Finished> {
    // TCP_NODELAY: an echo goes out at once, not held back by Nagle's algorithm while an
    // earlier echo is still unacknowledged (which, with delayed ACKs, can cost 40 ms).
    stream.set_nodelay(true)?;
    let mut progress = limits.progress(slot);
    let mut reading = (rules.read_deadline == ReadDeadline::Socket)
        .then(|| Deadline::new(Side::Read, limits.server.read_timeout));
    let mut writing = Deadline::new(Side::Write, limits.server.write_timeout);
    let mut buf = vec![0u8; rules.buffer];
    let mut total = 0u64;
    let mut now = Instant::now();
    loop {
        if let Some(reading) = &mut reading {
            reading.arm(stream, progress.deadline(), now)?;
        }
        let n = match stream.read(&mut buf) {
            Ok(0) => break, // the peer half-closed: it will send nothing more
            Ok(n) => n,
            Err(err) if retry(&err) => {
                now = Instant::now(); // woken early: `arm` checks the deadline
                continue;
            }
            Err(err) => return Err(err),
        };
        now = after_read(rules.read_deadline, slot);
        progress.record(n as u64, now);
        slot.set_progress(&progress);
        let write_by = now + limits.server.write_timeout;
        now = write_all_by(stream, &buf[..n], write_by, &mut writing, now)?;
        total += n as u64;
        if (rules.hand_back)() {
            return Ok(Finished {
                bytes: total,
                handed_back: Some(progress),
            });
        }
    }
    // Everything owed is written (each chunk went back before the next read):
    // now send our FIN, so the client's read sees end-of-stream.
    stream.shutdown(Shutdown::Write)?;
    Ok(Finished {
        bytes: total,
        handed_back: None,
    })
}

/// The time a message arrived, for its progress and its write deadline. A deadline kept
/// by `SO_RCVTIMEO` re-arms from the real clock; one kept by the table needs only the
/// table's precision, and takes the sweeper's time when a sweeper runs
/// ([`Slot::sweeper_time`]: never early, saves a clock read per message).
fn after_read(read_deadline: ReadDeadline, slot: &Slot) -> Instant {
    match read_deadline {
        ReadDeadline::Socket => Instant::now(),
        ReadDeadline::Table => slot.sweeper_time().unwrap_or_else(Instant::now),
    }
}

/// Writes all of `data` by `deadline`, however the peer spreads its reads. `now` is the
/// time of the read before it; the clock is read again only when a write falls short.
/// Returns the time last read.
fn write_all_by(
    mut stream: &TcpStream,
    mut data: &[u8],
    deadline: Instant,
    writing: &mut Deadline,
    mut now: Instant,
) -> io::Result<Instant> {
    while !data.is_empty() {
        writing.arm(stream, deadline, now)?;
        match stream.write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(err) if retry(&err) => {}
            Err(err) => return Err(err),
        }
        if !data.is_empty() {
            now = Instant::now(); // a slow peer: time has passed
        }
    }
    Ok(now)
}

/// `EINTR`, or `EAGAIN` from a socket timeout that was shorter than what was left.
fn retry(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Turns a real deadline into the per-call timeout `SO_RCVTIMEO`/`SO_SNDTIMEO` takes,
/// calling `setsockopt(2)` only when the armed value no longer fits the time left (never
/// while the peer keeps up, so the fast path costs no extra system call).
struct Deadline {
    side: Side,
    armed: Duration,
}

/// Which socket option a [`Deadline`] drives.
#[derive(Clone, Copy)]
enum Side {
    /// `SO_RCVTIMEO`.
    Read,
    /// `SO_SNDTIMEO`.
    Write,
}

impl Deadline {
    /// The socket option was set to `initial` when the connection was accepted.
    fn new(side: Side, initial: Duration) -> Self {
        Deadline {
            side,
            armed: initial,
        }
    }

    /// Fails with `TimedOut` once `deadline` has passed at `now`; otherwise makes sure
    /// the next call waits no longer than what is left (and not much less).
    fn arm(&mut self, stream: &TcpStream, deadline: Instant, now: Instant) -> io::Result<()> {
        let left = deadline.saturating_duration_since(now);
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                match self.side {
                    Side::Read => "read deadline passed (the peer sent too little)",
                    Side::Write => "write deadline passed (the peer does not read)",
                },
            ));
        }
        if left < self.armed || left > self.armed * 2 {
            // SO_RCVTIMEO/SO_SNDTIMEO of zero would mean "wait forever".
            let timeout = left.max(Duration::from_millis(1));
            match self.side {
                Side::Read => stream.set_read_timeout(Some(timeout))?,
                Side::Write => stream.set_write_timeout(Some(timeout))?,
            }
            self.armed = timeout;
        }
        Ok(())
    }
}
