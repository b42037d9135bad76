//! POSIX shared memory with a bounded producer-consumer ring: the fastest way for processes on
//! one machine to exchange messages, because after setup no system call carries the data.
//!
//! The operating system maps one region into several processes ([`segment`], [`map`]); the
//! processes themselves must agree on where things live ([`layout`], drawn in PROTOCOL.md) and
//! on who may touch what when ([`ring`]: per-slot sequence numbers, Vyukov's bounded MPMC queue).
//! What to do when the ring is full or empty, and how to wait without spinning, is in [`wait`],
//! on top of [`eventcount`] (sleeping on a futex without lost wakeups). [`batch`] is the tuned
//! variant: many messages per compare-and-swap and per wakeup.
//! Java: `FileChannel.map` returns a `MappedByteBuffer` over `/dev/shm/NAME`.
//!
//! The ring logic is written against [`Region`], a slice of atomic words: [`SharedRing`] puts it
//! over a mapping, [`HeapRegion`] over an ordinary buffer, which is how the ring is tested
//! in-process, with many threads, without any unsafe code.
//!
//! System calls: `shm_open(3)`, `ftruncate(2)`, `fstat(2)`, `mmap(2)`, `munmap(2)`,
//! `shm_unlink(3)`, `futex(2)`; see `shm_overview(7)`.

mod atomic;
pub mod batch;
pub mod eventcount;
mod futex;
pub mod layout;
#[cfg(all(test, ipc_loom))]
mod loom_support;
#[cfg(not(ipc_loom))]
#[allow(unsafe_code)]
pub mod map;
pub mod ring;
#[cfg(not(ipc_loom))]
pub mod segment;
#[cfg(not(ipc_loom))]
pub mod wait;

pub use atomic::AtomicU32;
pub use layout::{Geometry, LayoutError};
#[cfg(not(ipc_loom))]
pub use map::Mapping;
pub use ring::{PopError, PushError, Ring};
#[cfg(not(ipc_loom))]
pub use wait::{FullPolicy, PushedBatch, WaitError, WaitMode};

#[cfg(not(ipc_loom))]
use crate::error::Result;

/// Memory the ring can live in: a fixed slice of 32-bit atomic words.
pub trait Region {
    /// The words; the same slice (same length) on every call.
    fn words(&self) -> &[AtomicU32];
}

#[cfg(not(ipc_loom))]
impl Region for Mapping {
    fn words(&self) -> &[AtomicU32] {
        Mapping::words(self)
    }
}

/// An ordinary heap buffer standing in for shared memory (tests, one process, many threads).
#[derive(Debug)]
pub struct HeapRegion(Box<[AtomicU32]>);

impl HeapRegion {
    /// A zeroed region of `words` words.
    pub fn new(words: usize) -> Self {
        HeapRegion((0..words).map(|_| AtomicU32::new(0)).collect())
    }

    /// A zeroed region the right size for `geometry`.
    pub fn for_geometry(geometry: Geometry) -> Self {
        Self::new(geometry.segment_words())
    }
}

impl Region for HeapRegion {
    fn words(&self) -> &[AtomicU32] {
        &self.0
    }
}

/// A ring in a POSIX shared-memory segment.
#[cfg(not(ipc_loom))]
pub type SharedRing = Ring<Mapping>;

/// Creates segment `name` (mode 0600) holding an empty ring of `geometry`.
#[cfg(not(ipc_loom))]
pub fn create(name: &str, geometry: Geometry) -> Result<SharedRing> {
    let mapping = segment::create(name, geometry)?;
    Ok(Ring::create(mapping, geometry)?)
}

/// Attaches to the ring in existing segment `name`, refusing a segment that does not hold up.
#[cfg(not(ipc_loom))]
pub fn open(name: &str) -> Result<SharedRing> {
    Ok(Ring::attach(segment::open(name)?)?)
}

/// Removes segment `name`; attached processes keep their mapping.
#[cfg(not(ipc_loom))]
pub fn unlink(name: &str) -> Result<()> {
    segment::unlink(name)
}
