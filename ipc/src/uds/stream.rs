//! A `SOCK_STREAM` listener on a path: created mode 0600, and a path left by a crashed server is
//! told apart from a live one.
//!
//! `bind(2)` creates the socket file and fails with `EADDRINUSE` if the path exists, even when
//! the server that made it is long dead (closing a socket does not remove its file). Connecting
//! to the path tells the two cases apart: `ECONNREFUSED` means nobody listens (stale), success
//! means a live server owns it. Either way nothing is removed behind the user's back.
//!
//! The file's permission bits decide who may connect (`connect` needs write permission on it),
//! so the listener sets 0600 right after `bind`. A stricter, race-free variant binds inside a
//! directory only the owner can enter.
//!
//! System calls: `socket(AF_UNIX, SOCK_STREAM)`, `bind(2)`, `listen(2)`, `connect(2)`,
//! `chmod(2)`; see `unix(7)`.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use crate::error::{IpcError, OpContext, Result};

/// Binds and listens on `path`, mode 0600. An existing path is [`IpcError::Stale`] if no server
/// answers on it, an `EADDRINUSE` error naming the path if one does.
pub fn listen(path: &Path) -> Result<UnixListener> {
    check_path_length(path)?;
    match UnixListener::bind(path) {
        Ok(listener) => {
            restrict_to_owner(path)?;
            Ok(listener)
        }
        Err(err) if err.kind() == io::ErrorKind::AddrInUse => Err(in_use(path, err)),
        Err(err) => Err(IpcError::io(format!("bind {}", path.display()), err)),
    }
}

/// Connects to the stream socket at `path`.
pub fn connect(path: &Path) -> Result<UnixStream> {
    UnixStream::connect(path).op(|| format!("connect {}", path.display()))
}

/// Sets the socket file's mode to 0600: only the owner may connect.
pub fn restrict_to_owner(path: &Path) -> Result<()> {
    let owner_only = std::fs::Permissions::from_mode(0o600);
    std::fs::set_permissions(path, owner_only).op(|| format!("chmod 600 {}", path.display()))
}

/// `sun_path` is short; say so instead of the kernel's bare `EINVAL`.
pub fn check_path_length(path: &Path) -> Result<()> {
    let len = path.as_os_str().len();
    if len > super::MAX_PATH_BYTES {
        return Err(IpcError::TooLarge {
            len,
            max: super::MAX_PATH_BYTES,
        });
    }
    Ok(())
}

/// `EADDRINUSE`: stale (nobody answers) or live (someone does)?
fn in_use(path: &Path, err: io::Error) -> IpcError {
    match UnixStream::connect(path) {
        Err(probe) if probe.kind() == io::ErrorKind::ConnectionRefused => stale(path),
        _ => IpcError::io(
            format!("bind {} (a server is running there)", path.display()),
            err,
        ),
    }
}

/// The error for a path nobody serves any more.
pub fn stale(path: &Path) -> IpcError {
    IpcError::Stale {
        what: format!("socket {} (no server answers on it)", path.display()),
        remove: format!("rm {}", path.display()),
    }
}
