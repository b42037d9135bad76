//! The echo protocol (RFC 862), served two ways so the styles can be compared.
//!
//! RFC 862 in one sentence: whatever bytes arrive on a connection are sent back, until the
//! client closes. Over TCP one more rule makes it useful for testing: when the client
//! half-closes (`shutdown(SHUT_WR)`, Java's `shutdownOutput`), the server still sends back
//! everything it owes, then closes its side too.
//!
//! - [`blocking`]: one OS thread per connection, plain `read`/`write` (`recv(2)`/`send(2)`
//!   that put the thread to sleep). Straight-line code; a thread per client.
//! - [`nonblocking`]: tokio tasks on a few threads; sockets in `O_NONBLOCK` mode watched
//!   by `epoll(7)`. Same protocol, thousands of idle clients for little memory.
//! - [`client`]: send a stream, half-close, collect the echo.
//!
//! [`EchoServer`] starts either one on its own thread, for the CLI, tests and the demo.

pub mod blocking;
pub mod client;
pub mod nonblocking;

use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;

use tokio_util::sync::CancellationToken;

use crate::server::ServerLimits;
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

/// Which of the two servers to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One thread per connection ([`blocking`]).
    Blocking,
    /// tokio tasks ([`nonblocking`]).
    Async,
}

/// An echo server running on its own thread.
#[derive(Debug)]
pub struct EchoServer {
    local_addr: SocketAddr,
    shutdown: CancellationToken,
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
        limits: ServerLimits,
    ) -> Result<EchoServer, SocketError> {
        let listener = ServerSocket::bind(bind)?;
        let local_addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let thread = std::thread::Builder::new()
            .name(format!("echo-{mode:?}").to_lowercase())
            .spawn(move || match mode {
                Mode::Blocking => blocking::serve(listener, limits, token),
                Mode::Async => nonblocking::serve_on_new_runtime(listener, limits, token),
            })?;
        Ok(EchoServer {
            local_addr,
            shutdown,
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
        self.thread
            .join()
            .map_err(|_| io::Error::other("echo server thread panicked"))?
    }
}
