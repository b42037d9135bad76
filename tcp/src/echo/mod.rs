//! The echo protocol (RFC 862), served two ways so the styles can be compared.
//!
//! RFC 862 in one sentence: whatever bytes arrive on a connection are sent back, until the
//! client closes. Over TCP one more rule makes it useful for testing: when the client
//! half-closes (`shutdown(SHUT_WR)`, Java's `shutdownOutput`), the server still sends back
//! everything it owes, then closes its side too.
//!
//! Read in this order:
//! - [`blocking`]: one OS thread per connection, plain `read`/`write` (`recv(2)`/`send(2)`
//!   that put the thread to sleep). Straight-line code; a thread per client.
//! - [`plain`]: the same loop async, on tokio tasks: sockets in `O_NONBLOCK` mode watched
//!   by `epoll(7)`, one fixed 4 KiB buffer, a read deadline. About 30 lines.
//! - [`tuned`]: the async echo with the tricks that make it fast, each named and measured.
//! - [`client`]: send a stream, half-close, collect the echo.
//!
//! [`EchoServer`] starts any of the three on its own thread, for the CLI, tests and the
//! demo; the accept loops they run in are in [`crate::server`].

pub mod blocking;
pub mod client;
pub mod own_thread;
pub mod plain;
pub mod tuned;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use tokio_util::sync::CancellationToken;

use tokio::time::Instant;

use crate::server::limits::DEFAULT_MIN_READ_RATE;
use crate::server::{self, ReadProgress, ServerLimits, Slot};
use crate::socket::{ServerSocket, SocketError};

/// Default echo port (`--bind 127.0.0.1:7007`). RFC 862 assigns port 7, which needs
/// privileges on Unix, so the suite uses 7007.
pub const DEFAULT_PORT: u16 = 7007;

/// Largest buffer per connection while bulk data flows. A big buffer lets one `recv(2)`
/// take a large share of the socket's receive queue, which is what bulk throughput needs
/// (on loopback 256 KiB measured faster than 64 KiB). The async server holds it only
/// while data flows, growing to it from [`FIRST_BUFFER`], so idle connections cost no
/// buffer. (The blocking server keeps [`blocking::BUFFER_SIZE`] for its whole life.) Worst case, every connection
/// streaming at once: `--max-conns` x 256 KiB.
pub const BUFFER_SIZE: usize = 256 * 1024;

/// The async server's buffer when a burst of bytes begins: big enough for any
/// request/response message, small enough to take and give back cheaply. It grows to
/// [`BUFFER_SIZE`], fourfold each time a read fills it.
pub const FIRST_BUFFER: usize = 4 * 1024;

/// The bounds of an echo server: the ones every server applies, and the progress rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoLimits {
    /// Connection cap, deadlines, shutdown grace.
    pub server: ServerLimits,
    /// Least average bytes per second a peer must send to keep its connection (0: no
    /// rule); see [`crate::server::progress`].
    pub min_read_rate: u64,
    /// The tuned echo only: while at most this many connections are open, each is served
    /// on a thread of its own instead of as a task; when more are open, all are tasks
    /// ([`own_thread`]; 0: always tasks).
    pub own_threads: usize,
}

impl EchoLimits {
    /// The progress rule for a connection accepted now into `slot`.
    pub fn progress(&self, slot: &Slot) -> ReadProgress {
        ReadProgress::start(
            slot.epoch(),
            Instant::now(),
            self.server.read_timeout,
            self.min_read_rate,
        )
    }
}

impl From<ServerLimits> for EchoLimits {
    /// `server`, with the default progress rule ([`DEFAULT_MIN_READ_RATE`]), every
    /// connection a task.
    fn from(server: ServerLimits) -> Self {
        EchoLimits {
            server,
            min_read_rate: DEFAULT_MIN_READ_RATE,
            own_threads: 0,
        }
    }
}

/// Which of the servers to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One thread per connection ([`blocking`]).
    Blocking,
    /// tokio tasks, the plain loop ([`plain`]).
    Plain,
    /// tokio tasks, the tuned loop ([`tuned`]).
    Async,
}

/// An echo server running on its own thread.
#[derive(Debug)]
pub struct EchoServer {
    local_addr: SocketAddr,
    /// Stops the async servers.
    shutdown: CancellationToken,
    /// Stops the blocking server (true = stop).
    stop_flag: Arc<AtomicBool>,
    thread: JoinHandle<io::Result<()>>,
}

impl EchoServer {
    /// Binds `bind` and starts serving in `mode` on a new thread.
    ///
    /// # Errors
    /// [`SocketError::Bind`] if the address cannot be bound.
    pub fn start(
        mode: Mode,
        bind: SocketAddr,
        limits: impl Into<EchoLimits>,
    ) -> Result<EchoServer, SocketError> {
        let limits = limits.into();
        let listener = ServerSocket::bind(bind)?;
        let local_addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let stop_flag = Arc::new(AtomicBool::new(false));
        let (token, flag) = (shutdown.clone(), Arc::clone(&stop_flag));
        let thread = std::thread::Builder::new()
            .name(format!("echo-{mode:?}").to_lowercase())
            .spawn(move || match mode {
                Mode::Blocking => blocking::serve(listener, limits, flag),
                Mode::Plain | Mode::Async => serve_async(listener, limits, token, mode),
            })?;
        Ok(EchoServer {
            local_addr,
            shutdown,
            stop_flag,
            thread,
        })
    }

    /// The address the server listens on (the real port after port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets open connections finish within the grace period, and waits
    /// for the server thread.
    ///
    /// # Errors
    /// If the server failed, or its thread panicked.
    pub fn stop(self) -> io::Result<()> {
        self.shutdown.cancel();
        self.stop_flag.store(true, Ordering::Release);
        self.thread
            .join()
            .map_err(|_| io::Error::other("echo server thread panicked"))?
    }
}

/// Serves the async echo of `mode` ([`plain`] or [`tuned`]) on a new multi-threaded tokio
/// runtime, one task per connection, until `shutdown` is cancelled.
fn serve_async(
    listener: ServerSocket,
    limits: EchoLimits,
    shutdown: CancellationToken,
    mode: Mode,
) -> io::Result<()> {
    let runtime = runtime_for_this_machine()?;
    let own_threads = own_thread::OwnThreads::new(match mode {
        Mode::Async => limits.own_threads,
        _ => 0,
    });
    runtime.block_on(async move {
        let listener = listener.into_tokio()?;
        server::serve_slots(
            listener,
            limits.server,
            shutdown,
            move |stream, peer, slot| {
                let placement = own_threads.place();
                connection(mode, stream, peer, limits, slot, placement)
            },
        )
        .await;
        Ok(())
    })
}

/// tokio's multi-threaded runtime, or its single-threaded one when the process may use
/// one CPU only (`taskset -c 0`, `sched_getaffinity(2)`).
///
/// With one CPU the multi-threaded runtime runs one worker anyway, and still pays for
/// being able to hand tasks between threads: atomic run queues, a worker that parks
/// and unparks through the shared driver. The single-threaded one polls the same
/// tasks on one thread without them.
fn runtime_for_this_machine() -> io::Result<tokio::runtime::Runtime> {
    runtime_for(usable_cpus())
}

/// The CPUs this process may run on (`sched_getaffinity(2)`; 1 if that cannot be read).
pub fn usable_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The runtime for a process that may use `cpus` CPUs.
fn runtime_for(cpus: usize) -> io::Result<tokio::runtime::Runtime> {
    if cpus == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Runtime::new()
    }
}

/// One connection's task: the echo of `mode` (on a thread of its own if its `placement`
/// says so), then a log line saying how it ended.
///
/// A task's future is as large as the largest future it may await. The plain echo keeps
/// its 4 KiB buffer inside its own future, so it is boxed here: a tuned task stays small
/// while its connection is idle (10,000 idle connections: 26 MiB instead of 100 MiB).
async fn connection(
    mode: Mode,
    mut stream: tokio::net::TcpStream,
    peer: SocketAddr,
    limits: EchoLimits,
    slot: Arc<server::Slot>,
    mut placement: own_thread::Placement,
) {
    let ended = match (mode, placement.thread.take()) {
        (Mode::Plain, _) => Box::pin(plain::echo(&mut stream, &limits, &slot)).await,
        (_, Some(thread)) => Box::pin(own_thread::echo(stream, limits, slot, thread)).await,
        (_, None) => tuned::echo(&mut stream, &limits, &slot).await,
    };
    log_end(peer, ended);
}

/// At most ten "dropped" warnings a second (a flood of bad peers is summarised).
static DROPPED: support::log::Throttle = support::log::Throttle::per_second(10);

/// Logs how an echo connection ended.
fn log_end(peer: SocketAddr, ended: io::Result<u64>) {
    match ended {
        Ok(bytes) => tracing::debug!(%peer, bytes, "echo connection finished"),
        Err(err) => {
            support::warn_throttled!(DROPPED, %peer, error = %err, "echo connection dropped")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection costs its task's future: keep it far below the 4 KiB buffer of
    /// the plain echo, whichever mode the server runs.
    #[tokio::test]
    async fn a_connection_task_is_small_in_every_async_mode() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        let table = server::ConnectionTable::new(1, std::time::Duration::from_secs(1));
        let admitted = table.admit(CancellationToken::new()).unwrap();
        let limits = EchoLimits::from(ServerLimits::default());
        for mode in [Mode::Async, Mode::Plain] {
            let stream = tokio::net::TcpStream::from_std(clone(&stream)).unwrap();
            let slot = admitted.slot.slot().clone();
            let placement = own_thread::OwnThreads::new(1).place();
            let task = connection(mode, stream, peer, limits, slot, placement);
            let size = std::mem::size_of_val(&task);
            assert!(
                size < 1024,
                "{mode:?}: a connection's future is {size} bytes"
            );
        }
    }

    #[test]
    fn one_cpu_gets_the_single_threaded_runtime_and_more_get_the_multi_threaded_one() {
        use tokio::runtime::RuntimeFlavor;
        let flavor = |cpus| runtime_for(cpus).unwrap().handle().runtime_flavor();
        assert_eq!(flavor(1), RuntimeFlavor::CurrentThread);
        assert_eq!(flavor(2), RuntimeFlavor::MultiThread);
    }

    fn clone(stream: &tokio::net::TcpStream) -> std::net::TcpStream {
        let fd = socket2::SockRef::from(stream).try_clone().unwrap();
        let std: std::net::TcpStream = fd.into();
        std.set_nonblocking(true).unwrap();
        std
    }
}
