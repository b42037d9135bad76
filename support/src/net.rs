//! Which socket errors a server survives: the ones that concern one datagram, one peer or
//! the one connection being accepted, as opposed to the socket itself. Every server of the
//! suite (and its proxies) sorts errors the same way, with these two functions.
//!
//! Underneath: the `errno` values of `recvfrom(2)`, `sendto(2)` and `accept(2)`.

use std::io;

/// True for a `recvfrom(2)`/`sendto(2)` error that concerns one datagram or one peer, so a
/// UDP server logs it and keeps serving: an ICMP error reported for an earlier datagram
/// (`ECONNREFUSED`, `EHOSTUNREACH`, `ENETUNREACH`, `ECONNRESET`), a signal (`EINTR`),
/// nothing ready (`EAGAIN`), a peer address the kernel refuses (`EINVAL`), or a datagram
/// too large for the path (`EMSGSIZE`).
pub fn is_per_datagram_error(error: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionRefused
            | ConnectionReset
            | HostUnreachable
            | NetworkUnreachable
            | Interrupted
            | WouldBlock
            | TimedOut
            | InvalidInput
    ) || error.raw_os_error() == Some(EMSGSIZE)
}

/// `EMSGSIZE` on Linux (`errno(3)`).
const EMSGSIZE: i32 = 90;

/// True for an `accept(2)` error that concerns only the connection being accepted (it was
/// reset or aborted before we took it, or a signal interrupted the call): accept the next
/// one. Anything else (`EMFILE`, `ENOBUFS`, ...) concerns the listener and needs a pause.
pub fn only_this_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_datagram_errors_are_survived_and_others_are_not() {
        assert!(is_per_datagram_error(&io::Error::from(
            io::ErrorKind::ConnectionRefused
        )));
        assert!(is_per_datagram_error(&io::Error::from_raw_os_error(
            EMSGSIZE
        )));
        assert!(!is_per_datagram_error(&io::Error::from(
            io::ErrorKind::PermissionDenied
        )));
        assert!(!is_per_datagram_error(&io::Error::from_raw_os_error(9))); // EBADF
    }

    #[test]
    fn accept_errors_of_one_connection_only() {
        assert!(only_this_connection(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
        assert!(!only_this_connection(&io::Error::from_raw_os_error(24))); // EMFILE
    }
}
