//! A mailbox: POSIX message queues, the textbook's *indirect* message passing.
//!
//! With direct addressing (a pipe, a connected socket) a sender talks to one known peer. A
//! mailbox has a name of its own: any process that may open it can deposit a message, any can
//! take one, and neither needs to know the other exists. The kernel keeps the messages (bounded
//! buffering: at most `mq_maxmsg` of at most `mq_msgsize` bytes), delivers the highest priority
//! first and, within a priority, the oldest first. Blocking is per descriptor: `mq_send` on a full
//! queue and `mq_receive` on an empty one wait, unless the descriptor has `O_NONBLOCK`, when
//! they fail with `EAGAIN` ([`is_would_block`]).
//!
//! Limits that bite: an unprivileged process may not ask for more than
//! `/proc/sys/fs/mqueue/msg_max` messages (10 by default, [`DEFAULT_MAX_MESSAGES`]) or
//! `msgsize_max` bytes each (8192, [`DEFAULT_MAX_MESSAGE_BYTES`]); asking for more fails with
//! `EINVAL`. Queues are created mode 0600 with `O_EXCL`; a queue left by a crashed run is
//! reported with the command that removes it. Java has no mailbox API; the nearest in-process
//! analogue is a `java.util.concurrent.ArrayBlockingQueue`, and across processes JMS.
//!
//! System calls: `mq_open(3)`, `mq_send(3)`, `mq_receive(3)`, `mq_timedreceive(3)`, `mq_getattr(3)`, `mq_setattr(3)`,
//! `mq_unlink(3)`; see `mq_overview(7)`.

use std::os::fd::AsFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::mqueue::{MQ_OFlag, MqAttr, MqdT};
use nix::sys::stat::Mode;

use crate::error::{IpcError, OpContext, Result};

/// The most messages an unprivileged process may give a queue by default (`msg_max`).
pub const DEFAULT_MAX_MESSAGES: i64 = 10;
/// The largest message an unprivileged process may allow by default (`msgsize_max`).
pub const DEFAULT_MAX_MESSAGE_BYTES: i64 = 8192;

/// An open message queue.
#[derive(Debug)]
pub struct Mailbox {
    mqd: MqdT,
    name: String,
}

/// A queue's capacity and fill, from `mq_getattr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attributes {
    /// Most messages the queue holds (`mq_maxmsg`).
    pub max_messages: i64,
    /// Largest message (`mq_msgsize`); receive buffers must be at least this long.
    pub message_bytes: i64,
    /// Messages waiting now (`mq_curmsgs`).
    pub waiting: i64,
    /// True if this descriptor has `O_NONBLOCK`.
    pub nonblocking: bool,
}

impl Mailbox {
    /// Creates queue `name` (mode 0600) for `max_messages` of at most `message_bytes` each.
    pub fn create(name: &str, max_messages: i64, message_bytes: i64) -> Result<Mailbox> {
        crate::shm::segment::check_name(name)?;
        let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR;
        let attr = MqAttr::new(0, max_messages, message_bytes, 0);
        let owner_only = Mode::S_IRUSR | Mode::S_IWUSR;
        match nix::mqueue::mq_open(slash(name).as_str(), flags, owner_only, Some(&attr)) {
            Ok(mqd) => Ok(Mailbox {
                mqd,
                name: name.to_string(),
            }),
            Err(Errno::EEXIST) => Err(stale(name)),
            Err(Errno::EINVAL) => Err(IpcError::io(
                format!("mq_open /{name} ({max_messages} messages of {message_bytes} bytes)"),
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "above /proc/sys/fs/mqueue/msg_max or msgsize_max",
                ),
            )),
            Err(err) => Err(IpcError::io(format!("mq_open /{name}"), err)),
        }
    }

    /// Opens existing queue `name`, refusing one that is not private to this user.
    pub fn open(name: &str) -> Result<Mailbox> {
        crate::shm::segment::check_name(name)?;
        let mqd = nix::mqueue::mq_open(slash(name).as_str(), MQ_OFlag::O_RDWR, Mode::empty(), None)
            .op(|| format!("mq_open /{name}"))?;
        let mailbox = Mailbox {
            mqd,
            name: name.to_string(),
        };
        mailbox.check_private()?;
        Ok(mailbox)
    }

    /// The queue's name (without the leading `/`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `mq_send`: deposits `message` with `priority` (higher is delivered first).
    pub fn send(&self, message: &[u8], priority: u32) -> Result<()> {
        nix::mqueue::mq_send(&self.mqd, message, priority).op(|| format!("mq_send /{}", self.name))
    }

    /// `mq_receive`: takes the oldest message of the highest priority. `buf` must be at least
    /// `message_bytes` long (else `EMSGSIZE`). Returns the length and the priority.
    pub fn receive(&self, buf: &mut [u8]) -> Result<(usize, u32)> {
        let mut priority = 0;
        let len = nix::mqueue::mq_receive(&self.mqd, buf, &mut priority)
            .op(|| format!("mq_receive /{}", self.name))?;
        Ok((len, priority))
    }

    /// `mq_timedreceive`: like [`receive`](Self::receive), but an empty queue waits at most
    /// `timeout` (then `ETIMEDOUT`, [`is_timed_out`]). One system call per message, where a
    /// non-blocking receive with `poll(2)` for the wait costs three whenever the queue is empty.
    pub fn receive_within(&self, buf: &mut [u8], timeout: Duration) -> Result<(usize, u32)> {
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_add(timeout);
        let mut priority = 0;
        let len = nix::mqueue::mq_timedreceive(&self.mqd, buf, &mut priority, &deadline.into())
            .op(|| format!("mq_timedreceive /{}", self.name))?;
        Ok((len, priority))
    }

    /// `mq_getattr`: capacity and current fill.
    pub fn attributes(&self) -> Result<Attributes> {
        let attr =
            nix::mqueue::mq_getattr(&self.mqd).op(|| format!("mq_getattr /{}", self.name))?;
        Ok(Attributes {
            max_messages: attr.maxmsg(),
            message_bytes: attr.msgsize(),
            waiting: attr.curmsgs(),
            nonblocking: attr.flags() & i64::from(MQ_OFlag::O_NONBLOCK.bits()) != 0,
        })
    }

    /// `mq_setattr(O_NONBLOCK)` on this descriptor: full/empty then fail with `EAGAIN`.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        let result = if nonblocking {
            nix::mqueue::mq_set_nonblock(&self.mqd)
        } else {
            nix::mqueue::mq_remove_nonblock(&self.mqd)
        };
        result
            .map(|_| ())
            .op(|| format!("mq_setattr /{}", self.name))
    }

    /// On Linux a queue descriptor is a file descriptor, so `fstat` shows owner and mode.
    fn check_private(&self) -> Result<()> {
        let stat = rustix::fs::fstat(self.mqd.as_fd()).op(|| format!("fstat /{}", self.name))?;
        let mode = stat.st_mode & 0o777;
        if stat.st_uid != rustix::process::geteuid().as_raw() || mode & 0o077 != 0 {
            return Err(IpcError::NotPrivate {
                what: format!("message queue /{}", self.name),
                uid: stat.st_uid,
                mode,
            });
        }
        Ok(())
    }
}

/// On Linux a queue descriptor is a file descriptor: `poll(2)`/`epoll(7)` can wait on it
/// (readable = a message waits, writable = there is room), which gives receive a timeout.
impl AsFd for Mailbox {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.mqd.as_fd()
    }
}

/// Removes queue `name` (`mq_unlink`); open descriptors keep working until closed.
pub fn unlink(name: &str) -> Result<()> {
    crate::shm::segment::check_name(name)?;
    nix::mqueue::mq_unlink(slash(name).as_str()).op(|| format!("mq_unlink /{name}"))
}

/// True if `err` is the `ETIMEDOUT` of [`Mailbox::receive_within`] on a queue that stayed empty.
pub fn is_timed_out(err: &IpcError) -> bool {
    err.raw_os_error() == Some(nix::libc::ETIMEDOUT)
}

/// True if `err` is the `EAGAIN` of a non-blocking send on a full queue or receive on an empty one.
pub fn is_would_block(err: &IpcError) -> bool {
    err.raw_os_error() == Some(nix::libc::EAGAIN)
}

fn stale(name: &str) -> IpcError {
    IpcError::Stale {
        what: format!("message queue /{name}"),
        remove: format!("ipc mq-unlink {name}"),
    }
}

fn slash(name: &str) -> String {
    format!("/{name}")
}
