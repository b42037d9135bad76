//! The atomic type the ring is written against: `std`'s, or loom's when the crate is built with
//! `--cfg ipc_loom` so that loom can explore every interleaving of the ring's protocol
//! (`tests` in `ring.rs` and `eventcount.rs`; the mapping, the timed waits and the segments are
//! left out then).

#[cfg(ipc_loom)]
pub use loom::sync::atomic::{AtomicU32, Ordering, fence};
#[cfg(not(ipc_loom))]
pub use std::sync::atomic::{AtomicU32, Ordering, fence};
