//! The one error type of the library: every way a multicast call can fail, each with a message
//! that names what was wrong and what to do about it.
//!
//! Address checks (a group that is not multicast, a family mismatch, an interface that does not
//! exist) are caught here BEFORE any system call, so the user sees "not a multicast address"
//! instead of the kernel's terse `EINVAL`.

use std::io;
use std::net::IpAddr;

/// Result alias used across the crate.
pub type Result<T, E = MulticastError> = std::result::Result<T, E>;

/// Everything that can go wrong when setting up or using a multicast socket.
#[derive(Debug, thiserror::Error)]
pub enum MulticastError {
    /// The address given as a group is a unicast (or broadcast) address.
    #[error(
        "{addr} is not a multicast address: IPv4 groups are 224.0.0.0/4 (239.0.0.0/8 for \
         private use), IPv6 groups begin with ff (ff02::/16 link-local, ff05::/16 site-local)"
    )]
    NotMulticast {
        /// The offending address.
        addr: IpAddr,
    },

    /// An IPv4 group (or source, or interface address) on an IPv6 socket, or the reverse.
    #[error(
        "{what} {addr} is {addr_family} but the socket is {socket_family}: use one family throughout"
    )]
    FamilyMismatch {
        /// What the address was meant to be ("group", "source", "interface address").
        what: &'static str,
        /// The offending address.
        addr: IpAddr,
        /// "IPv4" or "IPv6": the address's family.
        addr_family: &'static str,
        /// "IPv4" or "IPv6": the socket's family.
        socket_family: &'static str,
    },

    /// No interface of this host has this name (or index).
    #[error(
        "no network interface named `{name}` on this host (run `multicast doctor` to list them)"
    )]
    NoSuchInterface {
        /// The name or index as the user gave it.
        name: String,
    },

    /// No interface of this host carries this address.
    #[error(
        "no network interface of this host has the address {addr} (run `multicast doctor` to list them)"
    )]
    NoInterfaceWithAddress {
        /// The address the user gave.
        addr: IpAddr,
    },

    /// IPv4 multicast on this interface needs an IPv4 address, and it has none.
    #[error("interface `{name}` has no IPv4 address, so it cannot be used for an IPv4 group")]
    NoIpv4Address {
        /// The interface's name.
        name: String,
    },

    /// IPv6 multicast on this interface needs an IPv6 address to send from, and it has none.
    #[error("interface `{name}` has no IPv6 address, so it cannot send to an IPv6 group")]
    NoIpv6Address {
        /// The interface's name.
        name: String,
    },

    /// 0.0.0.0 or :: was given as the multicast interface.
    #[error(
        "the unspecified address {addr} is not accepted as a multicast interface: it lets the kernel \
         send out of the default route's interface; name the interface (for example 127.0.0.1 or lo)"
    )]
    UnspecifiedInterface {
        /// 0.0.0.0 or ::
        addr: IpAddr,
    },

    /// A source for a source-specific join must be a unicast address.
    #[error("source {addr} must be a unicast address (the host that sends to the group)")]
    BadSource {
        /// The offending address.
        addr: IpAddr,
    },

    /// Source-specific multicast is implemented for IPv4 only in this crate.
    #[error(
        "source-specific joins are implemented for IPv4 groups only (MCAST_JOIN_SOURCE_GROUP for IPv6 is not)"
    )]
    SsmIpv6Unsupported,

    /// Time-to-live / hop limit outside 0..=255.
    #[error(
        "time-to-live {ttl} is out of range: it must be 0..=255 (1 keeps datagrams on the local link)"
    )]
    BadTtl {
        /// The rejected value.
        ttl: u32,
    },

    /// A system call failed; `op` names it (the socket option or call, and its arguments).
    #[error("{op} failed: {source}")]
    Io {
        /// The system call or socket option, e.g. "IP_ADD_MEMBERSHIP 239.1.2.3 on lo".
        op: String,
        /// What the kernel said.
        #[source]
        source: io::Error,
    },

    /// The error of a receive or send on the underlying [`udp::DatagramSocket`] (a timeout, a
    /// datagram too large, a failed system call).
    #[error(transparent)]
    Udp(#[from] udp::UdpError),
}

impl MulticastError {
    /// Wraps an `io::Error` with the name of the call that produced it.
    pub fn io(op: impl Into<String>) -> impl FnOnce(io::Error) -> MulticastError {
        let op = op.into();
        move |source| MulticastError::Io { op, source }
    }

    /// True if this is a receive timeout (`SO_RCVTIMEO` expired): no datagram arrived in time.
    pub fn is_timeout(&self) -> bool {
        matches!(self, MulticastError::Udp(udp::UdpError::Timeout))
    }

    /// True for a mistake in what the caller asked for (an address that is not a group, a
    /// family mismatch, an interface that does not exist or lacks an address, a bad TTL or
    /// source), false for a failure of the system or the network. Command lines exit with
    /// status 2 for the first kind, 1 for the second.
    pub fn is_usage(&self) -> bool {
        !matches!(self, MulticastError::Io { .. } | MulticastError::Udp(_))
    }

    /// True if a receive returned without a datagram and may simply be retried: a timeout, or
    /// a signal that interrupted the call (`EINTR`, e.g. the SIGTERM a server is about to
    /// handle).
    pub fn is_transient(&self) -> bool {
        match self {
            MulticastError::Udp(e) => {
                self.is_timeout() || e.io_kind() == Some(io::ErrorKind::Interrupted)
            }
            _ => false,
        }
    }
}

/// "IPv4" or "IPv6", for error messages.
pub(crate) fn family_name(addr: &IpAddr) -> &'static str {
    if addr.is_ipv4() { "IPv4" } else { "IPv6" }
}
