//! The errors of the socket wrappers: each says which step failed, on which address.
//!
//! What to do about it is the caller's to say: the `tcp` binary adds a hint where the OS
//! error makes one certainly true (`support::cli`), so a library message never guesses.

use std::io;
use std::net::SocketAddr;

/// What went wrong while setting up a socket.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// `bind(2)` or `listen(2)` failed, most often `EADDRINUSE` (port in use).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address we tried to bind.
        addr: SocketAddr,
        /// The underlying error.
        source: io::Error,
    },
    /// `connect(2)` failed on every address the name resolved to.
    #[error("cannot connect to {target}")]
    Connect {
        /// What the user asked for (`host:port`).
        target: String,
        /// The error from the last address tried.
        source: io::Error,
    },
    /// `getaddrinfo(3)` could not resolve the name.
    #[error("cannot resolve {target}")]
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
    #[error("socket setup failed")]
    Io(#[from] io::Error),
}
