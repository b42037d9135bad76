//! The one error type of the library, [`IpcError`]: an OS error with the operation that failed,
//! a name or path left behind by an earlier run (with the command that removes it), or a
//! shared-memory segment refused because its header does not hold up.

use std::io;
use std::time::Duration;

use crate::shm::LayoutError;

/// Everything the ipc library can fail with.
#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    /// An operating-system error from the named operation (`op` names the call and its target).
    #[error("{op}: {source}")]
    Io {
        /// The operation that failed, e.g. `"mkfifo /tmp/f"` or `"shm_open /ipc-demo"`.
        op: String,
        /// The error the system call returned.
        #[source]
        source: io::Error,
    },
    /// A name or path we meant to create already exists: usually left by a run that crashed
    /// before it could remove it. Nothing is removed behind the user's back.
    #[error("{what} already exists (left by an earlier run?); hint: remove it with `{remove}`")]
    Stale {
        /// What exists, e.g. `"FIFO /tmp/f"` or `"shared memory segment /ipc-demo"`.
        what: String,
        /// The shell command that removes it.
        remove: String,
    },
    /// The path exists but is the wrong kind of file (writing "into a FIFO" that is a regular
    /// file would silently fill the disk instead).
    #[error("{path} is not a {expected}")]
    WrongKind {
        /// The path looked at.
        path: String,
        /// What it should have been: `"FIFO"`, `"socket"`.
        expected: &'static str,
    },
    /// A name is empty, too long or has characters outside `[A-Za-z0-9._-]`.
    #[error("bad name {name:?}: {why}")]
    BadName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A segment or queue is owned by another user or readable by others: refused, because a
    /// peer we do not trust could have planted it or could read it.
    #[error(
        "{what} is not private (owner uid {uid}, mode {mode:o}); only mode 600 owned by us is accepted"
    )]
    NotPrivate {
        /// What was refused.
        what: String,
        /// Its owner.
        uid: u32,
        /// Its permission bits.
        mode: u32,
    },
    /// A shared-memory segment whose header or size does not hold up: refused before any slot
    /// is read.
    #[error("refused shared memory segment: {0}")]
    BadSegment(#[from] LayoutError),
    /// A message larger than the mechanism's bound (slot size, `mq_msgsize`, a documented const).
    #[error("message of {len} bytes is larger than the limit of {max} bytes")]
    TooLarge {
        /// Bytes offered.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A blocking operation gave up after its timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, IpcError>;

impl IpcError {
    /// Wraps an `io::Error` with the name of the operation that failed.
    pub fn io(op: impl Into<String>, source: impl Into<io::Error>) -> Self {
        IpcError::Io {
            op: op.into(),
            source: source.into(),
        }
    }

    /// The underlying OS error code (`errno`), if this is an OS error.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            IpcError::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// Adds the operation name to an OS error: `pipe().op("pipe")?`.
pub trait OpContext<T> {
    /// Turns the error into [`IpcError::Io`] naming `op`.
    fn op(self, op: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<io::Error>> OpContext<T> for std::result::Result<T, E> {
    fn op(self, op: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|err| IpcError::io(op(), err))
    }
}
