//! `ServerSocket`: a listening TCP socket, Java's `java.net.ServerSocket`.
//!
//! ```text
//! Java                              this crate                     system calls
//! new ServerSocket(port, backlog)   ServerSocket::builder(addr)    socket(2), setsockopt(SO_REUSEADDR),
//!                                     .backlog(n).bind()           bind(2), listen(2)
//! serverSocket.accept()             server.accept()                accept(2)
//! serverSocket.setSoTimeout(ms)     server.set_so_timeout(..)      setsockopt(SO_RCVTIMEO)
//! ```

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use socket2::{Domain, Protocol, Type};

use super::{Socket, SocketError, resolve};

/// Default length of the queue of connections waiting for `accept(2)` (`listen(2)`'s
/// backlog). Linux silently caps it at `net.core.somaxconn` (4096 on recent kernels).
pub const DEFAULT_BACKLOG: i32 = 1024;

/// A TCP socket listening for connections: Java's `ServerSocket`.
#[derive(Debug)]
pub struct ServerSocket {
    inner: TcpListener,
}

/// The steps of `new ServerSocket(...)` made visible: each setter is one system call.
#[derive(Debug, Clone)]
pub struct ServerSocketBuilder {
    addr: SocketAddr,
    reuse_address: bool,
    backlog: i32,
    only_v6: Option<bool>,
}

impl ServerSocketBuilder {
    /// Sets `SO_REUSEADDR` (`socket(7)`) before `bind(2)`; on by default, as in Java on Unix.
    ///
    /// With it, a restarted server can bind its port while old connections from the
    /// previous run sit in `TIME_WAIT`. It does NOT let two live servers share a port on
    /// Linux (that is `SO_REUSEPORT`). Windows gives `SO_REUSEADDR` a different, unsafe
    /// meaning; std uses `SO_EXCLUSIVEADDRUSE` there instead.
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.reuse_address = on;
        self
    }

    /// Sets the `listen(2)` backlog: how many finished handshakes may wait for `accept`.
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.backlog = backlog;
        self
    }

    /// Sets `IPV6_V6ONLY` (`ipv6(7)`) for an IPv6 address: `false` makes a dual-stack socket
    /// that also accepts IPv4 clients (seen as `::ffff:a.b.c.d`). The Linux default comes
    /// from `net.ipv6.bindv6only` (usually dual-stack); Windows defaults to IPv6 only.
    /// Ignored for IPv4 addresses.
    pub fn only_v6(mut self, only_v6: bool) -> Self {
        self.only_v6 = Some(only_v6);
        self
    }

    /// Runs `socket(2)`, the chosen `setsockopt(2)`s, `bind(2)` and `listen(2)`.
    ///
    /// # Errors
    /// [`SocketError::Bind`] when `bind(2)` or `listen(2)` fails (port in use, no such
    /// address, privileged port), [`SocketError::Io`] when an option cannot be set.
    pub fn bind(self) -> Result<ServerSocket, SocketError> {
        let addr = self.addr;
        let socket =
            socket2::Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(self.reuse_address)?;
        if let (SocketAddr::V6(_), Some(only_v6)) = (addr, self.only_v6) {
            socket.set_only_v6(only_v6)?;
        }
        let bind_error = |source| SocketError::Bind { addr, source };
        socket.bind(&addr.into()).map_err(bind_error)?;
        socket.listen(self.backlog).map_err(bind_error)?;
        Ok(ServerSocket {
            inner: socket.into(),
        })
    }
}

impl ServerSocket {
    /// Starts building a listening socket on `addr` (port 0 picks a free port).
    pub fn builder(addr: SocketAddr) -> ServerSocketBuilder {
        ServerSocketBuilder {
            addr,
            reuse_address: true,
            backlog: DEFAULT_BACKLOG,
            only_v6: None,
        }
    }

    /// Listens on `addr` with `SO_REUSEADDR` and [`DEFAULT_BACKLOG`]: Java's
    /// `new ServerSocket(port)`, bound to one address.
    ///
    /// # Errors
    /// As [`ServerSocketBuilder::bind`].
    pub fn bind(addr: SocketAddr) -> Result<ServerSocket, SocketError> {
        Self::builder(addr).bind()
    }

    /// Resolves `target` (`host:port`) and listens on its first address.
    ///
    /// # Errors
    /// [`SocketError::Resolve`] for a bad name, otherwise as [`ServerSocket::bind`].
    pub fn bind_host(target: &str) -> Result<ServerSocket, SocketError> {
        Self::bind(resolve(target)?[0])
    }

    /// Waits for the next connection (`accept(2)`): Java's `accept()`.
    ///
    /// # Errors
    /// The `accept(2)` error, such as `EMFILE` when the process has no file descriptors
    /// left, or `WouldBlock` when a [`set_so_timeout`](Self::set_so_timeout) expired.
    pub fn accept(&self) -> std::io::Result<(Socket, SocketAddr)> {
        let (stream, peer) = self.inner.accept()?;
        Ok((Socket::from(stream), peer))
    }

    /// Sets `SO_RCVTIMEO` (`socket(7)`) on the listening socket, so [`accept`](Self::accept)
    /// gives up after `timeout`: Java's `ServerSocket.setSoTimeout`. Linux applies the
    /// receive timeout to `accept(2)`; other systems may not.
    ///
    /// # Errors
    /// If `setsockopt(2)` fails, or `timeout` is zero.
    pub fn set_so_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        socket2::SockRef::from(&self.inner).set_read_timeout(timeout)
    }

    /// The address the socket is bound to (`getsockname(2)`): the real port after port 0.
    ///
    /// # Errors
    /// If `getsockname(2)` fails.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The standard library listener inside, for code that takes a `std::net::TcpListener`.
    pub fn into_std(self) -> TcpListener {
        self.inner
    }

    /// A tokio listener on the same socket (switched to non-blocking, `O_NONBLOCK`).
    ///
    /// # Errors
    /// If called outside a tokio runtime, or the socket cannot be made non-blocking.
    pub fn into_tokio(self) -> std::io::Result<tokio::net::TcpListener> {
        self.inner.set_nonblocking(true)?;
        tokio::net::TcpListener::from_std(self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_gets_a_real_port() {
        let server = ServerSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        assert_ne!(server.local_addr().unwrap().port(), 0);
    }

    #[test]
    fn a_port_in_use_is_a_bind_error() {
        let first = ServerSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let taken = first.local_addr().unwrap();
        let err = ServerSocket::bind(taken).unwrap_err();
        assert!(matches!(err, SocketError::Bind { .. }), "{err}");
        let cause = std::error::Error::source(&err)
            .and_then(|cause| cause.downcast_ref::<std::io::Error>())
            .map(std::io::Error::kind);
        assert_eq!(cause, Some(std::io::ErrorKind::AddrInUse), "{err}");
    }

    #[test]
    fn accept_times_out_with_so_timeout() {
        let server = ServerSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        server
            .set_so_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let err = server.accept().unwrap_err();
        assert!(matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ));
    }

    #[test]
    fn dual_stack_accepts_ipv4_clients() {
        let server = ServerSocket::builder("[::]:0".parse().unwrap())
            .only_v6(false)
            .bind()
            .expect("IPv6 loopback is configured on every machine this suite runs on");
        let port = server.local_addr().unwrap().port();
        let _client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (_conn, peer) = server.accept().unwrap();
        assert!(
            peer.is_ipv6(),
            "IPv4 client seen as a mapped IPv6 address: {peer}"
        );
    }
}
