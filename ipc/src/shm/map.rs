//! The crate's only `unsafe` code: mapping a shared-memory file into this process and viewing it
//! as 32-bit atomic words.
//!
//! `mmap(2)` with `MAP_SHARED` makes the pages of the segment visible in every process that maps
//! it; a store by one is seen by the others. Rust cannot check any of that, so this module keeps
//! the promise by hand and hands out only a safe view: `&[AtomicU32]`, borrowed from the
//! [`Mapping`] (so it cannot outlive the `munmap` in `Drop`). Atomics are the right view because
//! other processes write concurrently: with plain `&[u8]` those writes would be data races, which
//! Rust counts as undefined behaviour; with atomics they are ordinary concurrent accesses, and
//! every bit pattern is a valid `u32`.
//!
//! What this cannot prevent: another process with write access could shrink the file with
//! `ftruncate` while it is mapped, and touching the vanished pages raises `SIGBUS` (a crash, not
//! silent corruption). Segments are created mode 0600 so only the owner can do that.
//!
//! System calls: `mmap(2)` (`PROT_READ | PROT_WRITE`, `MAP_SHARED`), `munmap(2)`.

use std::os::fd::AsFd;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU32;

use rustix::mm::{MapFlags, ProtFlags};

use crate::error::{IpcError, Result};

/// A shared, read-write mapping of a whole file, unmapped on drop.
#[derive(Debug)]
pub struct Mapping {
    start: NonNull<AtomicU32>,
    words: usize,
}

// SAFETY: the mapping is plain memory reachable only through `&[AtomicU32]`, and atomics may be
// used from any thread; nothing in it is tied to the thread that created it.
unsafe impl Send for Mapping {}
// SAFETY: shared access hands out `&[AtomicU32]`, which is `Sync`.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps the first `bytes` bytes of `fd` with `mmap(MAP_SHARED)`. `bytes` must be a nonzero
    /// multiple of 4 and no larger than the file (the caller checked it with `fstat`).
    pub fn map(fd: impl AsFd, bytes: usize) -> Result<Self> {
        if bytes == 0 || !bytes.is_multiple_of(4) {
            let why = std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "length not a nonzero multiple of 4",
            );
            return Err(IpcError::io("mmap", why));
        }
        let prot = ProtFlags::READ | ProtFlags::WRITE;
        // SAFETY: a null address lets the kernel pick an unused range, so no existing Rust memory
        // is replaced; the length is nonzero; `fd` is open for the duration of the call. The
        // kernel keeps its own reference to the file, so the mapping outlives `fd`.
        let raw =
            unsafe { rustix::mm::mmap(std::ptr::null_mut(), bytes, prot, MapFlags::SHARED, fd, 0) }
                .map_err(|err| IpcError::io("mmap", err))?;
        let start = NonNull::new(raw.cast::<AtomicU32>())
            .ok_or_else(|| IpcError::io("mmap", std::io::Error::other("null mapping")))?;
        Ok(Mapping {
            start,
            words: bytes / 4,
        })
    }

    /// The mapping as atomic words, valid while `self` lives.
    pub fn words(&self) -> &[AtomicU32] {
        // SAFETY: `start` came from a successful mmap of `words * 4` bytes, readable and
        // writable, page-aligned (more than `AtomicU32`'s 4-byte alignment); it stays mapped until
        // `drop`, which cannot run while this borrow of `self` lives. `AtomicU32` has the size
        // and alignment of `u32`, every bit pattern is valid, and all access through the slice is
        // atomic, so concurrent writes by other processes are not data races.
        unsafe { std::slice::from_raw_parts(self.start.as_ptr(), self.words) }
    }

    /// Length in bytes.
    pub fn len_bytes(&self) -> usize {
        self.words * 4
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the range is exactly the one mmap returned, and no borrow of it survives (every
        // `&[AtomicU32]` borrows `self`). Failure could only mean a bad range, which it is not.
        let _ = unsafe { rustix::mm::munmap(self.start.as_ptr().cast(), self.words * 4) };
    }
}
