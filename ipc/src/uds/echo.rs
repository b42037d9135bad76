//! An echo server on a Unix socket path: bytes in, the same bytes back (RFC 862 over `AF_UNIX`).
//!
//! Thread per connection, like the blocking TCP echo. Peers are untrusted, so every resource they
//! control is bounded: at most [`DEFAULT_MAX_CONNECTIONS`] at once (more are accepted and closed
//! at once, with a warning in the log), an idle peer is dropped after [`DEFAULT_IDLE_TIMEOUT`], and
//! each read uses a fixed [`BUFFER_BYTES`] buffer. A half-close from the peer (`shutdown(SHUT_WR)`,
//! socat's end of input) gets everything owed back, then the server closes.
//!
//! Two terminals: `ipc uds-echo-server /tmp/echo.sock` prints `listening on /tmp/echo.sock`;
//! `socat - UNIX-CONNECT:/tmp/echo.sock` (or `ipc uds-client /tmp/echo.sock`) echoes each line.
//!
//! System calls: `poll(2)` on the listener (so a stop request is seen within [`TICK`]),
//! `accept4(2)`, `read(2)`/`write(2)`, `setsockopt(SO_RCVTIMEO)`, `getsockopt(SO_PEERCRED)`.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::error::{OpContext, Result};

/// Connections served at once unless the caller says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
/// A peer that sends nothing for this long is disconnected.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The read buffer of each connection.
pub const BUFFER_BYTES: usize = 16 * 1024;
/// How often blocked calls look at the stop flag.
pub const TICK: Duration = Duration::from_millis(100);

/// The bounds of one server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections at once.
    pub max_connections: usize,
    /// Idle time before a peer is dropped.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// Accepts and echoes until `shutdown` becomes true, then lets open connections notice it
/// (within [`TICK`]) and joins them.
pub fn serve(listener: &UnixListener, limits: Limits, shutdown: Arc<AtomicBool>) -> Result<()> {
    let active = Arc::new(AtomicUsize::new(0));
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    while !shutdown.load(Ordering::Relaxed) {
        if !wait_readable(listener)? {
            continue;
        }
        let (stream, _) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!("accept: {err}");
                continue;
            }
        };
        workers.retain(|w| !w.is_finished());
        if let Some(worker) = admit(stream, limits, &active, &shutdown) {
            workers.push(worker);
        }
    }
    for worker in workers {
        let _ = worker.join();
    }
    Ok(())
}

/// Waits up to [`TICK`] for a connection to accept.
fn wait_readable(listener: &UnixListener) -> Result<bool> {
    let mut fds = [PollFd::new(listener, PollFlags::IN)];
    let tick = Timespec::try_from(TICK).unwrap_or(Timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    });
    match rustix::event::poll(&mut fds, Some(&tick)) {
        Ok(n) => Ok(n > 0),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(err) => Err(crate::IpcError::io("poll", err)),
    }
}

/// Starts a worker for `stream`, or closes it at once when the server is full.
fn admit(
    stream: UnixStream,
    limits: Limits,
    active: &Arc<AtomicUsize>,
    shutdown: &Arc<AtomicBool>,
) -> Option<JoinHandle<()>> {
    let peer = super::cred::peer(&stream).ok();
    if active.fetch_add(1, Ordering::SeqCst) >= limits.max_connections {
        active.fetch_sub(1, Ordering::SeqCst);
        tracing::warn!(
            ?peer,
            max = limits.max_connections,
            "too many connections: closed"
        );
        return None;
    }
    tracing::info!(?peer, "connection");
    let (active, shutdown) = (Arc::clone(active), Arc::clone(shutdown));
    Some(std::thread::spawn(move || {
        if let Err(err) = echo(stream, limits.idle_timeout, &shutdown) {
            tracing::warn!(?peer, "connection: {err}");
        }
        active.fetch_sub(1, Ordering::SeqCst);
    }))
}

/// Echoes one connection until EOF, idle timeout or stop.
fn echo(mut stream: UnixStream, idle: Duration, shutdown: &AtomicBool) -> Result<()> {
    stream
        .set_read_timeout(Some(TICK))
        .op(|| "setsockopt(SO_RCVTIMEO)".into())?;
    let mut buf = vec![0u8; BUFFER_BYTES];
    let mut idle_for = Duration::ZERO;
    while !shutdown.load(Ordering::Relaxed) && idle_for < idle {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                stream.write_all(&buf[..n]).op(|| "write".into())?;
                idle_for = Duration::ZERO;
            }
            Err(err) if is_timeout(&err) => idle_for += TICK,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(crate::IpcError::io("read", err)),
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    Ok(())
}

fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
