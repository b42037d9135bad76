//! Named pipes (FIFOs): a pipe with a name in the file system, so unrelated processes can meet.
//!
//! `mkfifo(3)` creates the name; the data never touches the disk, it goes through the same kernel
//! buffer as an ordinary [`pipe`](crate::pipe). Two behaviours surprise newcomers:
//! - **`open` blocks until both ends are open.** A reader's `open(O_RDONLY)` waits for a writer and
//!   the other way round ([`open_reader`], [`open_writer`]), which is how the two sides meet.
//! - **`O_NONBLOCK` changes `open`.** A reader opens at once (and `read` returns 0 while no writer
//!   exists, `EAGAIN` while a writer exists but has written nothing); a writer with no reader fails
//!   at once with `ENXIO` ([`open_writer_nonblocking`]).
//!
//! Names are created mode 0600 (only the owner may open them), and a name left behind by a run
//! that crashed is reported with the `rm` command that removes it, never silently reused.
//! Java has no FIFO API; it opens the path as a file (`new FileInputStream(path)`), which works
//! because a FIFO is a file.
//!
//! System calls: `mknodat(2)` (via `mkfifo(3)`), `open(2)`, `fstat(2)`, `unlink(2)`; see
//! `fifo(7)`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use nix::sys::stat::Mode;

use crate::error::{IpcError, OpContext, Result};

/// Creates a FIFO at `path`, mode 0600 (less if the umask says so).
///
/// An existing path is not reused: it is reported as [`IpcError::Stale`] with the command that
/// removes it, because a FIFO left by a crashed run may still be open in a stuck process.
pub fn create(path: &Path) -> Result<()> {
    match nix::unistd::mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EEXIST) => Err(IpcError::Stale {
            what: format!("path {}", path.display()),
            remove: format!("rm {}", path.display()),
        }),
        Err(err) => Err(IpcError::io(format!("mkfifo {}", path.display()), err)),
    }
}

/// Removes the FIFO's name (`unlink(2)`); processes that have it open keep their ends.
pub fn remove(path: &Path) -> Result<()> {
    std::fs::remove_file(path).op(|| format!("unlink {}", path.display()))
}

/// Opens the read end, blocking until some process opens the write end.
pub fn open_reader(path: &Path) -> Result<File> {
    open(path, OpenOptions::new().read(true))
}

/// Opens the write end, blocking until some process opens the read end.
pub fn open_writer(path: &Path) -> Result<File> {
    open(path, OpenOptions::new().write(true))
}

/// Opens the read end with `O_NONBLOCK`: returns at once, writer or not.
pub fn open_reader_nonblocking(path: &Path) -> Result<File> {
    open(path, OpenOptions::new().read(true).custom_flags(nonblock()))
}

/// Opens the write end with `O_NONBLOCK`: fails with `ENXIO` at once when no reader has it open.
pub fn open_writer_nonblocking(path: &Path) -> Result<File> {
    open(
        path,
        OpenOptions::new().write(true).custom_flags(nonblock()),
    )
}

/// True if `err` is the `ENXIO` of a non-blocking writer that found no reader.
pub fn is_no_reader(err: &IpcError) -> bool {
    err.raw_os_error() == Some(nix::libc::ENXIO)
}

fn nonblock() -> i32 {
    nix::fcntl::OFlag::O_NONBLOCK.bits()
}

/// Opens `path` and then checks, on the open file, that it really is a FIFO: opening a regular
/// file by mistake would "work" and write to disk.
fn open(path: &Path, options: &OpenOptions) -> Result<File> {
    let file = options
        .open(path)
        .op(|| format!("open {}", path.display()))?;
    let kind = file.metadata().op(|| format!("fstat {}", path.display()))?;
    if !kind.file_type().is_fifo() {
        return Err(IpcError::WrongKind {
            path: path.display().to_string(),
            expected: "FIFO",
        });
    }
    Ok(file)
}

/// True if `err` is `EAGAIN`: a non-blocking read found a writer but no data yet.
pub fn is_would_block(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::WouldBlock
}
