//! Passing an open file descriptor to another process (`SCM_RIGHTS`).
//!
//! The kernel duplicates the descriptor into the receiver, as if `dup(2)` had crossed the
//! process boundary: the receiver can read a file it could not have opened itself, or take over
//! a connected socket. It travels as ancillary ("control") data beside at least one byte of
//! ordinary data. Java has no API for it.
//!
//! A peer controls how many descriptors arrive, so [`recv_fd`] accepts exactly one: the control
//! buffer has room for [`MAX_FDS_PER_MESSAGE`], any surplus the kernel had to cut is reported
//! (`MSG_CTRUNC`), and descriptors received are owned (`OwnedFd`), so extras are closed, never
//! leaked. `MSG_CMSG_CLOEXEC` keeps received descriptors out of programs this process starts.
//!
//! System calls: `sendmsg(2)`, `recvmsg(2)` with `SCM_RIGHTS` control messages; see `unix(7)`,
//! `cmsg(3)`.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

use crate::error::{IpcError, OpContext, Result};

/// Descriptors accepted in one message.
pub const MAX_FDS_PER_MESSAGE: usize = 1;
/// Bytes of ordinary data accepted beside the descriptor.
pub const MAX_NOTE_BYTES: usize = 256;

/// Sends `fd` with a short `note` (at least one byte must go with ancillary data).
pub fn send_fd(socket: impl AsFd, fd: impl AsFd, note: &[u8]) -> Result<()> {
    let note = if note.is_empty() { b"." as &[u8] } else { note };
    let fds = [fd.as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    control.push(SendAncillaryMessage::ScmRights(&fds));
    rustix::net::sendmsg(
        socket,
        &[IoSlice::new(note)],
        &mut control,
        SendFlags::empty(),
    )
    .op(|| "sendmsg(SCM_RIGHTS)".into())?;
    Ok(())
}

/// Receives one descriptor and its note. Fails if none came or more than one did.
pub fn recv_fd(socket: impl AsFd) -> Result<(OwnedFd, Vec<u8>)> {
    let mut note = vec![0u8; MAX_NOTE_BYTES];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS_PER_MESSAGE))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let received = rustix::net::recvmsg(
        socket,
        &mut [IoSliceMut::new(&mut note)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )
    .op(|| "recvmsg(SCM_RIGHTS)".into())?;
    let mut fds: Vec<OwnedFd> = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = message {
            fds.extend(rights);
        }
    }
    if received.flags.contains(ReturnFlags::CTRUNC) || fds.len() > MAX_FDS_PER_MESSAGE {
        return Err(bad_rights(
            "more descriptors than the one expected (extras closed)",
        ));
    }
    let fd = fds
        .pop()
        .ok_or_else(|| bad_rights("no descriptor in the message"))?;
    note.truncate(received.bytes.min(MAX_NOTE_BYTES));
    Ok((fd, note))
}

fn bad_rights(why: &str) -> IpcError {
    IpcError::io(
        "recvmsg(SCM_RIGHTS)",
        std::io::Error::new(std::io::ErrorKind::InvalidData, why),
    )
}
