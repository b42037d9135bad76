//! The abstract namespace (Linux only): a Unix socket name that lives in the kernel, not in the
//! file system.
//!
//! The address starts with a NUL byte (`ss -x` shows it as `@name`). Nothing is created on disk,
//! so there is no stale file after a crash: the name disappears with the last socket. The price:
//! no file means no permission bits, so *any* process in the same network namespace may connect.
//! A server here must check who connected ([`super::cred::peer`]) before trusting the peer.
//!
//! System calls: `bind(2)`/`connect(2)` with a `sockaddr_un` whose `sun_path[0]` is `'\0'`; see
//! `unix(7)`, "Abstract sockets".

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};

use crate::error::{OpContext, Result};

/// The socket address for abstract `name` (without the leading NUL).
pub fn address(name: &str) -> Result<SocketAddr> {
    SocketAddr::from_abstract_name(name.as_bytes()).op(|| format!("abstract name @{name}"))
}

/// Listens on abstract `name`.
pub fn listen(name: &str) -> Result<UnixListener> {
    UnixListener::bind_addr(&address(name)?).op(|| format!("bind @{name}"))
}

/// Connects to abstract `name`.
pub fn connect(name: &str) -> Result<UnixStream> {
    UnixStream::connect_addr(&address(name)?).op(|| format!("connect @{name}"))
}
