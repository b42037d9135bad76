//! `SOCK_DGRAM` Unix sockets: each `send` is one message, delivered whole or not at all, and
//! (unlike UDP) reliably and in order: a full receiver makes the sender block instead of
//! dropping.
//!
//! Boundaries are kept, so a reader with a short buffer loses the rest of a message; with
//! `MSG_TRUNC` the kernel says how long it really was, and [`recv`] reports the cut instead of
//! hiding it. This crate bounds messages at [`MAX_DATAGRAM_BYTES`] (the kernel's own limit is the
//! socket send buffer, about 208 KiB by default). Java: `DatagramChannel.open(StandardProtocolFamily.UNIX)`
//! (JDK 16+ has it for stream sockets only; datagram Unix sockets need a library).
//!
//! System calls: `socket(AF_UNIX, SOCK_DGRAM)`, `bind(2)`, `connect(2)`, `send(2)`,
//! `recv(2)` with `MSG_TRUNC`; see `unix(7)`.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

use rustix::net::RecvFlags;

use crate::error::{IpcError, OpContext, Result};

/// The largest message this crate sends or accepts on a datagram socket.
pub const MAX_DATAGRAM_BYTES: usize = 64 * 1024;

/// Binds a datagram socket to `path` (mode 0600); a path nobody is bound to any more is
/// reported as [`IpcError::Stale`].
pub fn bind(path: &Path) -> Result<UnixDatagram> {
    super::stream::check_path_length(path)?;
    match UnixDatagram::bind(path) {
        Ok(socket) => {
            super::stream::restrict_to_owner(path)?;
            Ok(socket)
        }
        Err(err) if err.kind() == io::ErrorKind::AddrInUse && nobody_bound(path) => {
            Err(IpcError::Stale {
                what: format!("socket {} (nobody is bound to it)", path.display()),
                remove: format!("rm {}", path.display()),
            })
        }
        Err(err) => Err(IpcError::io(format!("bind {}", path.display()), err)),
    }
}

/// Connecting a datagram socket to a path whose socket is closed fails with `ECONNREFUSED`.
fn nobody_bound(path: &Path) -> bool {
    UnixDatagram::unbound()
        .and_then(|probe| probe.connect(path))
        .is_err_and(|err| err.kind() == io::ErrorKind::ConnectionRefused)
}

/// Sends one message on a connected socket, refusing more than [`MAX_DATAGRAM_BYTES`].
pub fn send(socket: &UnixDatagram, message: &[u8]) -> Result<()> {
    if message.len() > MAX_DATAGRAM_BYTES {
        return Err(IpcError::TooLarge {
            len: message.len(),
            max: MAX_DATAGRAM_BYTES,
        });
    }
    socket.send(message).op(|| "send".into())?;
    Ok(())
}

/// One received message: how much landed in the buffer and how long it really was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes written to the buffer.
    pub len: usize,
    /// The message's real length (`MSG_TRUNC`); larger than `len` when it was cut.
    pub message_len: usize,
}

impl Received {
    /// True when the buffer was too short and the end of the message was lost.
    pub fn is_truncated(&self) -> bool {
        self.message_len > self.len
    }
}

/// Receives one message with `recv(MSG_TRUNC)`, reporting truncation.
pub fn recv(socket: &UnixDatagram, buf: &mut [u8]) -> Result<Received> {
    let (filled, message_len) =
        rustix::net::recv(socket, &mut *buf, RecvFlags::TRUNC).op(|| "recv".into())?;
    Ok(Received {
        len: filled,
        message_len,
    })
}
