//! `Socket`: a connected TCP stream, Java's `java.net.Socket`.
//!
//! Java gives a socket an `InputStream` and an `OutputStream`; here [`Socket`] implements
//! `Read` (`recv(2)`) and `Write` (`send(2)`) itself, and so does `&Socket`, so one thread
//! can read while another writes. Every option is one `setsockopt(2)` call.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use socket2::{Domain, Protocol, TcpKeepalive, Type};

use super::{SocketError, resolve};

/// A connected TCP stream: Java's `Socket`.
#[derive(Debug)]
pub struct Socket {
    inner: socket2::Socket,
}

/// TCP keepalive probing: after `idle` without traffic, send a probe every `interval`;
/// after `count` unanswered probes the connection is declared dead (`ETIMEDOUT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAlive {
    /// `TCP_KEEPIDLE`: quiet time before the first probe (Linux default 7200 s).
    pub idle: Duration,
    /// `TCP_KEEPINTVL`: time between probes (Linux default 75 s).
    pub interval: Duration,
    /// `TCP_KEEPCNT`: unanswered probes before giving up (Linux default 9).
    pub count: u32,
}

impl Socket {
    /// Resolves `target` (`host:port`) and connects to the first address that answers:
    /// Java's `new Socket(host, port)`, or `connect(addr, timeout)` with a timeout.
    ///
    /// # Errors
    /// [`SocketError::Resolve`] for a bad name; [`SocketError::Connect`] with the last
    /// address's error (refused, timed out, unreachable) if none answered.
    pub fn connect(target: &str, timeout: Option<Duration>) -> Result<Socket, SocketError> {
        let mut last = None;
        for addr in resolve(target)? {
            match Self::connect_addr(addr, timeout) {
                Ok(socket) => return Ok(socket),
                Err(err) => last = Some(err),
            }
        }
        Err(SocketError::Connect {
            target: target.to_owned(),
            source: last.unwrap_or_else(|| io::ErrorKind::NotFound.into()),
        })
    }

    /// `socket(2)` and `connect(2)` to one address; with a timeout the connect is done
    /// non-blocking and waited for with `poll(2)`, as Java's `connect(addr, timeout)`.
    ///
    /// # Errors
    /// The `connect(2)` error (`ECONNREFUSED`, `ETIMEDOUT`, `ENETUNREACH`, ...).
    pub fn connect_addr(addr: SocketAddr, timeout: Option<Duration>) -> io::Result<Socket> {
        let socket =
            socket2::Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        match timeout {
            Some(timeout) => socket.connect_timeout(&addr.into(), timeout)?,
            None => socket.connect(&addr.into())?,
        }
        Ok(Socket { inner: socket })
    }

    /// Sets `SO_RCVTIMEO` (`socket(7)`): a read that waits longer fails with `WouldBlock`
    /// (Unix) or `TimedOut` (Windows). Java's `setSoTimeout`, which throws
    /// `SocketTimeoutException`. `None` waits forever.
    ///
    /// # Errors
    /// If `setsockopt(2)` fails, or the duration is zero.
    pub fn set_so_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_read_timeout(timeout)
    }

    /// Reads `SO_RCVTIMEO`: Java's `getSoTimeout`. Linux keeps it in clock ticks, so it
    /// may read back rounded (30 ms set, 32 ms read).
    ///
    /// # Errors
    /// If `getsockopt(2)` fails.
    pub fn so_timeout(&self) -> io::Result<Option<Duration>> {
        self.inner.read_timeout()
    }

    /// Sets `SO_SNDTIMEO` (`socket(7)`): a write blocked longer than this fails. Java has
    /// no equivalent; its writes block until the peer reads.
    ///
    /// # Errors
    /// If `setsockopt(2)` fails, or the duration is zero.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_write_timeout(timeout)
    }

    /// Sets `TCP_NODELAY` (`tcp(7)`): send small writes at once instead of waiting to
    /// coalesce them (Nagle's algorithm, RFC 896). Java's `setTcpNoDelay`. Turn it on for
    /// request/response protocols, where Nagle plus delayed ACKs costs up to 40 ms a turn.
    ///
    /// # Errors
    /// If `setsockopt(2)` fails.
    pub fn set_tcp_no_delay(&self, on: bool) -> io::Result<()> {
        self.inner.set_tcp_nodelay(on)
    }

    /// Reads `TCP_NODELAY`: Java's `getTcpNoDelay`.
    ///
    /// # Errors
    /// If `getsockopt(2)` fails.
    pub fn tcp_no_delay(&self) -> io::Result<bool> {
        self.inner.tcp_nodelay()
    }

    /// Sets `SO_KEEPALIVE` (`socket(7)`) and, when given, `TCP_KEEPIDLE`, `TCP_KEEPINTVL`
    /// and `TCP_KEEPCNT` (`tcp(7)`). Java's `setKeepAlive` (Java 11+ sets the three
    /// timings through `ExtendedSocketOptions`). macOS names `TCP_KEEPIDLE`
    /// `TCP_KEEPALIVE`; socket2 hides that. `None` turns probing off.
    ///
    /// # Errors
    /// If `setsockopt(2)` fails.
    pub fn set_keep_alive(&self, keep_alive: Option<KeepAlive>) -> io::Result<()> {
        match keep_alive {
            None => self.inner.set_keepalive(false),
            Some(k) => self.inner.set_tcp_keepalive(
                &TcpKeepalive::new()
                    .with_time(k.idle)
                    .with_interval(k.interval)
                    .with_retries(k.count),
            ),
        }
    }

    /// Reads `SO_KEEPALIVE`: Java's `getKeepAlive`.
    ///
    /// # Errors
    /// If `getsockopt(2)` fails.
    pub fn keep_alive(&self) -> io::Result<bool> {
        self.inner.keepalive()
    }

    /// Sets `SO_LINGER` (`socket(7)`): Java's `setSoLinger`. `Some(d)` makes `close(2)`
    /// wait up to `d` for unsent data; `Some(ZERO)` makes `close` discard unsent data and
    /// send a reset (RST) instead of a FIN. `None` (the default) closes in the background.
    ///
    /// # Errors
    /// If `setsockopt(2)` fails.
    pub fn set_so_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.inner.set_linger(linger)
    }

    /// Reads `SO_LINGER`: Java's `getSoLinger`.
    ///
    /// # Errors
    /// If `getsockopt(2)` fails.
    pub fn so_linger(&self) -> io::Result<Option<Duration>> {
        self.inner.linger()
    }

    /// Sets `SO_SNDBUF` (`socket(7)`): Java's `setSendBufferSize`. Linux doubles the value
    /// (for its bookkeeping) and caps it at `net.core.wmem_max`; setting it turns off
    /// the kernel's automatic tuning for this socket.
    ///
    /// # Errors
    /// If `setsockopt(2)` fails.
    pub fn set_send_buffer_size(&self, bytes: usize) -> io::Result<()> {
        self.inner.set_send_buffer_size(bytes)
    }

    /// Reads `SO_SNDBUF`: Java's `getSendBufferSize` (on Linux, twice what was set).
    ///
    /// # Errors
    /// If `getsockopt(2)` fails.
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        self.inner.send_buffer_size()
    }

    /// Sets `SO_RCVBUF` (`socket(7)`): Java's `setReceiveBufferSize`. Linux doubles the
    /// value and caps it at `net.core.rmem_max`. It bounds the TCP window offered to the
    /// peer, so set it before `connect` for it to count fully.
    ///
    /// # Errors
    /// If `setsockopt(2)` fails.
    pub fn set_receive_buffer_size(&self, bytes: usize) -> io::Result<()> {
        self.inner.set_recv_buffer_size(bytes)
    }

    /// Reads `SO_RCVBUF`: Java's `getReceiveBufferSize`.
    ///
    /// # Errors
    /// If `getsockopt(2)` fails.
    pub fn receive_buffer_size(&self) -> io::Result<usize> {
        self.inner.recv_buffer_size()
    }

    /// `shutdown(2)` with `SHUT_WR`: sends FIN, so the peer reads end-of-stream, while
    /// this side can still read. Java's `shutdownOutput`. This is the half-close an echo
    /// client uses to say "that was all" and still collect the rest of the echo.
    ///
    /// # Errors
    /// If the socket is not connected.
    pub fn shutdown_output(&self) -> io::Result<()> {
        self.inner.shutdown(Shutdown::Write)
    }

    /// `shutdown(2)` with `SHUT_RD`: later reads return end-of-stream. Java's
    /// `shutdownInput`. Sends nothing to the peer.
    ///
    /// # Errors
    /// If the socket is not connected.
    pub fn shutdown_input(&self) -> io::Result<()> {
        self.inner.shutdown(Shutdown::Read)
    }

    /// This end's address (`getsockname(2)`): Java's `getLocalSocketAddress`.
    ///
    /// # Errors
    /// If `getsockname(2)` fails.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket_addr(self.inner.local_addr()?)
    }

    /// The other end's address (`getpeername(2)`): Java's `getRemoteSocketAddress`.
    ///
    /// # Errors
    /// If the socket is not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        socket_addr(self.inner.peer_addr()?)
    }

    /// A second handle on the same connection (`dup(2)`), e.g. for a reader thread.
    ///
    /// # Errors
    /// If the process is out of file descriptors.
    pub fn try_clone(&self) -> io::Result<Socket> {
        Ok(Socket {
            inner: self.inner.try_clone()?,
        })
    }

    /// The standard library stream inside.
    pub fn into_std(self) -> TcpStream {
        self.inner.into()
    }

    /// A tokio stream on the same connection (switched to non-blocking, `O_NONBLOCK`).
    ///
    /// # Errors
    /// If called outside a tokio runtime.
    pub fn into_tokio(self) -> io::Result<tokio::net::TcpStream> {
        let std = self.into_std();
        std.set_nonblocking(true)?;
        tokio::net::TcpStream::from_std(std)
    }
}

/// An IPv4 or IPv6 address out of socket2's generic `sockaddr`.
fn socket_addr(addr: socket2::SockAddr) -> io::Result<SocketAddr> {
    addr.as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP socket address"))
}

impl From<TcpStream> for Socket {
    fn from(stream: TcpStream) -> Self {
        Socket {
            inner: stream.into(),
        }
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Read for &Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.inner).read(buf)
    }
}

impl Write for &Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.inner).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&self.inner).flush()
    }
}
