//! POSIX shared-memory segments: a name, a size, a mapping.
//!
//! `shm_open(3)` opens (or creates) a file in a memory-only file system (`/dev/shm` on Linux),
//! `ftruncate(2)` gives it a size, `mmap(2)` (in [`super::map`]) puts it in the address space.
//! The name outlives every process until `shm_unlink(3)` removes it; processes that have it
//! mapped keep their pages. So a run that crashes leaves its segment behind: creating it again
//! fails with `EEXIST`, reported as [`IpcError::Stale`] with the `rm /dev/shm/NAME` that removes
//! it. Nothing is deleted behind the user's back.
//!
//! Segments are created mode 0600 with `O_EXCL`, and [`open`] refuses one that is owned by
//! another user or open to group or others: someone else could have planted it, or could read it.
//! Names are given without the leading `/` (as Python's `multiprocessing.shared_memory` does).
//! Java: `FileChannel.open(Path.of("/dev/shm/NAME"), READ, WRITE).map(READ_WRITE, 0, size)`.

use std::os::fd::OwnedFd;

use rustix::fs::Mode;
use rustix::shm::OFlags;

use super::layout::{Geometry, HEADER_BYTES, LayoutError, MAX_SEGMENT_BYTES};
use super::map::Mapping;
use crate::error::{IpcError, OpContext, Result};

/// Longest name accepted (the kernel allows 255).
pub const MAX_NAME_BYTES: usize = 64;

/// Checks a name: 1 to [`MAX_NAME_BYTES`] of `[A-Za-z0-9._-]`, not starting with a dot.
pub fn check_name(name: &str) -> Result<()> {
    let bad = |why| {
        Err(IpcError::BadName {
            name: name.to_string(),
            why,
        })
    };
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return bad("must be 1 to 64 characters");
    }
    if name.starts_with('.') {
        return bad("must not start with '.'");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return bad("only letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

/// Creates segment `name` sized for `geometry` and maps it. On any failure after creation the
/// name is removed again, so no half-made segment is left.
pub fn create(name: &str, geometry: Geometry) -> Result<Mapping> {
    check_name(name)?;
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::RDWR;
    let fd = match rustix::shm::open(slash(name), flags, Mode::RUSR | Mode::WUSR) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::EXIST) => return Err(stale(name)),
        Err(err) => return Err(IpcError::io(format!("shm_open /{name}"), err)),
    };
    size_and_map(&fd, name, geometry).inspect_err(|_| {
        let _ = rustix::shm::unlink(slash(name));
    })
}

fn size_and_map(fd: &OwnedFd, name: &str, geometry: Geometry) -> Result<Mapping> {
    let bytes = geometry.segment_bytes();
    rustix::fs::ftruncate(fd, bytes).op(|| format!("ftruncate /{name} to {bytes} bytes"))?;
    Mapping::map(fd, bytes as usize)
}

/// Opens and maps existing segment `name` after checking its owner, mode and size.
pub fn open(name: &str) -> Result<Mapping> {
    check_name(name)?;
    let fd = rustix::shm::open(slash(name), OFlags::RDWR, Mode::empty())
        .op(|| format!("shm_open /{name}"))?;
    let bytes = check_file(&fd, name)?;
    Mapping::map(&fd, bytes)
}

/// Owner, permission bits and size, checked before mapping (a zero or huge size is refused here,
/// before `mmap`; the header is checked after).
fn check_file(fd: &OwnedFd, name: &str) -> Result<usize> {
    let stat = rustix::fs::fstat(fd).op(|| format!("fstat /{name}"))?;
    let mode = stat.st_mode & 0o777;
    if stat.st_uid != rustix::process::geteuid().as_raw() || mode & 0o077 != 0 {
        return Err(IpcError::NotPrivate {
            what: format!("shared memory segment /{name}"),
            uid: stat.st_uid,
            mode,
        });
    }
    let size = u64::try_from(stat.st_size).unwrap_or(0);
    if size < HEADER_BYTES as u64 {
        return Err(LayoutError::TooSmall(size).into());
    }
    if size > MAX_SEGMENT_BYTES {
        return Err(LayoutError::TooLarge(size).into());
    }
    if !size.is_multiple_of(4) {
        return Err(LayoutError::SizeMismatch {
            claimed: size - size % 4,
            actual: size,
        }
        .into());
    }
    Ok(size as usize)
}

/// Removes segment `name` (`shm_unlink`). Mapped copies stay valid until unmapped.
pub fn unlink(name: &str) -> Result<()> {
    check_name(name)?;
    rustix::shm::unlink(slash(name)).op(|| format!("shm_unlink /{name}"))
}

/// The error for a name that already exists.
fn stale(name: &str) -> IpcError {
    IpcError::Stale {
        what: format!("shared memory segment /{name}"),
        remove: format!("rm /dev/shm/{name}"),
    }
}

fn slash(name: &str) -> String {
    format!("/{name}")
}
