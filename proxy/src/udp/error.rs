//! What starting the UDP proxy can fail with, and which socket errors it survives.
//!
//! A UDP socket reports an ICMP "port unreachable" caused by an *earlier* datagram on a
//! *later* call (`ECONNREFUSED` on a connected socket, see `udp(7)`): the server behind the
//! proxy is not there yet, or one client went away. That concerns one datagram or one peer,
//! so the proxy logs it and goes on; only other errors stop a socket's loop.

use std::io;

/// Why [`super::FaultProxy::spawn`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// A fault probability outside `[0, 1]`; the text names the flag.
    #[error("{0}")]
    BadFaults(String),
    /// An operating-system error from the named operation (`bind ...`, `create FILE`).
    #[error("{op}: {source}")]
    Io {
        /// What the proxy was doing.
        op: String,
        /// The error the system call returned.
        #[source]
        source: io::Error,
    },
}

impl ProxyError {
    /// Wraps `source` with the name of the operation.
    pub fn io(op: impl Into<String>, source: io::Error) -> Self {
        ProxyError::Io {
            op: op.into(),
            source,
        }
    }
}

impl From<ProxyError> for io::Error {
    fn from(err: ProxyError) -> io::Error {
        match err {
            ProxyError::BadFaults(why) => io::Error::new(io::ErrorKind::InvalidInput, why),
            ProxyError::Io { op, source } => {
                io::Error::new(source.kind(), format!("{op}: {source}"))
            }
        }
    }
}

/// True for errors that concern one datagram or one peer (log, keep forwarding): the
/// suite's one rule, [`support::net::is_per_datagram_error`].
pub use support::net::is_per_datagram_error as survivable;
