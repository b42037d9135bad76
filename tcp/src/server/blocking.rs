//! The blocking accept loop: one OS thread per connection, capped, stoppable.
//!
//! This is how Java servers were written before NIO: `accept()` in a loop, `new Thread`
//! per client. It is simple to read (each connection is straight-line code with blocking
//! `read`/`write`), and it scales to as many connections as the cap on threads allows;
//! each thread costs a stack and a kernel task. The cap on connections is the bound on
//! threads.
//!
//! Stopping needs two tricks, because a blocked `accept(2)` or `recv(2)` does not look at
//! any flag: the listener gets a receive timeout (`SO_RCVTIMEO`, which Linux applies to
//! `accept(2)`), so the loop looks at the shutdown flag every [`ACCEPT_POLL`]; and each
//! open connection gets `shutdown(SHUT_RD)`, which makes its blocked `recv(2)` return
//! end-of-stream on Linux, so the connection finishes writing what it owes and closes.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::conn_limit::{ConnectionTable, REFUSED, Slot, SlotGuard};
use super::{AcceptBackoff, ServerLimits};

/// How often a blocked `accept(2)` wakes up to look at the shutdown flag.
pub const ACCEPT_POLL: Duration = Duration::from_millis(100);

/// Stack size of each connection thread: the buffers live on the heap, so a small stack
/// keeps thousands of threads affordable.
pub const CONNECTION_THREAD_STACK: usize = 256 * 1024;

/// Open connections, so shutdown can reach their blocked reads.
#[derive(Default)]
struct OpenConnections {
    streams: Mutex<HashMap<u64, TcpStream>>,
}

impl OpenConnections {
    fn insert(&self, id: u64, stream: TcpStream) {
        self.lock().insert(id, stream);
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// `shutdown(SHUT_RDWR)` on one connection: its blocked `recv(2)` or `send(2)` returns.
    fn shut(&self, id: u64) {
        if let Some(stream) = self.lock().get(&id) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// `shutdown(SHUT_RD)` on every open connection: their reads see end-of-stream.
    fn stop_reading(&self) {
        for stream in self.lock().values() {
            let _ = stream.shutdown(Shutdown::Read);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, TcpStream>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Serves `listener` on one thread per connection until `shutdown` is raised (true = stop).
///
/// Each accepted stream gets `limits.read_timeout` and `limits.write_timeout`
/// (`SO_RCVTIMEO`/`SO_SNDTIMEO`) before `handler` runs on its own thread with the
/// connection's [`Slot`], where it records its peer's deadline (the progress rule,
/// [`super::progress`]). When every slot is taken, the connection furthest behind is shut
/// down (`shutdown(SHUT_RDWR)` wakes its blocked `recv(2)` or `send(2)`) and the newcomer
/// is served; if every connection keeps up, the newcomer is closed at once. On shutdown,
/// open connections stop reading and get `limits.shutdown_grace` to finish.
///
/// # Errors
/// If the listener's poll timeout cannot be set.
pub fn serve_blocking<H>(
    listener: TcpListener,
    limits: ServerLimits,
    shutdown: Arc<AtomicBool>,
    handler: H,
) -> io::Result<()>
where
    H: Fn(TcpStream, SocketAddr, &Slot) + Send + Sync + 'static,
{
    socket2::SockRef::from(&listener).set_read_timeout(Some(ACCEPT_POLL))?;
    let table = ConnectionTable::new(limits.max_connections, limits.read_timeout);
    let open = Arc::new(OpenConnections::default());
    let handler = Arc::new(handler);
    let mut backoff = AcceptBackoff::default();
    while !shutdown.load(Ordering::Acquire) {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => {
                backoff.reset();
                accepted
            }
            // The poll timeout: look at the flag again.
            Err(err) if matches!(err.kind(), io::ErrorKind::WouldBlock) => continue,
            Err(err) => {
                thread::sleep(backoff.pause_after(&err));
                continue;
            }
        };
        let Some(admitted) = table.admit(CancellationToken::new()) else {
            support::warn_throttled!(REFUSED, %peer, max = table.max(), "connection cap reached; closing new connection");
            continue;
        };
        if let Some(evicted) = admitted.evicted {
            tracing::info!(%peer, evicted, "cap reached; the connection furthest behind made room");
            open.shut(evicted);
        }
        let id = admitted.slot.slot().id();
        if let Err(err) = prepare(&stream, &limits, &open, id) {
            tracing::warn!(%peer, error = %err, "cannot set up connection; closing it");
            continue;
        }
        let connection = Connection {
            stream,
            peer,
            slot: admitted.slot,
        };
        spawn_connection(connection, Arc::clone(&open), Arc::clone(&handler));
    }
    drop(listener); // stop accepting: new connections are refused by the kernel
    open.stop_reading();
    wait_until_idle(&table, limits.shutdown_grace);
    Ok(())
}

/// One accepted connection and the slot it holds.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    slot: SlotGuard,
}

/// Runs `handler` for `conn` on its own thread, giving back its slot when it ends.
fn spawn_connection<H>(conn: Connection, open: Arc<OpenConnections>, handler: Arc<H>)
where
    H: Fn(TcpStream, SocketAddr, &Slot) + Send + Sync + 'static,
{
    let (id, peer) = (conn.slot.slot().id(), conn.peer);
    let registry = Arc::clone(&open);
    let spawned = thread::Builder::new()
        .name(format!("conn-{id}"))
        .stack_size(CONNECTION_THREAD_STACK)
        .spawn(move || {
            handler(conn.stream, conn.peer, conn.slot.slot());
            registry.remove(id);
            drop(conn.slot);
        });
    if let Err(err) = spawned {
        // The closure (and with it the stream and the slot) was dropped: the peer sees a close.
        tracing::error!(%peer, error = %err, "cannot start a thread; closing connection");
        open.remove(id);
    }
}

/// Sets the deadlines and registers the stream for shutdown.
fn prepare(
    stream: &TcpStream,
    limits: &ServerLimits,
    open: &OpenConnections,
    id: u64,
) -> io::Result<()> {
    stream.set_read_timeout(Some(limits.read_timeout))?;
    stream.set_write_timeout(Some(limits.write_timeout))?;
    open.insert(id, stream.try_clone()?);
    Ok(())
}

/// Waits until no connection is open, or `grace` has passed.
fn wait_until_idle(cap: &ConnectionTable, grace: Duration) {
    let deadline = Instant::now() + grace;
    while cap.active() > 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    if cap.active() > 0 {
        tracing::warn!(left = cap.active(), "grace period over; leaving the rest");
    }
}
