//! The one error type of the library, [`UdpError`], and how to tell a per-datagram error (log it,
//! go on serving) from a fatal one.
//!
//! UDP adds a twist worth knowing: an ICMP "port unreachable" caused by an *earlier* datagram is
//! reported on a *later* call on the same socket (`ECONNREFUSED` on Linux, `WSAECONNRESET` on
//! Windows). A server must not die because one of its clients went away; see
//! [`UdpError::is_per_datagram`].

use std::io;

/// Everything the UDP library can fail with.
#[derive(Debug, thiserror::Error)]
pub enum UdpError {
    /// No datagram arrived within the receive timeout (`SO_RCVTIMEO` expired, `EAGAIN`).
    /// Java throws `SocketTimeoutException` here.
    #[error("receive timed out: no datagram arrived within the timeout")]
    Timeout,
    /// The payload does not fit in one UDP datagram for that address family.
    #[error(
        "datagram of {len} bytes is too large: at most {max} bytes fit in one {family} UDP datagram"
    )]
    TooLarge {
        /// Bytes the caller asked to send.
        len: usize,
        /// The largest payload for the family (see [`crate::MAX_PAYLOAD_V4`]).
        max: usize,
        /// `"IPv4"` or `"IPv6"`.
        family: &'static str,
    },
    /// A send needs a destination: the packet has no peer address and the socket is not connected.
    #[error("no destination: give the packet a peer address or connect the socket first")]
    NoDestination,
    /// A request got no matching reply after every attempt (see [`crate::client::RetryClient`]).
    #[error("no reply after {attempts} attempts: the server may be down or the path too lossy")]
    NoReply {
        /// Datagrams sent for this request (first try plus retries).
        attempts: u32,
    },
    /// An operating-system error from the named operation.
    #[error("{op}: {source}")]
    Io {
        /// The operation that failed, e.g. `"bind 127.0.0.1:7"` or `"recvfrom"`.
        op: String,
        /// The error the system call returned.
        #[source]
        source: io::Error,
    },
}

impl UdpError {
    /// Wraps an `io::Error` with the name of the operation, turning a timeout into [`UdpError::Timeout`].
    pub fn io(op: impl Into<String>, source: io::Error) -> Self {
        match source.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => UdpError::Timeout,
            _ => UdpError::Io {
                op: op.into(),
                source,
            },
        }
    }

    /// True for errors that concern one datagram or one peer, after which a server should log and
    /// keep serving: ICMP-reported refusals and resets, unreachable hosts, a datagram too large,
    /// an interrupted call, a timeout.
    pub fn is_per_datagram(&self) -> bool {
        match self {
            UdpError::Timeout
            | UdpError::TooLarge { .. }
            | UdpError::NoDestination
            | UdpError::NoReply { .. } => true,
            UdpError::Io { source, .. } => is_per_datagram_io(source),
        }
    }

    /// The underlying `io::ErrorKind`, if this is an operating-system error.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            UdpError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

/// The `io::Error`s a UDP server survives (see [`UdpError::is_per_datagram`]): the
/// suite's one rule, [`support::net::is_per_datagram_error`].
pub use support::net::is_per_datagram_error as is_per_datagram_io;

/// Result alias for this crate.
pub type Result<T, E = UdpError> = std::result::Result<T, E>;
