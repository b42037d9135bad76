//! UDP echo (RFC 862): every datagram that arrives goes back, unchanged, to where it came from.
//!
//! Two servers with the same behaviour, to compare styles:
//! - [`EchoServer`], async (tokio): `recvfrom(2)` and `sendto(2)` on a non-blocking socket that
//!   `epoll(7)` watches; it also waits on the shutdown token (a `CancellationToken`).
//! - [`serve_blocking`], the loop a Java programmer writes with `DatagramSocket.receive` and
//!   `send`, on a blocking socket with a short `SO_RCVTIMEO` so it notices the shutdown flag.
//!
//! A per-datagram error (an ICMP "port unreachable" left by an earlier reply, a send that fails
//! for one peer) is logged (at most [`WARNINGS_PER_SECOND`] lines a second, the rest counted) and the loop
//! goes on ([`crate::UdpError::is_per_datagram`]). Memory
//! is one 64 KiB buffer, whatever peers send.
//!
//! ```text
//! terminal 1: udp echo-server                  -> listening on 127.0.0.1:7007
//! terminal 2: udp echo-client 127.0.0.1:7007   (type lines; each comes back)
//! two machines: udp echo-server --bind 0.0.0.0:7007, then udp echo-client HOST:7007
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::async_socket::AsyncDatagramSocket;
use crate::error::{Result, UdpError};
use crate::socket::{DatagramSocket, MAX_DATAGRAM_BUFFER};
use support::log::Throttle;

/// Default echo port (RFC 862 uses 7, which needs privileges; this suite uses 7007).
pub const DEFAULT_PORT: u16 = 7007;

/// Warning lines per second about per-datagram errors; the rest are counted and summarised.
pub const WARNINGS_PER_SECOND: u32 = 10;

pub(crate) static PEER_WARNINGS: Throttle = Throttle::per_second(WARNINGS_PER_SECOND);

/// How often the blocking server wakes up to check for shutdown.
pub const BLOCKING_POLL: Duration = Duration::from_millis(100);

/// Counters of an echo server, readable while it runs.
#[derive(Debug, Default)]
pub struct EchoStats {
    /// Datagrams echoed.
    pub echoed: AtomicU64,
    /// Per-datagram errors logged and survived.
    pub errors: AtomicU64,
    /// Receive system calls that returned datagrams (the batched server takes several per call).
    pub batches: AtomicU64,
}

impl EchoStats {
    /// (echoed, errors) right now.
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.echoed.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
        )
    }
}

/// The async echo server.
#[derive(Debug)]
pub struct EchoServer {
    socket: AsyncDatagramSocket,
    stats: Arc<EchoStats>,
}

impl EchoServer {
    /// Binds the server socket (`SO_REUSEADDR`); port 0 picks a free port.
    pub async fn bind(addr: SocketAddr) -> Result<Self> {
        Ok(Self {
            socket: AsyncDatagramSocket::bind(addr).await?,
            stats: Arc::default(),
        })
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Counters shared with the running server.
    pub fn stats(&self) -> Arc<EchoStats> {
        Arc::clone(&self.stats)
    }

    /// Echoes datagrams until `shutdown` is cancelled; returns only then or on a fatal socket
    /// error.
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let mut buf = vec![0u8; MAX_DATAGRAM_BUFFER];
        let stop = shutdown.cancelled();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                biased;
                received = self.socket.recv_from(&mut buf) => {
                    let outcome = match received {
                        Ok(info) => self.socket.send_to(&buf[..info.len], info.peer).await.map(drop),
                        Err(e) => Err(e),
                    };
                    survive(outcome, &self.stats)?;
                }
                _ = &mut stop => return Ok(()),
            }
        }
    }
}

/// Counts an echo, or logs and counts a per-datagram error; passes a fatal error on.
fn survive(outcome: Result<()>, stats: &EchoStats) -> Result<()> {
    match outcome {
        Ok(()) => {
            stats.echoed.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        Err(e) if e.is_per_datagram() => {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            support::warn_throttled!(PEER_WARNINGS, "echo: {e} (ignored, still serving)");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The blocking echo loop: `receive`, `send` back, repeat, until `shutdown` is set (checked
/// at least every [`BLOCKING_POLL`]).
pub fn serve_blocking(
    socket: &DatagramSocket,
    shutdown: &AtomicBool,
    stats: &EchoStats,
) -> Result<()> {
    socket.set_so_timeout(Some(BLOCKING_POLL))?;
    let mut buf = vec![0u8; MAX_DATAGRAM_BUFFER];
    while !shutdown.load(Ordering::Relaxed) {
        let outcome = match socket.recv_from(&mut buf) {
            Ok(info) => {
                stats.batches.fetch_add(1, Ordering::Relaxed);
                socket.send_to(&buf[..info.len], info.peer).map(drop)
            }
            Err(UdpError::Timeout) => continue,
            Err(e) => Err(e),
        };
        survive(outcome, stats)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn per_datagram_errors_are_survived_and_counted() {
        let stats = EchoStats::default();
        let refused = UdpError::io(
            "recvfrom",
            io::Error::from(io::ErrorKind::ConnectionRefused),
        );
        assert!(survive(Err(refused), &stats).is_ok());
        let too_big = UdpError::TooLarge {
            len: 70_000,
            max: 65_507,
            family: "IPv4",
        };
        assert!(survive(Err(too_big), &stats).is_ok());
        assert!(survive(Ok(()), &stats).is_ok());
        assert_eq!(stats.snapshot(), (1, 2));
    }

    #[test]
    fn other_errors_end_the_loop() {
        let stats = EchoStats::default();
        let bad_fd = UdpError::io("recvfrom", io::Error::from_raw_os_error(9)); // EBADF
        assert!(survive(Err(bad_fd), &stats).is_err());
    }
}
