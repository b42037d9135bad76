//! The errors of the socket wrappers: each says which step failed, on which address.

use std::io;
use std::net::SocketAddr;

/// What went wrong while setting up a socket.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// `bind(2)` or `listen(2)` failed, most often `EADDRINUSE` (port in use).
    #[error("cannot listen on {addr}: {source}{}", hint_for_bind(source))]
    Bind {
        /// The address we tried to bind.
        addr: SocketAddr,
        /// The underlying error.
        source: io::Error,
    },
    /// `connect(2)` failed on every address the name resolved to.
    #[error("cannot connect to {target}: {source}{}", hint_for_connect(source))]
    Connect {
        /// What the user asked for (`host:port`).
        target: String,
        /// The error from the last address tried.
        source: io::Error,
    },
    /// `getaddrinfo(3)` could not resolve the name.
    #[error("cannot resolve {target}: {source} (check the host name and give it as HOST:PORT)")]
    Resolve {
        /// What the user asked for (`host:port`).
        target: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The name resolved, but to no address at all.
    #[error("{target} resolved to no address")]
    NoAddress {
        /// What the user asked for (`host:port`).
        target: String,
    },
    /// A socket call (`socket(2)`, `setsockopt(2)`) failed.
    #[error("socket setup failed: {0}")]
    Io(#[from] io::Error),
}

fn hint_for_bind(err: &io::Error) -> &'static str {
    match err.kind() {
        io::ErrorKind::AddrInUse => {
            " (another process uses this port: pick another with --bind, or port 0)"
        }
        io::ErrorKind::AddrNotAvailable => " (this machine has no such address)",
        io::ErrorKind::PermissionDenied => " (ports below 1024 need privileges)",
        _ => "",
    }
}

fn hint_for_connect(err: &io::Error) -> &'static str {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => " (is the server running on that port?)",
        io::ErrorKind::TimedOut => " (no answer: check the address and any firewall)",
        _ => "",
    }
}
