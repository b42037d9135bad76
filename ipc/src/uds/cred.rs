//! Who is on the other end: `SO_PEERCRED` gives the pid, uid and gid of the process that
//! connected (or called `socketpair`), as the kernel recorded them, so a peer cannot lie.
//!
//! A server on a path or in the abstract namespace uses it to decide whom to serve. Java has no
//! portable equivalent (`jdk.net.ExtendedSocketOptions.SO_PEERCRED` on Linux, JDK 16+).
//!
//! System call: `getsockopt(SOL_SOCKET, SO_PEERCRED)`; see `unix(7)`.

use std::os::fd::AsFd;

use crate::error::{OpContext, Result};

/// The peer process as the kernel saw it at `connect` time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    /// Process id.
    pub pid: i32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// Reads `SO_PEERCRED` of a connected Unix socket.
pub fn peer(socket: impl AsFd) -> Result<PeerCred> {
    let ucred =
        rustix::net::sockopt::socket_peercred(socket).op(|| "getsockopt(SO_PEERCRED)".into())?;
    Ok(PeerCred {
        pid: ucred.pid.as_raw_nonzero().get(),
        uid: ucred.uid.as_raw(),
        gid: ucred.gid.as_raw(),
    })
}
